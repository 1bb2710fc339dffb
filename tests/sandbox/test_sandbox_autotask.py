"""The Autotask sandbox behaves like a strict tenant: zone, auth, queries, paging, limits,
adjustments read back through ContractServiceUnits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from atria_tui.core.records import iter_records, sum_records
from atria_tui.sandbox.autotask import create_app
from atria_tui.sandbox.autotask.state import DEMO_SECRETS, AtState
from atria_tui.sandbox.server import build
from tests.sandbox_helpers import Clock

T0 = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
V1 = "/ATServicesRest/V1.0"
ZONE = "/zone/ATServicesRest/V1.0/zoneInformation"
ALL = [{"op": "gte", "field": "id", "value": 0}]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def state(clock: Clock) -> AtState:
    return AtState(now=clock)


@pytest.fixture
async def bare(state: AtState) -> AsyncIterator[httpx.AsyncClient]:
    """No auth headers."""
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://at") as c:
        yield c


@pytest.fixture
async def client(state: AtState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://at",
                                 headers=DEMO_SECRETS) as c:
        yield c


async def query(client: httpx.AsyncClient, entity: str, body: dict[str, Any]
                ) -> httpx.Response:
    return await client.post(f"{V1}/{entity}/query", json=body)


async def ids(client: httpx.AsyncClient, entity: str, flt: list[Any]) -> list[int]:
    r = await query(client, entity, {"filter": flt})
    assert r.status_code == 200, r.text
    return [row["id"] for row in r.json()["items"]]


async def units_at(client: httpx.AsyncClient, cs_id: int) -> list[tuple[str, str, int]]:
    """The ContractServiceUnits of a line, oldest first: (start, end, units)."""
    r = await query(client, "ContractServiceUnits", {
        "filter": [{"op": "eq", "field": "contractServiceID", "value": cs_id}],
        "IncludeFields": ["id", "startDate", "endDate", "units"]})
    assert r.status_code == 200, r.text
    rows = sorted(r.json()["items"], key=lambda u: u["startDate"])
    return [(u["startDate"][:10], u["endDate"][:10], u["units"]) for u in rows]


def covering(rows: list[tuple[str, str, int]], day: str) -> int:
    """Units at `day`: the row with the latest start whose range holds it."""
    hits = [r for r in rows if r[0] <= day <= r[1]]
    return max(hits)[2] if hits else 0


async def adjust(client: httpx.AsyncClient, body: dict[str, Any], contract: int | None = None
                 ) -> httpx.Response:
    url = (f"{V1}/Contracts/{contract}/ServiceAdjustments" if contract
           else f"{V1}/ContractServiceAdjustments")
    return await client.post(url, json=body)


def errors_of(r: httpx.Response) -> list[str]:
    body = r.json()
    assert set(body) >= {"errors"}, body
    texts: list[str] = body["errors"]
    return texts


# --- zone, auth ----------------------------------------------------------------------


async def test_zone_lookup_needs_no_headers_and_points_at_the_tenant(
        bare: httpx.AsyncClient) -> None:
    r = await bare.get(ZONE, params={"user": DEMO_SECRETS["UserName"]})
    assert r.status_code == 200
    assert r.json() == {"zoneName": "Sandbox Zone (atria-tui)",
                        "url": "http://at/ATServicesRest/", "webUrl": "http://at/web/",
                        "ci": 4242}
    # any zone host answers, paths are case-insensitive
    same = await bare.get("/atservicesrest/v1.0/zoneinformation",
                          params={"user": DEMO_SECRETS["UserName"].upper()})
    assert same.status_code == 200 and same.json()["url"] == "http://at/ATServicesRest/"
    for params in ({"user": "nobody@example.com"}, {}):
        miss = await bare.get(ZONE, params=params)
        assert miss.status_code == 500
        assert miss.json() == {"errors": ["Zone information could not be determined"]}
    version = await bare.get("/zone/atservicesrest/versioninformation")
    assert version.json() == {"apiVersions": ["1.0"]}


async def test_zone_url_works_embedded_and_over_a_socket() -> None:
    box = build()
    transport = httpx.ASGITransport(app=box.app)
    user = {"user": DEMO_SECRETS["UserName"]}
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.invalid") as c:
        r = await c.get(f"/autotask{ZONE}", params=user)
        assert r.json()["url"] == "sandbox://autotask/ATServicesRest/"
        index = (await c.get("/")).json()
        assert index["autotask"]["tenant"].endswith("/autotask/ATServicesRest/")
        assert index["atria"]["autotask"].endswith("/atria/autotask")
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8765",
                                 headers=DEMO_SECRETS) as c:
        url = (await c.get(f"/autotask{ZONE}", params=user)).json()["url"]
        assert url == "http://127.0.0.1:8765/autotask/ATServicesRest/"
        r = await c.post(url.rstrip("/") + "/V1.0/Companies/query",
                         json={"filter": [{"op": "eq", "field": "companyNumber",
                                           "value": "ACME01"}]})
        assert r.status_code == 200 and r.json()["items"][0]["id"] == 1001


async def test_embedded_sandbox_url_reaches_the_tenant() -> None:
    from atria_tui.sandbox.embedded import EMBEDDED
    from atria_tui.sandbox.server import reset_shared

    reset_shared()
    try:
        async with httpx.AsyncClient(transport=EMBEDDED.transport(),
                                     base_url="http://sandbox.invalid/autotask",
                                     headers=DEMO_SECRETS) as c:
            r = await c.get(f"{V1}/Companies/1001")
            assert r.status_code == 200 and r.json()["item"]["companyNumber"] == "ACME01"
    finally:
        reset_shared()


@pytest.mark.parametrize("headers", [
    {},
    {**DEMO_SECRETS, "Secret": "wrong"},
    {**DEMO_SECRETS, "UserName": "nobody@example.com"},
    {k: v for k, v in DEMO_SECRETS.items() if k != "ApiIntegrationCode"},
    {k: v for k, v in DEMO_SECRETS.items() if k != "Secret"},
])
async def test_401_on_missing_or_wrong_credentials(bare: httpx.AsyncClient,
                                                   headers: dict[str, str]) -> None:
    r = await bare.get(f"{V1}/Companies/1001", headers=headers)
    assert r.status_code == 401 and errors_of(r)


async def test_header_names_are_case_insensitive_and_a_bad_code_is_500(
        bare: httpx.AsyncClient) -> None:
    odd = {"APIIntegrationcode": DEMO_SECRETS["ApiIntegrationCode"],
           "username": DEMO_SECRETS["UserName"], "SECRET": DEMO_SECRETS["Secret"]}
    assert (await bare.get(f"{V1}/Companies/1001", headers=odd)).status_code == 200
    bad = await bare.get(f"{V1}/Companies/1001",
                         headers={**DEMO_SECRETS, "ApiIntegrationCode": "NOT-A-CODE"})
    assert bad.status_code == 500
    assert bad.json() == {"errors": ["IntegrationCode is invalid."]}


# --- queries -------------------------------------------------------------------------


@pytest.mark.parametrize(("flt", "expected"), [
    ({"op": "eq", "field": "companyNumber", "value": "acme01"}, [1001]),
    ({"op": "noteq", "field": "isActive", "value": True}, [1003]),
    ({"op": "gt", "field": "id", "value": 1129}, [1130]),
    ({"op": "gte", "field": "id", "value": 1129}, [1129, 1130]),
    ({"op": "lt", "field": "id", "value": 1002}, [1001]),
    ({"op": "lte", "field": "id", "value": 1002}, [1001, 1002]),
    ({"op": "beginsWith", "field": "companyName", "value": "twin"}, [1002]),
    ({"op": "endsWith", "field": "companyName", "value": "LABS"}, [1007]),
    ({"op": "contains", "field": "companyName", "value": "roast"}, [1004]),
    ({"op": "in", "field": "companyNumber", "value": ["DUAL01", "POST01", "NOPE"]},
     [1005, 1006]),
])
async def test_filter_operators(client: httpx.AsyncClient, flt: dict[str, Any],
                                expected: list[int]) -> None:
    assert await ids(client, "Companies", [flt]) == expected


async def test_exist_notexist_notin_and_nested_groups(client: httpx.AsyncClient) -> None:
    # taxID is null everywhere; companyNumber everywhere
    assert await ids(client, "Companies", [{"op": "exist", "field": "taxID"}]) == []
    assert len(await ids(client, "Companies", [{"op": "notExist", "field": "taxID"}])) == 38
    fill = await ids(client, "Companies", [
        {"op": "beginsWith", "field": "companyNumber", "value": "FILL"},
        {"op": "notIn", "field": "id", "value": list(range(1101, 1129))}])
    assert fill == [1129, 1130]
    grouped = await ids(client, "Companies", [
        {"op": "or", "items": [
            {"op": "eq", "field": "companyNumber", "value": "ACME01"},
            {"op": "and", "items": [
                {"op": "beginsWith", "field": "companyNumber", "value": "FILL"},
                {"op": "lt", "field": "id", "value": 1103}]}]}])
    assert grouped == [1001, 1101, 1102]
    # keys and field names in any case; date filters compare as dates
    r = await query(client, "ContractServiceUnits", {
        "FILTER": [{"OP": "EQ", "Field": "ContractServiceID", "Value": 6001},
                   {"op": "lte", "field": "startdate", "value": "2026-11-25T00:00:00"},
                   {"op": "gte", "field": "ENDDATE", "value": "2026-11-25T00:00:00Z"}],
        "includefields": ["ID", "Units"]})
    assert r.status_code == 200
    assert [(u["id"] > 0, u["units"]) for u in r.json()["items"]] == [(True, 10)]
    assert set(r.json()["items"][0]) == {"id", "units"}


async def test_user_defined_fields_are_queryable_and_always_present(
        client: httpx.AsyncClient) -> None:
    r = await query(client, "Companies", {
        "filter": [{"op": "eq", "field": "Atria Billing ID", "udf": True, "value": "FRAC01"}],
        "IncludeFields": ["id"]})
    assert r.json()["items"] == [{"id": 1007, "userDefinedFields": [
        {"name": "Atria Billing ID", "value": "FRAC01"}]}]
    two = await query(client, "Companies", {"filter": [
        {"op": "exist", "field": "Atria Billing ID", "udf": True},
        {"op": "exist", "field": "Atria Billing ID", "udf": True}]})
    assert two.status_code == 500 and errors_of(two)


@pytest.mark.parametrize("body", [{}, {"filter": []}, {"filter": None},
                                  {"IncludeFields": ["id"]}])
async def test_a_filter_is_mandatory(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    r = await query(client, "Companies", body)
    assert r.status_code == 500 and "filter" in errors_of(r)[0]


async def test_unknown_fields_and_bad_values_are_500(client: httpx.AsyncClient) -> None:
    r = await query(client, "Companies", {"filter": ALL, "IncludeFields": ["id", "nope"]})
    assert r.status_code == 500
    assert r.json() == {"errors": ["Unable to find nope in the Companies Entity"]}
    r = await query(client, "Contracts", {"filter": [{"op": "eq", "field": "units",
                                                      "value": 1}]})
    assert errors_of(r) == ["Unable to find units in the Contracts Entity"]
    for flt in ({"op": "eq", "field": "isActive", "value": "true"},  # booleans are literal
                {"op": "eq", "field": "id", "value": "1001"},
                {"op": "like", "field": "id", "value": 1},
                {"op": "in", "field": "id", "value": 1001},
                {"op": "contains", "field": "id", "value": 1}):
        bad = await query(client, "Companies", {"filter": [flt]})
        assert bad.status_code == 500 and errors_of(bad), flt


@pytest.mark.parametrize("value", [0, 501, -1, "10", 2.5, True])
async def test_max_records_range(client: httpx.AsyncClient, value: Any) -> None:
    r = await query(client, "Companies", {"filter": ALL, "MaxRecords": value})
    assert r.status_code == 500
    assert r.json() == {"errors": ["maxCountOfRecordsToReturn must be between 1 and 500"]}


async def test_more_than_500_or_conditions_are_refused(client: httpx.AsyncClient) -> None:
    text = "Invalid query syntax. Queries are limited to 500 or fewer 'OR' conditions."
    ok = await query(client, "Companies", {"filter": [
        {"op": "in", "field": "id", "value": list(range(500))}]})
    assert ok.status_code == 200
    r = await query(client, "Companies", {"filter": [
        {"op": "in", "field": "id", "value": list(range(501))}]})
    assert r.status_code == 500 and errors_of(r) == [text]
    mixed = await query(client, "Companies", {"filter": [
        {"op": "or", "items": [{"op": "eq", "field": "id", "value": i} for i in range(300)]},
        {"op": "notIn", "field": "id", "value": list(range(201))}]})
    assert mixed.status_code == 500 and errors_of(mixed) == [text]


async def test_pages_of_500_follow_next_page_url_by_post_only(
        client: httpx.AsyncClient) -> None:
    body = {"filter": ALL, "IncludeFields": ["id", "units"]}
    total = (await client.post(f"{V1}/ContractServiceUnits/query/count",
                               json={"filter": ALL})).json()["queryCount"]
    assert total > 1000
    r = await query(client, "ContractServiceUnits", body)
    page = r.json()
    assert len(page["items"]) == 500 and page["pageDetails"]["count"] == 500
    assert page["pageDetails"]["prevPageUrl"] is None
    seen = [u["id"] for u in page["items"]]
    nxt = page["pageDetails"]["nextPageUrl"]
    assert nxt.startswith("http://at/ATServicesRest/V1.0/ContractServiceUnits/query/next?")
    got = await client.get(nxt)
    assert got.status_code == 405
    assert "does not support http method 'GET'" in got.text
    other = await client.post(nxt, json={"filter": ALL})
    assert other.status_code == 500 and errors_of(other)
    while nxt:
        r = await client.post(nxt, json=body)
        assert r.status_code == 200, r.text
        assert len(r.json()["items"]) <= 500
        seen += [u["id"] for u in r.json()["items"]]
        nxt = r.json()["pageDetails"]["nextPageUrl"]
    assert len(seen) == len(set(seen)) == total
    small = await query(client, "Companies", {"filter": ALL, "MaxRecords": 7})
    assert len(small.json()["items"]) == 7
    assert small.json()["pageDetails"]["requestCount"] == 7
    no_id = await query(client, "ContractServiceUnits", {"filter": ALL,
                                                         "IncludeFields": ["units"]})
    assert no_id.status_code == 500 and errors_of(no_id)


async def test_get_search_count_and_one_record(client: httpx.AsyncClient) -> None:
    import json

    search = json.dumps({"filter": [{"op": "eq", "field": "contractType", "value": 7},
                                    {"op": "eq", "field": "companyID", "value": 1002}]})
    r = await client.get(f"{V1}/Contracts/query", params={"search": search})
    assert [c["id"] for c in r.json()["items"]] == [5011, 5012]
    count = await client.get(f"{V1}/Contracts/query/count", params={"search": search})
    assert count.json() == {"queryCount": 2}
    one = await client.get(f"{V1}/contracts/5001")
    assert one.status_code == 200 and one.json()["item"]["contractType"] == 7
    assert one.json()["item"]["userDefinedFields"] == []
    missing = await client.get(f"{V1}/Contracts/999")
    assert missing.status_code == 404 and errors_of(missing)
    unknown = await client.post(f"{V1}/Widgets/query", json={"filter": ALL})
    assert unknown.status_code == 404
    one_page = await query(client, "Companies", {"filter": ALL})
    assert one_page.json()["pageDetails"]["nextPageUrl"] is None
    stale = await client.post(f"{V1}/Companies/query/next?paging=nope.500", json={"filter": ALL})
    assert stale.status_code == 500 and errors_of(stale)
    assert (await client.get("/ATServicesRest/V2.0/Companies/1001")).status_code == 404


async def test_field_metadata_has_the_picklists(client: httpx.AsyncClient) -> None:
    fields = {f["name"]: f for f in
              (await client.get(f"{V1}/Contracts/entityInformation/fields")).json()["fields"]}
    kinds = {p["value"]: p["label"] for p in fields["contractType"]["picklistValues"]}
    assert kinds["7"] == "Recurring Service"
    status = {p["label"]: p["value"] for p in fields["status"]["picklistValues"]}
    assert status["Active"] == "1"
    companies = (await client.get(f"{V1}/companies/entityinformation/fields")).json()
    ctype = next(f for f in companies["fields"] if f["name"] == "companyType")
    assert {p["label"] for p in ctype["picklistValues"]} >= {"Customer", "Cancellation"}
    udfs = (await client.get(f"{V1}/Companies/entityInformation/userDefinedFields")).json()
    assert [f["name"] for f in udfs["fields"]] == ["Atria Billing ID"]


async def test_non_json_post_is_refused(client: httpx.AsyncClient) -> None:
    r = await client.post(f"{V1}/Companies/query", content=b'{"filter": []}',
                          headers={"Content-Type": "text/plain"})
    assert r.status_code == 415


# --- limits --------------------------------------------------------------------------


async def test_threshold_information_counts_every_call_but_zone_lookup(
        client: httpx.AsyncClient, clock: Clock) -> None:
    url = f"{V1}/ThresholdInformation"
    first = (await client.get(url)).json()
    assert first == {"externalRequestThreshold": 10000, "requestThresholdTimeframe": 60,
                     "currentTimeframeRequestCount": 1}
    await client.get(ZONE, params={"user": DEMO_SECRETS["UserName"]})
    await client.get(f"{V1}/Companies/1001")
    assert (await client.get(url)).json()["currentTimeframeRequestCount"] == 3
    clock.advance(minutes=61)
    assert (await client.get(url)).json()["currentTimeframeRequestCount"] == 1


async def test_the_hourly_threshold_refuses_with_429(client: httpx.AsyncClient,
                                                     clock: Clock) -> None:
    assert (await client.post("/_sandbox/usage", json={"count": 9999})).json() == {
        "usage": 9999}
    assert (await client.get(f"{V1}/Companies/1001")).status_code == 200
    over = await client.get(f"{V1}/Companies/1001")
    assert over.status_code == 429 and int(over.headers["Retry-After"]) == 3600
    assert errors_of(over)
    clock.advance(minutes=30)
    assert int((await client.get(f"{V1}/Companies/1001")).headers["Retry-After"]) == 1800
    clock.advance(minutes=31)
    assert (await client.get(f"{V1}/Companies/1001")).status_code == 200


async def test_429_knob_with_retry_after(client: httpx.AsyncClient) -> None:
    await client.post("/_sandbox/faults", json={"path": "Companies", "status": 429,
                                                "retry_after": 7, "times": 1})
    r = await client.post(f"{V1}/Companies/query", json={"filter": ALL})
    assert r.status_code == 429 and r.headers["Retry-After"] == "7"
    assert (await client.post(f"{V1}/Companies/query", json={"filter": ALL})).status_code == 200


async def test_thread_threshold_per_code_and_entity(client: httpx.AsyncClient,
                                                    state: AtState) -> None:
    await client.post("/_sandbox/config", json={"latency_ms": 100})
    body = {"filter": ALL, "MaxRecords": 1}
    four = await asyncio.gather(*[query(client, "Companies", body) for _ in range(4)])
    statuses = sorted(r.status_code for r in four)
    assert statuses == [200, 200, 200, 500]
    rejected = next(r for r in four if r.status_code == 500)
    assert rejected.json() == {
        "errors": ["Thread Threshold Exceeded — The Autotask API thread threshold of 3 "
                   "threads has been exceeded."],
        "code": "Itgenatr005"}
    # another entity, or another integration code, has its own three threads
    other_code = {**DEMO_SECRETS, "ApiIntegrationCode": "OTHERINTEGRATIONCODE"}
    mixed = await asyncio.gather(
        *[query(client, "Companies", body) for _ in range(3)],
        query(client, "Contracts", body),
        client.post(f"{V1}/Companies/query", json=body, headers=other_code))
    assert [r.status_code for r in mixed] == [200] * 5
    # zone lookups are exempt
    zones = await asyncio.gather(*[client.get(ZONE, params={"user": DEMO_SECRETS["UserName"]})
                                   for _ in range(5)])
    assert {r.status_code for r in zones} == {200}
    assert state.thread_rejections == 1


# --- adjustments ---------------------------------------------------------------------


async def test_increase_on_the_child_route_reads_back(client: httpx.AsyncClient,
                                                      state: AtState) -> None:
    r = await adjust(client, {"contractID": 5001, "contractServiceID": 6001, "serviceID": 201,
                              "effectiveDate": "2026-12-01T12:00:00", "unitChange": 2}, 5001)
    assert r.status_code == 200 and isinstance(r.json()["itemId"], int)
    rows = await units_at(client, 6001)
    assert covering(rows, "2026-11-25") == 10
    assert covering(rows, "2026-12-01") == 12 and covering(rows, "2027-12-31") == 12
    assert ("2026-12-01", "2026-12-31", 12) in rows  # starts the period: no split
    assert state.adjustments[-1]["effectiveDate"] == "2026-12-01T00:00:00"


async def test_date_only_truncation_to_the_tenant_midnight_and_split(
        client: httpx.AsyncClient) -> None:
    # the vendor's example: 02:00 UTC is the evening before in a UTC−5 database
    r = await adjust(client, {"contractServiceID": 6001, "unitChange": 3,
                              "effectiveDate": "2026-12-16T02:00:00.00"}, 5001)
    assert r.status_code == 200, r.text
    rows = await units_at(client, 6001)
    assert ("2026-12-01", "2026-12-15", 10) in rows  # the earlier row ends on the date
    assert ("2026-12-15", "2026-12-31", 13) in rows  # the new one starts on it
    assert covering(rows, "2026-12-15") == 13 and covering(rows, "2026-12-14") == 10
    # noon UTC stays on its day; an explicit offset is converted too
    await client.post("/_sandbox/config", json={"tz_offset_minutes": 0})
    r = await adjust(client, {"contractServiceID": 6002, "unitChange": -2,
                              "effectiveDate": "2027-01-10T23:30:00-05:00"}, 5001)
    assert r.status_code == 200, r.text
    rows = await units_at(client, 6002)
    assert ("2027-01-11", "2027-01-31", 3) in rows and ("2027-01-01", "2027-01-11", 5) in rows


async def test_decrease_on_the_root_route(client: httpx.AsyncClient) -> None:
    r = await adjust(client, {"ContractID": 5001, "serviceId": 202, "id": 0,
                              "effectiveDate": "2026-12-01T12:00:00Z", "unitChange": -2})
    assert r.status_code == 200, r.text
    assert covering(await units_at(client, 6002), "2026-12-01") == 3


@pytest.mark.parametrize(("change", "needle"), [
    (1.5, "unitChange"), (0, "unitChange"), ("2", "unitChange"), (None, "unitChange")])
async def test_unit_change_is_a_nonzero_int32(client: httpx.AsyncClient, change: Any,
                                              needle: str) -> None:
    r = await adjust(client, {"contractServiceID": 6001, "unitChange": change,
                              "effectiveDate": "2026-12-01T12:00:00"}, 5001)
    assert r.status_code == 500 and needle in errors_of(r)[0]
    assert covering(await units_at(client, 6001), "2026-12-01") == 10


async def test_posted_periods_and_contract_dates_refuse(client: httpx.AsyncClient) -> None:
    posted = ("Unable to make changes as it would result in the deletion/modification of an "
              "already approved and posted contract period.")
    r = await adjust(client, {"contractServiceID": 6051, "unitChange": 2,
                              "effectiveDate": "2026-12-01T12:00:00"}, 5051)
    assert r.status_code == 500 and errors_of(r) == [posted]
    r = await adjust(client, {"contractServiceID": 6001, "unitChange": 2,
                              "effectiveDate": "2026-10-15T12:00:00"}, 5001)
    assert errors_of(r) == [posted]
    ok = await adjust(client, {"contractServiceID": 6051, "unitChange": 2,
                               "effectiveDate": "2027-01-01T12:00:00"}, 5051)
    assert ok.status_code == 200
    assert covering(await units_at(client, 6051), "2026-12-15") == 4
    for when in ("2028-01-15T12:00:00", "2025-12-01T12:00:00"):
        out = await adjust(client, {"contractServiceID": 6001, "unitChange": 1,
                                    "effectiveDate": when}, 5001)
        assert out.status_code == 500 and "outside the contract" in errors_of(out)[0]


async def test_an_adjustment_naming_a_new_service_creates_the_line(
        client: httpx.AsyncClient) -> None:
    r = await adjust(client, {"contractID": 5001, "serviceID": 204, "unitChange": 7,
                              "effectiveDate": "2026-12-01T12:00:00"}, 5001)
    assert r.status_code == 200, r.text
    lines = await query(client, "ContractServices", {"filter": [
        {"op": "eq", "field": "contractID", "value": 5001},
        {"op": "eq", "field": "serviceID", "value": 204}]})
    [line] = lines.json()["items"]
    assert line["unitPrice"] == 6.5
    rows = await units_at(client, line["id"])
    assert rows[0] == ("2026-12-01", "2026-12-31", 7) and covering(rows, "2026-11-25") == 0


async def test_removal_to_zero_is_refused_unless_the_knob_allows(
        client: httpx.AsyncClient) -> None:
    body = {"contractServiceID": 6004, "unitChange": -4, "effectiveDate": "2026-12-01T12:00:00"}
    r = await adjust(client, body, 5001)
    assert r.status_code == 500 and "0 units" in errors_of(r)[0]
    below = await adjust(client, {**body, "unitChange": -5}, 5001)
    assert below.status_code == 500 and "negative" in errors_of(below)[0]
    await client.post("/_sandbox/config", json={"zero_units": "accept"})
    assert (await adjust(client, body, 5001)).status_code == 200
    assert covering(await units_at(client, 6004), "2026-12-01") == 0


@pytest.mark.parametrize(("contract", "body"), [
    (5003, {"contractID": 5003, "serviceID": 201}),  # Block Hours, not Recurring Service
    (5001, {"serviceID": 207}),  # inactive service
    (5001, {"contractServiceID": 6001, "allowRepeatService": True}),
    (5001, {"contractServiceID": 6011}),  # another contract's line
    (5001, {"contractServiceID": 6001, "contractID": 5011}),
    (None, {"serviceID": 201}),  # neither contractServiceID nor contractID
    (5001, {"contractServiceID": 6001, "effectiveDate": None}),
    (5001, {"contractServiceID": 6001, "effectiveDate": "soon"}),
])
async def test_adjustments_the_tenant_refuses(client: httpx.AsyncClient, contract: int | None,
                                              body: dict[str, Any]) -> None:
    full = {"unitChange": 1, "effectiveDate": "2026-12-01T12:00:00", **body}
    r = await adjust(client, {k: v for k, v in full.items() if v is not None}, contract)
    assert r.status_code == 500 and errors_of(r)


async def test_add_a_service_on_the_child_route(client: httpx.AsyncClient) -> None:
    r = await client.post(f"{V1}/Contracts/5031/Services",
                          json={"contractID": 5031, "serviceID": 203, "unitPrice": 40.0})
    assert r.status_code == 200, r.text
    cs = r.json()["itemId"]
    rows = await units_at(client, cs)
    assert rows[0] == ("2026-11-01", "2026-11-30", 0)  # from the first unposted period
    again = await client.post(f"{V1}/Contracts/5031/Services",
                              json={"serviceID": 203, "unitPrice": 40.0})
    assert again.status_code == 500 and errors_of(again)
    r = await adjust(client, {"contractServiceID": cs, "unitChange": 2,
                              "effectiveDate": "2026-12-01T12:00:00"}, 5031)
    assert r.status_code == 200
    assert covering(await units_at(client, cs), "2026-12-01") == 2


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "ContractServiceAdjustments"),
    ("GET", "ContractServiceAdjustments/800001"),
    ("PATCH", "ContractServiceAdjustments"),
    ("DELETE", "ContractServiceAdjustments/800001"),
    ("GET", "Contracts/5001/ServiceAdjustments"),
    ("PATCH", "Contracts/5001/ServiceAdjustments"),
    ("POST", "ContractServiceUnits"),
    ("PATCH", "ContractServiceUnits"),
    ("PUT", "ContractServiceUnits/900001"),
    ("DELETE", "ContractServiceUnits/900001"),
    ("PATCH", "Companies"),
    ("POST", "ContractServices"),
])
async def test_405_on_what_the_api_does_not_offer(client: httpx.AsyncClient, method: str,
                                                  path: str) -> None:
    r = await client.request(method, f"{V1}/{path}", json={"id": 1})
    assert r.status_code == 405
    assert f"does not support http method '{method}'" in r.text


# --- admin, counters, demo data -------------------------------------------------------


async def test_reset_seed_state_and_route_counters(client: httpx.AsyncClient) -> None:
    await adjust(client, {"contractServiceID": 6001, "unitChange": 2,
                          "effectiveDate": "2026-12-01T12:00:00"}, 5001)
    stats = (await client.get("/_sandbox/stats")).json()
    assert stats["byEndpoint"]["POST Contracts/{id}/ServiceAdjustments"] == 1
    assert (await client.get("/_sandbox/state")).json()["adjustments"][0]["unitChange"] == 2
    await client.post("/_sandbox/reset")
    assert covering(await units_at(client, 6001), "2026-12-01") == 10
    seed = {"users": [{"userName": DEMO_SECRETS["UserName"], "secret": "s2"}],
            "integrationCodes": [DEMO_SECRETS["ApiIntegrationCode"]],
            "services": [{"id": 1, "name": "X", "unitPrice": 1.0, "unitCost": 0.5}],
            "companies": [{"id": 9, "companyName": "Solo", "companyNumber": "SOLO",
                           "contracts": [{"id": 90, "contractName": "Solo RS",
                                          "startDate": "2026-01-01", "endDate": "2026-12-31",
                                          "services": [{"id": 91, "serviceID": 1,
                                                        "units": 4}]}]}]}
    assert (await client.post("/_sandbox/seed", json=seed)).json() == {"seeded": True}
    assert (await client.get(f"{V1}/Companies/1001")).status_code == 401  # new secret
    headers = {**DEMO_SECRETS, "Secret": "s2"}
    r = await client.post(f"{V1}/Companies/query", json={"filter": ALL}, headers=headers)
    assert [c["companyNumber"] for c in r.json()["items"]] == ["SOLO"]
    dup = {**seed, "services": [{"id": 1, "name": "X", "unitPrice": 1},
                                {"id": 2, "name": "x", "unitPrice": 1}]}
    assert (await client.post("/_sandbox/seed", json=dup)).status_code == 400
    assert (await client.post("/_sandbox/seed")).json() == {"seeded": True}  # demo again
    assert (await client.get(f"{V1}/Companies/1001")).status_code == 200


async def test_demo_data_fires_the_situations(client: httpx.AsyncClient) -> None:
    companies = {c["companyNumber"]: c for c in (await query(client, "Companies", {
        "filter": ALL})).json()["items"]}
    assert companies["INACT01"]["isActive"] is False and "GHOST01" not in companies
    live = await ids(client, "Contracts", [
        {"op": "eq", "field": "companyID", "value": companies["TWIN01"]["id"]},
        {"op": "eq", "field": "contractType", "value": 7},
        {"op": "eq", "field": "status", "value": 1}])
    assert len(live) == 2
    assert await ids(client, "Contracts", [
        {"op": "eq", "field": "companyID", "value": companies["NOCON01"]["id"]},
        {"op": "eq", "field": "contractType", "value": 7}]) == []
    voip = await ids(client, "Services", [{"op": "eq", "field": "sku", "value": "VOIP-SEAT"},
                                          {"op": "eq", "field": "isActive", "value": True}])
    assert len(voip) == 2
    assert await ids(client, "Services", [{"op": "eq", "field": "name",
                                           "value": "LEGACY-FAX"}]) == []
    posted = await query(client, "ContractServiceUnits", {"filter": [
        {"op": "eq", "field": "contractID", "value": 5051},
        {"op": "exist", "field": "approveAndPostDate"},
        {"op": "eq", "field": "startDate", "value": "2026-12-01T00:00:00"}]})
    assert len(posted.json()["items"]) == 1
    records = sum_records(iter_records(ROOT / "sample_configs" / "demo-autotask-billing.csv",
                                       period_end=date(2026, 11, 25)))
    qty = {(r.customer_code, r.sku): r.quantity for r in records
           if r.period_end == date(2026, 11, 25)}
    assert qty[("FRC", "M365-BP")] == Decimal("2.5")
    assert qty[("ASP", "M365-BP")] == 12 and qty[("ASP", "EXO-50")] == 3
    assert ("ASP", "DNS-ZONE") not in qty and qty[("ASP", "AV-EDR")] == 7
