"""The data behind `Grid`: rows, sort, filter and the visible index, with no Textual in it.

Textual's DataTable measures every cell of every row on the UI thread, which costs about a
second per 10,000 rows. Here nothing is measured but a sample, and nothing is formatted
but the rows on screen: the visible order is an array of row numbers (`index`), so a
sort or a filter is one pass over cached keys, and `compute()` is safe to run in a
worker thread while the UI keeps drawing the previous index. Reversing a sort is free:
the index stays ascending and positions are read from the other end.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Generic, Literal, TypeVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style

R = TypeVar("R")

# Appending more rows than this share of the visible rows re-sorts instead of inserting.
_RESORT_SHARE = 8


@dataclass(frozen=True, slots=True)
class Column(Generic[R]):
    """How one column reads a row. `sort` defaults to the cell text (case-insensitive).

    `width` 0 means "measure from a sample of rows"; a `flex` column takes whatever width
    the others leave (the message column of a log). `style` styles one cell (a code badge).
    """

    key: str
    label: str
    text: Callable[[R], str]
    sort: Callable[[R], Any] | None = None
    width: int = 0
    min_width: int = 3
    max_width: int = 40
    align: Literal["left", "right"] = "left"
    flex: bool = False
    style: Callable[[R], str] | None = None
    title: str = ""  # a longer name where the label is a symbol (the sort picker's list)

    def sort_key(self, row: R) -> Any:
        if self.sort is not None:
            return self.sort(row)
        return self.text(row).casefold()


def sample(rows: Sequence[R], size: int = 300) -> list[R]:
    """Head, tail and an even stride through the middle: enough to size columns."""
    n = len(rows)
    if n <= size:
        return list(rows)
    third = size // 3
    step = max(1, n // third)
    return [*rows[:third], *rows[third:n - third:step], *rows[n - third:]]


def measure(columns: Sequence[Column[R]], rows: Sequence[R], size: int = 300) -> list[int]:
    """Column widths from the header and a sample of rows, never from every cell."""
    picked = sample(rows, size)
    widths: list[int] = []
    for col in columns:
        if col.width:
            widths.append(col.width)
            continue
        widest = max([cell_len(col.label) + 2, *(cell_len(col.text(r)) for r in picked)])
        widths.append(max(col.min_width, min(col.max_width, widest)))
    return widths


def layout(columns: Sequence[Column[R]], widths: Sequence[int], room: int) -> list[int]:
    """Widths as drawn: the (first) flex column takes the room the others leave."""
    out = list(widths)
    spare = room - sum(out) - max(0, len(out) - 1)
    for number, col in enumerate(columns):
        if col.flex:
            out[number] = max(col.min_width, out[number] + max(0, spare))
            break
    return out


def min_width(columns: Sequence[Column[R]], widths: Sequence[int]) -> int:
    """The table's scrollable width: a flex column counts at its minimum, so only columns
    that cannot shrink make it scroll sideways (and a scrollbar that appears cannot feed
    back into the width that made it appear)."""
    total = sum(c.min_width if c.flex else w for c, w in zip(columns, widths, strict=True))
    return total + max(0, len(widths) - 1)


def frozen_width(widths: Sequence[int], frozen: int) -> int:
    """Cells taken by the first `frozen` columns and their gaps (they never scroll)."""
    return sum(widths[:frozen]) + frozen if frozen else 0


def column_stops(widths: Sequence[int], frozen: int) -> list[int]:
    """The horizontal scroll offsets at which a scrolling column starts: →/← step by
    whole columns, never by one cell."""
    stops, x = [0], 0
    for w in widths[frozen:]:
        x += w + 1
        stops.append(x)
    return stops


def column_at(widths: Sequence[int], x: int) -> int | None:
    """The column under cell `x` (a column owns the gap on its right)."""
    left = 0
    for number, width in enumerate(widths):
        if left <= x < left + width + 1:
            return number
        left += width + 1
    return None


@dataclass(frozen=True, slots=True)
class Query(Generic[R]):
    """What the visible index is made of; a new one replaces the index as a whole."""

    sort_col: int | None = None
    reverse: bool = False
    text: str = ""
    predicate: Callable[[R], bool] | None = None


@dataclass(slots=True)
class IndexResult(Generic[R]):
    """The outcome of `compute`: installed on the UI thread if still current."""

    rows: list[R]
    n: int
    query: Query[R]
    index: list[int]
    hay: list[str] | None = None
    keys: list[Any] | None = None


@dataclass(slots=True)
class GridModel(Generic[R]):
    columns: Sequence[Column[R]]
    search: Callable[[R], str] | None = None
    rows: list[R] = field(default_factory=list)
    index: list[int] = field(default_factory=list)
    query: Query[R] = field(default_factory=Query)
    # Caches that only ever grow at the end, so a thread may read them while rows stream in.
    _hay: list[str] = field(default_factory=list)
    _keys: dict[int, list[Any]] = field(default_factory=dict)

    # -- reading -------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.index)

    def row_number(self, pos: int) -> int:
        """The row number shown at display position `pos`."""
        return self.index[-1 - pos] if self.query.reverse else self.index[pos]

    def row_at(self, pos: int) -> R:
        return self.rows[self.row_number(pos)]

    def visible(self) -> Iterable[R]:
        order = reversed(self.index) if self.query.reverse else self.index
        return (self.rows[i] for i in order)

    def position_of(self, row_number: int) -> int | None:
        """Where a row is shown, or None when filtered out (O(n); for cursor restore)."""
        try:
            at = self.index.index(row_number)
        except ValueError:
            return None
        return len(self.index) - 1 - at if self.query.reverse else at

    def column_number(self, col: int | str) -> int:
        if isinstance(col, int):
            return col
        for number, c in enumerate(self.columns):
            if c.key == col:
                return number
        raise KeyError(f"no column {col!r}")

    def search_text(self, row: R) -> str:
        if self.search is not None:
            return self.search(row).casefold()
        return " ".join(c.text(row) for c in self.columns).casefold()

    # -- replacing -----------------------------------------------------------------------------

    def set_rows(self, rows: list[R]) -> None:
        """New rows, shown in natural order until `compute` for the query is installed."""
        self.rows = rows
        self.index = list(range(len(rows)))
        self._hay = []
        self._keys = {}

    def needs_compute(self) -> bool:
        q = self.query
        return q.sort_col is not None or bool(q.text) or q.predicate is not None

    def compute(self, query: Query[R], rows: list[R] | None = None,
                n: int | None = None) -> IndexResult[R]:
        """The visible index for `query` over the first `n` rows; pure, thread-safe.

        Reads the caches as they are when called (they only grow) and returns extended
        copies, so the UI thread can keep appending rows while this runs elsewhere.
        """
        rows = self.rows if rows is None else rows
        n = len(rows) if n is None else n
        same_rows = rows is self.rows
        hay: list[str] | None = None
        keys: list[Any] | None = None
        picked: Iterable[int] = range(n)
        if query.text:
            cached = self._hay if same_rows else []
            hay = cached[:n] + [self.search_text(rows[i]) for i in range(len(cached), n)]
            needle = query.text.casefold()
            picked = [i for i in picked if needle in hay[i]]
        if query.predicate is not None:
            keep = query.predicate
            picked = [i for i in picked if keep(rows[i])]
        index = list(picked)
        if query.sort_col is not None:
            col = self.columns[query.sort_col]
            cached_keys = self._keys.get(query.sort_col, []) if same_rows else []
            keys = cached_keys[:n] + [col.sort_key(rows[i])
                                      for i in range(len(cached_keys), n)]
            index.sort(key=keys.__getitem__)
        return IndexResult(rows, n, query, index, hay, keys)

    def install(self, result: IndexResult[R]) -> bool:
        """Swap in a computed index; rows appended since it was computed are admitted."""
        if result.rows is not self.rows or result.query != self.query:
            return False
        if result.hay is not None and len(result.hay) > len(self._hay):
            self._hay = result.hay + self._hay[len(result.hay):]
        if result.keys is not None and result.query.sort_col is not None:
            mine = self._keys.get(result.query.sort_col, [])
            if len(result.keys) > len(mine):
                self._keys[result.query.sort_col] = result.keys + mine[len(result.keys):]
        self.index = result.index
        self._admit(range(result.n, len(self.rows)))
        return True

    # -- streaming -----------------------------------------------------------------------------

    def append(self, rows: Sequence[R]) -> int:
        """Add rows at the end; returns how many of them are visible.

        Unsorted, they are appended to the index; sorted, they are inserted in place
        (bisect), or the index is re-sorted once when the batch is large. Never a full
        recompute per row.
        """
        start = len(self.rows)
        self.rows.extend(rows)
        return self._admit(range(start, len(self.rows)))

    def _admit(self, numbers: range) -> int:
        if not len(numbers):
            return 0
        q = self.query
        ok: Iterable[int] = numbers
        if q.text:
            self._extend_hay(numbers.stop)
            needle = q.text.casefold()
            hay = self._hay
            ok = [i for i in ok if needle in hay[i]]
        if q.predicate is not None:
            keep = q.predicate
            ok = [i for i in ok if keep(self.rows[i])]
        ok = list(ok)
        if q.sort_col is None:
            self.index.extend(ok)
        else:
            keys = self._extend_keys(q.sort_col, numbers.stop)
            if len(ok) * _RESORT_SHARE > len(self.index):
                self.index.extend(ok)
                self.index.sort(key=keys.__getitem__)
            else:
                for i in ok:
                    bisect.insort_right(self.index, i, key=keys.__getitem__)
        return len(ok)

    def _extend_hay(self, upto: int) -> None:
        hay = self._hay
        hay.extend(self.search_text(self.rows[i]) for i in range(len(hay), upto))

    def _extend_keys(self, col: int, upto: int) -> list[Any]:
        keys = self._keys.setdefault(col, [])
        column = self.columns[col]
        keys.extend(column.sort_key(self.rows[i]) for i in range(len(keys), upto))
        return keys

    def invalidate(self, row_numbers: Iterable[int] | None = None) -> None:
        """Rows changed in place (approval, note): drop their cached search/sort keys."""
        if row_numbers is None:
            self._hay = []
            self._keys = {}
            return
        for i in row_numbers:
            if i < len(self._hay):
                self._hay[i] = self.search_text(self.rows[i])
            for col, keys in self._keys.items():
                if i < len(keys):
                    keys[i] = self.columns[col].sort_key(self.rows[i])


def fit(text: str, width: int, align: Literal["left", "right"] = "left") -> str:
    """One cell's text at exactly `width` cells: truncated with an ellipsis, padded."""
    if width <= 0:
        return ""
    clean = text.replace("\n", " ").replace("\r", " ").replace("\t", " ")
    size = cell_len(clean)
    if size > width:
        return set_cell_size(clean, width - 1) + "…" if width > 1 else "…"
    pad = " " * (width - size)
    return pad + clean if align == "right" else clean + pad


