"""LogTable and Grid at scale: 50,000 entries open, sort, filter and stream without stalls."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot

from atria_tui.console.widgets.grid import Grid
from atria_tui.console.widgets.log_table import LogTable
from atria_tui.core.model import Level, LogEntry
from atria_tui.sandbox.server import reset_shared

pytestmark = pytest.mark.timeout(60)
CODES = [("CW01", Level.INFO), ("CW04", Level.WARNING), ("CW07", Level.INFO),
         ("CW09", Level.VERBOSE), ("CW10", Level.ERROR), ("TU01", Level.WARNING)]


@pytest.fixture(autouse=True)
def _log_home(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ATRIA_TUI_HOME", str(tmp_path))
    monkeypatch.setenv("ATRIA_TUI_KEYRING", "0")
    reset_shared()
    yield
    reset_shared()


def entries(n: int, seed: int = 3) -> list[LogEntry]:
    rng = random.Random(seed)
    start = datetime(2026, 11, 26, 22, 0, tzinfo=UTC)
    out = []
    for i in range(n):
        code, level = CODES[rng.randrange(len(CODES))]
        out.append(LogEntry(code, level, f"Customer C{i % 997} line {i} quantity {i % 13}",
                            f"C{i % 997}", f"SKU-{i % 41}", start + timedelta(seconds=i)))
    return out


class TimedLog(LogTable):
    """Records how many entries each drain (the UI's share of streaming) takes in.

    Speed is measured in benchmarks/console_bench.py, never asserted here."""

    drains: list[int]

    def drain(self) -> int:
        taken = super().drain()
        self.drains.append(taken)
        return taken


class LogApp(App[None]):
    def compose(self) -> ComposeResult:
        log = TimedLog(id="log")
        log.drains = []
        yield log


async def settle(pilot: Pilot[None], log: LogTable) -> None:
    await log.grid.settled()
    await pilot.pause()


async def test_fifty_thousand_entries_open_sort_and_filter() -> None:
    """What 50k rows show after a sort and a search (their speed: benchmarks/)."""
    data = entries(50_000)
    app = LogApp()
    async with app.run_test(size=(140, 40)) as pilot:
        log = app.query_one(LogTable)
        log.set_entries(data)
        await settle(pilot, log)
        assert len(log.visible_entries()) == 50_000
        log.grid.sort_by("message")
        await settle(pilot, log)
        log.grid.sort_by("message", reverse=True)
        await settle(pilot, log)
        log.search("CW04")
        await settle(pilot, log)
        shown = log.visible_entries()
        assert len(shown) == sum(1 for e in data if e.code == "CW04")
        assert [e.message for e in shown] == sorted((e.message for e in shown),
                                                    key=str.casefold, reverse=True)


async def test_typing_a_code_in_the_search_box_and_level_filter() -> None:
    data = entries(2_000)
    app = LogApp()
    async with app.run_test(size=(140, 40)) as pilot:
        log = app.query_one(LogTable)
        log.set_entries(data)
        log.grid.focus()
        await pilot.press("slash", "c", "w", "0", "4", "enter")
        await settle(pilot, log)
        assert {e.code for e in log.visible_entries()} == {"CW04"}
        assert app.focused is log.grid
        log.search("")
        log.set_level(Level.ERROR)  # the "l" key is driven in test_preview_flow
        await settle(pilot, log)
        assert {e.level for e in log.visible_entries()} == {Level.ERROR}
        counts = str(log.query_one("#log-counts").render())
        errors = sum(1 for e in data if e.level is Level.ERROR)
        conflicts = sum(1 for e in data if e.code == "TU01")
        assert f"{errors} of 2,000 entries" in counts or f"{errors:,} of 2,000" in counts
        assert f"✖ {errors} errors" in counts and f"⚑ {conflicts} conflicts" in counts
        await pilot.click(Grid, offset=(12, 0))  # header click on "Level": sort by it
        await settle(pilot, log)
        assert log.grid.model.query.sort_col == 1


async def test_streaming_from_a_thread_is_batched_and_never_stalls_the_ui() -> None:
    data = entries(50_000, seed=5)
    app = LogApp()
    async with app.run_test(size=(140, 40)) as pilot:
        log = app.query_one(TimedLog)
        drains = log.drains

        def writer() -> None:
            for i, e in enumerate(data):
                log.feed(e)
                if i % 500 == 0:
                    time.sleep(0.002)  # a run writes in bursts, not all at once

        thread = threading.Thread(target=writer)
        thread.start()
        while thread.is_alive() or log.pending:
            await pilot.pause(0.05)
        thread.join()
        await settle(pilot, log)
        assert len(log.entries) == 50_000 and log.entries[-1] is data[-1]
        assert log.grid.cursor == 49_999  # the view follows the tail while it streams
        busy = [n for n in drains if n]
        assert sum(busy) == 50_000
        assert len(busy) < 1_000  # batched: not one refresh per entry (50 a batch at least)
        assert log.levels[Level.ERROR] == sum(1 for e in data if e.level is Level.ERROR)
