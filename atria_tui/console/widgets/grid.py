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
from dataclasses import replace
from typing import Any, ClassVar, Generic

from rich.segment import Segment
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.worker import Worker, WorkerCancelled, WorkerFailed

from atria_tui.console.widgets import grid_model as gm
from atria_tui.console.widgets.grid_model import Column, GridModel, IndexResult, Query, R, measure
from atria_tui.console.widgets.sort_picker import SortPicker
from atria_tui.core.codes import current_name

__all__ = ["Column", "Grid"]

# Above this many rows a sort or filter is computed in a thread.
THREAD_THRESHOLD = 5000


class _GridMessage(Message):
    def __init__(self, grid: Grid[Any]) -> None:
        super().__init__()
        self.grid = grid

    @property
    def control(self) -> Grid[Any]:
        return self.grid


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
        Binding("left", "column(-1)", "Column left", show=False, id="grid.left"),
        Binding("right", "column(1)", "Column right", show=False, id="grid.right"),
        Binding("s", "sort_pick", "Sort (choose column)", show=False, id="grid.sort"),
        Binding("S", "sort_reverse", "Reverse sort", show=False, id="grid.reverse"),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "grid--header", "grid--cursor", "grid--cursor-blurred", "grid--empty"}
    DEFAULT_CSS = """
    Grid { height: 1fr; background: $surface; }
    Grid > .grid--header { text-style: bold; background: $panel; color: $text; }
    Grid > .grid--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
        text-style: $block-cursor-text-style;
    }
    Grid > .grid--cursor-blurred {
        background: $block-cursor-blurred-background;
        color: $block-cursor-blurred-foreground;
    }
    Grid > .grid--empty { color: $text-muted; text-style: italic; }
    """

    class Reindexed(_GridMessage):
        """The visible rows changed (sort, filter, new rows); `elapsed` in seconds."""

        def __init__(self, grid: Grid[Any], count: int, elapsed: float) -> None:
            super().__init__(grid)
            self.count, self.elapsed = count, elapsed

    class CursorMoved(_GridMessage):
        def __init__(self, grid: Grid[Any], row: Any | None) -> None:
            super().__init__(grid)
            self.row = row

    class Selected(_GridMessage):
        """Enter (or a double click) on a row."""

        def __init__(self, grid: Grid[Any], row: Any) -> None:
            super().__init__(grid)
            self.row = row

    def __init__(self, columns: Sequence[Column[R]], *,
                 search: Callable[[R], str] | None = None,
                 row_style: Callable[[R], str] | None = None,
                 row_key: Callable[[R], Hashable] | None = None,
                 empty_text: str = "Nothing to show.",
                 no_match_text: str = "No rows match the search or filter.",
                 threshold: int = THREAD_THRESHOLD,
                 frozen: int = 0,
                 name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.model: GridModel[R] = GridModel(columns, search)
        self.row_style = row_style
        self.empty_text, self.no_match_text = empty_text, no_match_text
        self.threshold = threshold
        self.frozen = frozen  # the first columns stay in place when scrolling sideways
        self.widths = measure(columns, [])
        self.row_key = row_key
        self.cursor = 0
        self._gen = 0
        self._pending: Worker[None] | None = None
        self._restore: int | None = None
        self._restore_key: Hashable | None = None
        self._frame: gm.Frame | None = None
        self._following = False

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
            self._following = True
            # After the refresh: the new virtual size must be laid out before scrolling.
            self.call_after_refresh(self._follow_tail)

    def sort_by(self, col: int | str | None, reverse: bool = False) -> None:
        """Sort by a column (index or key); None restores the natural order."""
        number = self.model.column_number(col) if col is not None else None
        q = self.model.query
        self.model.query = replace(q, sort_col=number, reverse=reverse)
        # A new order is read from its top: the cursor goes to the first row, so a sort
        # never looks as if it put blank rows first.
        self.cursor = 0
        self.scroll_to(y=0, animate=False, immediate=True)
        if number is not None and number == q.sort_col and self._pending is None:
            # Same column: the index stays ascending, only the reading direction flips.
            self._changed(time.perf_counter())
            return
        self._restore = None
        self._reindex()

    def set_filter(self, text: str) -> None:
        """Show rows whose search text contains `text` (case-insensitive)."""
        q = self.model.query
        text = current_name(text)  # "AT04" (this tool's old code names) finds TU04
        if text.strip() == q.text:
            return
        self.model.query = replace(q, text=text.strip())
        self._remember()
        self._reindex()

    def set_predicate(self, predicate: Callable[[R], bool] | None) -> None:
        """An extra filter (level, code, customer) combined with the text filter."""
        self.model.query = replace(self.model.query, predicate=predicate)
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
        return gm.layout(self.columns, self.widths, self.scrollable_content_region.width)

    def _update_virtual_size(self) -> None:
        self.virtual_size = Size(gm.min_width(self.columns, self.widths), len(self.model) + 1)

    def on_resize(self, event: events.Resize) -> None:
        self._update_virtual_size()
        if self._following:
            self.call_after_refresh(self._follow_tail)

    def _follow_tail(self) -> None:
        """A streaming log shows its newest line while the cursor stays on the last row."""
        if self._following and len(self.model) and self.cursor == len(self.model) - 1:
            self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True)
        else:
            self._following = False

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
            old, self.cursor = self.cursor, pos
            self._refresh_position(old)
            self._refresh_position(pos)
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

    def action_column(self, step: int) -> None:
        """Scroll sideways by one whole column; the frozen columns stay."""
        stops = gm.column_stops(self._layout(), self.frozen)
        x = int(self.scroll_x)
        if step > 0:
            target = next((s for s in stops if s > x), x)
        else:
            target = next((s for s in reversed(stops) if s < x), 0)
        self.scroll_to(x=min(target, self.max_scroll_x), animate=False, immediate=True)

    def action_sort_pick(self) -> None:
        """Choose the column to sort by from a list (and its direction)."""
        q = self.model.query

        def chosen(answer: tuple[int | None, bool] | None) -> None:
            if answer is not None:
                self.sort_by(answer[0], answer[1])

        labels = [c.title or c.label for c in self.columns]
        self.app.push_screen(SortPicker(labels, q.sort_col, q.reverse), chosen)

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
            widths = self._layout()
            fixed = gm.frozen_width(widths, self.frozen)
            x = offset.x if offset.x < fixed else offset.x + int(self.scroll_x)
            number = gm.column_at(widths, x)
            if number is not None:
                q = self.model.query
                self.sort_by(number, not q.reverse if q.sort_col == number else False)
            return
        self.move_cursor(offset.y - 1 + int(self.scroll_y))
        if event.chain >= 2:
            self.action_select()

    # -- rendering -----------------------------------------------------------------------------

    def render_lines(self, crop: Region) -> list[Strip]:
        """Styles and widths are looked up once per paint, not once per line."""
        self._frame = self._frame_styles()
        try:
            return super().render_lines(crop)
        finally:
            self._frame = None

    def _frame_styles(self) -> gm.Frame:
        cursor = "grid--cursor" if self.has_focus else "grid--cursor-blurred"
        return gm.Frame(self.rich_style, self.get_component_rich_style("grid--header"),
                        self.get_component_rich_style(cursor, partial=True),
                        self.get_component_rich_style("grid--empty"), self._layout(),
                        self.scrollable_content_region.width)

    def render_line(self, y: int) -> Strip:
        frame = self._frame or self._frame_styles()
        width = frame.width
        scroll_x, scroll_y = self.scroll_offset
        if y == 0:
            strip = Strip(gm.header_segments(self.columns, frame, self.model.query))
        else:
            pos = y - 1 + scroll_y
            if pos >= len(self.model):
                if pos == 0 and y == 1:
                    empty = self.empty_text if not self.model.rows else self.no_match_text
                    text = gm.fit(" " + empty, width)
                    return Strip([Segment(text, frame.empty)], width)
                return Strip.blank(width, frame.base)
            row = self.model.row_at(pos)
            style = gm.parse_style(self.row_style(row)) if self.row_style else None
            strip = Strip(gm.row_segments(row, self.columns, frame, style, pos == self.cursor))
        fixed = min(gm.frozen_width(frame.widths, self.frozen), width)
        if fixed and scroll_x:
            return Strip.join([strip.crop(0, fixed),
                               strip.crop_extend(fixed + scroll_x, scroll_x + width,
                                                 frame.base)])
        return strip.crop_extend(scroll_x, scroll_x + width, frame.base)

    def _refresh_position(self, pos: int) -> None:
        line = pos + 1 - int(self.scroll_y)
        if 1 <= line < self.size.height:
            self.refresh(Region(0, line, self.size.width, 1))

    def on_focus(self) -> None:
        self.refresh()  # the cursor's colour says whether the grid has the focus

    on_blur = on_focus