# --- drawing one line (Rich only: the widget crops and paints it) ---------------------------


@lru_cache(maxsize=256)
def parse_style(text: str) -> Style:
    return Style.parse(text) if text else Style()


@dataclass(frozen=True, slots=True)
class Frame:
    """What every line of one paint shares: styles from the CSS, widths as laid out."""

    base: Style
    header: Style
    cursor: Style
    empty: Style
    widths: list[int]
    width: int


def header_segments(columns: Sequence[Column[R]], frame: Frame, query: Query[R]
                    ) -> list[Segment]:
    segments: list[Segment] = []
    for number, (col, w) in enumerate(zip(columns, frame.widths, strict=True)):
        text = fit(col.label, w, col.align)
        if query.sort_col == number:  # the arrow always shows; a narrow label gives way
            arrow = "▼" if query.reverse else "▲"
            text = fit(col.label, w - 1, "left") + arrow if w > 2 else fit(arrow, w)
        if number:
            segments.append(Segment(" ", frame.header))
        segments.append(Segment(text, frame.header))
    return segments


def row_segments(row: R, columns: Sequence[Column[R]], frame: Frame, row_style: Style | None,
                 on_cursor: bool) -> list[Segment]:
    """A row's cells: the row's level colour, a cell's badge, the cursor over both."""
    base = frame.base + row_style if row_style is not None else frame.base
    if on_cursor:
        base = base + frame.cursor
    cursor_bg = Style(bgcolor=frame.cursor.bgcolor) if on_cursor and frame.cursor.bgcolor \
        else None
    segments: list[Segment] = []
    for number, (col, w) in enumerate(zip(columns, frame.widths, strict=True)):
        style = base
        if col.style is not None:
            style = base + parse_style(col.style(row))
            if cursor_bg is not None:
                style = style + cursor_bg
        if number:
            segments.append(Segment(" ", base))
        segments.append(Segment(fit(col.text(row), w, col.align), style))
    return segments
