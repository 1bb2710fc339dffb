"""The Jobs screen: what it lists, and every key on it, driven through Pilot."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from pathlib import Path

from textual.command import CommandList
from textual.widgets import DataTable, Input, Static

from atria_tui.console.app import AtriaApp
from atria_tui.console.commands import palette_entries
from atria_tui.console.screens.confirm import ConfirmScreen
from atria_tui.console.screens.help import HelpScreen
from atria_tui.console.screens.history import RunsScreen
from atria_tui.console.screens.job_form import JobFormScreen
from atria_tui.console.screens.jobs import JobsScreen
from atria_tui.console.screens.preview import PreviewScreen
from atria_tui.engine.store import SUCCESS
from atria_tui.job.file import load_job
from atria_tui.services.runtime import Runtime

AppFactory = Callable[..., AtriaApp]
CW = "demo-connectwise.toml"
KS = "demo-kaseya.toml"


def rows(app: AtriaApp) -> dict[str, list[str]]:
    table = app.screen.query_one("#jobs-table", DataTable)
    return {Path(str(key.value)).name: [str(c) for c in table.get_row(key)]
            for key in table.rows}


async def wait_for(pilot: object, cond: Callable[[], bool], seconds: float = 10) -> None:
    for _ in range(int(seconds / 0.05)):
        if cond():
            return
        await pilot.pause(0.05)  # type: ignore[attr-defined]
    raise AssertionError("condition not met in time")


async def test_lists_jobs_with_schedule_and_last_result(app_factory: AppFactory,
                                                        services: Runtime) -> None:
    run = services.store.start_run("demo-kaseya", "Demo Kaseya", "kaseya-bms", "apply")
    services.store.finish_run(run, SUCCESS)
    app = app_factory()
    async with app.run_test(size=(140, 40)):
        assert isinstance(app.screen, JobsScreen)
        listed = rows(app)
        assert list(listed) == [CW, KS]
        assert listed[CW] == ["Demo: Transfer Billing Data to ConnectWise (sandbox)",
                              "ConnectWise", "0 22 26 * *", "Thu 2026-11-26 22:00", "● on",
                              "never run"]
        assert listed[KS][1] == "Kaseya"
        assert listed[KS][5] == f"Success (apply #{run})"
        detail = str(app.screen.query_one("#job-detail", Static).render())
        assert "demo-connectwise-billing.csv" in detail


async def test_space_disables_and_enables_the_job_file(app_factory: AppFactory,
                                                       jobs_dir: Path) -> None:
    app = app_factory()
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("space")
        assert load_job(jobs_dir / CW).enabled is False
        assert rows(app)[CW][3:5] == ["—", "○ off"]
        await pilot.press("space")
        assert load_job(jobs_dir / CW).enabled is True
        assert rows(app)[CW][4] == "● on"


async def test_delete_asks_first_and_forgets_secrets(app_factory: AppFactory, jobs_dir: Path,
                                                     services: Runtime) -> None:
    services.secrets.set("demo-connectwise", "PrivateKey", "s3cret-value")
    (jobs_dir / "demo-connectwise.mappings.toml").write_text("[customers]\nASP = \"X\"\n")
    app = app_factory()
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert (jobs_dir / CW).exists()
        await pilot.press("d")
        await pilot.press("y")
        await pilot.pause()
        assert not (jobs_dir / CW).exists()
        assert not (jobs_dir / "demo-connectwise.mappings.toml").exists()
        assert services.secrets.names_set("demo-connectwise") == set()
        assert list(rows(app)) == [KS]


async def test_add_creates_a_job_of_the_chosen_task(app_factory: AppFactory,
                                                    jobs_dir: Path) -> None:
    app = app_factory()
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("a")
        await pilot.press("k")
        assert isinstance(app.screen, JobFormScreen)
        form = app.screen
        form.query_one("#f-label", Input).value = "Kaseya month end"
        form.query_one("#f-path", Input).value = "demo-kaseya-billing.csv"
        form.query_one("#p-ApiUrl", Input).value = "https://bms.example.com"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, JobsScreen)
        job = load_job(jobs_dir / "kaseya-month-end.toml")
        assert job.task.value == "kaseya-bms"
        assert job.source.path == (jobs_dir / "demo-kaseya-billing.csv").absolute()
        assert job.param("ApiUrl") == "https://bms.example.com"
        assert job.period_start_day == 26
        assert app.screen.selected is not None
        assert app.screen.selected.path.name == "kaseya-month-end.toml"


async def test_broken_file_is_listed_with_its_error(app_factory: AppFactory,
                                                    jobs_dir: Path) -> None:
    (jobs_dir / "broken.toml").write_text('label = "x"\ntask = "psa-x"\n')
    app = app_factory()
    async with app.run_test(size=(140, 40)) as pilot:
        assert rows(app)["broken.toml"][1] == "⚠ cannot load"
        screen = app.screen
        assert isinstance(screen, JobsScreen)
        table = screen.query_one("#jobs-table", DataTable)
        table.move_cursor(row=0)
        await pilot.pause()
        detail = str(screen.query_one("#job-detail", Static).render())
        assert "broken.toml: line 2: task" in detail
        await pilot.press("e")
        assert isinstance(app.screen, JobsScreen)  # no form for a file that does not load


async def test_history_help_and_quit_keys(app_factory: AppFactory) -> None:
    app = app_factory()
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("h")
        assert isinstance(app.screen, RunsScreen)
        assert app.screen.job_id == "demo-connectwise"
        await pilot.press("escape")
        await pilot.press("enter")  # ⏎ on a job starts the month-end work: its preview
        assert isinstance(app.screen, PreviewScreen)
        await pilot.press("escape")
        await pilot.pause()
        if not isinstance(app.screen, JobsScreen):  # a plan being read: leave it
            await pilot.press("escape")
        assert isinstance(app.screen, JobsScreen)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        help_screen = app.screen
        await pilot.press("slash", "K", "S", "0", "9")
        table = help_screen.query_one("#help-table", DataTable)
        assert [k.value for k in table.rows] == ["KS09"]
        detail = str(help_screen.query_one("#help-detail", Static).render())
        assert "Account Code" in detail  # the guide's resolution
        await pilot.press("escape", "escape")
        assert isinstance(app.screen, JobsScreen)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)


async def test_run_now_plans_then_asks_before_applying(app_factory: AppFactory,
                                                       services: Runtime) -> None:
    app = app_factory()
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("down", "r")  # the Kaseya demo job: its sandbox answers at once
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        body = str(app.screen.query_one("#confirm-body", Static).render())
        assert "Period ending 2026-11-25" in body
        assert "to write to Kaseya" in body
        await pilot.press("n")
        assert isinstance(app.screen, JobsScreen)
        runs = services.store.runs("demo-kaseya")
        assert [r.kind for r in runs] == ["plan"]  # planned, nothing applied
        assert app.activity == ""


async def test_command_palette_offers_jobs_runs_and_help(app_factory: AppFactory,
                                                         services: Runtime) -> None:
    services.store.start_run("demo-kaseya", "Demo Kaseya", "kaseya-bms", "plan")
    app = app_factory()
    async with app.run_test(size=(140, 40)) as pilot:
        texts = [e.text for e in await asyncio.to_thread(palette_entries, app)]
        label = "Demo: Transfer Billing Data to ConnectWise (sandbox)"
        assert f"Preview {label}" in texts
        assert f"Run {label} now" in texts
        assert f"Edit {label}" in texts
        assert "Open run 1 log" in texts
        assert "Help: log codes" in texts
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press("E", "d", "i", "t", "space", "K", "a", "s")
        await wait_for(pilot, lambda: app.screen.query_one(CommandList).option_count > 0)
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, JobFormScreen))
        form = app.screen
        assert isinstance(form, JobFormScreen) and form.job.id == "demo-kaseya"


async def test_preview_key_opens_the_review_screen(app_factory: AppFactory) -> None:
    app = app_factory()
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("down", "p")  # Kaseya: its sandbox answers at once
        await pilot.pause()
        assert isinstance(app.screen, PreviewScreen)
        assert app.screen.job.id == "demo-kaseya"


async def test_empty_folder_says_what_to_do(app_factory: AppFactory, tmp_path: Path) -> None:
    empty = tmp_path / "none"
    app = app_factory(jobs_dir=empty)
    async with app.run_test(size=(140, 40)) as pilot:
        text = str(app.screen.query_one("#jobs-empty", Static).render())
        assert "Press a to add one" in text
        await pilot.press("e")  # nothing selected: a warning, not a crash
        assert isinstance(app.screen, JobsScreen)


def test_demo_folder_points_at_the_shipped_billing_files(tmp_path: Path) -> None:
    from atria_tui.cli.demo import SAMPLES, setup_demo

    written = setup_demo(tmp_path / "jobs")
    assert sorted(p.name for p in written) == ["demo-autotask.toml", CW, KS]
    for path in written:
        job = load_job(path)
        assert job.source.path is not None and job.source.path.is_absolute()
        assert job.source.path.parent == SAMPLES.resolve()
        assert job.source.path.exists()
    shutil.rmtree(tmp_path / "jobs")


async def test_home_and_end_move_the_cursor_so_e_edits_the_job_shown(
        app_factory: AppFactory, jobs_dir: Path) -> None:
    app = app_factory()
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.screen.query_one("#jobs-table", DataTable)
        await pilot.press("end")
        assert table.cursor_row == table.row_count - 1
        await pilot.press("home")
        assert table.cursor_row == 0
        await pilot.press("e")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, JobFormScreen)
        assert form.job.path is not None and form.job.path.name == CW
