"""Plans and log entries as JSON: the CLI's `--format json` and the plan kept with a run.

A stored plan is what apply executes (the Terraform model): reviewing one plan and
applying a fresh guess would defeat the preview.
"""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import date
from decimal import Decimal
from typing import Any

from atria_tui.model import Action, Level, LogEntry, Period, Plan, PlanItem, Status, Task


def num(q: Decimal | None) -> int | float | None:
    if q is None:
        return None
    return int(q) if q == q.to_integral_value() else float(q)


def entry_dict(e: LogEntry) -> dict[str, Any]:
    return {"time": e.time.isoformat(timespec="seconds") if e.time else None,
            "code": e.code, "level": e.level.value, "message": e.message,
            "customer": e.customer, "sku": e.sku}


def item_dict(i: PlanItem) -> dict[str, Any]:
    return {
        "key": i.key, "customer_code": i.customer_code, "customer_name": i.customer_name,
        "billing_identifier": i.billing_identifier, "sku": i.sku,
        "description": i.description, "atria_quantity": num(i.atria_quantity),
        "psa_quantity": num(i.psa_quantity), "delta": num(i.delta),
        "unit_price": num(i.unit_price), "money_delta": num(i.money_delta),
        "action": i.action.value, "code": i.code, "level": i.level.value,
        "message": i.message, "account_id": i.account_id, "account_name": i.account_name,
        "contract_id": i.contract_id, "contract_name": i.contract_name, "line_id": i.line_id,
        "product_id": i.product_id, "product_code": i.product_code, "approved": i.approved,
        "note": i.note, **({"status": i.status.value} if i.status else {}),
    }


_DECIMALS = {"atria_quantity", "psa_quantity", "unit_price"}


def item_from(d: dict[str, Any]) -> PlanItem:
    kw: dict[str, Any] = {}
    for f in fields(PlanItem):
        if f.name not in d:
            continue
        v = d[f.name]
        if f.name in _DECIMALS:
            v = None if v is None else Decimal(str(v))
        elif f.name == "action":
            v = Action(v)
        elif f.name == "level":
            v = Level(v)
        elif f.name == "status":
            v = Status(v) if v else None
        kw[f.name] = v
    return PlanItem(**kw)


def entry_from(d: dict[str, Any]) -> LogEntry:
    return LogEntry(d["code"], Level(d["level"]), d["message"], d.get("customer", ""),
                    d.get("sku", ""))


def plan_to_json(plan: Plan) -> str:
    return json.dumps({
        "task": plan.task.value, "period_start": plan.period.start.isoformat(),
        "period_end": plan.period.end.isoformat(),
        "items": [item_dict(i) for i in plan.items],
        "log": [entry_dict(e) for e in plan.log],
        "fatal": entry_dict(plan.fatal) if plan.fatal else None,
        "deprovisioned_from": plan.deprovisioned_from,
    })


def plan_from_json(text: str) -> Plan:
    d = json.loads(text)
    period = Period(date.fromisoformat(d["period_start"]), date.fromisoformat(d["period_end"]))
    return Plan(Task(d["task"]), period, [item_from(i) for i in d["items"]],
                [entry_from(e) for e in d["log"]],
                entry_from(d["fatal"]) if d.get("fatal") else None,
                d.get("deprovisioned_from"))
