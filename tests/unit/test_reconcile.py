"""Each matching rule of design.md, and each per-customer/per-line code's trigger."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from atria_tui.core.model import (
    Action,
    BillingRecord,
    CatalogItem,
    Mappings,
    Period,
    PsaAccount,
    PsaContract,
    PsaLine,
    PsaSnapshot,
    Task,
)
from atria_tui.engine.reconcile import (
    MatchRule,
    ReconcileParams,
    needs_review,
    plan,
    plan_entries,
    scope,
)

NOW = Period(date(2026, 10, 26), date(2026, 11, 25))
PREV = Period(date(2026, 9, 26), date(2026, 10, 25))


def rec(code: str, sku: str, qty: int = 1, *, bi: str | None = None, billable: bool = True,
        end: date | None = NOW.end, desc: str = "") -> BillingRecord:
    return BillingRecord(code, f"{code} Ltd", bi if bi is not None else f"{code}-BI", sku,
                         desc or f"{sku} - user", desc or f"{sku} service", Decimal(qty),
                         billable, end)


def params(task: Task = Task.CONNECTWISE, **kw: object) -> ReconcileParams:
    return ReconcileParams(task, NOW, PREV, contract_type="Hosting", **kw)  # type: ignore[arg-type]


def snap(lines: dict[str, int], *, code: str = "ASP", catalog: tuple[str, ...] = (),
         contracts: int = 1) -> PsaSnapshot:
    s = PsaSnapshot()
    s.accounts[f"{code}-bi".casefold()] = PsaAccount("1", f"{code}-BI", f"{code} Ltd")
    s.contracts["1"] = [PsaContract(str(10 + n), "1", f"Agreement {n}", "Hosting")
                        for n in range(contracts)]
    s.lines["10"] = [PsaLine(f"L{n}", "10", f"P{n}", sku, f"{sku} desc", Decimal(q),
                             Decimal("2.5"))
                     for n, (sku, q) in enumerate(lines.items())]
    s.catalog = [CatalogItem(f"C{n}", sku, sku, price=Decimal(3)) for n, sku in
                 enumerate(catalog)]
    return s


def codes_of(p: object) -> list[tuple[str, str, str]]:
    return [(i.customer_code, i.sku, i.code) for i in p.items]  # type: ignore[attr-defined]


def test_rule1_period_billable_and_filter() -> None:
    records = [rec("ASP", "A", 2), rec("ASP", "A", 5, billable=False),
               rec("ASP", "A", 7, end=date(2025, 1, 1)), rec("FR1", "A", 1)]
    p = plan(records, snap({"A": 1}), params(customers_filter=("asp",)))
    assert [(i.customer_code, i.atria_quantity) for i in p.items] == [("ASP", 2)]


def test_rule2_billing_identifier_case_insensitive_and_mapping_override() -> None:
    s = snap({"A": 2})
    p = plan([rec("ASP", "A", 3, bi="  asp-bi ")], s, params())
    assert p.items[0].code == "CW07"
    p = plan([rec("ASP", "A", 3, bi="")], s, params(), Mappings(customers={"asp": "ASP-BI"}))
    assert p.items[0].code == "CW07" and p.items[0].billing_identifier == "ASP-BI"


def test_rule3_quantity_is_sum_per_customer_and_sku() -> None:
    p = plan([rec("ASP", "A", 1) for _ in range(12)], snap({"A": 10}), params())
    item = p.items[0]
    assert (item.action, item.atria_quantity, item.psa_quantity, item.delta) == \
        (Action.UPDATE, 12, 10, 2)
    assert item.money_delta == Decimal("5.0")
    assert "updated from 10.00 to 12.00" in item.message


def test_rule4_contract_missing_or_ambiguous() -> None:
    s = snap({"A": 1})
    s.contracts["1"] = []
    assert codes_of(plan([rec("ASP", "A")], s, params())) == [("ASP", "", "CW14")]
    s = snap({"A": 1}, contracts=2)
    assert codes_of(plan([rec("ASP", "A")], s, params())) == [("ASP", "", "TU02")]
    s = snap({"A": 1}, contracts=2)
    s.contracts["1"][1] = PsaContract("11", "1", "old", "Hosting", live=False)
    assert codes_of(plan([rec("ASP", "A")], s, params())) == [("ASP", "A", "CW09")]


def test_rule5_cancelled_lines_ignored_and_duplicates_ambiguous() -> None:
    s = snap({"A": 1, "B": 1})
    s.lines["10"].append(PsaLine("L9", "10", "P9", "B", "dup", Decimal(4)))
    s.lines["10"].append(PsaLine("L8", "10", "P8", "A", "old", Decimal(9), live=False))
    p = plan([rec("ASP", "A", 1), rec("ASP", "B", 2)], s, params())
    assert codes_of(p) == [("ASP", "A", "CW09"), ("ASP", "B", "TU03")]


def test_rule6_removed_sku_zeroed_unbilled_untouched_managed_kept() -> None:
    s = snap({"A": 3, "B": 4, "ONSITE": 9, "OLDMANAGED": 2})
    records = [rec("ASP", "A", 3), rec("ASP", "B", 4, end=PREV.end)]
    p = plan(records, s, params())
    assert codes_of(p) == [("ASP", "A", "CW09"), ("ASP", "B", "CW20")]
    assert p.items[1].action is Action.ZERO and p.items[1].delta == -4
    assert "updated from 4.00 to 0.00" in p.items[1].message
    p = plan(records, s, params(), Mappings(managed={"L3"}))
    assert ("ASP", "OLDMANAGED", "CW20") in codes_of(p)
    assert all(i.sku != "ONSITE" for i in p.items)


def test_rule6_deprovisioned_customer_zeroed_with_kaseya_bracket() -> None:
    s = snap({"A": 3}, code="OLD")
    s.accounts["asp-bi"] = PsaAccount("2", "ASP-BI", "ASP Ltd")
    records = [rec("ASP", "A", 1), rec("OLD", "A", 3, end=PREV.end)]
    p = plan(records, s, params(Task.KASEYA))
    assert codes_of(p)[-1] == ("OLD", "A", "KS11")
    log = [e.code for e in plan_entries(p)]
    assert log.index("KS18") < log.index("KS11") < log.index("KS19")


def test_rule7_missing_line_connectwise_add_or_cw22_kaseya_ks06() -> None:
    s = snap({}, catalog=("NEW",))
    r = [rec("ASP", "NEW", 2)]
    assert codes_of(plan(r, s, params(allow_create=True))) == [("ASP", "NEW", "CW08")]
    assert plan(r, s, params(allow_create=True)).items[0].action is Action.ADD
    assert codes_of(plan(r, s, params())) == [("ASP", "NEW", "CW22")]
    assert codes_of(plan(r, s, params(Task.KASEYA))) == [("ASP", "NEW", "KS06")]
    s.catalog = [CatalogItem("C1", "NEW", "NEW", active=False)]
    assert codes_of(plan(r, s, params(allow_create=True))) == [("ASP", "NEW", "CW22")]


@pytest.mark.parametrize("task,missing_bi,no_account,no_sku,unknown_sku,no_data", [
    (Task.CONNECTWISE, "CW04", "CW14", "CW05", "CW06", "CW15"),
    (Task.KASEYA, "KS09", "KS22", "KS23", "KS14", "KS15"),
])
def test_problem_codes(task: Task, missing_bi: str, no_account: str, no_sku: str,
                       unknown_sku: str, no_data: str) -> None:
    s = snap({"A": 1})
    assert plan([rec("ASP", "A", bi="")], s, params(task)).items[0].code == missing_bi
    assert plan([rec("GHO", "A")], s, params(task)).items[0].code == no_account
    p = plan([rec("ASP", "", desc="Fax line")], s, params(task))
    assert p.items[0].code == no_sku and "Fax line" in p.items[0].message
    assert plan([rec("ASP", "ZZZ")], s, params(task)).items[0].code == unknown_sku
    p = plan([rec("ASP", "A", end=PREV.end)], s, params(task))
    assert [e.code for e in p.log] == [no_data] and not p.items


def test_fixes_for_sku_and_description_mappings() -> None:
    s = snap({"FAX-LINE": 1})
    m = Mappings(skus={"LEGACY-FAX": "FAX-LINE"}, descriptions={"Fax line": "FAX-LINE"})
    assert plan([rec("ASP", "LEGACY-FAX", 2)], s, params(), m).items[0].code == "CW07"
    assert plan([rec("ASP", "", 2, desc="Fax line")], s, params(), m).items[0].code == "CW07"


def test_invalid_contract_type_is_fatal() -> None:
    s = snap({})
    s.contract_type_valid = False
    p = plan([rec("ASP", "A")], s, params(Task.KASEYA))
    assert p.fatal is not None and p.fatal.code == "KS12" and not p.items


def test_sku_field_match_modes() -> None:
    line = PsaLine("1", "1", "9", "Mailbox 100", "MB100: this is the description", Decimal(1))
    assert MatchRule(Task.KASEYA, "ServiceName").line_key(line) == "mailbox 100"
    assert MatchRule(Task.KASEYA, "description").line_key(line) == \
        "mb100: this is the description"
    assert MatchRule(Task.KASEYA, "SKUDescription").line_key(line) == "mb100"
    assert MatchRule(Task.CONNECTWISE, "SKUDescription").line_key(line) == "mailbox 100"


def test_scope_lists_identifiers_and_skus_of_both_periods() -> None:
    records = [rec("ASP", "A"), rec("OLD", "B", end=PREV.end), rec("UJA", "C", bi="")]
    sc = scope(records, params(), Mappings(skus={"c": "C-FIXED"}))
    assert sc.identifiers == ("ASP-BI", "OLD-BI")
    assert sc.skus == ("A", "B", "C-FIXED")


def test_plan_is_deterministic_and_needs_review_flags_decreases() -> None:
    records = [rec("ASP", "A", 1), rec("ASP", "B", 10)]
    s = snap({"A": 5, "B": 5})
    a, b = plan(records, s, params()), plan(list(reversed(records)), s, params())
    assert codes_of(a) == codes_of(b)
    dec, inc = a.items
    assert needs_review(dec, 0.25) and needs_review(inc, 0.25)
    assert not needs_review(inc, 2.0)
