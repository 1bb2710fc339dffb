"""The preview reads right at any size: three review states, totals that follow the
filter, the row detail, sort picker, Help listing the screen's keys (keys in, state out)."""

from __future__ import annotations

import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from atria_tui.console.app import AtriaApp
from atria_tui.console.screens import preview
from atria_tui.console.screens.apply import ApplyScreen
from atria_tui.console.screens.customers import CustomersScreen
from atria_tui.console.screens.detail import DetailScreen
from atria_tui.console.screens.help import HelpScreen
from atria_tui.console.screens.log import LogScreen
from atria_tui.console.widgets.sort_picker import SortPicker
from atria_tui.core.numbers import signed_money
from atria_tui.job.file import load_job
from atria_tui.services import review as rv
from atria_tui.services.engine import plan_job
from tests.functional import test_preview_flow as flow
from tests.functional.test_preview_flow import open_preview, type_text

review_jobs, review_app = flow.review_jobs, flow.review_app  # the same fixtures

pytestmark = pytest.mark.timeout(60)


def header(app: AtriaApp) -> str:
    return str(app.screen.query_one("#preview-summary", Static).render())


@pytest.fixture(params=["inline", "in a thread"])
def counting(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The header is counted on the UI thread for a small plan and in a thread for a big
    one (50,000 rows): both paths, on the same small plan."""
    if request.param == "in a thread":
        monkeypatch.setattr(preview, "SUMMARY_INLINE", 0)
    return str(request.param)


async def settled_header(app: AtriaApp, pilot: Pilot[None]) -> str:
    """The header once a threaded count has landed."""
    await app.screen.workers.wait_for_complete()
    await pilot.pause()
    return header(app)


async def test_rejecting_is_a_state_of_its_own_and_to_review_reaches_zero(
        review_app: AtriaApp, counting: str) -> None:
    async with review_app.run_test(size=(160, 45)) as pilot:
        screen = await open_preview(review_app, pilot)
        items = screen.items
        writes = [i for i in items if i.action.writes]
        held = [i for i in writes if not i.approved]
        assert held, "the demo holds decreases back for review"
        assert f"• {len(held)} to review" in await settled_header(review_app, pilot)
        assert "✗ 0 rejected" in header(review_app)
        # Reject every held row one by one: "to review" falls to 0 without approving.
        for item in held:
            pos = next(p for p, r in enumerate(screen.grid.visible_rows()) if r is item)
            screen.grid.move_cursor(pos)
            await pilot.press("space")  # not reviewed → approved (the cursor moves on)
            assert rv.review_state(item) == "approved"
            screen.grid.move_cursor(pos)
            await pilot.press("space")  # approved → rejected
            assert rv.review_state(item) == "rejected"
        await pilot.pause()
        assert all(rv.review_state(i) in ("approved", "rejected") for i in writes)
        s = rv.summarize(items)
        assert s.to_review == 0
        assert "• 0 to review" in await settled_header(review_app, pilot)
        assert f"✗ {s.rejected} rejected" in header(review_app)
        assert s.rejected + s.approved == len(writes)


async def test_header_totals_follow_the_filter(review_app: AtriaApp, counting: str) -> None:
    async with review_app.run_test(size=(160, 45)) as pilot:
        screen = await open_preview(review_app, pilot)
        total = len(screen.items)
        await pilot.press("slash")
        await type_text(pilot, "OLD")
        await pilot.press("enter")
        await pilot.pause()
        shown = list(screen.grid.visible_rows())
        assert 0 < len(shown) < total
        s = rv.summarize(shown)
        text = await settled_header(review_app, pilot)
        assert f"{len(shown)} of {total} rows shown" in text
        assert f"{s.changes} change(s)" in text
        assert f"Δ money {signed_money(s.money)}" in text


async def test_enter_opens_the_row_in_full_and_esc_closes_only_it(
        review_app: AtriaApp) -> None:
    async with review_app.run_test(size=(80, 24)) as pilot:
        screen = await open_preview(review_app, pilot)
        item = screen.grid.cursor_row
        assert item is not None
        await pilot.press("enter")
        detail = review_app.screen
        assert isinstance(detail, DetailScreen)
        body = str(detail.query_one("#detail-body", Static).render())
        assert item.message[:40] in body.replace("\n", " ")
        assert "What to do:" in body
        await pilot.press("escape")
        assert review_app.screen is screen  # the dialog closed, the preview stayed


async def test_a_change_in_full_says_what_would_be_written_not_that_it_was(
        review_app: AtriaApp) -> None:
    """Nothing is written from a preview: its row detail says "would" (defect 19)."""
    async with review_app.run_test(size=(160, 45)) as pilot:
        screen = await open_preview(review_app, pilot)
        rows = list(screen.grid.visible_rows())
        at = next(n for n, i in enumerate(rows) if i.action.writes and i.code == "CW07")
        screen.grid.move_cursor(at)
        await pilot.press("enter")
        detail = review_app.screen
        assert isinstance(detail, DetailScreen)
        body = str(detail.query_one("#detail-body", Static).render()).replace("\n", " ")
        assert "would be updated from" in body and "and updated from" not in body


async def test_question_mark_is_help_and_lists_every_preview_key(
        review_app: AtriaApp) -> None:
    async with review_app.run_test(size=(160, 45)) as pilot:
        await open_preview(review_app, pilot)
        await pilot.press("question_mark")
        help_screen = review_app.screen
        assert isinstance(help_screen, HelpScreen)
        keys = help_screen.screen_keys
        for shown in ("A Approve all shown", "R Reject all shown", "l Level", "k Code",
                      "w Changes only", "i Why?", "S Reverse sort", "s Sort (choose column)",
                      "g Customers", "a Apply"):
            assert shown in keys, shown


async def test_sort_picker_sorts_by_the_chosen_column_both_ways_from_the_top(
        review_app: AtriaApp) -> None:
    async with review_app.run_test(size=(160, 45)) as pilot:
        screen = await open_preview(review_app, pilot)
        screen.grid.move_cursor(10)
        money_at = screen.grid.model.column_number("money")
        await pilot.press("s")
        picker = review_app.screen
        assert isinstance(picker, SortPicker)
        for _ in range(money_at + 1):  # row 0 is the natural order
            await pilot.press("down")
        await pilot.press("S")  # descending
        await screen.grid.settled()
        await pilot.pause()
        rows = list(screen.grid.visible_rows())
        assert [r.money_delta for r in rows] == sorted((r.money_delta for r in rows),
                                                       reverse=True)
        assert screen.grid.cursor == 0 and screen.grid.scroll_y == 0
        assert screen.grid.cursor_row is rows[0]


async def test_by_customer_subtotals_add_up_and_narrow_the_preview(
        review_app: AtriaApp) -> None:
    async with review_app.run_test(size=(160, 45)) as pilot:
        screen = await open_preview(review_app, pilot)
        await pilot.press("g")
        dialog = review_app.screen
        assert isinstance(dialog, CustomersScreen)
        totals = dialog.totals
        s = rv.summarize(screen.items)
        assert sum(t.money for t in totals) == s.money
        assert sum(t.changes for t in totals) == s.changes
        assert totals[0].blockers >= totals[-1].blockers  # blockers first
        first = totals[0].code
        await pilot.press("enter")
        await pilot.pause()
        assert review_app.screen is screen
        shown = list(screen.grid.visible_rows())
        assert shown and {i.customer_code for i in shown} == {first}
        assert f"{len(shown)} of {len(screen.items)} rows shown" in header(review_app)
        await pilot.press("g")  # g again shows every customer
        await pilot.pause()
        assert screen.grid.row_count == len(screen.items)


async def test_blockers_come_first(review_app: AtriaApp) -> None:
    async with review_app.run_test(size=(160, 45)) as pilot:
        screen = await open_preview(review_app, pilot)
        flags = [rv.is_blocker(i) for i in screen.grid.visible_rows()]
        assert any(flags)
        assert flags == sorted(flags, reverse=True)


async def test_enter_on_a_log_entry_shows_all_of_it_with_the_resolution(
        review_app: AtriaApp) -> None:
    async with review_app.run_test(size=(80, 24)) as pilot:
        job = load_job(review_app.jobs_dir / "demo-connectwise.toml")
        result = await plan_job(review_app.services, job)
        review_app.open_log(result.run_id)
        await pilot.pause()
        log = review_app.screen
        assert isinstance(log, LogScreen)
        await flow.until(pilot, lambda: log.loaded, "the log")
        entries = log.log_table.entries
        longest = max(range(len(entries)), key=lambda n: len(entries[n].message))
        log.log_table.grid.move_cursor(longest)
        await pilot.press("enter")
        detail = review_app.screen
        assert isinstance(detail, DetailScreen)
        body = str(detail.query_one("#detail-body", Static).render()).replace("\n", " ")
        words = entries[longest].message.split()
        assert words[-1] in body and words[0] in body  # the end of it too, not cut
        assert "What to do:" in body
        await pilot.press("escape")
        assert review_app.screen is log


async def test_enter_on_the_apply_log_shows_the_entry_in_full(review_app: AtriaApp) -> None:
    async with review_app.run_test(size=(160, 45)) as pilot:
        await open_preview(review_app, pilot)
        await pilot.press("a", "y")
        apply = review_app.screen
        assert isinstance(apply, ApplyScreen)
        await flow.until(pilot, lambda: not apply.running, "the apply")
        apply.log_table.drain()
        await apply.log_table.grid.settled()
        apply.log_table.grid.focus()
        entry = apply.log_table.grid.cursor_row
        assert entry is not None
        await pilot.press("enter")
        detail = review_app.screen
        assert isinstance(detail, DetailScreen)
        body = str(detail.query_one("#detail-body", Static).render()).replace("\n", " ")
        assert entry.code in body and entry.message.split()[-1] in body
        await pilot.press("escape")
        assert review_app.screen is apply
