"""Run history: statuses, opening a run's log, reverting an apply run."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.app import App
from textual.widgets import DataTable, Static

from atria_tui.console.app import AtriaApp
from atria_tui.console.screens.confirm import ConfirmScreen
from atria_tui.console.screens.history import RunsScreen
from atria_tui.console.screens.host import EditJob, OpenLog, host_of
from atria_tui.console.screens.job_form import JobFormScreen
from atria_tui.console.screens.log import LogScreen
from atria_tui.engine.store import FAILED, SUCCESS
from atria_tui.services.jobs import find_job
from atria_tui.services.runtime import Runtime

AppFactory = Callable[..., AtriaApp]


def seed_runs(services: Runtime) -> tuple[int, int, int]:
    store = services.store
    plan = store.start_run("demo-kaseya", "Demo Kaseya", "kaseya-bms", "plan",
                           period_end="2026-11-25")
    store.finish_run(plan, FAILED)
    apply = store.start_run("demo-kaseya", "Demo Kaseya", "kaseya-bms", "apply",
                            period_end="2026-11-25")
    store.finish_run(apply, SUCCESS)
    other = store.start_run("demo-connectwise", "Demo CW", "connectwise-manage", "plan")
    store.finish_run(other, SUCCESS)
    return plan, apply, other


def table_rows(screen: RunsScreen) -> list[list[str]]:
    table = screen.query_one("#runs-table", DataTable)
    return [[str(c) for c in table.get_row(k)] for k in table.rows]


async def open_runs(app: AtriaApp, pilot: object) -> RunsScreen:
    await pilot.press("down", "h")  # type: ignore[attr-defined]
    assert isinstance(app.screen, RunsScreen)
    return app.screen


async def test_runs_of_a_job_newest_first_and_all_jobs(app_factory: AppFactory,
                                                       services: Runtime) -> None:
    plan, apply, other = seed_runs(services)
    app = app_factory()
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_runs(app, pilot)
        listed = table_rows(screen)
        assert [r[0] for r in listed] == [str(apply), str(plan)]
        assert listed[0][1:3] == ["apply", SUCCESS]  # Status before the rest
        assert listed[0][5] == "2026-11-25"
        assert listed[1][2] == FAILED
        await pilot.press("a")
        assert [r[0] for r in table_rows(screen)] == [str(other), str(apply), str(plan)]
        app.open_log(999)
        await pilot.pause()
        assert app.screen is screen
        assert any("Run 999 does not exist" in n.message for n in app._notifications)


async def test_revert_only_apply_runs_after_confirmation(app_factory: AppFactory,
                                                         services: Runtime) -> None:
    plan, apply, _ = seed_runs(services)
    app = app_factory()
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_runs(app, pilot)
        await pilot.press("down", "R")  # the plan run: nothing to revert
        assert app.screen is screen
        assert len(services.store.runs("demo-kaseya")) == 2
        await pilot.press("up", "R")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert len(services.store.runs("demo-kaseya")) == 2
        await pilot.press("R", "y")
        for _ in range(200):
            if "Revert run" in str(screen.query_one("#runs-status", Static).render()):
                break
            await pilot.pause(0.05)
        runs = services.store.runs("demo-kaseya")
        assert runs[0].kind == "revert" and runs[0].of_run == apply
        status = str(screen.query_one("#runs-status", Static).render())
        assert status.startswith(f"Revert run {runs[0].id}: {runs[0].status}")
        assert table_rows(screen)[0][0] == str(runs[0].id)  # on top, selected
        assert screen.selected is not None and screen.selected.id == runs[0].id


async def test_enter_opens_the_run_log(app_factory: AppFactory, services: Runtime) -> None:
    _, apply, _ = seed_runs(services)
    app = app_factory()
    async with app.run_test(size=(140, 40)) as pilot:
        await open_runs(app, pilot)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, LogScreen)


async def test_a_screen_asks_the_app_for_a_flow_by_message(app_factory: AppFactory,
                                                           services: Runtime) -> None:
    """Screens never call the app: their request messages bubble up and the App runs
    the flow, from whichever screen posted them."""
    _, apply, _ = seed_runs(services)
    app = app_factory()
    async with app.run_test(size=(140, 40)) as pilot:
        runs = await open_runs(app, pilot)
        runs.post_message(OpenLog(999))
        await pilot.pause()
        assert app.screen is runs
        assert any("Run 999 does not exist" in n.message for n in app._notifications)
        runs.post_message(OpenLog(apply))
        await pilot.pause()
        assert isinstance(app.screen, LogScreen) and app.screen.run_id == apply
        job = find_job(app.jobs_dir, "demo-kaseya")
        assert job is not None
        app.screen.post_message(EditJob(job))
        await pilot.pause()
        assert isinstance(app.screen, JobFormScreen) and app.screen.job.id == "demo-kaseya"


async def test_a_screen_outside_the_console_is_told_so() -> None:
    app: App[None] = App()
    async with app.run_test():
        with pytest.raises(TypeError, match="RunsScreen runs outside the atria-tui console"):
            host_of(RunsScreen())
