"""SVG snapshots of the review screens at 140x40 on the demo data (ConnectWise sandbox).

Times are the only thing that would differ between runs: the runtime's one clock (log
times, run starts) is fixed here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from atria_tui.console.app import AtriaApp, make_app
from atria_tui.console.screens.apply import ApplyScreen
from atria_tui.console.screens.fixes import FixesScreen
from atria_tui.console.screens.log import LogScreen
from atria_tui.console.screens.pickers import PickerScreen
from atria_tui.console.screens.preview import PreviewScreen
from atria_tui.job.file import load_job
from atria_tui.sandbox.server import reset_shared
from tests.support import cw_review_folder, fixed, runtime

SIZE = (140, 40)
Snap = Callable[..., bool]


@pytest.fixture(autouse=True)
def _fixed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ATRIA_TUI_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ATRIA_TUI_KEYRING", "0")
    reset_shared()
    yield
    reset_shared()


@pytest.fixture
def app(tmp_path: Path) -> Iterator[AtriaApp]:
    folder = cw_review_folder(tmp_path / "jobs")
    svc = runtime(tmp_path / "home", environ={},
                  now=fixed(datetime(2026, 11, 26, 22, 0, tzinfo=UTC)))
    yield make_app(jobs_dir=folder, services=svc, demo=True)
    svc.store.close()


async def until(pilot: Pilot[Any], done: Callable[[], bool], timeout: float = 20) -> None:
    end = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < end, "timed out"
        await pilot.pause(0.05)


async def to_preview(pilot: Pilot[Any]) -> PreviewScreen:
    app = pilot.app
    assert isinstance(app, AtriaApp)
    app.open_preview(load_job(app.jobs_dir / "demo-connectwise.toml"))  # what "p" does
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, PreviewScreen)
    await until(pilot, lambda: not screen.planning)
    await screen.grid.settled()
    await pilot.pause()
    return screen


def test_preview(snap_compare: Snap, app: AtriaApp) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await to_preview(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_fixes(snap_compare: Snap, app: AtriaApp) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await to_preview(pilot)
        await pilot.press("f")
        assert isinstance(pilot.app.screen, FixesScreen)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_picker(snap_compare: Snap, app: AtriaApp) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await to_preview(pilot)
        await pilot.press("f", "enter")
        picker = pilot.app.screen
        assert isinstance(picker, PickerScreen)
        picker.query_one(Input).cursor_blink = False
        await pilot.press("u", "j")
        await picker.grid.settled()
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_apply_finished(snap_compare: Snap, app: AtriaApp) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await to_preview(pilot)
        await pilot.press("a", "y")
        apply = pilot.app.screen
        assert isinstance(apply, ApplyScreen)
        await until(pilot, lambda: not apply.running)
        apply.log_table.drain()          # entries still queued for the 100 ms batch
        await apply.log_table.grid.settled()
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_log_of_a_past_run_filtered(snap_compare: Snap, app: AtriaApp) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        from atria_tui.services.engine import plan_job

        job = load_job(app.jobs_dir / "demo-connectwise.toml")
        result = await plan_job(app.services, job)
        app.open_log(result.run_id)
        await pilot.pause()
        screen = pilot.app.screen
        assert isinstance(screen, LogScreen)
        await until(pilot, lambda: screen.loaded)
        await pilot.press("l", "l")  # warnings and errors only
        await screen.log_table.grid.settled()
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
