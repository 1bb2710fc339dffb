"""`Grid`: a virtual table on Textual's Line API, for previews and logs of 50,000 rows.

Only the lines on screen are ever formatted (`render_line`), column widths come from a
sample (`grid_model.measure`), and sorting or filtering a large table runs in a thread
while the previous index stays on screen, so opening, sorting and filtering stay far
under the time a reviewer notices and the UI thread never stalls while a log streams in.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Hashable, Iterator, Sequence
from functools import lru_cache
from typing import Any, ClassVar, Generic

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.worker import Worker, WorkerCancelled, WorkerFailed

from atria_tui.widgets.grid_model import Column, GridModel, IndexResult, Query, R, fit, measure

__all__ = ["Column", "Grid"]

# Above this many rows a sort or filter is computed in a thread.
THREAD_THRESHOLD = 5000


@lru_cache(maxsize=256)
def parse_style(text: str) -> Style:
    return Style.parse(text) if text else Style()


class Grid(ScrollView, Generic[R], can_focus=True):
    """A read-only table: fixed header, row cursor, click a header or press `s` to sort."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False, id="grid.up"),
        Binding("down", "cursor(1)", "Down", show=False, id="grid.down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="grid.pageup"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="grid.pagedown"),
        Binding("home", "jump(0)", "First", show=False, id="grid.home"),
        Binding("end", "jump(-1)", "Last", show=False, id="grid.end"),
        Binding("enter", "select", "Open", show=False, id="grid.select"),
        Binding("s", "sort_next", "Sort", id="grid.sort"),
        Binding("S", "sort_reverse", "Reverse", show=False, id="grid.reverse"),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "grid--header", "grid--cursor", "grid--cursor-blurred", "grid--empty"}
    DEFAULT_CSS = """
    Grid { height: 1fr; background: $surface; }
    Grid > .grid--header { text-style: bold; background: $panel; color: $text; }
    Grid > .grid--cursor { background: $accent 50%; }
    Grid > .grid--cursor-blurred { background: $accent 20%; }
    Grid > .grid--empty { color: $text-muted; text-style: italic; }
    """

    class Reindexed(Message):
        """The visible rows changed (sort, filter, new rows); `elapsed` in seconds."""

        def __init__(self, grid: Grid[Any], count: int, elapsed: float) -> None:
            super().__init__()
            self.grid = grid
            self.count = count
            self.elapsed = elapsed

        @property
        def control(self) -> Grid[Any]:
            return self.grid

    class CursorMoved(Message):
        def __init__(self, grid: Grid[Any], row: Any | None) -> None:
            super().__init__()
            self.grid = grid
            self.row = row

        @property
        def control(self) -> Grid[Any]:
            return self.grid

    class Selected(Message):
        """Enter (or a double click) on a row."""

        def __init__(self, grid: Grid[Any], row: Any) -> None:
            super().__init__()
            self.grid = grid
            self.row = row

        @property
        def control(self) -> Grid[Any]:
            return self.grid

    def __init__(self, columns: Sequence[Column[R]], *,
                 search: Callable[[R], str] | None = None,
                 row_style: Callable[[R], str] | None = None,
                 row_key: Callable[[R], Hashable] | None = None,
                 empty_text: str = "Nothing to show.",
                 threshold: int = THREAD_THRESHOLD,
                 name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.model: GridModel[R] = GridModel(columns, search)
        self.row_style = row_style
        self.empty_text = empty_text
        self.threshold = threshold
        self.widths = measure(columns, [])
        self.row_key = row_key
        self.cursor = 0
        self._gen = 0
        self._pending: Worker[None] | None = None
        self._restore: int | None = None
        self._restore_key: Hashable | None = None

    # -- headless API (also used by the screens and the benchmark) -----------------------------

    @property
    def columns(self) -> Sequence[Column[R]]:
        return self.model.columns

    @property
    def row_count(self) -> int:
        """Visible rows (after the filter)."""
        return len(self.model)

    @property
    def cursor_row(self) -> R | None:
        return self.model.row_at(self.cursor) if len(self.model) else None

    def visible_rows(self) -> Iterator[R]:
        return iter(self.model.visible())

    def set_rows(self, rows: list[R], *, keep_cursor: bool = True) -> None:
        """Show `rows` (the list is kept, not copied); widths from a sample of them."""
        current = self.cursor_row if keep_cursor else None
        self._restore_key = (self.row_key(current) if current is not None and self.row_key
                             else None)
        if not keep_cursor:
            self.cursor = 0
        self.model.set_rows(rows)
        self.widths = measure(self.columns, rows)
        self._reindex()

    def append_rows(self, rows: Sequence[R]) -> None:
        """Add rows at the end (a batch from a stream); no full re-sort when unsorted."""
        if not rows:
            return
        t0 = time.perf_counter()
        follow = self.cursor >= len(self.model) - 1 and self.model.query.sort_col is None
        self.model.append(rows)
        if follow and len(self.model):
            self.cursor = len(self.model) - 1
        self._changed(t0)
        if follow:
            self._scroll_to_cursor()

    def sort_by(self, col: int | str | None, reverse: bool = False) -> None:
        """Sort by a column (index or key); None restores the natural order."""
        number = self._column_number(col) if col is not None else None
        q = self.model.query
        self.model.query = Query(number, reverse, q.text, q.predicate)
        if number is not None and number == q.sort_col and self._pending is None:
            # Same column: the index stays ascending, only the reading direction flips.
            if reverse != q.reverse and len(self.model):
                self.cursor = len(self.model) - 1 - self.cursor
            self._changed(time.perf_counter())
            self._scroll_to_cursor()
            return
        self._remember()
        self._reindex()

    def set_filter(self, text: str) -> None:
        """Show rows whose search text contains `text` (case-insensitive)."""
        q = self.model.query
        if text.strip() == q.text:
            return
        self.model.query = Query(q.sort_col, q.reverse, text.strip(), q.predicate)
        self._remember()
        self._reindex()

    def set_predicate(self, predicate: Callable[[R], bool] | None) -> None:
        """An extra filter (level, code, customer) combined with the text filter."""
        q = self.model.query
        self.model.query = Query(q.sort_col, q.reverse, q.text, predicate)
        self._remember()
        self._reindex()

    def refresh_rows(self, rows_changed: Sequence[int] | None = None) -> None:
        """Rows were edited in place (approval, note): redraw, refresh cached keys."""
        self.model.invalidate(rows_changed)
        self.refresh()

    async def settled(self) -> None:
        """Wait until the last sort/filter requested is on screen."""
        while self._pending is not None:
            worker = self._pending
            with contextlib.suppress(WorkerCancelled, WorkerFailed):
                await worker.wait()
            if self._pending is worker:
                self._pending = None
            await asyncio.sleep(0)

    # -- index computation ---------------------------------------------------------------------

    def _column_number(self, col: int | str) -> int:
        if isinstance(col, int):
            return col
        for number, c in enumerate(self.columns):
            if c.key == col:
                return number
        raise KeyError(f"no column {col!r}")

    def _remember(self) -> None:
        self._restore = self.model.row_number(self.cursor) if len(self.model) else None

    def _reindex(self) -> None:
        self._gen += 1
        t0 = time.perf_counter()
        if not self.model.needs_compute():
            self.model.index = list(range(len(self.model.rows)))
            self._pending = None
            self._installed(t0)
            return
        query = self.model.query
        if len(self.model.rows) <= self.threshold:
            self._pending = None
            self.model.install(self.model.compute(query))
            self._installed(t0)
            return
        self._pending = self.run_worker(self._compute_async(query, self._gen, t0),
                                        group=f"grid-{id(self)}", exclusive=True,
                                        exit_on_error=False)

    async def _compute_async(self, query: Query[R], gen: int, t0: float) -> None:
        rows = self.model.rows
        result: IndexResult[R] = await asyncio.to_thread(self.model.compute, query, rows,
                                                         len(rows))
        if gen != self._gen:
            return
        self._pending = None
        if self.model.install(result):
            self._installed(t0)

    def _installed(self, t0: float) -> None:
        """Keep the cursor on the row it was on, when that row is still shown."""
        pos: int | None = None
        if self._restore is not None:
            pos = self.model.position_of(self._restore)
        elif self._restore_key is not None and self.row_key is not None:
            key = self.row_key
            wanted = self._restore_key
            pos = next((p for p, r in enumerate(self.model.visible()) if key(r) == wanted),
                       None)
        self._restore = None
        self._restore_key = None
        self.cursor = pos if pos is not None else min(self.cursor, max(0, len(self.model) - 1))
        self._changed(t0)
        self._scroll_to_cursor()

    def _changed(self, t0: float) -> None:
        self._update_virtual_size()
        self.refresh()
        self.post_message(self.Reindexed(self, len(self.model), time.perf_counter() - t0))

    # -- geometry ------------------------------------------------------------------------------

    def _layout(self) -> list[int]:
        """Widths as drawn: the flex column takes the room the others leave."""
        widths = list(self.widths)
        gaps = len(widths) - 1 if widths else 0
        room = self.scrollable_content_region.width - sum(widths) - gaps
        for number, col in enumerate(self.columns):
            if col.flex:
                widths[number] = max(col.min_width, widths[number] + max(0, room))
                break
        return widths

    def _update_virtual_size(self) -> None:
        widths = self._layout()
        total = sum(widths) + max(0, len(widths) - 1)
        self.virtual_size = Size(total, len(self.model) + 1)

    def on_resize(self, event: events.Resize) -> None:
        self._update_virtual_size()

    @property
    def _page(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _scroll_to_cursor(self) -> None:
        top = int(self.scroll_y)
        page = self._page
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + page:
            self.scroll_to(y=self.cursor - page + 1, animate=False, immediate=True)

    # -- actions -------------------------------------------------------------------------------

    def move_cursor(self, pos: int) -> None:
        count = len(self.model)
        pos = max(0, min(pos, count - 1)) if count else 0
        if pos != self.cursor:
            self.cursor = pos
            self.refresh()
        self._scroll_to_cursor()
        self.post_message(self.CursorMoved(self, self.cursor_row))

    def action_cursor(self, step: int) -> None:
        self.move_cursor(self.cursor + step)

    def action_page(self, step: int) -> None:
        self.move_cursor(self.cursor + step * self._page)

    def action_jump(self, where: int) -> None:
        self.move_cursor(len(self.model) - 1 if where < 0 else 0)

    def action_select(self) -> None:
        row = self.cursor_row
        if row is not None:
            self.post_message(self.Selected(self, row))

    def action_sort_next(self) -> None:
        """Cycle the sort column: natural order → first column → … → last → natural."""
        current = self.model.query.sort_col
        nxt = 0 if current is None else current + 1
        self.sort_by(nxt if nxt < len(self.columns) else None)

    def action_sort_reverse(self) -> None:
        q = self.model.query
        self.sort_by(q.sort_col if q.sort_col is not None else 0, not q.reverse)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            number = self._column_at(offset.x + int(self.scroll_x))
            if number is not None:
                q = self.model.query
                self.sort_by(number, not q.reverse if q.sort_col == number else False)
            return
        self.move_cursor(offset.y - 1 + int(self.scroll_y))
        if event.chain >= 2:
            self.action_select()

    def _column_at(self, x: int) -> int | None:
        left = 0
        for number, width in enumerate(self._layout()):
            if left <= x < left + width + 1:
                return number
            left += width + 1
        return None

    # -- rendering -----------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        scroll_x, scroll_y = self.scroll_offset
        base = self.rich_style
        widths = self._layout()
        if y == 0:
            strip = self._header(widths)
        else:
            pos = y - 1 + scroll_y
            if pos >= len(self.model):
                if pos == 0 and y == 1:
                    style = self.get_component_rich_style("grid--empty")
                    return Strip([Segment(fit(" " + self.empty_text, width), style)], width)
                return Strip.blank(width, base)
            strip = self._row(pos, widths)
        return strip.crop_extend(scroll_x, scroll_x + width, base)

    def _header(self, widths: list[int]) -> Strip:
        style = self.get_component_rich_style("grid--header")
        q = self.model.query
        segments: list[Segment] = []
        for number, (col, w) in enumerate(zip(self.columns, widths, strict=True)):
            label = col.label
            if q.sort_col == number:
                label += " ▼" if q.reverse else " ▲"
            if number:
                segments.append(Segment(" ", style))
            segments.append(Segment(fit(label, w, col.align), style))
        return Strip(segments)

    def _row(self, pos: int, widths: list[int]) -> Strip:
        row = self.model.row_at(pos)
        base = self.rich_style
        if self.row_style is not None:
            base = base + parse_style(self.row_style(row))
        if pos == self.cursor:
            name = "grid--cursor" if self.has_focus else "grid--cursor-blurred"
            cursor = self.get_component_rich_style(name, partial=True)
            base = base + cursor
        else:
            cursor = None
        segments: list[Segment] = []
        for number, (col, w) in enumerate(zip(self.columns, widths, strict=True)):
            style = base
            if col.style is not None:
                style = base + parse_style(col.style(row))
                if cursor is not None and cursor.bgcolor is not None:
                    style = style + Style(bgcolor=cursor.bgcolor)
            if number:
                segments.append(Segment(" ", base))
            segments.append(Segment(fit(col.text(row), w, col.align), style))
        return Strip(segments)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()
