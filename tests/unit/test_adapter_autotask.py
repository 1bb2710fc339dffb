"""The Autotask PSA adapter against the in-process emulator: zone, queries, units, deltas."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from atria_tui.adapters import autotask as at
from atria_tui.adapters.autotask import AutotaskAdapter
from atria_tui.core.model import Action, Period, Task
from atria_tui.engine.reconcile import ReconcileParams, plan
from atria_tui.psa.errors import RemoteError
from atria_tui.sandbox.autotask import create_app
from atria_tui.sandbox.autotask.state import DEMO_SECRETS, AtState

T0 = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
END = date(2026, 11, 25)
ZONE = "http://at.test/zone/ATServicesRest/V1.0/zoneInformation"
TYPE = "Recurring Service"
DEMO_IDS = ["ACME01", "TWIN01", "INACT01", "FRESH01", "DUAL01", "POST01", "FRAC01", "NOCON01",
            "GHOST01"]


class Seen(httpx.AsyncBaseTransport):
    """The emulator's transport, keeping every request it passed on."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.seen: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        return await self.inner.handle_async_request(request)

    def paths(self, method: str, part: str) -> list[httpx.Request]:
        return [r for r in self.seen if r.method == method and part in r.url.path]


@pytest.fixture(autouse=True)
def fresh_zone_cache() -> Iterator[None]:
    at._ZONES.clear()
    yield
    at._ZONES.clear()


@pytest.fixture
def state() -> AtState:
    return AtState(now=lambda: T0)


@pytest.fixture
def wire(state: AtState) -> Seen:
    return Seen(httpx.ASGITransport(app=create_app(state)))


def adapter(wire: Seen, **kw: Any) -> AutotaskAdapter:
    kw.setdefault("period_end", END)
    kw.setdefault("sleep", _no_sleep)
    return AutotaskAdapter(kw.pop("url", ZONE), DEMO_SECRETS, transport=wire, **kw)


async def _no_sleep(seconds: float) -> None:
    await asyncio.sleep(0)


def units_at(state: AtState, cs_id: int, day: date) -> int:
    rows = [r for r in state.units_of(cs_id)
            if r["startDate"][:10] <= day.isoformat() <= r["endDate"][:10]]
    return int(max(rows, key=lambda r: r["startDate"])["units"]) if rows else 0


async def test_zone_lookup_sends_no_credentials_and_is_cached_per_user(wire: Seen) -> None:
    first = adapter(wire)
    await first.snapshot(["ACME01"], [], TYPE)
    second = adapter(wire)
    await second.snapshot(["ACME01"], [], TYPE)
    lookups = wire.paths("GET", "zoneInformation")
    assert len(lookups) == 1                                  # cached for the ZoneUser
    headers = {k.casefold() for k in lookups[0].headers}
    assert not headers & {"apiintegrationcode", "username", "secret"}
    assert lookups[0].url.params["user"] == DEMO_SECRETS["UserName"]
    tenant = [r for r in wire.seen if "zoneInformation" not in r.url.path]
    assert all(r.headers["ApiIntegrationCode"] == DEMO_SECRETS["ApiIntegrationCode"]
               and r.headers["Secret"] == DEMO_SECRETS["Secret"] for r in tenant)
    assert first.connection_note == ("http://at.test/ATServicesRest/V1.0",
                                     f"zone of ZoneUser {DEMO_SECRETS['UserName']}")
    await first.aclose()
    await second.aclose()


async def test_an_unknown_zone_user_is_a_connection_failure(wire: Seen) -> None:
    ad = adapter(wire, parameters={"ZoneUser": "nobody@example.com"})
    with pytest.raises(RemoteError) as err:
        await ad.snapshot(["ACME01"], [], TYPE)
    assert "Zone information could not be determined" in err.value.message
    await ad.aclose()


async def test_paging_posts_the_same_body_to_next_page_url(state: AtState, wire: Seen) -> None:
    state.config.max_page_size = 7
    ad = adapter(wire, url="http://at.test/ATServicesRest/")
    items = [i for i in await ad.catalog() if i.can_be_line]
    assert len(items) == len(state.data.table("Services"))
    nexts = [r for r in wire.seen if "Services/query/next" in r.url.path]
    assert nexts and all(r.method == "POST" for r in nexts)
    first = next(r for r in wire.seen if r.url.path.endswith("Services/query"))
    assert all(json.loads(r.content) == json.loads(first.content) for r in nexts)
    await ad.aclose()


