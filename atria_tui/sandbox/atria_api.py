"""Atria billing API emulator: `GET /api/billing/{periodEnd}` behind a JWT bearer token.

Atria does not publish its JSON field names, so this serves the record fields in camelCase
and the client adapter maps them in one place. One instance serves one billing file (the
ConnectWise and Kaseya demo files share customer codes); the demo mounts one per job.
The file is re-read when it changes on disk, so an edited demo file shows up on the next
request the way a re-run Atria billing process would.
"""

from __future__ import annotations

import base64
import csv
import json
import os
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# A fixed, JWT-shaped token (header.payload.signature, base64url): the sandbox checks it
# verbatim; the signature is a placeholder, not a real HMAC.
DEMO_ATRIA_TOKEN = ".".join(
    [
        _b64({"alg": "HS256", "typ": "JWT"}),
        _b64(
            {
                "iss": "atria-sandbox",
                "sub": "demo.developer@atria.example",
                "role": "Service Provider Developer",
                "iat": 1767225600,
            }
        ),
        base64.urlsafe_b64encode(b"atria-sandbox-demo-signature-v1").decode().rstrip("="),
    ]
)

FIELDS = (
    "CustomerCode",
    "CustomerName",
    "BillingIdentifier",
    "Sku",
    "LineDescription",
    "SummaryDescription",
    "Quantity",
    "Billable",
    "PeriodEnd",
)
_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0", ""}


class BillingFileError(ValueError):
    """A demo billing file the sandbox cannot serve; the message names file, line, field."""


def _number(text: str) -> int | float:
    value = Decimal(text.strip())
    return int(value) if value == value.to_integral_value() else float(value)


def read_records(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Detail-shaped CSV → camelCase API records, strictly (bad rows are errors, not skips)."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise BillingFileError(f"{source}: cannot read billing file: {exc.strerror}") from None
    reader = csv.DictReader(text.splitlines())
    missing = [f for f in FIELDS if f not in (reader.fieldnames or [])]
    if missing:
        raise BillingFileError(
            f"{source}:1: missing column(s) {', '.join(missing)}; expected {', '.join(FIELDS)}"
        )
    records = []
    for row in reader:
        line = reader.line_num
        where = f"{source}:{line}"
        try:
            quantity = _number(row["Quantity"] or "")
        except InvalidOperation:
            raise BillingFileError(
                f"{where}: field Quantity: expected a number, got {row['Quantity']!r}"
            ) from None
        billable = (row["Billable"] or "").strip().casefold()
        if billable not in _TRUE | _FALSE:
            raise BillingFileError(
                f"{where}: field Billable: expected true or false, got {row['Billable']!r}"
            )
        try:
            period_end = date.fromisoformat((row["PeriodEnd"] or "").strip())
        except ValueError:
            raise BillingFileError(
                f"{where}: field PeriodEnd: expected a date YYYY-MM-DD, got {row['PeriodEnd']!r}"
            ) from None
        records.append(
            {
                "customerCode": row["CustomerCode"].strip(),
                "customerName": row["CustomerName"],
                "billingIdentifier": row["BillingIdentifier"].strip(),
                "sku": row["Sku"].strip(),
                "lineDescription": row["LineDescription"],
                "summaryDescription": row["SummaryDescription"],
                "quantity": quantity,
                "billable": billable in _TRUE,
                "periodEnd": period_end.isoformat(),
            }
        )
    return records


class _Source:
    """The billing file, cached until its modification time changes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._stamp: float | None = None
        self._records = read_records(self.path)  # fail at startup, not on the first request
        self._stamp = self.path.stat().st_mtime

    def records(self) -> list[dict[str, Any]]:
        stamp = self.path.stat().st_mtime
        if stamp != self._stamp:
            self._records, self._stamp = read_records(self.path), stamp
        return self._records


def _error(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status, headers=headers)


def create_app(
    records_source: str | os.PathLike[str], *, token: str = DEMO_ATRIA_TOKEN
) -> Starlette:
    """Serve one billing file; raises BillingFileError at once if the file is unusable."""
    source = _Source(records_source)

    async def billing(request: Request) -> Response:
        header = request.headers.get("authorization", "")
        if header[:7].casefold() != "bearer " or header[7:].strip() != token:
            return _error(
                401,
                "A valid bearer token is required.",
                **{"WWW-Authenticate": 'Bearer realm="atria"'},
            )
        raw_end = request.path_params["period_end"]
        try:
            period_end = date.fromisoformat(raw_end)
            if len(raw_end) != 10:
                raise ValueError(raw_end)
        except ValueError:
            return _error(400, f"periodEnd must be a date YYYY-MM-DD, got {raw_end!r}.")
        flag = request.query_params.get("billable")
        if flag is not None and flag.strip().casefold() not in ("true", "false"):
            return _error(400, f"billable must be true or false, got {flag!r}.")
        try:
            records = source.records()
        except (BillingFileError, OSError) as exc:
            return _error(500, f"Billing data unavailable: {exc}")
        wanted = period_end.isoformat()
        found = [r for r in records if r["periodEnd"] == wanted]
        if flag is not None:
            keep = flag.strip().casefold() == "true"
            found = [r for r in found if r["billable"] is keep]
        # `aggregate=customer` is accepted and ignored: clients sum quantities themselves.
        return JSONResponse(found)

    return Starlette(routes=[Route("/api/billing/{period_end}", billing, methods=["GET"])])
