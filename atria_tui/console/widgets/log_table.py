"""The log table of the Apply and Log screens: streaming, searchable, sortable, exportable.

Entries arrive from a worker thread far faster than a screen can redraw (an apply of
50,000 lines writes thousands of entries a second), so `feed()` only appends to a
thread-safe buffer and the UI drains it every 100 ms in one batch. The header counts
errors and conflicts as they stream, so a failure is visible before the run ends.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Iterable
from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import Input, Static

from atria_tui.console.widgets.code_badge import CONFLICT, badge_style, badge_text, row_style
from atria_tui.console.widgets.grid import Column, Grid
from atria_tui.core.localtime import zone_name
from atria_tui.core.model import Level, LogEntry

__all__ = ["LEVEL_FILTERS", "LogTable", "format_time"]

# The level filter cycles through "at least this level".
LEVEL_FILTERS: tuple[Level | None, ...] = (None, Level.INFO, Level.WARNING, Level.ERROR)
# At most this many entries are moved from the buffer to the table per 100 ms tick.
_BATCH = 10_000
# …in chunks of this many, for at most this long per tick.
_CHUNK = 1_000
_DRAIN_SECONDS = 0.015


def format_time(t: datetime | None) -> str:
    """Local wall-clock time; the date is in the run's header. Tests replace this."""
    return t.astimezone().strftime("%H:%M:%S") if t else ""


def _time_key(e: LogEntry) -> tuple[int, str]:
    return (0, e.time.isoformat()) if e.time else (1, "")


LOG_COLUMNS: list[Column[LogEntry]] = [
    # The header names the zone the stored UTC times are shown in (console review, 24).
    Column("time", f"Time ({zone_name()})", lambda e: format_time(e.time), sort=_time_key,
           width=max(8, len(zone_name()) + 7)),
    Column("level", "Level", lambda e: e.level.value, sort=lambda e: e.level.rank, width=7),
    Column("code", "Code", lambda e: badge_text(e.code), sort=lambda e: e.code, width=6,
           style=lambda e: badge_style(e.level, e.code)),
    Column("customer", "Customer", lambda e: e.customer, width=10),
    Column("sku", "SKU", lambda e: e.sku, width=14),
    Column("message", "Message", lambda e: e.message, flex=True, min_width=20),
]


def _search(e: LogEntry) -> str:
    return f"{e.code} {e.message}"


class LogTable(Vertical):
    """Search box (code and message), level filter, counters, and the Grid of entries."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "search", "Search", priority=True, id="log.search"),
        Binding("l", "cycle_level", "Level", id="log.level"),
    ]

    def __init__(self, entries: Iterable[LogEntry] = (), *, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._initial = list(entries)
        self._buffer: deque[LogEntry] = deque()
        self._timer: Timer | None = None
        self.level_filter: Level | None = None
        self.levels: Counter[Level] = Counter()
        self.conflicts = 0

    def compose(self) -> ComposeResult:
        with Horizontal(classes="log-bar"):
            yield Input(placeholder="Search code or message  ( / )", id="log-search")
            yield Static(self._level_text(), id="log-level")
            yield Static("", id="log-counts")
        yield Grid(LOG_COLUMNS, search=_search, id="log-grid",
                   row_style=lambda e: row_style(e.level, e.code),
                   empty_text="No log entries yet.")

    @property
    def grid(self) -> Grid[LogEntry]:
        grid: Grid[LogEntry] = self.query_one("#log-grid", Grid)
        return grid

    def on_mount(self) -> None:
        if self._initial:
            self.set_entries(self._initial)
        self._timer = self.set_interval(0.1, self.drain)

    # -- filling ---------------------------------------------------------------------------------

    def feed(self, entry: LogEntry) -> None:
        """Thread-safe: queue an entry; the UI shows it within 100 ms."""
        self._buffer.append(entry)

    def set_entries(self, entries: list[LogEntry]) -> None:
        self._buffer.clear()
        self.levels = Counter(e.level for e in entries)
        self.conflicts = sum(1 for e in entries if e.code == CONFLICT)
        self.grid.set_rows(entries, keep_cursor=False)
        self._show_counts()

    def drain(self) -> int:
        """Move buffered entries into the table, one batch; returns how many."""
        if not self._buffer:
            return 0
        moved = 0
        pop = self._buffer.popleft
        end = time.perf_counter() + _DRAIN_SECONDS
        # Chunks until the tick's time is spent: a burst of 50,000 entries is shown over a
        # few ticks instead of stalling the UI for one big batch.
        while self._buffer and moved < _BATCH and time.perf_counter() < end:
            batch = [pop() for _ in range(min(_CHUNK, len(self._buffer)))]
            self.levels.update(e.level for e in batch)
            self.conflicts += sum(1 for e in batch if e.code == CONFLICT)
            self.grid.append_rows(batch)
            moved += len(batch)
        self._show_counts()
        return moved

    @property
    def pending(self) -> int:
        return len(self._buffer)

    @property
    def entries(self) -> list[LogEntry]:
        """Every entry shown so far, in arrival order."""
        return self.grid.model.rows

    def visible_entries(self) -> list[LogEntry]:
        """What the table shows now: filtered and in the displayed order."""
        return list(self.grid.visible_rows())

    # -- searching and filtering -------------------------------------------------------------------

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "log-search":
            event.stop()
            self.grid.set_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "log-search":
            event.stop()
            self.screen.set_focus(self.grid)  # now: the next key goes there

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # "/" is a priority key so the focus moves before the next typed key is routed;
        # in the search box itself it is just a character.
        return not (action == "search" and isinstance(self.screen.focused, Input))

    def action_search(self) -> None:
        self.screen.set_focus(self.query_one("#log-search", Input))

    def search(self, text: str) -> None:
        self.query_one("#log-search", Input).value = text
        self.grid.set_filter(text)

    def action_cycle_level(self) -> None:
        at = LEVEL_FILTERS.index(self.level_filter)
        self.set_level(LEVEL_FILTERS[(at + 1) % len(LEVEL_FILTERS)])

    def set_level(self, level: Level | None) -> None:
        self.level_filter = level
        if level is None:
            self.grid.set_predicate(None)
        else:
            rank = level.rank
            self.grid.set_predicate(lambda e: e.level.rank >= rank)
        self.query_one("#log-level", Static).update(self._level_text())

    def _level_text(self) -> Text:
        name = self.level_filter.value if self.level_filter else "all"
        suffix = "" if self.level_filter in (None, Level.ERROR) else "+"
        return Text.assemble(("Level ", "dim"), (f"{name}{suffix}", "bold"), (" (l)", "dim"))

    # -- header counters ---------------------------------------------------------------------------

    def on_grid_reindexed(self, event: Grid.Reindexed) -> None:
        self._show_counts()

    def _show_counts(self) -> None:
        total = sum(self.levels.values())
        shown = self.grid.row_count
        errors = self.levels[Level.ERROR]
        warnings = self.levels[Level.WARNING]
        text = Text()
        text.append(f"{shown:,}" if shown == total else f"{shown:,} of {total:,}", "bold")
        text.append(" entries  ")
        text.append(f"✖ {errors} error{'s' if errors != 1 else ''}",
                    "bold #ff6b6b" if errors else "dim")
        text.append("  ")
        text.append(f"⚑ {self.conflicts} conflict{'s' if self.conflicts != 1 else ''}",
                    "bold #e07be0" if self.conflicts else "dim")
        text.append("  ")
        text.append(f"▲ {warnings} warning{'s' if warnings != 1 else ''}",
                    "#f0c05a" if warnings else "dim")
        self.query_one("#log-counts", Static).update(text)
