"""The saved review: what it holds, what it puts back, and what it refuses to carry."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from atria_tui.core.model import Action, Level, Period, Plan, PlanItem, Task
from atria_tui.services import review as rv
from atria_tui.services import review_session as rs


def item(key: str, atria: str, psa: str) -> PlanItem:
    return PlanItem(key=key, customer_code="ASP", customer_name="Acme", billing_identifier="A",
                    sku=key, description=key, code="CW07", level=Level.INFO, message="",
                    atria_quantity=Decimal(atria), psa_quantity=Decimal(psa),
                    action=Action.UPDATE, unit_price=Decimal(10))


def plan(*items: PlanItem) -> Plan:
    p = Plan(Task.CONNECTWISE, Period(date(2026, 10, 26), date(2026, 11, 25)), list(items))
    return rv.initial_review(p, 0.25)


def test_only_decisions_and_notes_are_saved_and_put_back(tmp_path: Path) -> None:
    first = plan(item("up", "11", "10"), item("down", "8", "10"), item("same", "12", "10"))
    up, down, same = first.items
    assert up.approved and not down.approved
    down.approved = True
    same.note = "PO 7"
    state = rs._state(first.items, 0.25)
    assert set(state) == {"down", "same"}  # "up" is as the initial review left it
    path = tmp_path / "reviews" / "job-2026-11-25.json"
    rs.write_review(path, state, "2026-11-28T09:00:00+00:00")
    saved = rs.load_review(path)
    assert saved is not None and saved.count == 2

    again = plan(item("up", "11", "10"), item("down", "8", "10"), item("same", "12", "10"))
    assert rs.restore_review(again, saved) == 2
    assert again.items[1].approved and again.items[2].note == "PO 7"


def test_an_approval_is_not_carried_to_a_row_whose_quantities_changed(tmp_path: Path) -> None:
    first = plan(item("down", "8", "10"))
    first.items[0].approved, first.items[0].note = True, "ok at 8"
    path = tmp_path / "r.json"
    rs.write_review(path, rs._state(first.items, 0.25), "t")
    saved = rs.load_review(path)
    assert saved is not None
    changed = plan(item("down", "2", "10"))  # Atria now says 2: another decision
    rs.restore_review(changed, saved)
    assert not changed.items[0].approved and changed.items[0].note == "ok at 8"


def test_nothing_to_keep_removes_the_file_and_a_damaged_one_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    rs.write_review(path, {"k": {"approved": True, "note": ""}}, "t")
    assert path.is_file()
    rs.write_review(path, {}, "t")
    assert not path.exists()
    path.write_text("{not json", "utf-8")
    assert rs.load_review(path) is None
