"""PSA answers that must not be trusted: non-finite or absurd numbers, rows without ids,
JSON nested past the parser's depth. Each is a decode error naming the endpoint, which
ends the run with CW13/KS13 before anything is written."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from atria_tui.adapters.connectwise import ConnectWiseAdapter
from atria_tui.adapters.http import ClientOptions, HttpClient
from atria_tui.adapters.kaseya import KaseyaAdapter
from atria_tui.adapters.values import psa_id_value, psa_number
from atria_tui.job.file import load_job
from atria_tui.psa.errors import RemoteError
from atria_tui.sandbox import connectwise, kaseya
from atria_tui.sandbox.connectwise.state import DEMO_SECRETS as CW_SECRETS
from atria_tui.sandbox.connectwise.state import CwState
from atria_tui.sandbox.kaseya.state import DEMO_SECRETS as KS_SECRETS
from atria_tui.sandbox.server import shared, shared_app
from atria_tui.services.engine import apply_job
from tests.sandbox_helpers import ks_state
from tests.support import runtime

CW_TYPE = "Hosting and Cloud Services"
KS_TYPE = "Recurring Services"
SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"
Edit = Callable[[Any], Any]


def raw(text: str) -> str:
    """A marker that `Rewrite` turns into bare JSON text (NaN, 1e999: not valid JSON values
    Python would write)."""
    return f"@RAW:{text}:RAW@"


class Rewrite(httpx.AsyncBaseTransport):
    """An emulator's transport whose answers on paths matching `pattern` are edited."""

    def __init__(self, inner: httpx.AsyncBaseTransport, pattern: str, edit: Edit) -> None:
        self.inner, self.pattern, self.edit = inner, re.compile(pattern), edit

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        resp = await self.inner.handle_async_request(request)
        if request.method != "GET" or not self.pattern.search(request.url.path):
            return resp
        await resp.aread()
        body = self.edit(json.loads(resp.content))
        text = json.dumps(body).replace('"@RAW:', "").replace(':RAW@"', "")
        headers = {k: v for k, v in resp.headers.items()
                   if k.lower() not in ("content-length", "content-encoding")}
        return httpx.Response(resp.status_code, content=text.encode(), headers=headers)


def first_row(change: Callable[[dict[str, Any]], None]) -> Edit:
    def edit(body: Any) -> Any:
        rows = body["result"] if isinstance(body, dict) else body
        change(rows[0])
        return body

    return edit


