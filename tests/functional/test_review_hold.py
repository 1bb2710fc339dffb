"""Two clerks, one job: the second preview is told who reviews it and may open read-only,
deciding and saving nothing (the console served to several browsers, issue 13)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from textual.widgets import Static

from atria_tui.console.app import AtriaApp
from atria_tui.console.screens.confirm import ConfirmScreen
from atria_tui.console.screens.preview import PreviewScreen
from atria_tui.job.file import load_job
from atria_tui.services import review_session as rs
from atria_tui.services.review_hold import ReviewHeld, hold_review
from atria_tui.services.runtime import Runtime

AppFactory = Callable[..., AtriaApp]


@contextmanager
def held_elsewhere(services: Runtime, jobs_dir: Path) -> Iterator[None]:
    """The review lock held by another thread, as another console process would hold it
    (the lock is re-entrant for its own thread only)."""
    job = load_job(jobs_dir / "demo-connectwise.toml")
    taken, done = threading.Event(), threading.Event()

    def other_clerk() -> None:
        hold = hold_review(services, job, who="maria")
        taken.set()
        done.wait(30)
        hold.release()

    thread = threading.Thread(target=other_clerk)
    thread.start()
    assert taken.wait(10)
    try:
        yield
    finally:
        done.set()
        thread.join(10)


async def wait_for(pilot: object, cond: Callable[[], bool], tries: int = 400) -> None:
    for _ in range(tries):
        if cond():
            return
        await pilot.pause(0.05)  # type: ignore[attr-defined]
    raise AssertionError("condition never held")


async def test_a_second_preview_says_who_reviews_and_opens_read_only(
        app_factory: AppFactory, services: Runtime, jobs_dir: Path) -> None:
    app = app_factory()
    with held_elsewhere(services, jobs_dir):
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.press("enter")                       # ⏎ opens the job's preview
            assert isinstance(app.screen, ConfirmScreen)
            body = str(app.screen.query_one("#confirm-body", Static).render())
            assert "being reviewed by maria (process" in body and "read-only" in body
            await pilot.press("y")
            screen = app.screen
            assert isinstance(screen, PreviewScreen) and screen.read_only
            await wait_for(pilot, lambda: screen.session is not None)
            assert screen.session is not None
            item = next(i for i in screen.session.plan.items if i.action.writes)
            screen.grid.move_cursor(list(screen.grid.visible_rows()).index(item))
            before = (item.approved, item.decided)
            await pilot.press("space", "n")
            await pilot.pause()
            assert (item.approved, item.decided) == before   # nothing decided
            assert isinstance(app.screen, PreviewScreen)     # no note dialog either
            assert any("Read-only" in n.message for n in app._notifications)
            job = load_job(jobs_dir / "demo-connectwise.toml")
            path = rs.review_path(services, job, screen.session.plan.period.end)
            assert not path.exists()                         # and nothing saved
            await pilot.press("escape")
    # Once the other clerk is done, the job's preview is this console's to review.
    hold = hold_review(services, load_job(jobs_dir / "demo-connectwise.toml"))
    hold.release()


def test_the_lock_names_the_holder_and_frees_on_release(services: Runtime,
                                                       jobs_dir: Path) -> None:
    job = load_job(jobs_dir / "demo-connectwise.toml")
    with held_elsewhere(services, jobs_dir):
        try:
            hold_review(services, job)
        except ReviewHeld as held:
            assert held.holder.startswith("maria (process ")
        else:
            raise AssertionError("a second review of the job was let in")
    hold_review(services, job).release()
