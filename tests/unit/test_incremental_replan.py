"""A console fix re-plans only the customers it touches (issue 12), and the plan it gives
is the plan from scratch: the same rows, with the same fields, in the same order."""

from __future__ import annotations

from dataclasses import astuple
from datetime import date
from decimal import Decimal

import pytest

from atria_tui.core.model import (
    BillingRecord,
    CatalogItem,
    Mappings,
    Period,
    Plan,
    PsaAccount,
    PsaContract,
    PsaLine,
    PsaSnapshot,
    Task,
)
from atria_tui.engine.reconcile import PlanBuilder, ReconcileParams, plan

NOW = Period(date(2026, 10, 26), date(2026, 11, 25))
PREV = Period(date(2026, 9, 26), date(2026, 10, 25))


def params(task: Task) -> ReconcileParams:
    return ReconcileParams(task, NOW, PREV, contract_type="Hosting", allow_create=True)


def rec(code: str, sku: str, qty: int, *, bi: str | None = None, end: date = NOW.end,
        summary: str = "") -> BillingRecord:
    return BillingRecord(code, f"{code} Ltd", f"{code}-BI" if bi is None else bi, sku,
                         f"{sku or summary} line", summary or f"{sku} service",
                         Decimal(qty), True, end)


def world() -> tuple[list[BillingRecord], PsaSnapshot]:
    """Six billed customers, one gone since last period, one with no Billing Identifier,
    one unknown SKU, one SKU-less record, and an account nobody claims yet (UNCL)."""
    records = [rec("A01", "S1", 3), rec("A01", "S2", 1), rec("A01", "S9", 2),
               rec("A02", "S1", 5), rec("A02", "", 4, summary="Backup box"),
               rec("A03", "S2", 2, bi=""), rec("A04", "S9", 7), rec("A04", "S1", 1),
               rec("A05", "S3", 1), rec("A05", "S1", 2, end=PREV.end),
               rec("A06", "S1", 4, end=PREV.end), rec("A06", "S2", 1, end=PREV.end)]
    s = PsaSnapshot()
    for n, code in enumerate(("A01", "A02", "A04", "A05", "A06", "UNCL"), start=1):
        acc = str(n)
        s.accounts[f"{code}-bi".casefold()] = PsaAccount(acc, f"{code}-BI", f"{code} Ltd")
        s.contracts[acc] = [PsaContract(f"K{n}", acc, f"Agreement {n}", "Hosting")]
        if code != "UNCL":
            s.lines[f"K{n}"] = [
                PsaLine(f"L{n}{m}", f"K{n}", f"P{m}", sku, f"{sku} desc", Decimal(q),
                        Decimal("2.5"))
                for m, (sku, q) in enumerate((("S1", 3), ("S2", 2), ("S7", 6)))]
    s.catalog = [CatalogItem(f"P{m}", sku, f"{sku} service", price=Decimal(3))
                 for m, sku in enumerate(("S1", "S2", "S3", "S7"))]
    return records, s


def rows(p: Plan) -> list[tuple[object, ...]]:
    return [astuple(i) for i in p.items]


def same(incremental: Plan, records: list[BillingRecord], snapshot: PsaSnapshot,
         prm: ReconcileParams, mappings: Mappings) -> None:
    full = plan(records, snapshot, prm, mappings)
    assert rows(incremental) == rows(full)
    assert incremental.deprovisioned_from == full.deprovisioned_from
    assert incremental.log == full.log and incremental.fatal == full.fatal


@pytest.mark.parametrize("task", [Task.CONNECTWISE, Task.KASEYA])
def test_each_kind_of_fix_replans_to_the_full_plan(task: Task) -> None:
    records, snapshot = world()
    prm = params(task)
    builder = PlanBuilder(records, snapshot, prm)
    m = Mappings()
    first = builder.plan(m)
    same(first, records, snapshot, prm, m)
    steps: list[tuple[str, Mappings]] = [
        ("customer", Mappings(customers={"a03": "A01-BI"})),
        ("customer moved", Mappings(customers={"a03": "A04-BI"})),
        ("SKU", Mappings(customers={"a03": "A04-BI"}, skus={"s9": "S3"})),
        ("description", Mappings(customers={"a03": "A04-BI"}, skus={"s9": "S3"},
                                 descriptions={"backup box": "S2"})),
        ("fix removed", Mappings(skus={"s9": "S3"}, descriptions={"backup box": "S2"})),
        ("managed line", Mappings(skus={"s9": "S3"}, managed={"L47"})),
        ("nothing", Mappings(skus={"s9": "S3"}, managed={"L47"})),
    ]
    for what, mappings in steps:
        again = builder.plan(mappings)
        same(again, records, snapshot, prm, mappings)
        assert rows(again) != rows(first) or what == "nothing", what
        first = again


def test_only_the_touched_customers_are_planned_again() -> None:
    records, snapshot = world()
    builder = PlanBuilder(records, snapshot, params(Task.CONNECTWISE))
    first = builder.plan(Mappings())
    again = builder.plan(Mappings(customers={"a03": "A01-BI"}))
    kept = {id(i) for i in first.items}
    redone = {i.customer_code for i in again.items if id(i) not in kept}
    assert redone == {"A03"}
    after_sku = builder.plan(Mappings(customers={"a03": "A01-BI"}, skus={"s9": "S3"}))
    kept = {id(i) for i in again.items}
    assert {i.customer_code for i in after_sku.items if id(i) not in kept} == {"A01", "A04"}


def test_a_product_the_picker_adds_and_lines_read_for_a_fix_replan_their_customers() -> None:
    records, snapshot = world()
    prm = params(Task.CONNECTWISE)
    builder = PlanBuilder(records, snapshot, prm)
    builder.plan(Mappings(skus={"s9": "S8"}))
    # The full catalog's product for the fix, appended to the snapshot by the console.
    snapshot.catalog.append(CatalogItem("P8", "S8", "S8 service", price=Decimal(9)))
    m = Mappings(skus={"s9": "S8"})
    same(builder.plan(m), records, snapshot, prm, m)
    # A03 fixed to the unclaimed account, whose lines are read on demand for the fix.
    m = Mappings(skus={"s9": "S8"}, customers={"a03": "UNCL-BI"})
    same(builder.plan(m), records, snapshot, prm, m)
    snapshot.lines["K6"] = [PsaLine("L61", "K6", "P1", "S2", "S2 desc", Decimal(2),
                                    Decimal("2.5"))]
    same(builder.plan(m), records, snapshot, prm, m)
    assert [i.code for i in builder.plan(m).items if i.customer_code == "A03"] == ["CW09"]


def test_a_type_unknown_or_nothing_billed_plans_as_before() -> None:
    records, snapshot = world()
    snapshot.contract_type_valid = False
    prm = params(Task.CONNECTWISE)
    same(PlanBuilder(records, snapshot, prm).plan(), records, snapshot, prm, Mappings())
    _, snapshot = world()
    old = [r for r in records if r.period_end == PREV.end]
    same(PlanBuilder(old, snapshot, prm).plan(), old, snapshot, prm, Mappings())