async def test_in_lists_are_batched_at_500_values(wire: Seen) -> None:
    ad = adapter(wire, url="http://at.test/ATServicesRest/")
    codes_ = [f"NOPE{i:04d}" for i in range(1200)] + ["ACME01"]
    found = await ad.accounts(codes_)
    assert list(found) == ["acme01"]
    queries = wire.paths("POST", "Companies/query")
    sizes = [len(json.loads(r.content)["filter"][0]["value"]) for r in queries]
    assert sorted(sizes) == [201, 500, 500]
    await ad.aclose()


async def test_snapshot_reads_units_on_the_effective_date(state: AtState, wire: Seen) -> None:
    ad = adapter(wire)
    snap = await ad.snapshot(DEMO_IDS, [], TYPE)
    acme = snap.accounts["acme01"]
    live = [k for k in snap.contracts[acme.id] if k.live]
    assert [k.name for k in live] == ["Acme Recurring Services (changes from 2026-12-01)"]
    qty = {ln.product_code: ln.quantity for ln in snap.lines[live[0].id]}
    assert qty == {"M365-BP": 10, "EXO-50": 5, "BACKUP-1TB": 3, "DNS-ZONE": 4}
    assert not snap.accounts["inact01"].active
    assert "ghost01" not in snap.accounts
    notes = [e.message for e in ad.notes() if e.code == "AP35"]
    assert "on 2026-12-01 for 5 contract(s)" in notes[0]
    assert "on 2027-01-01 for 1 contract(s)" in notes[1]
    # Posted through December: its change takes effect in January, never in a posted period.
    post = next(k for k in ad._contracts.values() if k.name == "Posted Recurring")
    assert post.effective == date(2027, 1, 1) and not post.refusal
    await ad.aclose()


async def test_the_demo_plan_fires_the_autotask_codes(wire: Seen) -> None:
    from atria_tui.core.records import iter_records, sum_records
    from tests.e2e.conftest import SAMPLES

    records = sum_records(iter_records(SAMPLES / "demo-autotask-billing.csv", period_end=END))
    period = Period(date(2026, 10, 26), END)
    params = ReconcileParams(Task.AUTOTASK, period, Period(date(2026, 9, 26), date(2026, 10, 25)),
                             (), True, "ServiceName", TYPE, "")
    ad = adapter(wire)
    ids = sorted({r.billing_identifier for r in records})
    result = plan(records, await ad.snapshot(ids, [], TYPE), params)
    by = {(i.customer_code, i.sku): (i.code, i.action) for i in result.items}
    assert by[("ASP", "M365-BP")] == ("AP07", Action.UPDATE)
    assert by[("ASP", "EXO-50")] == ("AP07", Action.UPDATE)
    assert by[("ASP", "AV-EDR")] == ("AP08", Action.ADD)
    assert by[("ASP", "DNS-ZONE")] == ("AP21", Action.ZERO)
    assert by[("ASP", "BACKUP-1TB")] == ("AP09", Action.NONE)
    assert by[("FRC", "M365-BP")] == ("AP26", Action.SKIP)
    assert by[("TWN", "")][0] == "AP31" and by[("INA", "")][0] == "AP33"
    assert by[("GHO", "")][0] == "AP14" and by[("NOC", "")][0] == "AP15"
    assert by[("FR1", "LEGACY-FAX")][0] == "AP06"
    assert by[("FR1", "M365-SECURE")] == ("AP37", Action.SKIP)        # names only a bundle
    await ad.aclose()


async def test_a_sku_matching_two_active_services_is_ambiguous(wire: Seen) -> None:
    ad = adapter(wire, service_field="sku")
    snap = await ad.snapshot(["DUAL01"], [], TYPE)
    voip = [i for i in snap.catalog if i.code == "VOIP-SEAT" and i.active]
    assert len(voip) == 2
    from atria_tui.core.model import BillingRecord

    rec = BillingRecord("DUO", "Dual", "DUAL01", "VOIP-SEAT", "seat", "seat", Decimal(5), True,
                        END)
    period = Period(date(2026, 10, 26), END)
    params = ReconcileParams(Task.AUTOTASK, period, period, (), True, "ServiceName", TYPE, "")
    result = plan([rec], snap, params)
    assert [i.code for i in result.items] == ["AP32"]
    await ad.aclose()


