"""The Kaseya sandbox's wire format: envelope, body and query parsing, response shapes.

Kept apart from the routes so the strictness rules (form-only login, JSON bodies with
case-insensitive keys, the error envelope) and the camelCase shapes taken from the vendor's
swagger are stated once and read in one place.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse

from atria_tui.sandbox.kaseya.state import Account, Contract, KsState, Line, Service, Token

T = TypeVar("T", dict[str, Any], list[Any])


class ApiError(Exception):
    """A request the tenant would refuse; becomes a `success:false` envelope."""

    def __init__(
        self,
        status: int,
        message: str,
        details: str | None = None,
        sub_errors: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details
        self.sub_errors = sub_errors or []


def ok(result: Any, total: int | None = None) -> JSONResponse:
    body: dict[str, Any] = {"success": True, "error": None, "result": result}
    if total is not None:
        body["totalRecords"] = total
    return JSONResponse(body)


def failure(
    status: int,
    message: str,
    details: str | None = None,
    sub_errors: list[str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    error = {"code": status, "message": message, "details": details, "subErrors": sub_errors or []}
    return JSONResponse(
        {"success": False, "error": error, "result": None},
        status_code=status,
        headers=dict(headers or {}),
    )


async def read_form(request: Request) -> dict[str, str]:
    """Form fields with case-folded names; anything but a form body is refused (415).

    The real login endpoint rejects JSON; a client that sends JSON must fail here too.
    python-multipart is not a dependency, so both encodings are parsed by hand.
    """
    ctype = request.headers.get("content-type", "")
    kind = ctype.split(";")[0].strip().casefold()
    body = await request.body()
    if kind == "application/x-www-form-urlencoded":
        pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        return {k.casefold(): v for k, v in pairs}
    if kind == "multipart/form-data":
        head = f"Content-Type: {ctype}\r\nMIME-Version: 1.0\r\n\r\n".encode()
        message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
        fields: dict[str, str] = {}
        if isinstance(message, EmailMessage):
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if isinstance(name, str) and isinstance(part, EmailMessage):
                    payload = part.get_payload(decode=True)
                    text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
                    fields[name.casefold()] = text
        return fields
    raise ApiError(
        415,
        "Unsupported media type.",
        details=f"Expected form fields (application/x-www-form-urlencoded or "
        f"multipart/form-data), got {kind or 'no content type'!r}.",
    )


async def read_json(request: Request, shape: type[T]) -> T:
    """The JSON body, which must be a `shape` (object → keys case-folded at top level)."""
    try:
        data = json.loads(await request.body() or b"null")
    except ValueError as exc:
        raise ApiError(400, "The request body is not valid JSON.", details=str(exc)) from None
    if not isinstance(data, shape):
        want = "object" if shape is dict else "array"
        raise ApiError(
            400, f"The request body must be a JSON {want}.", details=f"Got {type(data).__name__}."
        )
    if isinstance(data, dict):
        return {str(k).casefold(): v for k, v in data.items()}
    return data


# --- query helpers (ASP.NET binds query keys case-insensitively) --------------------------

DEFAULT_PAGE_SIZE = 100  # the swagger documents no default; 100 is what clients send


def query(request: Request) -> dict[str, str]:
    return {k.casefold(): v for k, v in request.query_params.items()}


def int_param(value: Any, name: str, default: int | None = None, minimum: int = 0) -> int | None:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ApiError(
            400, "Validation failed.", sub_errors=[f"{name}: {value!r} is not a valid integer."]
        ) from None
    if number < minimum:
        raise ApiError(400, "Validation failed.", sub_errors=[f"{name} must be >= {minimum}."])
    return number


def bool_param(value: Any, name: str) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().casefold()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise ApiError(400, "Validation failed.", sub_errors=[f"{name}: {value!r} is not a boolean."])


def page_of(items: list[Any], size: Any, number: Any, max_size: int) -> tuple[list[Any], int]:
    """One 1-based page and the total; `max_size` (0 = none) caps what a client may ask."""
    page_size = int_param(size, "PageSize", DEFAULT_PAGE_SIZE, minimum=1) or DEFAULT_PAGE_SIZE
    page_size = min(page_size, max_size or page_size)
    page_number = int_param(number, "PageNumber", 1, minimum=1) or 1
    start = (page_number - 1) * page_size
    return items[start : start + page_size], len(items)


def contains(haystack: str, needle: str | None) -> bool:
    return needle is None or needle.strip().casefold() in haystack.casefold()


def equals(value: str, wanted: str | None) -> bool:
    return wanted is None or value.strip().casefold() == wanted.strip().casefold()


# --- wire shapes -------------------------------------------------------------------------


def account_json(a: Account) -> dict[str, Any]:
    return {
        "id": a.id,
        "accountCode": a.code,
        "accountName": a.name,
        "accountType": "Customer",
        "isActive": a.active,
        "isBilling": True,
    }


def contract_json(c: Contract, state: KsState) -> dict[str, Any]:
    price = sum(ln.units * ln.unit_price for ln in state.lines_of(c.id))
    return {
        "id": c.id,
        "contractName": c.name,
        "accountName": state.accounts[c.account_id].name,
        "accountId": c.account_id,
        "contractType": c.type,
        "contractBillingPrice": price,
        "status": c.status,
        "contractNumber": c.number,
        "billingCycle": c.billing_cycle,
        "startDate": c.start,
        "endDate": c.end,
    }


def service_json(s: Service) -> dict[str, Any]:
    return {
        "id": s.id,
        "name": s.name,
        "description": s.description,
        "unitCost": s.unit_cost,
        "unitPrice": s.unit_price,
        "category": s.category,
        "isActive": s.active,
        "isTaxable": True,
    }


def line_json(ln: Line, state: KsState) -> dict[str, Any]:
    return {
        "id": ln.id,
        "serviceId": ln.service_id,
        "serviceName": ln.service_name,
        "description": ln.description,
        "contractId": ln.contract_id,
        "contractName": state.contracts[ln.contract_id].name,
        "units": ln.units,
        "unitCost": ln.unit_cost,
        "unitPrice": ln.unit_price,
        "totalCost": ln.units * ln.unit_cost,
        "totalPrice": ln.units * ln.unit_price,
        "effectiveDate": ln.effective_date,
        "sortOrder": ln.sort_order,
        "modifiedOn": ln.modified_on,
    }


def token_json(token: Token) -> dict[str, Any]:
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return {
        "accessToken": token.access,
        "refreshToken": token.refresh,
        "accessTokenExpireOn": token.access_expires.strftime(fmt),
        "refreshTokenExpireOn": token.refresh_expires.strftime(fmt),
    }
