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
