"""The stored plan round-trips exactly, and a truncated one is refused, not half-read."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from atria_tui.core import codes
from atria_tui.core.model import Action, Level, Period, Plan, PlanItem, Status, Task
from atria_tui.core.serialize import PART_LINES, notes_from_json, plan_from_json, plan_to_json


def sample() -> Plan:
    item = PlanItem("k", "ASP", "Acme", "A-1", "SKU\nwith newline", "desc, \"quoted\"",
                    Decimal("2.5"), None, Action.UPDATE, "CW07", Level.INFO, "msg",
                    unit_price=Decimal("3.10"), note="check\nthis", status=Status.APPLIED)
    return Plan(Task.KASEYA, Period(date(2026, 10, 26), date(2026, 11, 25)), [item] * 3,
                [codes.entry("KS01", period_end="2026-11-25")], None, 2)


def test_round_trip_keeps_every_field() -> None:
    p = sample()
    back = plan_from_json(plan_to_json(p))
    assert back == p


def test_truncated_plan_is_refused() -> None:
    parts = plan_to_json(sample())
    with pytest.raises(ValueError, match="incomplete"):
        plan_from_json([*parts[:-1], parts[-1].rsplit("\n", 1)[0]])
    with pytest.raises(ValueError, match="incomplete"):
        plan_from_json(parts[:-1])  # a part lost


def test_a_big_plan_is_stored_in_parts_and_an_old_single_text_still_reads() -> None:
    """No part holds more than PART_LINES items (no call handles a whole 50,000-row plan);
    a plan stored as one text, before parts, reads the same."""
    p = sample()
    p.items = [PlanItem(f"k{n}", f"C{n}", "n", "BI", f"S{n}", "d", None, None, Action.NONE,
                        "CW09", Level.VERBOSE, "m", note="x" if n == 1345 else "")
               for n in range(2 * PART_LINES + 7)]
    parts = plan_to_json(p)
    assert [part.count("\n") + 1 for part in parts[1:]] == [PART_LINES, PART_LINES, 7]
    assert plan_from_json(parts) == p
    old = "\n".join(parts)
    assert plan_from_json(old) == p
    assert notes_from_json(parts) == notes_from_json(old) == {("C1345", "S1345"): "x"}


def test_notes_are_read_without_the_rest_of_the_plan() -> None:
    p = sample()
    p.items = [PlanItem(f"k{n}", f"C{n}", "n", "BI", f"S{n}", "d", None, None, Action.NONE,
                        "CW09", Level.VERBOSE, "m", note=note)
               for n, note in enumerate(["", "call \"Bob\"", "  ", "fixed"])]
    assert notes_from_json(plan_to_json(p)) == {("C1", "S1"): 'call "Bob"', ("C3", "S3"): "fixed"}