async def test_a_write_is_a_delta_from_a_fresh_read(state: AtState, wire: Seen) -> None:
    ad = adapter(wire)
    snap = await ad.snapshot(["ACME01"], [], TYPE)
    line = next(ln for ln in snap.lines["5001"] if ln.product_code == "M365-BP")
    # Someone adds 3 units in Autotask after the preview read 10.
    state.adjust(state.data.table("ContractServices")[6001], date(2026, 12, 1), 3)
    fresh = {ln.id: ln.quantity for ln in await ad.contract_lines("5001")}
    assert fresh[line.id] == 13
    await ad.set_quantity("5001", line.id, Decimal(12))
    assert [a["unitChange"] for a in state.adjustments] == [-1]   # 12 − 13, not 12 − 10
    assert state.adjustments[0]["effectiveDate"] == "2026-12-01T00:00:00"
    assert units_at(state, 6001, date(2026, 12, 1)) == 12
    assert units_at(state, 6001, date(2026, 11, 15)) == 10     # the posted/billed past kept
    # Asked again for the same target (a retry after a lost answer), it reads first and
    # finds nothing to send: the delta is never taken from a read a write has used.
    await ad.set_quantity("5001", line.id, Decimal(12))
    assert len(state.adjustments) == 1
    await ad.aclose()


async def test_a_new_service_is_an_adjustment_naming_contract_and_service(
        state: AtState, wire: Seen) -> None:
    ad = adapter(wire)
    snap = await ad.snapshot(["ACME01"], [], TYPE)
    edr = next(i for i in snap.catalog if i.code == "AV-EDR")
    new_id = await ad.add_line("5001", edr.id, Decimal(7), "EDR", date(2026, 10, 26))
    body = state.adjustments[-1]
    assert body["unitChange"] == 7 and body["serviceID"] == int(edr.id)
    assert units_at(state, int(new_id), date(2026, 12, 1)) == 7
    await ad.aclose()


async def test_zero_units_refused_is_named_and_left(state: AtState, wire: Seen) -> None:
    ad = adapter(wire)
    await ad.snapshot(["ACME01"], [], TYPE)
    with pytest.raises(RemoteError) as err:
        await ad.set_quantity("5001", "6004", Decimal(0))
    assert err.value.code == "AP34" and not err.value.maybe_landed
    assert state.adjustments == [] and units_at(state, 6004, date(2026, 12, 1)) == 4
    state.config.zero_units = "accept"
    await ad.set_quantity("5001", "6004", Decimal(0))
    assert units_at(state, 6004, date(2026, 12, 1)) == 0
    await ad.aclose()


async def test_a_given_date_in_a_posted_period_is_refused_before_sending(
        state: AtState, wire: Seen) -> None:
    ad = adapter(wire, effective_date="2026-12-15")
    snap = await ad.snapshot(["POST01", "ACME01"], [], TYPE)
    assert snap.refused["5051"][0] == "AP27" and "5001" not in snap.refused
    with pytest.raises(RemoteError) as err:
        await ad.set_quantity("5051", "6051", Decimal(6))
    assert err.value.code == "AP27" and state.adjustments == []
    await ad.set_quantity("5001", "6001", Decimal(11))           # prorated mid-December
    assert units_at(state, 6001, date(2026, 12, 15)) == 11
    assert units_at(state, 6001, date(2026, 12, 14)) == 10
    await ad.aclose()


async def test_fractional_units_never_reach_the_wire(state: AtState, wire: Seen) -> None:
    ad = adapter(wire)
    await ad.snapshot(["FRAC01"], [], TYPE)
    with pytest.raises(RemoteError) as err:
        await ad.set_quantity("5061", "6061", Decimal("2.5"))
    assert err.value.code == "AP26" and state.adjustments == []
    await ad.aclose()


