"""Review work is never lost: decisions saved as made and offered again, Esc in the filter
box leaves the box only, bulk decisions ask and every decision undoes (ctrl+z)."""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Input

from atria_tui.console.app import AtriaApp, make_app
from atria_tui.console.screens.apply import ApplyScreen
from atria_tui.console.screens.confirm import ConfirmScreen
from atria_tui.console.screens.export import ExportScreen
from atria_tui.console.screens.fixes import FixesScreen, SavedFixesScreen
from atria_tui.console.screens.pickers import NoteScreen, PickerScreen
from atria_tui.console.screens.preview import PreviewScreen
from atria_tui.core.model import PlanItem
from atria_tui.job.mappings import mappings_path
from atria_tui.sandbox.server import shared
from tests.functional.test_preview_flow import open_preview, type_text, until
from tests.support import cw_review_folder, fixed, runtime

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def review_app(tmp_path: Path, _isolated_home: Path) -> Iterator[AtriaApp]:
    """The ConnectWise demo job without retries (as in test_preview_flow)."""
    folder = cw_review_folder(tmp_path / "jobs")
    svc = runtime(_isolated_home, environ={}, now=fixed())
    yield make_app(jobs_dir=folder, services=svc, demo=True)
    svc.store.close()


def _big_down(preview: PreviewScreen) -> PlanItem:
    return next(i for i in preview.items if i.customer_code == "BIG" and i.sku == "BACKUP-250G")


async def _reopen(app: AtriaApp, pilot: object) -> PreviewScreen:
    """`p` again: the plan comes with the question whether to resume the saved review."""
    await pilot.press("p")  # type: ignore[attr-defined]
    screen = next(s for s in reversed(app.screen_stack) if isinstance(s, PreviewScreen))
    await until(pilot, lambda: not screen.planning and isinstance(app.screen, ConfirmScreen),
                "the plan and the question")
    return screen


async def _to_row(preview: PreviewScreen, pilot: object, item: PlanItem) -> None:
    preview.grid.set_filter("")
    for _ in range(len(preview.items) + 1):
        if preview.grid.cursor_row is item:
            return
        await pilot.press("down")  # type: ignore[attr-defined]
    raise AssertionError(f"row {item.key} not reached")


async def test_review_survives_leaving_and_is_offered_again(review_app: AtriaApp) -> None:
    app = review_app
    async with app.run_test(size=(140, 40)) as pilot:
        preview = await open_preview(app, pilot)
        item = _big_down(preview)
        assert not item.approved  # a decrease starts unapproved
        await _to_row(preview, pilot, item)
        await pilot.press("space")
        assert item.approved
        await pilot.press("up", "n")
        assert isinstance(app.screen, NoteScreen)
        await type_text(pilot, "PO 9")
        await pilot.press("enter")
        assert item.note == "PO 9"
        await pilot.press("ctrl+z")  # takes back the note, not the approval
        assert item.note == "" and item.approved
        await pilot.press("n")
        await type_text(pilot, "PO 9")
        await pilot.press("enter")

        # Esc in the filter box leaves the box, not the preview.
        await pilot.press("slash")
        await type_text(pilot, "BIG")
        await pilot.press("escape")
        assert app.screen is preview and not isinstance(app.focused, Input)
        await pilot.pause(0.3)
        file = preview.review_file
        assert file is not None and file.is_file()
        saved = json.loads(file.read_text("utf-8"))["decisions"][item.key]
        assert saved["approved"] is True and saved["note"] == "PO 9"
        await pilot.press("escape")  # now the preview is left: the review stays on disk
        assert not isinstance(app.screen, PreviewScreen)
        assert file.is_file()

        again = await _reopen(app, pilot)
        assert again is not preview
        assert isinstance(app.screen, ConfirmScreen)
        assert "1 decision(s)" in app.screen.body_text
        await pilot.press("escape")  # the safe answer: resume
        assert app.screen is again
        restored = _big_down(again)
        assert restored.approved and restored.note == "PO 9"
        await pilot.press("ctrl+z")  # the resume is one undoable step
        assert not restored.approved and restored.note == ""


