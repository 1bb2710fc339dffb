"""One number format: the console, the CLI table and the CSV exports show a quantity and
an amount the same way."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

from rich.console import Console

from atria_tui.cli.output import plan_csv, print_plan
from atria_tui.console.screens.preview import plan_columns
from atria_tui.core import numbers
from atria_tui.core.model import Action, Level, Period, Plan, PlanItem, Task


def test_quantities_and_money() -> None:
    assert numbers.qty(Decimal("10.00")) == "10"
    assert numbers.qty(Decimal("6.50")) == "6.5"
    assert numbers.qty(Decimal("0.0")) == "0"
    assert numbers.qty(Decimal("1234.567")) == "1,234.57"
    assert numbers.qty(None) == ""
    assert numbers.signed_qty(Decimal(-3)) == "-3"
    assert numbers.signed_qty(Decimal("2.5")) == "+2.5"
    assert numbers.money(Decimal("1234.5")) == "1,234.50"
    assert numbers.money(Decimal("-110"), "$") == "-$110.00"
    assert numbers.signed_money(Decimal("45.5"), "€") == "+€45.50"
    assert numbers.signed_money(Decimal(0)) == "0.00"


def _plan() -> Plan:
    task = next(iter(Task))
    item = PlanItem("k", "BIG", "Big", "BigCorp", "AV-EDR", "Endpoint", Decimal("7.00"),
                    Decimal("0.0"), Action.UPDATE, "CW07", Level.INFO, "m",
                    unit_price=Decimal("6.5"))
    return Plan(task, Period(date(2026, 10, 26), date(2026, 11, 25)), [item])


def test_console_cli_and_csv_agree() -> None:
    plan = _plan()
    item = plan.items[0]
    cells = {c.key: c.text(item) for c in plan_columns("$")}
    assert (cells["atria"], cells["psa"], cells["delta"], cells["money"]) == \
        ("7", "0", "+7", "+$45.50")
    out = io.StringIO()
    print_plan(Console(file=out, width=200), plan)
    table = out.getvalue()
    assert " 7 " in table and "+7 " in table and "+45.50" in table and "7.00" not in table
    row = plan_csv(plan).splitlines()[1].split(",")
    assert row[5:10] == ["7", "0", "7", "6.50", "45.50"]
