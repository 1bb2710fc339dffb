"""Writes to agreement additions (PATCH and POST), validated as the real service does.

These are the only calls that change money, so the sandbox is deliberately picky: a patch
must be a JSON Patch list, read-only fields are refused, values are type-checked, and the
whole patch is applied to a copy and committed only if every operation is valid. A product
change re-defaults price, cost and description from the catalog, like ConnectWise does,
which is why clients must never patch `product` to fix a quantity.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from atria_tui.sandbox.connectwise.state import CwError, CwState

UPDATED_BY = "AtriaAPI"
BILL_CUSTOMER = ("Billable", "DoNotBill", "NoCharge")
NUMERIC = {"quantity", "lessIncluded", "unitPrice", "unitCost"}
TEXT = {"description", "invoiceDescription", "serialNumber", "uom"}
DATES = {"effectiveDate", "cancelledDate"}
FLAGS = {"taxableFlag", "purchaseItemFlag", "specialOrderFlag"}
READ_ONLY = {"id", "agreementId", "agreementStatus", "extPrice", "extCost", "_info"}
REQUIRED = {"quantity", "billCustomer", "product"}
WRITABLE = NUMERIC | TEXT | DATES | FLAGS | {"billCustomer", "product"}


def _invalid(field: str, message: str, code: str = "InvalidField") -> CwError:
    return CwError(
        400,
        "InvalidObject",
        "agreementAddition object is invalid",
        [{"code": code, "message": message, "resource": "agreementAddition", "field": field}],
    )


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_date(field: str, value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _invalid(field, f"{field} must be a date string such as 2026-11-01T00:00:00Z")
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _invalid(field, f"{field} '{value}' is not a valid date") from None
    return value


def _check_value(field: str, value: Any) -> Any:
    if field in NUMERIC:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _invalid(field, f"{field} must be a number, got {value!r}")
        return float(value)
    if field in TEXT:
        if not isinstance(value, str):
            raise _invalid(field, f"{field} must be a string, got {value!r}")
        return value
    if field in DATES:
        return _check_date(field, value)
    if field in FLAGS:
        if not isinstance(value, bool):
            raise _invalid(field, f"{field} must be true or false, got {value!r}")
        return value
    if field == "billCustomer":
        if value not in BILL_CUSTOMER:
            raise _invalid(field, f"billCustomer must be one of {', '.join(BILL_CUSTOMER)}")
        return value
    return value


def _product(state: CwState, ref: Any) -> dict[str, Any]:
    """Resolve a product reference; only active, non-bundle items can be additions."""
    if not isinstance(ref, dict) or ("id" not in ref and "identifier" not in ref):
        raise _invalid("product", 'product is required: {"id": N}', "NullOrMissingField")
    item: dict[str, Any] | None
    if "id" in ref:
        pid = ref["id"]
        if isinstance(pid, bool) or not isinstance(pid, int):
            raise _invalid("product", f"product id must be an integer, got {pid!r}")
        item = state.catalog.get(pid)
    else:
        item = state.catalog_by_identifier(str(ref["identifier"]))
    if item is None:
        raise _invalid("product", f"product {ref} was not found in the catalog")
    if item.get("inactiveFlag"):
        raise _invalid("product", f"product {item['identifier']} is inactive")
    if item.get("productClass") == "Bundle":
        raise _invalid(
            "product", f"product {item['identifier']} is a Bundle and cannot be an addition"
        )
    return item


def _apply_product(addition: dict[str, Any], item: dict[str, Any]) -> None:
    addition["product"] = {"id": item["id"], "identifier": item["identifier"]}
    addition["unitPrice"] = float(item["price"])
    addition["unitCost"] = float(item["cost"])
    addition["description"] = item["description"]
    addition["invoiceDescription"] = item["description"]
    addition["uom"] = item.get("unitOfMeasure", {}).get("name", "Each")


def _recompute(addition: dict[str, Any]) -> None:
    billed = float(addition["quantity"]) - float(addition.get("lessIncluded") or 0)
    addition["extPrice"] = round(float(addition["unitPrice"]) * billed, 2)
    addition["extCost"] = round(float(addition["unitCost"]) * billed, 2)
    addition["_info"] = {
        **addition.get("_info", {}),
        "lastUpdated": _now(),
        "updatedBy": UPDATED_BY,
    }


def _field_name(path: Any) -> str:
    if not isinstance(path, str) or not path.strip("/"):
        raise CwError(
            400, "InvalidObject", f"patch operation path must be a field name, got {path!r}"
        )
    name = path.strip().lstrip("/")
    if name.lower() in ("product/id", "product/identifier"):
        return "product"
    for known in WRITABLE | READ_ONLY:
        if known.lower() == name.lower():
            return known
    raise CwError(400, "InvalidObject", f"patch path '{path}': unknown agreementAddition field")


def find_addition(state: CwState, agreement_id: int, addition_id: int) -> dict[str, Any]:
    if agreement_id not in state.agreements:
        raise CwError(404, "NotFound", f"Agreement with id {agreement_id} was not found.")
    addition = state.additions.get(addition_id)
    if addition is None or addition.get("agreementId") != agreement_id:
        raise CwError(
            404,
            "NotFound",
            f"Addition with id {addition_id} was not found on agreement {agreement_id}.",
        )
    return addition


def patch_addition(state: CwState, agreement_id: int, addition_id: int, ops: Any) -> dict[str, Any]:
    """Apply a JSON Patch list atomically; return the updated addition."""
    current = find_addition(state, agreement_id, addition_id)
    if not isinstance(ops, list) or not ops:
        raise CwError(
            400,
            "InvalidObject",
            "Patch body must be a non-empty JSON array of {op, path, value} objects",
        )
    work = copy.deepcopy(current)
    for n, op in enumerate(ops, start=1):
        if not isinstance(op, dict):
            raise CwError(400, "InvalidObject", f"patch operation {n} must be an object")
        kind = str(op.get("op", "")).lower()
        if kind not in ("add", "replace", "remove"):
            raise CwError(
                400,
                "InvalidObject",
                f"patch operation {n}: op must be add, replace or remove, got {op.get('op')!r}",
            )
        field = _field_name(op.get("path"))
        if field in READ_ONLY:
            raise _invalid(field, f"{field} is read-only")
        if kind == "remove":
            if field in REQUIRED:
                raise _invalid(
                    field, f"{field} is required and cannot be removed", "NullOrMissingField"
                )
            work[field] = None if field in DATES else ("" if field in TEXT else 0.0)
            continue
        if "value" not in op:
            raise CwError(400, "InvalidObject", f"patch operation {n}: value is missing")
        value = op["value"]
        if field == "product":
            if op["path"].strip("/").lower() == "product/id":
                value = {"id": value}
            elif op["path"].strip("/").lower() == "product/identifier":
                value = {"identifier": value}
            _apply_product(work, _product(state, value))
        else:
            work[field] = _check_value(field, value)
    _recompute(work)
    current.clear()
    current.update(work)
    return copy.deepcopy(current)


def create_addition(state: CwState, agreement_id: int, body: Any) -> dict[str, Any]:
    """POST an addition: product and billCustomer required; defaults from the catalog."""
    agreement = state.agreements.get(agreement_id)
    if agreement is None:
        raise CwError(404, "NotFound", f"Agreement with id {agreement_id} was not found.")
    if not isinstance(body, dict):
        raise CwError(400, "InvalidObject", "Request body must be an agreementAddition object")
    item = _product(state, body.get("product"))
    if "billCustomer" not in body:
        raise _invalid("billCustomer", "billCustomer is required", "NullOrMissingField")
    addition: dict[str, Any] = {
        "id": state.next_id(state.additions),
        "quantity": 0.0,
        "lessIncluded": 0.0,
        "billCustomer": "Billable",
        "effectiveDate": _now()[:10] + "T00:00:00Z",
        "cancelledDate": None,
        "taxableFlag": True,
        "serialNumber": "",
        "agreementId": agreement_id,
        "agreementStatus": agreement.get("agreementStatus", "Active"),
        "purchaseItemFlag": False,
        "specialOrderFlag": False,
        "_info": {"dateEntered": _now(), "enteredBy": UPDATED_BY},
    }
    _apply_product(addition, item)
    for field in sorted(WRITABLE - {"product"}):
        if field in body:
            addition[field] = _check_value(field, body[field])
    if "description" in body and "invoiceDescription" not in body:
        addition["invoiceDescription"] = addition["description"]
    _recompute(addition)
    state.additions[addition["id"]] = addition
    return copy.deepcopy(addition)
