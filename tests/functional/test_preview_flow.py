"""The review flow by keys on the demo data: preview → fixes → picker → approve → apply →
search the log → export CSV, asserted on the sandbox's quantities and the CSV bytes."""

from __future__ import annotations

import csv
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from atria_tui.console.app import AtriaApp, make_app
from atria_tui.console.screens.apply import ApplyScreen
from atria_tui.console.screens.confirm import ConfirmScreen
from atria_tui.console.screens.export import ExportScreen
from atria_tui.console.screens.fixes import FixesScreen
from atria_tui.console.screens.log import LogScreen
from atria_tui.console.screens.pickers import NoteScreen, PickerScreen
from atria_tui.console.screens.preview import PreviewScreen
from atria_tui.core.export import LOG_HEADER
from atria_tui.core.model import Action
from atria_tui.engine.store import INTERRUPTED
from atria_tui.job.file import load_job
from atria_tui.job.mappings import mappings_path
from atria_tui.sandbox.server import shared
from tests.support import cw_review_folder, fixed, runtime

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def review_jobs(tmp_path: Path) -> Path:
    """The ConnectWise demo job only, beside its billing file, without retries (the
    sandbox's faulty agreement would cost 7.5 s of backoff per plan)."""
    folder = cw_review_folder(tmp_path / "jobs")
    return folder


@pytest.fixture
def review_app(review_jobs: Path, _isolated_home: Path) -> Iterator[AtriaApp]:
    svc = runtime(_isolated_home, environ={}, now=fixed())
    yield make_app(jobs_dir=review_jobs, services=svc, demo=True)
    svc.store.close()


async def until(pilot: Pilot[None], done: object, what: str, timeout: float = 20) -> None:
    """Let workers run until `done()` holds (workers run in threads; pause yields to them)."""
    end = time.monotonic() + timeout
    while not done():  # type: ignore[operator]
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


async def open_preview(app: AtriaApp, pilot: Pilot[None]) -> PreviewScreen:
    await pilot.press("p")
    screen = app.screen
    assert isinstance(screen, PreviewScreen)
    await until(pilot, lambda: not screen.planning, "the plan")
    await pilot.pause()
    return screen


async def type_text(pilot: Pilot[None], text: str) -> None:
    await pilot.press(*[{" ": "space", "-": "minus", "/": "slash"}.get(c, c) for c in text])


async def test_whole_review_flow_by_keys(review_app: AtriaApp, review_jobs: Path,
                                         tmp_path: Path) -> None:
    cw = shared().connectwise
    app = review_app
    async with app.run_test(size=(140, 40)) as pilot:
        preview = await open_preview(app, pilot)
        assert preview.session is not None
        codes_of = {(i.customer_code, i.code) for i in preview.items}
        assert ("UJA", "CW04") in codes_of and ("ASP", "CW07") in codes_of

        # Fixes: UJA has no Billing Identifier; pick the company by typing "ujala".
        await pilot.press("f")
        fixes = app.screen
        assert isinstance(fixes, FixesScreen)
        assert fixes.grid.cursor_row is not None and fixes.grid.cursor_row.customer_code == "UJA"
        requests = cw.request_seq
        await pilot.press("enter")
        picker = app.screen
        assert isinstance(picker, PickerScreen)
        await type_text(pilot, "ujala")
        assert picker.grid.cursor_row is not None
        assert picker.grid.cursor_row.value == "UjalaTraders"
        await pilot.press("enter")
        await until(pilot, lambda: not fixes.busy and fixes.changed, "the fix")
        # the chosen agreement's additions, read for the fix (the plan read no unclaimed
        # agreement: issue 12); the re-plan itself asks nothing
        assert cw.request_seq == requests + 1
        saved = mappings_path(review_jobs / "demo-connectwise.toml").read_text("utf-8")
        assert 'uja = "UjalaTraders"' in saved
        assert all(f.customer_code != "UJA" for f in fixes.grid.visible_rows())
        await pilot.press("escape")
        assert app.screen is preview
        uja = [(i.code, i.contract_name, i.atria_quantity) for i in preview.grid.visible_rows()
               if i.customer_code == "UJA"]
        assert uja == [("CW09", "Ujala Hosting", Decimal(2))]

        # Approve: filter on ASP, approve everything shown (incl. the BACKUP-1TB zeroing
        # that started unapproved), note the M365 row.
        zero = next(i for i in preview.items if i.customer_code == "ASP" and i.code == "CW20")
        assert zero.action is Action.ZERO and not zero.approved
        await pilot.press("slash")
        await type_text(pilot, "ASP")
        await pilot.press("enter")
        assert {i.customer_code for i in preview.grid.visible_rows()} == {"ASP"}
        await pilot.press("A")
        assert isinstance(app.screen, ConfirmScreen) and not zero.approved  # asks first
        await pilot.press("y")
        assert zero.approved
        while preview.grid.cursor_row is not None and preview.grid.cursor_row.sku != "M365-BP":
            await pilot.press("down")
        await pilot.press("n")
        assert isinstance(app.screen, NoteScreen)
        await type_text(pilot, "PO 7")
        await pilot.press("enter")
        m365 = next(i for i in preview.items if i.customer_code == "ASP" and i.sku == "M365-BP")
        assert m365.note == "PO 7"
        big_down = next(i for i in preview.items if i.customer_code == "BIG"
                        and i.sku == "BACKUP-250G")
        assert not big_down.approved  # a decrease never approved: must stay as it is

        # Apply after the confirmation.
        approved = [i for i in preview.items if i.action.writes and i.approved]
        assert len(approved) == 7  # the demo's 6 + the ASP zeroing approved above
        await pilot.press("a")
        confirm = app.screen
        assert isinstance(confirm, ConfirmScreen)
        assert "Money at stake" in confirm.body_text
        await pilot.press("y")
        apply = app.screen
        assert isinstance(apply, ApplyScreen)
        await until(pilot, lambda: not apply.running, "the apply")
        assert apply.result is not None and apply.result.outcome is not None
        assert apply.result.outcome.applied == len(approved)
        assert cw.quantity_of("AcmeServices", "M365-BP") == [12]
        assert cw.quantity_of("AcmeServices", "BACKUP-1TB") == [0]
        assert cw.quantity_of("BigCorp", "BACKUP-250G") == [4]
        log = apply.log_table
        assert len(log.entries) == len(app.services.store.log(apply.result.run_id))
        assert log.levels and log.pending == 0

        # Search the log for a code, then export what is shown.
        await pilot.press("slash")
        await type_text(pilot, "CW07")
        await pilot.press("enter")
        await log.grid.settled()
        shown = log.visible_entries()
        assert shown and all("CW07" in f"{e.code} {e.message}" for e in shown)
        assert len(shown) == sum(1 for e in log.entries if e.code == "CW07")
        await pilot.press("x")
        export = app.screen
        assert isinstance(export, ExportScreen)
        target = tmp_path / "out" / "cw07.csv"
        target.parent.mkdir()
        export.query_one("#export-path", Input).value = str(target)
        await pilot.press("enter")
        assert app.screen is apply

    with target.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == LOG_HEADER
    assert len(rows) - 1 == len(shown) and {r[2] for r in rows[1:]} == {"CW07"}
    asp = next(r for r in rows[1:] if r[3] == "ASP" and r[4] == "M365-BP")
    assert asp[1] == "Info" and asp[6] == "PO 7"
    assert asp[7] == "M365-BP" and asp[8]         # the PSA product and agreement written
    assert target.read_bytes().startswith(b"\xef\xbb\xbf")  # Excel-friendly BOM


