"""GridModel: the index behind the big tables (sort, filter, stream), without a terminal."""

from __future__ import annotations

import random
from dataclasses import dataclass

from atria_tui.console.widgets.grid_model import Column, GridModel, Query, fit, measure, sample


@dataclass
class Row:
    n: int
    code: str
    text: str


COLUMNS: list[Column[Row]] = [
    Column("n", "N", lambda r: str(r.n), sort=lambda r: r.n, align="right"),
    Column("code", "Code", lambda r: r.code),
    Column("text", "Text", lambda r: r.text, flex=True, max_width=30),
]


def model(rows: list[Row]) -> GridModel[Row]:
    m: GridModel[Row] = GridModel(COLUMNS, search=lambda r: f"{r.code} {r.text}")
    m.set_rows(rows)
    return m


def run(m: GridModel[Row], query: Query[Row]) -> list[int]:
    m.query = query
    assert m.install(m.compute(query))
    return [r.n for r in m.visible()]


ROWS = [Row(0, "CW07", "banana"), Row(1, "CW04", "Apple"), Row(2, "CW07", "cherry"),
        Row(3, "CW09", "apple pie")]


def test_natural_order_sort_reverse_and_filters() -> None:
    m = model(list(ROWS))
    assert [r.n for r in m.visible()] == [0, 1, 2, 3]
    assert run(m, Query(sort_col=2)) == [1, 3, 0, 2]  # text, case-insensitive
    assert run(m, Query(sort_col=2, reverse=True)) == [2, 0, 3, 1]
    assert m.row_at(0).n == 2 and m.position_of(1) == 3
    assert run(m, Query(text="APPLE")) == [1, 3]
    assert run(m, Query(text="cw07", sort_col=0, reverse=True)) == [2, 0]
    assert run(m, Query(predicate=lambda r: r.code != "CW07")) == [1, 3]
    assert run(m, Query(text="apple", predicate=lambda r: r.code == "CW09")) == [3]
    assert m.position_of(0) is None  # filtered out


def test_ties_keep_arrival_order() -> None:
    m = model([Row(i, "CW07" if i % 2 else "CW04", "") for i in range(6)])
    assert run(m, Query(sort_col=1)) == [0, 2, 4, 1, 3, 5]


def test_append_unsorted_extends_and_sorted_inserts_in_place() -> None:
    m = model(list(ROWS))
    assert m.append([Row(4, "CW04", "zebra")]) == 1
    assert [r.n for r in m.visible()] == [0, 1, 2, 3, 4]
    run(m, Query(sort_col=2, text="a"))
    assert m.append([Row(5, "CW07", "aardvark"), Row(6, "CW07", "none")]) == 1
    assert [r.n for r in m.visible()] == [5, 1, 3, 0, 4]
    # A batch larger than the visible rows re-sorts once instead of inserting one by one.
    m.append([Row(7 + i, "CW01", f"a{9 - i}") for i in range(20)])
    texts = [r.text.casefold() for r in m.visible()]
    assert texts == sorted(texts) and len(texts) == 25


def test_rows_appended_while_a_compute_runs_are_not_lost() -> None:
    m = model(list(ROWS))
    query: Query[Row] = Query(sort_col=0, reverse=True, text="a")
    m.query = query
    result = m.compute(query)  # as a worker thread would, on the rows as they were
    m.append([Row(10, "CW07", "avocado"), Row(11, "CW07", "kiwi")])
    assert m.install(result)
    assert [r.n for r in m.visible()] == [10, 3, 1, 0]  # "cherry", "kiwi": no "a"


def test_a_stale_result_is_refused() -> None:
    m = model(list(ROWS))
    old = m.compute(Query(sort_col=0))
    m.query = Query(sort_col=1)
    assert not m.install(old)
    m.set_rows([Row(9, "X", "")])
    m.query = Query(sort_col=0)
    assert not m.install(old)  # computed on rows that were replaced


def test_invalidate_after_an_in_place_edit() -> None:
    rows = list(ROWS)
    m = model(rows)
    run(m, Query(text="banana"))
    rows[1].text = "banana split"
    m.invalidate([1])
    assert run(m, Query(text="banana", sort_col=0)) == [0, 1]


def test_widths_come_from_a_sample_and_fit_truncates() -> None:
    rows = [Row(i, "CW07", "x" * (i % 50)) for i in range(10_000)]
    picked = sample(rows, 300)
    assert len(picked) <= 400 and picked[0] is rows[0] and picked[-1] is rows[-1]
    assert measure(COLUMNS, rows) == [4, 6, 30]  # header + 2 for the sort arrow; max 30
    assert fit("Microsoft 365", 6) == "Micro…"
    assert fit("7", 4, "right") == "   7"
    assert fit("a\nb", 4) == "a b "


def test_fifty_thousand_rows_sort_and_filter() -> None:
    """What a 50k-row view shows after sorts, filters and streamed rows (speed:
    benchmarks/console_bench.py)."""
    random.seed(7)
    rows = [Row(i, f"CW{random.randint(1, 23):02d}", f"line {random.random():.8f}")
            for i in range(50_000)]
    m = model(rows)
    run(m, Query(sort_col=2))
    assert [r.text for r in m.visible()] == sorted(r.text for r in rows)
    run(m, Query(sort_col=2, text="cw04"))
    assert {r.code for r in m.visible()} == {"CW04"}
    run(m, Query(sort_col=2, text="cw05"))  # search text is cached now
    shown = list(m.visible())
    assert all(r.code == "CW05" for r in shown)
    assert len(shown) == sum(1 for r in rows if r.code == "CW05")
    for i in range(100):  # a streamed batch into a sorted, filtered view
        m.append([Row(50_000 + i, "CW05", f"line {i}")])
    assert len(list(m.visible())) == len(shown) + 100
