"""Snapshot tests of the console shell: fixed clock, fixed size, nothing machine-specific.

The jobs folder holds copies of the demo jobs with their billing files beside them, so
every path on screen is relative and the SVGs are the same on any machine.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from atria_tui.cli.demo import SAMPLES
from atria_tui.console.app import AtriaApp, make_app
from tests.support import fixed, runtime

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
    services = runtime(_home, environ={}, now=fixed())

    def build() -> AtriaApp:
        return make_app(jobs_dir=folder, services=services, demo=True)

    yield build
    services.store.close()
