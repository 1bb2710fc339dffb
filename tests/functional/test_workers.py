"""The one worker helper: a service call's outcome reaches its screen as a message, and an
error nobody expected is a notification, never a traceback or a screen left waiting."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from textual.app import App
from textual.message import Message

from atria_tui.console.app import AtriaApp
from atria_tui.console.screens.apply import ApplyScreen
from atria_tui.console.screens.host import Crashed
from atria_tui.console.screens.jobs import JobsScreen
from atria_tui.console.screens.preview import PreviewScreen
from atria_tui.console.screens.workers import run_service


async def wait_for(pilot: Any, cond: Callable[[], bool]) -> None:
    for _ in range(200):
        if cond():
            return
        await pilot.pause(0.05)
    raise AssertionError("condition not met in time")


class Outcome(Message):
    def __init__(self, value: object) -> None:
        super().__init__()
        self.value = value


class Recorder(App[None]):
    """Keeps what a worker posted to it: outcomes and crash reports."""

    def __init__(self) -> None:
        super().__init__()
        self.outcomes: list[object] = []
        self.crashes: list[tuple[str, BaseException]] = []

    def on_outcome(self, message: Outcome) -> None:
        self.outcomes.append(message.value)

    def on_crashed(self, message: Crashed) -> None:
        self.crashes.append((message.what, message.error))


async def run_in_worker(call: Callable[[], Any], **kw: Any) -> Recorder:
    app = Recorder()
    async with app.run_test() as pilot:
        worker = app.run_worker(
            lambda: run_service(app, "Testing", call, done=lambda v: Outcome(("done", v)),
                                failed=lambda text: Outcome(("failed", text)), **kw),
            thread=True)
        await worker.wait()
        await pilot.pause()
    return app


async def test_a_coroutine_runs_to_its_done_message() -> None:
    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    app = await run_in_worker(answer)
    assert app.outcomes == [("done", 42)] and app.crashes == []


async def test_an_expected_error_is_the_screens_outcome() -> None:
    def locked() -> None:
        raise LookupError("held by pid 7")

    app = await run_in_worker(locked, expected=(LookupError,))
    assert app.outcomes == [("failed", "held by pid 7")] and app.crashes == []


@pytest.mark.parametrize("report", [True, False])
async def test_an_unexpected_error_is_reported_and_ends_the_wait(report: bool) -> None:
    def bug() -> None:
        raise ZeroDivisionError("oops")

    app = await run_in_worker(bug, report=report)
    assert app.outcomes == [("failed", "ZeroDivisionError: oops")]
    assert [(what, str(exc)) for what, exc in app.crashes] == (
        [("Testing", "oops")] if report else [])


async def test_a_crashed_preview_is_a_notification(app_factory: Callable[..., AtriaApp],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*args: object, **kw: object) -> None:
        raise RuntimeError("planner bug")

    monkeypatch.setattr("atria_tui.console.screens.preview.plan_job", broken)
    app = app_factory()
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("down", "p")
        preview = app.screen
        assert isinstance(preview, PreviewScreen)
        await wait_for(pilot, lambda: not preview.planning)
        assert "Planning cancelled" in str(preview.query_one("#preview-step").render())
        expected = ("Preview of Demo: Transfer Billing Data to Kaseya BMS (sandbox) stopped: "
                    "RuntimeError: planner bug")
        await wait_for(pilot, lambda: any(n.message == expected for n in app._notifications))
        await pilot.press("escape")
        assert isinstance(app.screen, JobsScreen)


def test_a_burst_of_progress_collapses_to_the_newest() -> None:
    older = PreviewScreen.Progress("Reading agreements", 1, 9)
    assert older.can_replace(PreviewScreen.Progress("Reading agreements", 2, 9))
    assert not older.can_replace(ApplyScreen.Progress("Writing", 2, 9))
    assert not older.can_replace(PreviewScreen.Planned(None))
    assert ApplyScreen.Progress("Writing", 1, 9).can_replace(ApplyScreen.Progress("", 2, 9))
    activity = AtriaApp.Activity("Run now · x: planning…")
    assert activity.can_replace(AtriaApp.Activity("Run now · x: reading (1/3)…"))
    assert not activity.can_replace(Outcome(None))
