"""What a run depends on, built in one place for the CLI, the scheduler and the console.

The runtime holds the store, the secret store, the environment, the clock and the
transports; tests build it with fakes (an in-memory store, a fake clock, an ASGI
transport), the front ends with `default_runtime()`.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import httpx

from atria_tui.job.file import JobConfig
from atria_tui.joblock import is_free, job_lock
from atria_tui.paths import data_dir, db_path
from atria_tui.secret_store import SecretStore
from atria_tui.store import Store


@dataclass
class Runtime:
    """What a run depends on; the CLI builds it once, tests build it with fakes."""

    store: Store
    secrets: SecretStore
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    today: Callable[[], date] = date.today
    transport: httpx.AsyncBaseTransport | None = None
    atria_transport: httpx.AsyncBaseTransport | None = None
    lock_dir: Path | None = None
    clock: Callable[[], float] = time.monotonic

    def locks(self) -> Path:
        """Where the per-job write locks live (the data folder unless a test moves it)."""
        if self.lock_dir is not None:
            return self.lock_dir
        return data_dir() / "locks"

    def reap(self) -> None:
        """Runs left `Running` by a process that is gone become `Interrupted` (only those)."""
        folder = self.locks()
        self.store.reap(lambda job_id: is_free(folder, job_id))

    @contextlib.contextmanager
    def writer(self, job: JobConfig, command: str) -> Iterator[None]:
        """Hold the job's write lock; write runs it left `Running` are interrupted ones."""
        key = job.key
        with job_lock(self.locks(), key, command):
            self.store.interrupt_writers(key)
            yield


def default_runtime() -> Runtime:
    """The database and secret store under ATRIA_TUI_HOME, with runs of processes that are
    gone marked interrupted (only those: a live run of another process is left alone)."""
    runtime = Runtime(store=Store(db_path()), secrets=SecretStore())
    runtime.reap()
    return runtime
