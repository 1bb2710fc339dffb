"""How tests build what the front ends build: one runtime factory and one fixed clock.

`runtime()` is the CLI's runtime (the embedded emulators behind `sandbox://` URLs) over a
test's own database and secret store; `FIXED_NOW` is the clock of every console test, so
next-run times, run starts and log times on screen never depend on when a test runs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from atria_tui.core.paths import data_dir
from atria_tui.engine.secret_store import SecretStore
from atria_tui.engine.store import Store
from atria_tui.sandbox.embedded import EMBEDDED
from atria_tui.services.runtime import Runtime

FIXED_NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


def fixed(when: datetime = FIXED_NOW) -> Callable[[], datetime]:
    return lambda: when


def runtime(home: Path | None = None, *, db: str = "atria-tui.db", **kw: Any) -> Runtime:
    """A runtime on `home` (default: the test's ATRIA_TUI_HOME, as the CLI would use),
    with the embedded sandbox wired in as the CLI wires it; `kw` overrides any field."""
    folder = home if home is not None else data_dir()
    kw.setdefault("embedded", EMBEDDED)
    return Runtime(store=Store(folder / db), secrets=SecretStore(home), **kw)


def cw_review_folder(folder: Path) -> Path:
    """`folder` holding the ConnectWise demo job only, beside its billing file, without
    retries (the sandbox's faulty agreement would cost 7.5 s of backoff per plan)."""
    import shutil

    from atria_tui.cli.demo import SAMPLES
    from atria_tui.job.file import load_job, save_job

    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(SAMPLES / "demo-connectwise-billing.csv", folder)
    job = load_job(SAMPLES / "demo-connectwise.toml")
    job.source.path = folder / "demo-connectwise-billing.csv"
    job.options.retries = 0
    job.path = None
    save_job(job, folder / "demo-connectwise.toml")
    return folder
