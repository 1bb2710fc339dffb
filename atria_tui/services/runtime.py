"""What a run depends on, built in one place for the CLI, the scheduler and the console.

The runtime holds the store, the secret store, the environment, the clock and the
transports; tests build it with fakes (an in-memory store, a fake clock, an ASGI
transport), the front ends with `default_runtime()`. `sandbox://` URLs reach whatever
`Embedded` servers the edge hands in (the CLI and tests hand in the emulators); the
runtime itself knows no emulator.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Protocol

import httpx

from atria_tui.core.model import Task
from atria_tui.core.paths import data_dir, db_path
from atria_tui.engine.joblock import is_free, job_lock
from atria_tui.engine.secret_store import SecretStore
from atria_tui.engine.store import Store
from atria_tui.job.file import JobConfig

SANDBOX_SCHEME = "sandbox://"


def is_sandbox(url: str) -> bool:
    """A `sandbox://` URL names a server embedded in this process, not a host."""
    return url.strip().lower().startswith(SANDBOX_SCHEME)


class Embedded(Protocol):
    """Servers reached in-process under `sandbox://` URLs, with the credentials they take."""

    def transport(self) -> httpx.AsyncBaseTransport: ...

    def psa_secrets(self, task: Task) -> Mapping[str, str]: ...

    def atria_token(self) -> str: ...


@dataclass
class Runtime:
    """What a run depends on; the CLI builds it once, tests build it with fakes."""

    store: Store
    secrets: SecretStore
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    transport: httpx.AsyncBaseTransport | None = None
    atria_transport: httpx.AsyncBaseTransport | None = None
    lock_dir: Path | None = None
    clock: Callable[[], float] = time.monotonic
    embedded: Embedded | None = None

    def __post_init__(self) -> None:
        # One clock: what the store stamps is what the log and the console show.
        self.store.clock = self.now

    def today(self) -> date:
        """The local date, which billing periods are counted from."""
        return self.now().astimezone().date()

    def psa_transport(self, url: str) -> httpx.AsyncBaseTransport | None:
        """A test's transport, else the embedded servers' for a `sandbox://` ApiUrl."""
        if self.transport is not None:
            return self.transport
        return self.embedded.transport() if self.embedded and is_sandbox(url) else None

    def atria_transport_for(self, url: str) -> httpx.AsyncBaseTransport | None:
        if self.atria_transport is not None:
            return self.atria_transport
        return self.embedded.transport() if self.embedded and is_sandbox(url) else None

    def embedded_secrets(self, task: Task, url: str) -> Mapping[str, str]:
        """The demo credentials of an embedded PSA (none for a real one)."""
        return self.embedded.psa_secrets(task) if self.embedded and is_sandbox(url) else {}

    def embedded_atria_token(self, url: str) -> str:
        return self.embedded.atria_token() if self.embedded and is_sandbox(url) else ""

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


def default_runtime(embedded: Embedded | None = None) -> Runtime:
    """The database and secret store under ATRIA_TUI_HOME, with runs of processes that are
    gone marked interrupted (only those: a live run of another process is left alone)."""
    runtime = Runtime(store=Store(db_path()), secrets=SecretStore(), embedded=embedded)
    runtime.reap()
    return runtime