async def test_start_over_drops_the_saved_review(review_app: AtriaApp) -> None:
    app = review_app
    async with app.run_test(size=(140, 40)) as pilot:
        preview = await open_preview(app, pilot)
        await _to_row(preview, pilot, _big_down(preview))
        await pilot.press("space")
        await pilot.pause(0.3)
        await pilot.press("escape")
        again = await _reopen(app, pilot)
        await pilot.press("n")  # start over
        assert not _big_down(again).approved
        await pilot.pause(0.3)
        assert again.review_file is not None and not again.review_file.exists()


async def test_bulk_decisions_ask_and_undo(review_app: AtriaApp) -> None:
    app = review_app
    async with app.run_test(size=(140, 40)) as pilot:
        preview = await open_preview(app, pilot)
        before = {i.key: i.approved for i in preview.items if i.action.writes}
        approved = sum(before.values())
        assert approved and approved < len(before)
        await pilot.press("R")
        confirm = app.screen
        assert isinstance(confirm, ConfirmScreen)
        assert f"overwrites {approved} decision(s)" in confirm.body_text
        await pilot.press("n")  # backed out: nothing changed
        assert {i.key: i.approved for i in preview.items if i.action.writes} == before
        await pilot.press("R", "y")
        assert not any(i.approved for i in preview.items if i.action.writes)
        await pilot.press("ctrl+z")
        assert {i.key: i.approved for i in preview.items if i.action.writes} == before
        await pilot.press("A")
        assert "decreases or large swings" in app.screen.body_text  # type: ignore[attr-defined]
        await pilot.press("y")
        assert all(i.approved for i in preview.items if i.action.writes)
        await pilot.press("ctrl+z")
        assert {i.key: i.approved for i in preview.items if i.action.writes} == before


async def test_picker_wants_a_second_enter_for_a_doubtful_guess_and_fixes_can_be_removed(
        review_app: AtriaApp) -> None:
    app = review_app
    async with app.run_test(size=(140, 40)) as pilot:
        preview = await open_preview(app, pilot)
        await pilot.press("f")
        fixes = app.screen
        assert isinstance(fixes, FixesScreen)
        while fixes.grid.cursor_row is not None and fixes.grid.cursor_row.customer_code != "NOA":
            await pilot.press("down")
        await pilot.press("enter")
        picker = app.screen
        assert isinstance(picker, PickerScreen)
        top = picker.grid.cursor_row
        assert top is not None and top.value == "FaultyCo" and "used by FLT" in top.detail
        await pilot.press("enter")  # Enter alone does not take a company used by FLT
        assert app.screen is picker
        assert "already used by FLT" in str(picker.query_one("#picker-hint").render())
        file = mappings_path(app.jobs_dir / "demo-connectwise.toml")
        assert not file.exists()
        await pilot.press("down", "up")  # moving away disarms: Enter asks again
        await pilot.press("enter")
        assert app.screen is picker
        await pilot.press("enter")  # the second Enter on the same row chooses it
        await until(pilot, lambda: not fixes.busy and fixes.changed, "the fix")
        assert 'noa = "FaultyCo"' in file.read_text("utf-8")
        assert any(i.customer_code == "NOA" and i.code == "CW10" for i in preview.items)

        # The saved fix is listed with who and when, and removed with d, y.
        await pilot.press("v")
        saved = app.screen
        assert isinstance(saved, SavedFixesScreen)
        rows = list(saved.grid.visible_rows())
        assert [(r.table, r.key, r.value) for r in rows] == [("customers", "noa", "FaultyCo")]
        assert rows[0].at.startswith("20") and rows[0].by == getpass.getuser()
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await until(pilot, lambda: saved.changed and not saved.busy, "the removal")
        assert not list(saved.grid.visible_rows())
        assert "noa" not in file.read_text("utf-8")
        await pilot.press("escape")
        assert app.screen is fixes
        assert any(f.customer_code == "NOA" for f in fixes.grid.visible_rows())
        await pilot.press("escape")
        assert app.screen is preview
        assert any(i.customer_code == "NOA" and i.code == "CW14" for i in preview.items)


