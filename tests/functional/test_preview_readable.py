"""The preview reads right at any size: three review states, totals that follow the
filter, the row detail, sort picker, Help listing the screen's keys (keys in, state out)."""

from __future__ import annotations

import pytest
from textual.widgets import Static

from atria_tui.console.app import AtriaApp
from atria_tui.services import review as rv
from tests.functional import test_preview_flow as flow
from tests.functional.test_preview_flow import open_preview, type_text

review_jobs, review_app = flow.review_jobs, flow.review_app  # the same fixtures

pytestmark = pytest.mark.timeout(60)


def header(app: AtriaApp) -> str:
    return str(app.screen.query_one("#preview-summary", Static).render())


async def test_rejecting_is_a_state_of_its_own_and_to_review_reaches_zero(
        review_app: AtriaApp) -> None:
    async with review_app.run_test(size=(160, 45)) as pilot:
        screen = await open_preview(review_app, pilot)
        items = screen.items
        writes = [i for i in items if i.action.writes]
        held = [i for i in writes if not i.approved]
        assert held, "the demo holds decreases back for review"
        assert f"• {len(held)} to review" in header(review_app)
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
        assert "• 0 to review" in header(review_app)
        assert f"✗ {s.rejected} rejected" in header(review_app)
        assert s.rejected + s.approved == len(writes)


async def test_header_totals_follow_the_filter(review_app: AtriaApp) -> None:
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
        text = header(review_app)
        assert f"{len(shown)} of {total} rows shown" in text
        assert f"{s.changes} change(s)" in text
        assert f"Δ money {rv.money(s.money)}" in text
