"""Plans and log entries as JSON: the CLI's `--format json` and the plan kept with a run.

A stored plan is what apply executes (the Terraform model): reviewing one plan and
applying a fresh guess would defeat the preview.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import fields
from datetime import date
from decimal import Decimal
from typing import Any

from atria_tui.core.model import Action, Level, LogEntry, Period, Plan, PlanItem, Status, Task


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
_ENUMS: dict[str, Any] = {"action": Action, "level": Level}
_ITEM_FIELDS: tuple[str, ...] = ()


def item_from(d: dict[str, Any]) -> PlanItem:
    # Read for every row of a stored plan (25,000 when an apply loads a 5,000-customer
    # plan): the field names are looked up once, not per row.
    global _ITEM_FIELDS
    if not _ITEM_FIELDS:
        _ITEM_FIELDS = tuple(f.name for f in fields(PlanItem))
    kw: dict[str, Any] = {}
    for name in _ITEM_FIELDS:
        if name not in d:
            continue
        v = d[name]
        if name in _DECIMALS:
            v = None if v is None else Decimal(str(v))
        elif name in _ENUMS:
            v = _ENUMS[name](v)
        elif name == "status":
            v = Status(v) if v else None
        kw[name] = v
    return PlanItem(**kw)


def entry_from(d: dict[str, Any]) -> LogEntry:
    return LogEntry(d["code"], Level(d["level"]), d["message"], d.get("customer", ""),
                    d.get("sku", ""))


# Item lines per stored part: a part is a few hundred KB, so no single call (a join, a
# split, an encode, SQLite's bind) ever handles a whole 50,000-row plan at once.
PART_LINES = 1000


def plan_to_json(plan: Plan) -> list[str]:
    """JSON lines in parts: the header object, then parts of `PART_LINES` item lines.

    One `json.dumps` over a 50,000-row plan holds the GIL for ~0.4 s and freezes the
    console; so does one join or split of its 37 MB text. An object per line and a part
    per thousand lines keep every call short, in both directions.
    """
    header = json.dumps({
        "task": plan.task.value, "period_start": plan.period.start.isoformat(),
        "period_end": plan.period.end.isoformat(),
        "log": [entry_dict(e) for e in plan.log],
        "fatal": entry_dict(plan.fatal) if plan.fatal else None,
        "deprovisioned_from": plan.deprovisioned_from, "items": len(plan.items),
    })
    items = plan.items
    return [header, *("\n".join(json.dumps(item_dict(i)) for i in items[k:k + PART_LINES])
                      for k in range(0, len(items), PART_LINES))]


def _lines(parts: Sequence[str] | str) -> Iterator[str]:
    """Every line of a stored plan: parts as stored now, or one text (a database written
    before plans were stored in parts)."""
    for part in [parts] if isinstance(parts, str) else parts:
        yield from part.split("\n")


def plan_from_json(parts: Sequence[str] | str) -> Plan:
    lines = _lines(parts)
    d = json.loads(next(lines))
    items = [item_from(json.loads(line)) for line in lines if line]
    if len(items) != d["items"]:
        raise ValueError(f"stored plan is incomplete: {len(items)} of {d['items']} items")
    period = Period(date.fromisoformat(d["period_start"]), date.fromisoformat(d["period_end"]))
    return Plan(Task(d["task"]), period, items, [entry_from(e) for e in d["log"]],
                entry_from(d["fatal"]) if d.get("fatal") else None,
                d.get("deprovisioned_from"))


def notes_from_json(parts: Sequence[str] | str) -> dict[tuple[str, str], str]:
    """Only the reviewers' notes of a stored plan, keyed by (customer, SKU).

    The log screen needs nothing else. It jumps from one non-empty note to the next and
    parses just those lines: parsing every line of a 50,000-row plan would hold the GIL
    long enough to stall the console.
    """
    notes: dict[tuple[str, str], str] = {}
    marker = '"note": "'
    for n, text in enumerate([parts] if isinstance(parts, str) else parts):
        at = text.find("\n") if n == 0 else 0  # the first line is the header
        while at != -1:
            at = text.find(marker, at)
            if at == -1:
                break
            if text.startswith('"', at + len(marker)):  # an empty note
                at += len(marker)
                continue
            start = text.rfind("\n", 0, at) + 1
            end = text.find("\n", at)
            line = text[start:] if end == -1 else text[start:end]
            d = json.loads(line)
            if str(d.get("note") or "").strip():
                notes[(d["customer_code"], d["sku"])] = d["note"]
            at = len(text) if end == -1 else end
    return notes