async def test_past_run_log_search_level_sort_export(review_app: AtriaApp,
                                                     tmp_path: Path) -> None:
    from atria_tui.services.engine import plan_job

    app = review_app
    job = load_job(app.jobs_dir / "demo-connectwise.toml")
    result = await plan_job(app.services, job)
    stored = app.services.store.log(result.run_id)
    async with app.run_test(size=(140, 40)) as pilot:
        app.open_log(result.run_id)
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, LogScreen)
        await until(pilot, lambda: screen.loaded, "the log")
        log = screen.log_table
        assert [e.code for e in log.visible_entries()] == [e.code for e in stored]
        await pilot.press("l", "l")  # all → Info+ → Warning+
        await log.grid.settled()
        assert log.visible_entries() and all(e.level.rank >= 2 for e in log.visible_entries())
        log.set_level(None)
        await log.grid.settled()
        assert len(log.visible_entries()) == len(stored)
        log.grid.sort_by("code", reverse=True)
        await log.grid.settled()
        shown = [e.code for e in log.visible_entries()]
        assert shown == sorted(shown, reverse=True)
        await pilot.press("x")
        export = app.screen
        assert isinstance(export, ExportScreen)
        export.query_one("#export-path", Input).value = str(tmp_path / "no-such-dir" / "x.csv")
        await pilot.press("enter")
        assert app.screen is export  # refused in the dialog, with the reason
        assert "does not exist" in str(export.query_one("#export-error").render())
        export.query_one("#export-path", Input).value = str(tmp_path / "run")
        await pilot.press("enter")
        assert app.screen is screen
    rows = list(csv.reader((tmp_path / "run.csv").open(encoding="utf-8-sig")))
    assert len(rows) == len(stored) + 1 and rows[1][2] == shown[0]


async def test_planning_can_be_cancelled(review_app: AtriaApp) -> None:
    shared().connectwise.latency_ms = 400
    app = review_app
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("p")
        screen = app.screen
        assert isinstance(screen, PreviewScreen) and screen.planning
        await until(pilot, lambda: screen._cancel is not None, "the plan to start")
        await pilot.press("escape")  # first Escape cancels; the screen stays
        await until(pilot, lambda: not screen.planning, "the cancellation")
        assert screen.session is None and app.screen is screen
        assert "cancelled" in str(screen.query_one("#preview-step").render())
        runs = app.services.store.runs(limit=1)
        assert runs and runs[0].kind == "plan" and runs[0].status == INTERRUPTED
        await pilot.press("escape")
        assert not isinstance(app.screen, PreviewScreen)
