"""The console's audit trail: Run now holds what the preview holds, the Runs screen says
which apply was reverted and by which run, and `o` writes the sign-off page."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from atria_tui.console.app import AtriaApp
from atria_tui.console.screens.apply import ApplyScreen
from atria_tui.console.screens.confirm import ConfirmScreen
from atria_tui.console.screens.history import RunsScreen
from atria_tui.core.numbers import signed_money
from atria_tui.engine.store import DONE, SUCCESS
from atria_tui.job.file import load_job
from atria_tui.services.engine import plan_job, revert_run, stored_plan
from atria_tui.services.runtime import Runtime

AppFactory = Callable[..., AtriaApp]


async def wait_for(pilot: object, cond: Callable[[], bool], tries: int = 400) -> None:
    for _ in range(tries):
        if cond():
            return
        await pilot.pause(0.05)  # type: ignore[attr-defined]
    raise AssertionError("condition never held")


def status_of(screen: RunsScreen) -> str:
    return str(screen.query_one("#runs-status", Static).render())


async def test_run_now_writes_no_decrease_or_swing_without_review(
        app_factory: AppFactory, services: Runtime) -> None:
    app = app_factory()
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("down", "r")  # the Kaseya demo job
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        body = str(app.screen.query_one("#confirm-body", Static).render())
        assert "held for review and not written" in body
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, ApplyScreen))
        await wait_for(pilot, lambda: any(
            r.kind == "apply" and r.status != "Running" for r in services.store.runs()))
    (run,) = [r for r in services.store.runs("demo-kaseya") if r.kind == "apply"]
    journal = services.store.journal(run.id)
    assert journal and all(j.after >= j.before for j in journal)    # no decrease written
    held = [e for e in services.store.log(run.id) if e.code == "TU04"]
    assert held                                                     # each one logged, held


async def test_runs_screen_says_reverted_by_and_the_revert_question_warns(
        app_factory: AppFactory, services: Runtime) -> None:
    store = services.store
    apply = store.start_run("demo-kaseya", "Demo Kaseya", "kaseya-bms", "apply",
                            period_end="2026-11-25")
    store.finish_run(apply, SUCCESS)
    back = store.start_run("demo-kaseya", "Demo Kaseya", "kaseya-bms", "revert",
                           of_run=apply)
    store.finish_run(back, SUCCESS)
    app = app_factory()
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("down", "h")
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        table = screen.query_one("#runs-table", DataTable)
        cells = {str(table.get_row(k)[0]): [str(c) for c in table.get_row(k)]
                 for k in table.rows}
        assert cells[str(apply)][-2] == f"reverted by {back}"
        assert cells[str(back)][-2] == f"of run {apply}"
        await pilot.press("down", "R")                               # the apply run
        assert isinstance(app.screen, ConfirmScreen)
        body = str(app.screen.query_one("#confirm-body", Static).render())
        assert f"already reverted by run {back}" in body
        await pilot.press("n")
    assert [r.kind for r in store.runs("demo-kaseya")] == ["revert", "apply"]  # none added


async def test_o_writes_the_sign_off_page_never_over_an_earlier_one(
        app_factory: AppFactory, services: Runtime, jobs_dir: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = await plan_job(services, load_job(jobs_dir / "demo-kaseya.toml"))
    app = app_factory()
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("down", "h")
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        for n in (1, 2):
            await pilot.press("o")
            await wait_for(pilot, lambda n=n: len(list(tmp_path.glob("*signoff*.html"))) == n
                           and "written to" in status_of(screen))
    pages = sorted(tmp_path.glob("*signoff*.html"))
    assert [p.name for p in pages] == [f"demo-kaseya-run-{result.run_id}-signoff-2.html",
                                       f"demo-kaseya-run-{result.run_id}-signoff.html"]
    html = pages[1].read_text(encoding="utf-8")
    assert "Billing sign-off" in html and "Preview (nothing written)" in html
    assert "held" in html and "<script" not in html



async def test_an_apply_names_its_preview_and_runs_show_what_was_written(
        app_factory: AppFactory, services: Runtime, jobs_dir: Path) -> None:
    """Runs link an apply to the preview it wrote and show written lines and Δ money, for
    the apply and for the revert that takes it back (console review, defect 23)."""
    app = app_factory()
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("down", "r")  # the Kaseya demo job: Run now
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: any(
            r.kind == "apply" and r.status != "Running" for r in services.store.runs()))
    runs = services.store.runs("demo-kaseya")
    (apply,) = [r for r in runs if r.kind == "apply"]
    (plan,) = [r for r in runs if r.kind == "plan"]
    assert apply.of_run == plan.id
    stored = stored_plan(services, apply.id)
    assert stored is not None
    price = {i.key: i.unit_price for i in stored.items}
    done = [j for j in services.store.journal(apply.id) if j.state == DONE]
    assert apply.written == len(done) > 0
    assert apply.money is not None and Decimal(apply.money) == sum(
        ((j.after - j.before) * price[j.item_key] for j in done), Decimal(0)) != 0
    back = await revert_run(services, load_job(jobs_dir / "demo-kaseya.toml"), apply.id)
    reverted = services.store.run(back.run_id)
    assert reverted is not None and reverted.written == apply.written
    assert reverted.money is not None and Decimal(reverted.money) == -Decimal(apply.money)
    app = app_factory()
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("down", "h")
        table = app.screen.query_one("#runs-table", DataTable)
        cells = {str(table.get_row(k)[0]): [str(c) for c in table.get_row(k)]
                 for k in table.rows}
    assert cells[str(apply.id)][3] == str(apply.written)
    assert cells[str(apply.id)][4] == signed_money(Decimal(apply.money))
    assert cells[str(apply.id)][-2] == f"reverted by {back.run_id}"
    assert cells[str(back.run_id)][4] == signed_money(-Decimal(apply.money))
    assert cells[str(plan.id)][3:5] == ["", ""]          # a preview writes nothing
