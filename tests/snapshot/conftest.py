"""Snapshot tests of the console shell: fixed clock, fixed size, nothing machine-specific.

The jobs folder holds copies of the demo jobs with their billing files beside them, so
every path on screen is relative and the SVGs are the same on any machine.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input, TextArea

from atria_tui.cli.demo import SAMPLES
from atria_tui.console.app import AtriaApp, make_app
from tests.support import fixed, runtime

SIZE = (140, 40)


@pytest.fixture(autouse=True)
def _steady_cursor(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inputs and text areas without a blinking cursor: whether a blink is on at the moment
    of the screenshot depends on how busy the machine is, so a focused one shows its cursor
    steadily instead."""
    for widget in (Input, TextArea):
        original = widget._on_mount

        def mount(self: Input | TextArea, event: Any, original: Any = original) -> None:
            self.cursor_blink = False
            original(self, event)

        monkeypatch.setattr(widget, "_on_mount", mount)


@pytest.fixture
def _home(_isolated_home: Path) -> Path:
    """This folder's name for the root conftest's throwaway home (set up there)."""
    return _isolated_home


@pytest.fixture
def shell_app(tmp_path: Path, _home: Path) -> Iterator[Callable[[], AtriaApp]]:
    folder = tmp_path / "jobs"
    folder.mkdir()
    # The ConnectWise and Kaseya demos the screens were drawn with (the Autotask demo
    # has its own Pilot test: tests/functional/test_autotask_console.py).
    for sample in [*SAMPLES.glob("demo-connectwise*"), *SAMPLES.glob("demo-kaseya*")]:
        shutil.copy(sample, folder / sample.name)
    services = runtime(_home, environ={}, now=fixed())

    def build() -> AtriaApp:
        return make_app(jobs_dir=folder, services=services, demo=True)

    yield build
    services.store.close()