def setting(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda row: row.__setitem__(key, value)


def dropping(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda row: row.pop(key, None)


BAD_NUMBERS = [raw("NaN"), raw("Infinity"), raw("-Infinity"), raw("1e999"), raw("1e20"),
               "lots", [1], True]
BAD_IDS = [None, "", {"id": 1}, [7], True, raw("NaN"), "../601", "1/2", 1.5]


# --- ConnectWise ---------------------------------------------------------------------------


def cw(pattern: str, edit: Edit) -> ConnectWiseAdapter:
    inner = httpx.ASGITransport(app=connectwise.create_app(CwState()))
    return ConnectWiseAdapter("http://cw.test", CW_SECRETS,
                              options=ClientOptions(retries=0, backoff=0),
                              transport=Rewrite(inner, pattern, edit))


async def snapshot_decode_error(ad: ConnectWiseAdapter | KaseyaAdapter, identifier: str,
                                contract_type: str) -> RemoteError:
    """The one-line decode error a snapshot ends with on a bad answer."""
    try:
        with pytest.raises(RemoteError) as info:
            await ad.snapshot([identifier], ["M365-BP"], contract_type)
    finally:
        await ad.aclose()
    assert info.value.kind == "decode", info.value.message
    assert "\n" not in info.value.message and len(info.value.message) < 400
    return info.value


async def cw_decode_error(pattern: str, edit: Edit) -> RemoteError:
    return await snapshot_decode_error(cw(pattern, edit), "AcmeServices", CW_TYPE)


@pytest.mark.parametrize("value", BAD_NUMBERS)
@pytest.mark.parametrize("field", ["quantity", "unitPrice"])
async def test_cw_addition_numbers_must_be_finite_and_sane(field: str, value: Any) -> None:
    err = await cw_decode_error(r"/additions$", first_row(setting(field, value)))
    assert "GET /finance/agreements/" in err.message and "/additions" in err.message
    assert field in err.message or "is not a JSON number" in err.message


async def test_cw_catalog_price_must_be_finite() -> None:
    err = await cw_decode_error(r"/procurement/catalog$",
                                first_row(setting("price", raw("1e999"))))
    assert "GET /procurement/catalog: price" in err.message


@pytest.mark.parametrize("pattern, endpoint", [
    (r"/additions$", "GET /finance/agreements/{agreementId}/additions"),
    (r"/finance/agreements$", "GET /finance/agreements"),
    (r"/procurement/catalog$", "GET /procurement/catalog"),
])
async def test_cw_rows_without_an_id_are_decode_errors(pattern: str, endpoint: str) -> None:
    err = await cw_decode_error(pattern, first_row(dropping("id")))
    assert err.message.startswith(endpoint) and "no id" in err.message


@pytest.mark.parametrize("value", [v for v in BAD_IDS if v != raw("NaN")])
async def test_cw_ids_must_be_whole_numbers(value: Any) -> None:
    err = await cw_decode_error(r"/additions$", first_row(setting("id", value)))
    assert "whole number as the id" in err.message


async def test_cw_company_ids_and_company_rows_are_checked() -> None:
    err = await cw_decode_error(r"/finance/agreements$",
                                first_row(lambda row: row["company"].__setitem__("id", "x/y")))
    assert "GET /finance/agreements: company" in err.message
    ad = cw(r"/company/companies$", first_row(dropping("id")))
    try:
        with pytest.raises(RemoteError, match="GET /company/companies: a row has no id"):
            await ad.companies(["AcmeServices"])
    finally:
        await ad.aclose()


async def test_cw_single_line_read_that_is_not_an_object_is_a_decode_error() -> None:
    ad = cw(r"/additions/\d+$", lambda body: [body])
    try:
        snap_ad = cw(r"^$", lambda b: b)
        snap = await snap_ad.snapshot(["AcmeServices"], ["M365-BP"], CW_TYPE)
        await snap_ad.aclose()
        contract_id, lines = next((k, v) for k, v in snap.lines.items() if v)
        with pytest.raises(RemoteError, match="expected an addition object"):
            await ad.read_line(contract_id, lines[0].id)
    finally:
        await ad.aclose()


# --- Kaseya ----------------------------------------------------------------------------------


def ks(pattern: str, edit: Edit) -> KaseyaAdapter:
    inner = httpx.ASGITransport(app=kaseya.create_app(ks_state()))
    return KaseyaAdapter("http://ks.test", KS_SECRETS, today=date(2026, 11, 26),
                         options=ClientOptions(retries=0, backoff=0),
                         transport=Rewrite(inner, pattern, edit))


async def ks_decode_error(pattern: str, edit: Edit) -> RemoteError:
    return await snapshot_decode_error(ks(pattern, edit), "ACME01", KS_TYPE)


@pytest.mark.parametrize("value", BAD_NUMBERS)
@pytest.mark.parametrize("field", ["units", "unitPrice"])
async def test_ks_line_numbers_must_be_finite_and_sane(field: str, value: Any) -> None:
    err = await ks_decode_error(r"/recurringservices/\d+/services$",
                                first_row(setting(field, value)))
    assert "/v2/finance/contracts/recurringservices/{contractId}/services" in err.message


@pytest.mark.parametrize("pattern", [r"/recurringservices/\d+/services$",
                                     r"/contracts/summary$", r"/accounts/summary$"])
@pytest.mark.parametrize("value", [*BAD_IDS[:-1], "absent"])
async def test_ks_rows_need_a_usable_id(pattern: str, value: Any) -> None:
    change = dropping("id") if value == "absent" else setting("id", value)
    err = await ks_decode_error(pattern, first_row(change))
    assert " id" in err.message


def test_number_and_id_rules() -> None:
    assert psa_number("", "x") == 0 and psa_number(None, "x") == 0
    assert psa_number(10.0, "x") == 10 and psa_number("2.5", "x") == psa_number(2.5, "x")
    assert psa_number(-3, "x") == -3  # a PSA credit line is read as it is, never written so
    assert psa_id_value(12.0, "x") == "12" and psa_id_value(" 7 ", "x", numeric=True) == "7"
    assert psa_id_value("a1b2-c3", "x") == "a1b2-c3"
    assert psa_id_value(None, "x", optional=True) == ""
    with pytest.raises(RemoteError, match="x: expected a finite number"):
        psa_number(float("nan"), "x")


# --- the shared client's JSON ----------------------------------------------------------------


@pytest.mark.parametrize("content, fragment", [
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b'{"quantity": NaN}', "NaN is not a JSON number"),
    (b'[Infinity]', "Infinity is not a JSON number"),
])
async def test_http_json_refuses_deep_nesting_and_non_numbers(content: bytes,
                                                              fragment: str) -> None:
    client = HttpClient("http://psa.test", transport=httpx.MockTransport(
        lambda request: httpx.Response(200, content=content)))
    try:
        with pytest.raises(RemoteError) as info:
            await client.json("GET", "/things?page=1")
    finally:
        await client.aclose()
    assert info.value.kind == "decode" and "GET /things" in info.value.message
    assert fragment in info.value.message


# --- end to end in-process: a bad answer writes nothing ---------------------------------------


async def test_apply_on_an_answer_without_ids_ends_with_cw13_and_writes_nothing(
        tmp_path: Path) -> None:
    text = (SAMPLES / "demo-connectwise.toml").read_text().replace(
        'path = "demo-connectwise-billing.csv"',
        f'path = "{SAMPLES / "demo-connectwise-billing.csv"}"')
    (tmp_path / "job.toml").write_text(text)
    job = load_job(tmp_path / "job.toml")
    before = shared().connectwise.quantity_of("AcmeServices", "M365-BP")
    transport = Rewrite(httpx.ASGITransport(app=shared_app()), r"/additions$",
                        first_row(dropping("id")))
    svc = runtime(db="t.db", transport=transport)
    res = await apply_job(svc, job)
    assert [e.code for e in res.entries][-2:] == ["CW13", "CW23"]
    assert "no id" in res.entries[-2].message and res.exit_code == 2
    assert res.status == "Failed" and svc.store.run(res.run_id).status == "Failed"
    assert shared().connectwise.quantity_of("AcmeServices", "M365-BP") == before
    assert not svc.store.journal(res.run_id)


@pytest.mark.parametrize("total", [10**12, -1])
async def test_ks_an_absurd_total_records_is_a_decode_error(total: int) -> None:
    def edit(body: Any) -> Any:
        body["totalRecords"] = total
        return body

    err = await ks_decode_error(r"/contracts/summary$", edit)
    assert f"totalRecords {total} is not a record count" in err.message


@pytest.mark.parametrize("answer, expected", [({"id": 812}, "812"), ({}, ""),
                                              ({"id": "../../company/companies/1"}, None)])
async def test_cw_the_id_of_a_new_addition_is_checked_before_it_is_kept(
        answer: dict[str, Any], expected: str | None) -> None:
    ad = ConnectWiseAdapter("http://cw.test", CW_SECRETS, transport=httpx.MockTransport(
        lambda request: httpx.Response(201, json=answer)))
    try:
        if expected is None:
            with pytest.raises(RemoteError, match="whole number as the id"):
                await ad.add_line("600", "5", Decimal(1), "x", date(2026, 11, 26))
        else:
            assert await ad.add_line("600", "5", Decimal(1), "x", date(2026, 11, 26)) \
                == expected
    finally:
        await ad.aclose()
