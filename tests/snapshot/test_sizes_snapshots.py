"""The review screens at the two sizes a clerk uses most, 80×24 and 160×45: the key
preview columns (customer, SKU, Atria qty, PSA qty, Δ qty, Δ money, code) and the
footer's main keys must be on screen at 80×24."""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot

from atria_tui.console.app import AtriaApp
from atria_tui.console.screens.fixes import FixesScreen
from atria_tui.console.screens.history import RunsScreen
from atria_tui.console.screens.log import LogScreen
from atria_tui.job.file import load_job
from tests.snapshot import test_review_snapshots as review
from tests.snapshot.test_review_snapshots import Snap, to_preview, until

app, _fixed = review.app, review._fixed  # the same fixtures: demo job, fixed clock

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 45), id="160x45")]


@pytest.mark.parametrize("size", SIZES)
def test_preview_at(snap_compare: Snap, app: AtriaApp, size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await to_preview(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_preview_scrolled_sideways_keeps_customer_and_sku(
        snap_compare: Snap, app: AtriaApp, size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await to_preview(pilot)
        await pilot.press("right", "right", "right")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_fixes_at(snap_compare: Snap, app: AtriaApp, size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await to_preview(pilot)
        await pilot.press("f")
        assert isinstance(pilot.app.screen, FixesScreen)
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_log_at(snap_compare: Snap, app: AtriaApp, size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        from atria_tui.services.engine import plan_job

        result = await plan_job(app.services, load_job(app.jobs_dir / "demo-connectwise.toml"))
        app.open_log(result.run_id)
        await pilot.pause()
        screen = pilot.app.screen
        assert isinstance(screen, LogScreen)
        await until(pilot, lambda: screen.loaded)
        await screen.log_table.grid.settled()
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_runs_at(snap_compare: Snap, app: AtriaApp, size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        from atria_tui.services.engine import plan_job

        job = load_job(app.jobs_dir / "demo-connectwise.toml")
        await plan_job(app.services, job)
        await plan_job(app.services, job)
        app.push_screen(RunsScreen(job.key, job.label))
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)
