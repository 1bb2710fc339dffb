"""Atria's billing API as a record source: `GET /api/billing/{periodEnd}`.

Both the selected and the previous period are read, because a SKU billed last period and
not this one is a removed line (KS11/CW20) and a customer gone from this period is
deprovisioned. Atria does not publish the API's JSON field names, so the translation to
`BillingRecord` is one table (`FIELD_MAP`) that accepts the spellings seen so far; a
tenant that spells a field differently needs one line changed here, nowhere else.
Every failure is a `RemoteError` whose message says what was called and what was wrong,
because the service prints it verbatim in CW03/KS03.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

import httpx

from atria_tui.adapters.http import ClientOptions, HttpClient, is_embedded
from atria_tui.core.model import DEFAULT_MAX_QUANTITY, BillingRecord, Period
from atria_tui.core.records import sum_records
from atria_tui.psa.errors import RemoteError

# BillingRecord field → accepted API field names (compared case-insensitively, so the
# camelCase the emulator serves and PascalCase are both covered by one spelling).
FIELD_MAP: dict[str, tuple[str, ...]] = {
    "customer_code": ("customerCode", "customerShortCode"),
    "customer_name": ("customerName",),
    "billing_identifier": ("billingIdentifier", "customerAccountCode", "billingId"),
    "sku": ("sku", "productSku", "stockCode"),
    "line_description": ("lineDescription", "detailDescription"),
    "summary_description": ("summaryDescription", "summaryGrouping"),
    "quantity": ("quantity", "qty"),
    "billable": ("billable", "isBillable", "billableFlag"),
}
# A record without one of these is not something this tool can bill from; the rest default
# (descriptions to "", billable to true: the request already asks for billable records).
REQUIRED = ("customer_code", "billing_identifier", "sku", "quantity")
LIST_KEYS = ("records", "items", "data", "result")
_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0"}


class _FieldError(Exception):
    pass


def _lookup(obj: Mapping[str, Any]) -> dict[str, tuple[str, Any]]:
    """BillingRecord field → (the API's spelling, value) for the fields present."""
    folded = {str(k).casefold(): (str(k), v) for k, v in obj.items()}
    out: dict[str, tuple[str, Any]] = {}
    for name, spellings in FIELD_MAP.items():
        for s in spellings:
            if s.casefold() in folded:
                out[name] = folded[s.casefold()]
                break
    return out


def _text(value: Any, field: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)
    raise _FieldError(f"field {field}: expected text, got {json.dumps(value, default=str)}")


def _quantity(value: Any, field: str, cap: Decimal) -> Decimal:
    """A billed count: negative, non-finite or past the job's cap is refused, because the
    run would write it to the PSA as it is (a credit, or an absurd invoice)."""
    number = Decimal("NaN")
    if not isinstance(value, bool) and isinstance(value, int | Decimal | str):
        with contextlib.suppress(InvalidOperation, ValueError):
            number = Decimal(str(value).strip())
    if not number.is_finite():
        raise _FieldError(f"field {field}: expected a finite number, got {_clip(value)}")
    if number < 0:
        raise _FieldError(f"field {field}: expected a quantity of 0 or more, got "
                          f"{_clip(value)}")
    if number > cap:
        raise _FieldError(f"field {field}: expected a quantity of at most {cap} (the job's "
                          f"[options] max_quantity), got {_clip(value)}")
    return number


def _clip(value: Any) -> str:
    """A value as JSON, short enough for one log line."""
    try:
        text = json.dumps(value, default=str)
    except (RecursionError, ValueError):
        text = type(value).__name__
    return text if len(text) <= 60 else text[:57] + "..."


def _billable(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return True
    text = str(value).strip().casefold()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _FieldError(f"field {field}: expected true or false, got "
                      f"{json.dumps(value, default=str)}")


def to_record(obj: Any, period_end: date, n: int,
              max_quantity: int | Decimal = DEFAULT_MAX_QUANTITY) -> BillingRecord:
    """One API record; the period is the one requested (the endpoint is per period)."""
    if not isinstance(obj, dict):
        raise _FieldError(f"expected an object, got {_clip(obj)}")
    found = _lookup(obj)
    missing = [f for f in REQUIRED if f not in found]
    if missing:
        want = ", ".join(FIELD_MAP[f][0] for f in missing)
        have = ", ".join(str(k) for k in obj) or "none"
        raise _FieldError(f"missing field(s) {want}; fields found: {have}")
    text = {f: _text(found[f][1], found[f][0]) if f in found else ""
            for f in ("customer_code", "customer_name", "billing_identifier", "sku",
                      "line_description", "summary_description")}
    if not text["customer_code"]:
        raise _FieldError(f"field {found['customer_code'][0]}: empty customer code")
    spelled, raw = found["quantity"]
    billable = _billable(found["billable"][1], found["billable"][0]) if "billable" in found \
        else True
    return BillingRecord(text["customer_code"], text["customer_name"],
                         text["billing_identifier"], text["sku"], text["line_description"],
                         text["summary_description"],
                         _quantity(raw, spelled, Decimal(max_quantity)), billable,
                         period_end, source_line=n)


def _items(body: Any) -> list[Any] | None:
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        folded = {str(k).casefold(): v for k, v in body.items()}
        for key in LIST_KEYS:
            if isinstance(folded.get(key), list):
                return list(folded[key])
    return None


def _message(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text.strip()[:200]
    if isinstance(body, dict):
        for key in ("message", "error", "detail", "title"):
            if body.get(key):
                return str(body[key])[:300]
    return ""


async def _period(http: HttpClient, end: date, cap: Decimal) -> list[BillingRecord]:
    path = f"/api/billing/{end.isoformat()}"
    what = f"Atria API GET {http.base_url}{path}"
    try:
        resp = await http.request("GET", path, params={"billable": "true"},
                                  endpoint=path)
    except RemoteError as exc:
        raise RemoteError(exc.kind, f"{what}: {exc}", exc.status) from None
    if resp.status_code in (401, 403):
        raise RemoteError("auth", f"{what}: HTTP {resp.status_code}, the token was refused "
                       f"(check the AtriaToken secret): {_message(resp) or 'no details'}",
                       resp.status_code)
    if not 200 <= resp.status_code < 300:
        raise RemoteError("http", f"{what}: HTTP {resp.status_code}: "
                       f"{_message(resp) or 'no details'}", resp.status_code)
    try:
        body = json.loads(resp.content or b"null", parse_float=Decimal)
        del resp  # its bytes are not needed once parsed (a big export is tens of MB)
    except ValueError as exc:
        raise RemoteError("decode", f"{what}: the answer is not valid JSON ({exc})") from None
    except RecursionError:
        raise RemoteError("decode", f"{what}: the answer is JSON nested too deeply to "
                       "read") from None
    items = _items(body)
    if items is None:
        raise RemoteError("decode", f"{what}: expected a JSON list of billing records (or an "
                       f"object holding one under {', '.join(LIST_KEYS)}), got "
                       f"{type(body).__name__}")
    del body

    def records() -> Iterator[BillingRecord]:
        for n, obj in enumerate(items, start=1):
            try:
                r = to_record(obj, end, n, cap)
            except _FieldError as exc:
                raise RemoteError("decode", f"{what}: record {n}: {exc}") from None
            if r.billable:
                yield r

    # Summed as read (issue 12): never one object per seat, as the file path does; a
    # period's records never sum with another's (the period is part of the key).
    return sum_records(records())


async def fetch_records(url: str, token: str, period: Period, previous: Period, *,
                        transport: httpx.AsyncBaseTransport | None = None,
                        options: ClientOptions | None = None,
                        max_quantity: int | Decimal = DEFAULT_MAX_QUANTITY
                        ) -> list[BillingRecord]:
    """Billable records of `period` and `previous`, in that order."""
    if not url.strip():
        raise RemoteError("connect", "the Atria API URL ([source] url) is empty")
    if not token.strip():
        raise RemoteError("auth", "no Atria API token: set the AtriaToken secret (a JWT of a "
                       "user with the Service Provider Developer permission)")
    try:
        if not is_embedded(url):
            urlsplit(url.strip()).port  # noqa: B018 - a port past 65535 fails at connect
            httpx.URL(url.strip()).host  # noqa: B018 - and a bad IDNA host at the request
        http = HttpClient(url, headers={"Authorization": f"Bearer {token.strip()}",
                                        "Accept": "application/json"},
                          options=options or ClientOptions(retries=2), transport=transport)
    except (httpx.InvalidURL, ValueError) as exc:
        raise RemoteError("connect", f"the Atria API URL {url!r} is not usable: {exc}") from None
    try:
        ends = [period.end] + ([previous.end] if previous.end != period.end else [])
        cap = Decimal(max_quantity)
        batches = await asyncio.gather(*(_period(http, end, cap) for end in ends))
    finally:
        await http.aclose()
    return [r for batch in batches for r in batch]