async def test_ctrl_q_asks_in_a_preview(review_app: AtriaApp) -> None:
    app = review_app
    async with app.run_test(size=(140, 40)) as pilot:
        await open_preview(app, pilot)
        await pilot.press("ctrl+q")
        confirm = app.screen
        assert isinstance(confirm, ConfirmScreen) and "review" in confirm.body_text
        await pilot.press("n")
        assert isinstance(app.screen, PreviewScreen) and app.return_code is None
        await pilot.press("ctrl+q", "y")
        await pilot.pause()
        assert app.return_code == 0


async def test_ctrl_q_during_an_apply_finishes_it_and_prints_the_summary(
        review_app: AtriaApp) -> None:
    cw = shared().connectwise
    app = review_app
    async with app.run_test(size=(140, 40)) as pilot:
        preview = await open_preview(app, pilot)
        writes = sum(1 for i in preview.items if i.action.writes and i.approved)
        assert writes
        cw.latency_ms = 700  # the apply lasts long enough to quit during it
        try:
            await pilot.press("a", "y")
            apply = app.screen
            assert isinstance(apply, ApplyScreen)
            await until(pilot, lambda: apply.running, "the apply to start")
            await pilot.press("ctrl+q")
            confirm = app.screen
            assert isinstance(confirm, ConfirmScreen) and "apply" in confirm.title_text
            await pilot.press("y")
            await until(pilot, lambda: app.return_code is not None, "the apply and the exit",
                        timeout=60)
        finally:
            cw.latency_ms = 0
        assert apply.result is not None and apply.result.outcome is not None
        assert apply.result.outcome.applied == writes
        assert cw.quantity_of("AcmeServices", "M365-BP") == [12]  # written, not abandoned
        summary = "".join(str(r) for r in app._exit_renderables)
        assert f"run {apply.result.run_id}" in summary and f"{writes} written" in summary


async def test_an_export_never_replaces_a_file_silently(review_app: AtriaApp, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the demo writes exports to the working folder
    app = review_app
    async with app.run_test(size=(140, 40)) as pilot:
        preview = await open_preview(app, pilot)
        await pilot.press("x")
        first = app.screen
        assert isinstance(first, ExportScreen)
        target = Path(first.query_one("#export-path", Input).value)
        await pilot.press("enter")
        assert app.screen is preview and target.is_file()
        target.write_text("kept", "utf-8")  # stands for a file the clerk cares about
        await pilot.press("x")
        second = app.screen
        assert isinstance(second, ExportScreen)
        offered = Path(second.query_one("#export-path", Input).value)
        assert offered != target and offered.name.endswith("-2.csv")  # a free name
        second.query_one("#export-path", Input).value = str(target)
        await pilot.press("enter")
        assert app.screen is second and "exists already" in str(
            second.query_one("#export-error").render())
        assert target.read_text("utf-8") == "kept"
        await pilot.press("enter")  # the second Enter replaces it, knowingly
        assert app.screen is preview and target.read_text("utf-8-sig").startswith("customer")


async def test_c_while_planning_cancels_and_types_nothing(review_app: AtriaApp) -> None:
    shared().connectwise.latency_ms = 400
    app = review_app
    async with app.run_test(size=(140, 40)) as pilot:
        try:
            await pilot.press("p")
            screen = app.screen
            assert isinstance(screen, PreviewScreen) and screen.planning
            await until(pilot, lambda: screen._cancel is not None, "the plan to start")
            await pilot.press("c")
            await until(pilot, lambda: not screen.planning, "the cancellation")
        finally:
            shared().connectwise.latency_ms = 0
        assert screen.session is None
        assert screen.query_one("#preview-filter", Input).value == ""


async def test_ctrl_q_typed_right_after_the_apply_key_still_asks(review_app: AtriaApp) -> None:
    """`y` (apply) and ctrl+q in one burst: the question comes over the apply, never a
    silent exit, and its answer finishes the apply and prints its summary."""
    app = review_app
    async with app.run_test(size=(140, 40)) as pilot:
        await open_preview(app, pilot)
        await pilot.press("a")
        await pilot.press("y", "ctrl+q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        assert app.screen.id == "quit-confirm" and app.return_code is None
        apply = next(s for s in app.screen_stack if isinstance(s, ApplyScreen))
        await pilot.press("y")
        await until(pilot, lambda: app.return_code is not None, "the exit")
        assert apply.result is not None and not apply.running
        assert f"run {apply.result.run_id}" in "".join(str(r) for r in app._exit_renderables)
