"""The Atria billing API source: both periods, bearer auth, field spellings, clear failures."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from atria_tui.adapters.atria import FIELD_MAP, fetch_records
from atria_tui.adapters.http import ClientOptions
from atria_tui.core.model import BillingRecord, Period
from atria_tui.psa.errors import RemoteError
from atria_tui.sandbox.atria_api import DEMO_ATRIA_TOKEN, create_app
from atria_tui.sandbox.embedded import EMBEDDED

DEMO_CSV = Path(__file__).resolve().parents[2] / "sample_configs" / "demo-kaseya-billing.csv"
PERIOD = Period(date(2026, 10, 26), date(2026, 11, 25))
PREVIOUS = Period(date(2026, 9, 26), date(2026, 10, 25))
NO_RETRY = ClientOptions(retries=0, backoff=0)


class Recording(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.seen: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        return await self.inner.handle_async_request(request)


def demo_rows() -> list[dict[str, str]]:
    with DEMO_CSV.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def serve(body: Any = None, *, status: int = 200, raw: bytes | None = None
          ) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        if raw is not None:
            return httpx.Response(status, content=raw)
        return httpx.Response(status, json=body)

    return httpx.MockTransport(handler)


async def fetch(transport: httpx.AsyncBaseTransport, token: str = "t0ken",
                url: str = "http://atria.test") -> list[BillingRecord]:
    return await fetch_records(url, token, PERIOD, PREVIOUS, transport=transport,
                               options=NO_RETRY)


RECORD = {"customerCode": "ASP", "customerName": "Acme", "billingIdentifier": "ACME01",
          "sku": "M365-BP", "lineDescription": "M365 - Jane", "summaryDescription": "M365",
          "quantity": 2, "billable": True, "periodEnd": "2026-11-25"}


# --- against the emulator ----------------------------------------------------------------------


async def test_reads_both_periods_from_the_emulator() -> None:
    transport = Recording(httpx.ASGITransport(app=create_app(DEMO_CSV)))
    records = await fetch(transport, DEMO_ATRIA_TOKEN)
    rows = [r for r in demo_rows() if r["Billable"].strip().lower() == "true"]
    # Summed as read (issue 12): one record per customer, SKU and description of a period,
    # holding every row's quantity.
    want: Counter[str] = Counter()
    for r in rows:
        if r["PeriodEnd"] in ("2026-11-25", "2026-10-25"):
            want[r["PeriodEnd"]] += Decimal(r["Quantity"])  # type: ignore[assignment]
    got: Counter[str] = Counter()
    for rec in records:
        if rec.period_end:
            got[rec.period_end.isoformat()] += rec.quantity  # type: ignore[assignment]
    assert got == want and want["2026-11-25"] > 0 and want["2026-10-25"] > 0
    assert len(records) < len(rows)
    assert records[0].period_end == PERIOD.end  # this period first
    asp = sum((r.quantity for r in records if r.customer_code == "ASP" and r.sku == "M365-BP"
               and r.period_end == PERIOD.end), Decimal(0))
    assert asp == 12
    assert all(r.billable for r in records)
    paths = sorted(r.url.path for r in transport.seen)
    assert paths == ["/api/billing/2026-10-25", "/api/billing/2026-11-25"]
    for req in transport.seen:
        assert req.headers["authorization"] == f"Bearer {DEMO_ATRIA_TOKEN}"
        assert req.url.params["billable"] == "true"


async def test_a_refused_token_is_an_auth_error_without_the_token() -> None:
    transport = httpx.ASGITransport(app=create_app(DEMO_CSV))
    with pytest.raises(RemoteError) as err:
        await fetch(transport, "not-the-token")
    assert err.value.kind == "auth" and err.value.status == 401
    assert "AtriaToken" in err.value.message and "not-the-token" not in err.value.message


async def test_the_sandbox_url_is_served_with_the_embedded_demo_token() -> None:
    records = await fetch_records("sandbox://atria/kaseya", EMBEDDED.atria_token(), PERIOD,
                                  PREVIOUS, transport=EMBEDDED.transport())
    assert any(r.customer_code == "ASP" for r in records)


async def test_a_sandbox_url_still_needs_a_token_from_the_runtime() -> None:
    with pytest.raises(RemoteError) as err:
        await fetch_records("sandbox://atria/kaseya", "", PERIOD, PREVIOUS,
                            transport=EMBEDDED.transport())
    assert err.value.kind == "auth"


async def test_an_empty_token_for_a_real_url_is_refused_before_any_call() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json=[])

    transport = httpx.MockTransport(handler)
    with pytest.raises(RemoteError) as err:
        await fetch(transport, "  ")
    assert err.value.kind == "auth" and "AtriaToken" in err.value.message and not calls


# --- field spellings ---------------------------------------------------------------------------


async def test_pascal_case_and_wrapped_lists_are_accepted() -> None:
    pascal = {k[:1].upper() + k[1:]: v for k, v in RECORD.items()}
    records = await fetch(serve({"Records": [pascal, {**pascal, "Billable": "false"}]}))
    assert len(records) == 2  # one billable record per period call
    r = records[0]
    assert (r.customer_code, r.billing_identifier, r.sku, r.quantity) == (
        "ASP", "ACME01", "M365-BP", Decimal(2))
    assert (r.line_description, r.summary_description) == ("M365 - Jane", "M365")
    assert {x.period_end for x in records} == {PERIOD.end, PREVIOUS.end}


async def test_optional_fields_default_and_numbers_stay_exact() -> None:
    minimal = {"customerCode": "ASP", "billingIdentifier": None, "sku": "",
               "quantity": "0.1"}
    records = await fetch(serve([minimal]))
    r = records[0]
    assert r.quantity == Decimal("0.1") and r.billable is True
    assert (r.customer_name, r.billing_identifier, r.sku, r.line_description) == ("", "", "",
                                                                                  "")


def test_field_map_covers_every_record_field_it_promises() -> None:
    assert set(FIELD_MAP) == {"customer_code", "customer_name", "billing_identifier", "sku",
                              "line_description", "summary_description", "quantity",
                              "billable"}
    assert all(spellings for spellings in FIELD_MAP.values())


# --- failures -----------------------------------------------------------------------------------


@pytest.mark.parametrize("transport, kind, fragment", [
    (serve(raw=b"[{]"), "decode", "not valid JSON"),
    (serve({"total": 3}), "decode", "expected a JSON list"),
    (serve([{"customerCode": "ASP", "quantity": 1}]), "decode",
     "record 1: missing field(s) billingIdentifier, sku"),
    (serve([{**RECORD, "quantity": "lots"}]), "decode", 'field quantity: expected a finite number, '
                                                        'got "lots"'),
    (serve([{**RECORD, "billable": "maybe"}]), "decode", "field billable: expected true or"),
    (serve([RECORD, "oops"]), "decode", "record 2: expected an object"),
    (serve({"message": "Billing data unavailable"}, status=500), "http",
     "Billing data unavailable"),
    (serve({"message": "periodEnd must be a date"}, status=400), "http", "HTTP 400"),
])
async def test_bad_answers_are_clear_errors(transport: httpx.MockTransport, kind: str,
                                            fragment: str) -> None:
    with pytest.raises(RemoteError) as err:
        await fetch(transport)
    assert err.value.kind == kind
    assert fragment in err.value.message
    assert "http://atria.test/api/billing/" in err.value.message


async def test_connect_failure_names_the_url() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(RemoteError) as err:
        await fetch(httpx.MockTransport(refuse))
    assert err.value.kind == "connect"
    assert "http://atria.test/api/billing/" in err.value.message
    assert "connection refused" in err.value.message


@pytest.mark.parametrize("url", ["", "   "])
async def test_an_empty_url_is_an_error(url: str) -> None:
    with pytest.raises(RemoteError) as err:
        await fetch(serve([]), url=url)
    assert "URL" in err.value.message


async def test_same_period_twice_is_read_once() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(200, json=[RECORD])

    records = await fetch_records("http://atria.test", "t", PERIOD, PERIOD,
                                  transport=httpx.MockTransport(handler), options=NO_RETRY)
    assert seen == ["/api/billing/2026-11-25"] and len(records) == 1


@pytest.mark.parametrize("raw, fragment", [
    (b"-3", "0 or more"),
    (b"NaN", "finite number"),
    (b"Infinity", "finite number"),
    (b"1e309", "at most 100000"),
    (b"1" + b"0" * 400, "at most 100000"),
])
async def test_negative_non_finite_and_absurd_quantities_are_refused(raw: bytes,
                                                                     fragment: str) -> None:
    body = b'[{"customerCode": "ASP", "billingIdentifier": "A1", "sku": "S", "quantity": ' \
        + raw + b"}]"
    with pytest.raises(RemoteError) as info:
        await fetch(serve(raw=body))
    assert info.value.kind == "decode"
    assert "record 1" in info.value.message and "field quantity" in info.value.message
    assert fragment in info.value.message and len(info.value.message) < 300


async def test_the_quantity_cap_is_passed_by_the_job() -> None:
    body = [{**RECORD, "quantity": 150_000}]
    recs = await fetch_records("http://atria.test", "t", PERIOD, PREVIOUS,
                               transport=serve(body), options=NO_RETRY, max_quantity=200_000)
    assert {r.quantity for r in recs} == {150_000}
    with pytest.raises(RemoteError, match="at most 1000"):
        await fetch_records("http://atria.test", "t", PERIOD, PREVIOUS,
                            transport=serve(body), options=NO_RETRY, max_quantity=1000)


async def test_deeply_nested_answer_is_a_decode_error() -> None:
    with pytest.raises(RemoteError) as info:
        await fetch(serve(raw=b"[" * 100_000 + b"]" * 100_000))
    assert info.value.kind == "decode" and "nested" in info.value.message


async def test_a_port_out_of_range_is_named_before_any_connection() -> None:
    with pytest.raises(RemoteError, match="Port out of range"):
        await fetch(serve([]), url="http://127.0.0.1:99999/atria")