async def test_preflight_reads_the_threshold_and_paces_to_the_share(
        state: AtState, wire: Seen) -> None:
    state.preset_usage(2000)
    ad = adapter(wire, budget_share=0.25)
    entries = await ad.preflight()
    assert [e.code for e in entries] == ["TU14", "AP29"]
    assert "2,001 of 10,000" in entries[1].message          # the call itself counts
    assert "may use 2,500" in entries[1].message
    assert ad._http is not None and ad._http.budget is not None
    assert ad._http.budget.per_hour == 2500
    await ad.aclose()
    state.preset_usage(9990)
    short = adapter(wire)
    with pytest.raises(RemoteError) as err:
        await short.preflight()
    assert err.value.code == "AP28"
    await short.aclose()


async def test_a_thread_threshold_refusal_waits_and_is_noted(state: AtState, wire: Seen) -> None:
    state.config.thread_limit = 1
    state.config.latency_ms = 20
    ad = adapter(wire, sleep=asyncio.sleep)  # waits of 0.5 s: the slot frees meanwhile
    snap = await ad.snapshot(DEMO_IDS, [], TYPE)
    assert state.thread_rejections > 0
    assert {ln.quantity for ln in snap.lines["5051"]} == {4}
    notes = [e for e in ad.notes() if e.code == "AP30"]
    assert notes and str(state.thread_rejections) in notes[0].message
    await ad.aclose()


async def test_a_500_with_errors_is_not_retried(state: AtState, wire: Seen) -> None:
    ad = adapter(wire, company_field="noSuchField")
    with pytest.raises(RemoteError) as err:
        await ad.accounts(["ACME01"])
    assert err.value.status == 500 and "noSuchField" in err.value.message
    assert not err.value.maybe_landed and err.value.code == "AP13"
    assert len(wire.paths("POST", "Companies/query")) == 1
    await ad.aclose()


async def test_a_429_is_waited_out_per_retry_after(state: AtState, wire: Seen) -> None:
    from atria_tui.sandbox.autotask.state import FaultRule

    state.faults.append(FaultRule.parse({"path": "Companies/query", "status": 429,
                                         "retry_after": 2, "times": 1}))
    ad = adapter(wire)
    found = await ad.accounts(["ACME01"])
    assert list(found) == ["acme01"]
    assert len(wire.paths("POST", "Companies/query")) == 2
    await ad.aclose()


async def test_doctor_checks_zone_auth_threshold_and_fields(wire: Seen) -> None:
    ad = adapter(wire)
    probes = await ad.doctor(TYPE)
    got = {p.step: p.verdict for p in probes}
    assert got == {"zone": "works", "threshold": "works", "contract type": "works",
                   "company field": "works", "service field": "works", "units": "works",
                   "adjustments": "exists"}
    await ad.aclose()
    bad = AutotaskAdapter(ZONE, {**DEMO_SECRETS, "Secret": "wrong"}, transport=wire,
                          period_end=END)
    assert [(p.step, p.verdict) for p in await bad.doctor(TYPE)][-1] == ("threshold", "refused")
    await bad.aclose()


@pytest.mark.parametrize("answer", ["https://evil.example/ATServicesRest/",
                                    "http://webservices5.autotask.net/ATServicesRest/"])
async def test_a_zone_answer_never_sends_the_secrets_elsewhere(answer: str) -> None:
    sent: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"zoneName": "x", "url": answer, "ci": 1})

    ad = AutotaskAdapter("https://webservices.autotask.net/ATServicesRest/V1.0/zoneInformation",
                         DEMO_SECRETS, transport=httpx.MockTransport(handle), period_end=END)
    with pytest.raises(RemoteError):
        await ad.snapshot(["ACME01"], [], TYPE)
    assert len(sent) == 1 and "zoneInformation" in sent[0].url.path   # nothing else sent
    await ad.aclose()


async def test_a_read_that_overlapped_a_write_is_not_used(state: AtState, wire: Seen) -> None:
    ad = adapter(wire)
    await ad.contract_lines("5001")                     # EXO-50 read as 5
    state.adjust(state.data.table("ContractServices")[6002], date(2026, 12, 1), 3)  # now 8
    ad._posts["5001"] = 1          # a write to the contract began after that read
    await ad.set_quantity("5001", "6002", Decimal(3))
    assert [a["unitChange"] for a in state.adjustments] == [-5]          # 3 − 8, read again
    await ad.aclose()
