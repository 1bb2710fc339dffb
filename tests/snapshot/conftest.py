"""Snapshot tests of the console shell: fixed clock, fixed size, nothing machine-specific.

The jobs folder holds copies of the demo jobs with their billing files beside them, so
every path on screen is relative and the SVGs are the same on any machine.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from atria_tui.app import AtriaApp, make_app
from atria_tui.demo import SAMPLES
from atria_tui.secret_store import SecretStore
from atria_tui.services.runtime import Runtime
from atria_tui.store import Store

FIXED_NOW = datetime(2026, 11, 20, 9, 30)
SIZE = (140, 40)


@pytest.fixture
def _home(_isolated_home: Path) -> Path:
    """This folder's name for the root conftest's throwaway home (set up there)."""
    return _isolated_home


@pytest.fixture
def shell_app(tmp_path: Path, _home: Path) -> Iterator[Callable[[], AtriaApp]]:
    folder = tmp_path / "jobs"
    folder.mkdir()
    for sample in SAMPLES.glob("demo-*"):
        shutil.copy(sample, folder / sample.name)
    store = Store(_home / "atria-tui.db")
    services = Runtime(store=store, secrets=SecretStore(_home), environ={})

    def build() -> AtriaApp:
        return make_app(jobs_dir=folder, services=services, demo=True,
                        now=lambda: FIXED_NOW)

    yield build
    store.close()
