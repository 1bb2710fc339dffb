"""The Kaseya BMS adapter against the in-process emulator: reads, paging, tokens, budget, writes."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from atria_tui.adapters.http import CallBudget, ClientOptions
from atria_tui.adapters.kaseya import KaseyaAdapter, bases
from atria_tui.adapters.kaseya_routes import V2, RouteError, routes_for
from atria_tui.core.model import Action, Period, Task, norm
from atria_tui.core.records import read_records, sum_records
from atria_tui.engine.reconcile import MatchRule, ReconcileParams, plan
from atria_tui.psa.errors import RemoteError
from atria_tui.sandbox import kaseya
from atria_tui.sandbox.embedded import EMBEDDED
from atria_tui.sandbox.kaseya.state import DEMO_SECRETS, FaultRule, KsState
from tests.sandbox_helpers import Clock, ks_state

T0 = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
TODAY = date(2026, 11, 26)
TYPE = "Recurring Services"
DEMO_IDS = ["ACME01", "FRESH01", "NOCON01", "GHOST01", "OLD01", "FAULT01", "AMB01", "BIG01"]
# Every identifier known to the PSA: lines are read for these accounts only.
KNOWN_IDS = [i for i in DEMO_IDS if i != "GHOST01"]
DEMO_CSV = Path(__file__).resolve().parents[2] / "sample_configs" / "demo-kaseya-billing.csv"
LINES = V2["list_lines"].path
AUTH = "POST " + V2["login"].path
REFRESH = "POST " + V2["refresh"].path




class Hooked(httpx.AsyncBaseTransport):
    """The emulator's transport, with a look at every request and a way to rewrite answers."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.seen: list[httpx.Request] = []
        self.before: Callable[[int], None] | None = None
        self.rewrite: Callable[[httpx.Request, Any], Any] | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        if self.before:
            self.before(len(self.seen))
        resp = await self.inner.handle_async_request(request)
        if self.rewrite is None:
            return resp
        await resp.aread()
        body = self.rewrite(request, json.loads(resp.content))
        return httpx.Response(resp.status_code, json=body)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def state(clock: Clock) -> KsState:
    return ks_state(now=clock)


@pytest.fixture
def transport(state: KsState) -> Hooked:
    return Hooked(httpx.ASGITransport(app=kaseya.create_app(state)))


@pytest.fixture
def make(transport: Hooked, clock: Clock) -> Callable[..., KaseyaAdapter]:
    def build(**kw: Any) -> KaseyaAdapter:
        kw.setdefault("options", ClientOptions(retries=1, backoff=0))
        secrets = kw.pop("secrets", DEMO_SECRETS)
        return KaseyaAdapter(kw.pop("api_url", "http://ks.test"), secrets, today=TODAY,
                             clock=clock, transport=transport, **kw)

    return build


def pages(n: int, size: int = 100) -> int:
    return max(1, math.ceil(n / size))


# --- snapshot of the demo scenario ---------------------------------------------------------


async def test_demo_snapshot_has_the_scenario_and_costs_pages_plus_one_per_contract(
        make: Callable[..., KaseyaAdapter], state: KsState) -> None:
    ad = make()
    snap = await ad.snapshot(KNOWN_IDS, ["M365-BP"], TYPE)
    await ad.aclose()
    assert snap.contract_type_valid and not snap.line_errors
    # The bulk account read keeps every account (the console's picker offers them).
    assert set(snap.accounts) >= {norm(i) for i in KNOWN_IDS} and "ghost01" not in snap.accounts
    assert len(snap.accounts) == len(state.accounts)
    acme = snap.accounts["acme01"]
    assert (acme.id, acme.name) == ("1001", "Acme Services Pty")
    # ACME: the ended 2025 contract is kept but not live; the Block Hours one is not read.
    assert [(k.id, k.live) for k in snap.contracts["1001"]] == [("2001", False), ("2002", True)]
    assert "1004" not in snap.contracts  # NOCON01: only Block Hours → KS05
    lines = {ln.product_code: ln for ln in snap.lines["2002"]}
    assert {c: ln.quantity for c, ln in lines.items()} == {
        "M365-BP": 10, "EXO-50": 5, "BACKUP-1TB": 3, "ONSITE-HR": 4}
    m365 = lines["M365-BP"]
    assert (m365.product_id, m365.unit_price) == ("101", Decimal(22))
    assert m365.description.startswith("M365-BP: ")
    assert [ln.quantity for ln in snap.lines["2008"]] == [2, 3]  # AMB01: two M365-BP lines
    assert len(snap.lines["2009"]) == 40
    cat = {i.code: i for i in snap.catalog}
    assert len(cat) == len(state.services) and cat["TEAMS-PHONE"].active is False

    live_read = set(snap.lines)
    assert live_read == {"2002", "2004", "2006", "2007", "2008", "2009"}
    n_contracts = sum(c.type == TYPE for c in state.contracts.values())
    expected = (1 + pages(n_contracts) + pages(len(state.accounts))
                + pages(len(state.services)) + len(live_read))
    assert ad.requests == expected == state.stats.total
    assert state.stats.by_endpoint[f"GET {LINES}"] == len(live_read)


async def test_demo_plan_matches_the_scenario_table(make: Callable[..., KaseyaAdapter]) -> None:
    period = Period(date(2026, 10, 26), date(2026, 11, 25))
    previous = Period(date(2026, 9, 26), date(2026, 10, 25))
    records = read_records(DEMO_CSV, period_end=period.end, previous_end=previous.end)
    ad = make()
    snap = await ad.snapshot(KNOWN_IDS, [], TYPE)
    await ad.aclose()
    result = plan(records, snap, ReconcileParams(Task.KASEYA, period, previous,
                                                 contract_type=TYPE))
    got = {(i.customer_code, i.sku): (i.code, i.psa_quantity, i.atria_quantity)
           for i in result.items if i.customer_code != "BIG"}
    # Records summed as they are read make the very same plan (services read that way).
    summed = plan(sum_records(records), snap, ReconcileParams(Task.KASEYA, period, previous,
                                                              contract_type=TYPE))
    assert len(sum_records(records)) < len(records)
    assert [(i.key, i.code, i.message, i.atria_quantity, i.description) for i in summed.items] \
        == [(i.key, i.code, i.message, i.atria_quantity, i.description) for i in result.items]
    assert got == {
        ("AMB", "M365-BP"): ("TU03", None, 5),  # two live lines: ambiguous, skipped
        ("ASP", "AV-EDR"): ("KS06", None, 7),
        ("ASP", "EXO-50"): ("KS04", 5, 5),
        ("ASP", "M365-BP"): ("KS07", 10, 12),
        ("ASP", "BACKUP-1TB"): ("KS11", 3, 0),
        ("FLT", "M365-BP"): ("KS07", 4, 6),
        ("FR1", ""): ("KS23", None, 1),
        ("FR1", "LEGACY-FAX"): ("KS14", None, 2),
        ("FR1", "M365-BP"): ("KS04", 3, 3),
        ("GHO", ""): ("KS22", None, None),
        ("NOC", ""): ("KS05", None, None),
        ("UJA", ""): ("KS09", None, None),
        ("OLD", "EXO-50"): ("KS11", 5, 0),
        ("OLD", "M365-BP"): ("KS11", 5, 0),
    }  # ONSITE-HR (never billed by Atria) is absent: never touched
    big = [i for i in result.items if i.customer_code == "BIG"]
    assert len(big) == 40 and {i.code for i in big} == {"KS04", "KS07"}
    assert all(i.action is not Action.SKIP for i in big)


@pytest.mark.parametrize("mode, line_key, item_key", [
    ("ServiceName", "m365-bp", "m365-bp"),
    ("Description", "m365-bp: microsoft 365 business premium",
     "m365-bp: microsoft 365 business premium"),
    ("SKUDescription", "m365-bp", "m365-bp"),
])
async def test_sku_field_match_modes_key_lines_and_services(
        make: Callable[..., KaseyaAdapter], mode: str, line_key: str, item_key: str) -> None:
    ad = make()
    snap = await ad.snapshot(["ACME01"], [], TYPE)
    await ad.aclose()
    rule = MatchRule(Task.KASEYA, mode)
    line = next(ln for ln in snap.lines["2002"] if ln.product_id == "101")
    item = next(i for i in snap.catalog if i.id == "101")
    assert rule.line_key(line) == line_key
    assert rule.item_key(item) == item_key


async def test_line_without_description_takes_the_services(
        make: Callable[..., KaseyaAdapter], state: KsState) -> None:
    state.lines[3003].description = ""
    ad = make()
    snap = await ad.snapshot(["ACME01"], [], TYPE)
    await ad.aclose()
    line = next(ln for ln in snap.lines["2002"] if ln.id == "3003")
    assert line.description == state.services[101].description


async def test_unknown_contract_type_is_invalid_and_reads_nothing_else(
        make: Callable[..., KaseyaAdapter], state: KsState) -> None:
    ad = make()
    snap = await ad.snapshot(KNOWN_IDS, [], "Recuring Services")
    await ad.aclose()
    assert snap.contract_type_valid is False
    assert ad.requests == 2  # login + the contracts read


# --- paging, account strategy, URLs --------------------------------------------------------


async def test_small_pages_still_read_everything(make: Callable[..., KaseyaAdapter],
                                                 state: KsState) -> None:
    state.config.max_page_size = 10  # the tenant caps below what the adapter asks (100)
    ad = make()
    snap = await ad.snapshot(KNOWN_IDS, [], TYPE)
    await ad.aclose()
    assert len(snap.catalog) == len(state.services) == 47
    assert {norm(i) for i in KNOWN_IDS} <= set(snap.accounts)
    assert state.stats.by_endpoint["POST " + V2["services"].path] == 5


async def test_page_size_is_capped_at_100_and_numbered_from_1(
        make: Callable[..., KaseyaAdapter], transport: Hooked) -> None:
    ad = make(page_size=1000)
    await ad.snapshot(["ACME01"], [], TYPE)
    await ad.aclose()
    gets = [r for r in transport.seen if r.url.path == V2["contracts"].path]
    assert gets[0].url.params["PageSize"] == "100" and gets[0].url.params["PageNumber"] == "1"
    assert gets[0].url.params["Filter.ContractType"] == TYPE
    search = next(r for r in transport.seen if r.url.path == V2["services"].path)
    assert json.loads(search.content)["PageSize"] == 100


async def test_short_pages_without_total_stop_paging(make: Callable[..., KaseyaAdapter],
                                                     transport: Hooked, state: KsState) -> None:
    def drop_total(request: httpx.Request, body: Any) -> Any:
        body.pop("totalRecords", None)
        return body

    transport.rewrite = drop_total
    ad = make(page_size=20)
    snap = await ad.snapshot(["ACME01", "BIG01"], [], TYPE)
    await ad.aclose()
    assert len(snap.catalog) == 47
    assert state.stats.by_endpoint["POST " + V2["services"].path] == 3  # 20, 20, 7


async def test_few_codes_in_a_big_tenant_are_looked_up_one_by_one(
        make: Callable[..., KaseyaAdapter], transport: Hooked, state: KsState) -> None:
    state.config.max_page_size = 10  # 42 accounts = 5 pages > 2 codes
    ad = make()
    snap = await ad.snapshot([" acme01 ", "Fresh01"], [], TYPE)
    await ad.aclose()
    assert set(snap.accounts) == {"acme01", "fresh01"}
    codes = [r.url.params.get("Filter.AccountCode") for r in transport.seen
             if r.url.path == V2["accounts"].path]
    assert codes == [None, "acme01", "Fresh01"]  # one probe, then one call per code


async def test_contracts_without_account_id_are_attributed_by_name(
        make: Callable[..., KaseyaAdapter], transport: Hooked) -> None:
    def strip_ids(request: httpx.Request, body: Any) -> Any:
        if request.url.path == V2["contracts"].path:
            for row in body["result"]:
                row.pop("accountId")
        return body

    transport.rewrite = strip_ids
    ad = make()
    snap = await ad.snapshot(["ACME01", "FRESH01"], [], TYPE)
    await ad.aclose()
    assert [k.id for k in snap.contracts["1001"]] == ["2001", "2002"]
    assert [k.id for k in snap.contracts["1002"]] == ["2004"]
    assert "1003" not in snap.contracts      # NOCON01: only a Block Hours contract


@pytest.mark.parametrize("api_url, api, ui", [
    ("https://api.bms.kaseya.com/v2/", "https://api.bms.kaseya.com", "https://api.bms.kaseya.com"),
    ("https://api.bmsemea.kaseya.com", "https://api.bmsemea.kaseya.com",
     "https://api.bmsemea.kaseya.com"),
    # The UI URL the guide asks for: mapped to the region's API host, never /v2 doubled.
    ("https://bms.kaseya.com/", "https://api.bms.kaseya.com", "https://bms.kaseya.com"),
    ("https://na1bms.kaseya.com/v2", "https://api.bms.kaseya.com", "https://na1bms.kaseya.com"),
    ("https://eu1bms.kaseya.com", "https://api.bmsemea.kaseya.com", "https://eu1bms.kaseya.com"),
    ("https://bmsemea.kaseya.com", "https://api.bmsemea.kaseya.com",
     "https://bmsemea.kaseya.com"),
    ("https://bmsapac.kaseya.com", "https://api.bmsapac.kaseya.com",
     "https://bmsapac.kaseya.com"),
    ("https://acme.vorexlogin.com", "https://api.vorexlogin.com", "https://acme.vorexlogin.com"),
    # A UI host of no known region: the web app's own route to v2.
    (" https://na1bmspreview.kaseya.com ", "https://na1bmspreview.kaseya.com/api2",
     "https://na1bmspreview.kaseya.com"),
    # Anything else (a proxy, the sandbox) as given.
    ("http://127.0.0.1:8765/kaseya/v2", "http://127.0.0.1:8765/kaseya",
     "http://127.0.0.1:8765/kaseya"),
])
def test_the_api_base_of_an_api_url(api_url: str, api: str, ui: str) -> None:
    found = bases(api_url)
    assert (found.api, found.ui) == (api, ui)
    assert "/v2/v2" not in found.api + V2["accounts"].path


async def test_api_url_ending_in_v2_works(make: Callable[..., KaseyaAdapter]) -> None:
    ad = make(api_url="http://ks.test/v2/")
    snap = await ad.snapshot(["ACME01"], [], TYPE)
    await ad.aclose()
    assert "acme01" in snap.accounts


async def test_sandbox_url_is_served_in_process_by_the_transport_the_edge_hands_in() -> None:
    ad = KaseyaAdapter("sandbox://kaseya", DEMO_SECRETS, today=TODAY,
                       transport=EMBEDDED.transport())
    snap = await ad.snapshot(["ACME01"], [], TYPE)
    await ad.aclose()
    assert snap.accounts["acme01"].id == "1001"


async def test_a_sandbox_url_with_nothing_embedded_is_a_connection_error_that_says_so() -> None:
    ad = KaseyaAdapter("sandbox://kaseya", DEMO_SECRETS, today=TODAY,
                       options=ClientOptions(retries=0))
    with pytest.raises(RemoteError) as err:
        await ad.snapshot(["ACME01"], [], TYPE)
    await ad.aclose()
    assert err.value.kind == "connect" and "nothing is embedded" in err.value.message


# --- tokens --------------------------------------------------------------------------------


async def test_bad_password_is_an_auth_error(make: Callable[..., KaseyaAdapter]) -> None:
    ad = make(secrets={**DEMO_SECRETS, "Password": "wrong"})
    with pytest.raises(RemoteError) as err:
        await ad.snapshot(KNOWN_IDS, [], TYPE)
    await ad.aclose()
    assert err.value.kind == "auth"
    assert "Invalid username, password or tenant" in err.value.message
    assert "wrong" not in err.value.message


async def test_secret_names_are_case_insensitive(make: Callable[..., KaseyaAdapter]) -> None:
    ad = make(secrets={"username": DEMO_SECRETS["UserName"], "PASSWORD": "demo-password",
                       "tenant": "AtriaDemo"})
    snap = await ad.snapshot(["ACME01"], [], TYPE)
    await ad.aclose()
    assert "acme01" in snap.accounts


async def test_token_is_refreshed_shortly_before_it_expires(
        make: Callable[..., KaseyaAdapter], state: KsState, clock: Clock) -> None:
    ad = make()
    await ad.snapshot(["ACME01"], [], TYPE)
    state.config.latency_ms = 2  # so the concurrent calls really overlap
    clock.advance(state.config.token_ttl_seconds - 30)  # inside the renewal margin
    await asyncio.gather(*(ad.lines("2002") for _ in range(5)))  # concurrent: one refresh
    await ad.aclose()
    assert state.stats.by_endpoint[REFRESH] == 1
    assert state.stats.by_endpoint[AUTH] == 1
    assert "401" not in state.stats.by_status
    assert (ad.auth.logins, ad.auth.refreshes) == (1, 1)


async def test_token_is_not_refreshed_while_fresh(make: Callable[..., KaseyaAdapter],
                                                  state: KsState, clock: Clock) -> None:
    ad = make()
    await ad.snapshot(["ACME01"], [], TYPE)
    clock.advance(state.config.token_ttl_seconds / 2)
    await ad.lines("2002")
    await ad.aclose()
    assert REFRESH not in state.stats.by_endpoint


async def test_token_expired_mid_run_is_renewed_once_and_the_run_continues(
        make: Callable[..., KaseyaAdapter], transport: Hooked, state: KsState) -> None:
    expired: list[int] = []

    def expire_after_contracts(n: int) -> None:
        if n == 3 and not expired:  # login, contracts, then the concurrent reads
            expired.append(state.expire_tokens())

    transport.before = expire_after_contracts
    state.config.latency_ms = 2  # so the concurrent reads overlap and several see the 401
    ad = make()
    snap = await ad.snapshot(KNOWN_IDS, [], TYPE)
    await ad.aclose()
    assert expired == [1]
    assert state.stats.by_status["401"] >= 2
    assert ad.auth.logins + ad.auth.refreshes == 2  # the first login plus one renewal
    assert len(snap.lines) == 6 and len(snap.catalog) == 47


async def test_when_refresh_is_refused_it_logs_in_again(
        make: Callable[..., KaseyaAdapter], state: KsState) -> None:
    ad = make()
    await ad.lines("2002")
    state.expire_tokens()
    state.tokens.clear()  # the refresh token is gone too
    await ad.lines("2002")
    await ad.aclose()
    assert (ad.auth.logins, ad.auth.refreshes) == (2, 0)


async def test_a_second_401_is_an_auth_error(make: Callable[..., KaseyaAdapter],
                                             state: KsState) -> None:
    state.faults.append(FaultRule.parse({"path": "/services$", "status": 401, "times": 0}))
    ad = make()
    with pytest.raises(RemoteError) as err:
        await ad.lines("2002")
    await ad.aclose()
    assert err.value.kind == "auth"
    assert ad.auth.logins + ad.auth.refreshes == 2


# --- envelope and decode errors -------------------------------------------------------------


async def test_malformed_json_is_a_decode_error(make: Callable[..., KaseyaAdapter],
                                                state: KsState) -> None:
    state.faults.append(FaultRule.parse({"path": "contracts/summary", "malformed": True}))
    ad = make()
    with pytest.raises(RemoteError) as err:
        await ad.snapshot(KNOWN_IDS, [], TYPE)
    await ad.aclose()
    assert err.value.kind == "decode" and "contracts/summary" in err.value.message


@pytest.mark.parametrize("result", [{"not": "a list"}, ["x"], [{"serviceId": 1}]])
async def test_wrong_shapes_are_decode_errors(make: Callable[..., KaseyaAdapter],
                                              transport: Hooked, result: Any) -> None:
    def odd(request: httpx.Request, body: Any) -> Any:
        if request.url.path.endswith("/services"):
            body["result"] = result
        return body

    transport.rewrite = odd
    ad = make()
    with pytest.raises(RemoteError) as err:
        await ad.lines("2002")
    await ad.aclose()
    assert err.value.kind == "decode"


async def test_bad_units_are_a_decode_error(make: Callable[..., KaseyaAdapter],
                                            transport: Hooked) -> None:
    def odd(request: httpx.Request, body: Any) -> Any:
        if request.url.path.endswith("/services"):
            body["result"][0]["units"] = "lots"
        return body

    transport.rewrite = odd
    ad = make()
    with pytest.raises(RemoteError) as err:
        await ad.lines("2002")
    await ad.aclose()
    assert err.value.kind == "decode" and '"lots"' in err.value.message


async def test_pascal_case_envelope_and_items_are_read(make: Callable[..., KaseyaAdapter],
                                                       transport: Hooked) -> None:
    def pascal(request: httpx.Request, body: Any) -> Any:
        def up(obj: Any) -> Any:
            if isinstance(obj, dict):
                return {k[:1].upper() + k[1:]: up(v) for k, v in obj.items()}
            if isinstance(obj, list):
                return [up(v) for v in obj]
            return obj
        return up(body)

    transport.rewrite = pascal
    ad = make()
    snap = await ad.snapshot(["ACME01"], [], TYPE)
    await ad.aclose()
    assert [ln.quantity for ln in snap.lines["2002"]] == [10, 5, 3, 4]


async def test_success_false_is_an_http_error_with_the_vendor_message(
        make: Callable[..., KaseyaAdapter]) -> None:
    ad = make()
    with pytest.raises(RemoteError) as err:
        await ad.set_quantity("2002", "9999", Decimal(1))
    await ad.aclose()
    assert err.value.kind == "http" and err.value.status == 404
    assert "Service line 9999 was not found" in err.value.message


async def test_a_failing_line_read_is_reported_per_contract(
        make: Callable[..., KaseyaAdapter], state: KsState) -> None:
    state.faults.append(FaultRule.parse({"path": "recurringservices/2002/", "status": 500,
                                         "times": 0}))
    ad = make()
    snap = await ad.snapshot(["ACME01", "FRESH01"], [], TYPE)
    await ad.aclose()
    assert "HTTP 500" in snap.line_errors["2002"] and "2004" in snap.lines


# --- budget ----------------------------------------------------------------------------------


async def test_budget_makes_the_adapter_wait_instead_of_failing(
        make: Callable[..., KaseyaAdapter], state: KsState, clock: Clock) -> None:
    state.config.budget_per_hour = 5

    def seconds() -> float:
        return (clock() - T0).total_seconds()

    async def sleep(delay: float) -> None:
        clock.advance(delay)

    budget = CallBudget(5, clock=seconds, sleep=sleep)
    ad = make(budget=budget, sleep=sleep)
    snap = await ad.snapshot(KNOWN_IDS, [], TYPE)  # 6 line reads > 5 an hour
    await ad.aclose()
    assert len(snap.lines) == 6 and not snap.line_errors
    assert state.stats.throttled == 0
    assert ad.budget_wait_seconds >= 3000
    assert max(state.budget_used().values()) <= 5


async def test_the_budget_view_says_how_long_the_lines_left_take(
        make: Callable[..., KaseyaAdapter], state: KsState, clock: Clock) -> None:
    from atria_tui.services.engine import _budget_eta

    state.config.budget_per_hour = 5
    seen = []

    def seconds() -> float:
        return (clock() - T0).total_seconds()

    async def sleep(delay: float) -> None:
        seen.append(ad.budget_view)
        clock.advance(delay)

    budget = CallBudget(5, clock=seconds, sleep=sleep)
    ad = make(budget=budget, sleep=sleep)
    assert ad.budget_view is None                     # nothing to read yet
    await ad.snapshot(KNOWN_IDS, [], TYPE)            # 6 line reads > 5 an hour
    await ad.aclose()
    view = seen[0]
    assert view is not None and view.route == "lines" and view.per_hour == 5
    assert view.left == 0 and 1 <= view.to_read <= 5
    assert 59.9 <= view.minutes <= 60.1               # when the hour's first call ages out
    assert _budget_eta(view) == (f"; {view.to_read} call(s) to go: about 60 min at the call "
                                 "budget of 5/h for the lines route")
    assert ad.budget_view is None                     # all read


async def test_budget_comes_from_the_options(make: Callable[..., KaseyaAdapter]) -> None:
    ad = make(options=ClientOptions(budget_per_hour=1500))
    assert ad.http.budget is not None and ad.http.budget.per_hour == 1500
    assert ad.budget_wait_seconds == 0
    await ad.aclose()


async def test_lines_are_paced_per_endpoint_template(make: Callable[..., KaseyaAdapter],
                                                     ) -> None:
    ad = make()
    await ad.snapshot(KNOWN_IDS, [], TYPE)
    await ad.aclose()
    assert ad.http.by_endpoint[LINES] == 6
    assert not any("2002" in k for k in ad.http.by_endpoint)


# --- writes -----------------------------------------------------------------------------------


async def test_set_quantity_then_read_line(make: Callable[..., KaseyaAdapter],
                                           transport: Hooked, state: KsState) -> None:
    ad = make()
    await ad.set_quantity("2002", "3003", Decimal(12))
    put = next(r for r in transport.seen if r.method == "PUT")
    assert json.loads(put.content) == {"Units": 12, "EffectiveDate": "2026-11-26T00:00:00"}
    assert state.lines[3003].units == 12
    line = await ad.read_line("2002", "3003")
    assert line is not None and line.quantity == 12
    puts = len([r for r in transport.seen if r.method == "PUT"])
    with pytest.raises(RemoteError, match="not a whole number"):  # Units is int32
        await ad.set_quantity("2002", "3003", Decimal("2.5"))
    assert len([r for r in transport.seen if r.method == "PUT"]) == puts  # nothing sent
    assert state.lines[3003].units == 12
    assert await ad.read_line("2002", "99999") is None
    assert await ad.read_line("99999", "3003") is None  # contract gone: 404
    await ad.aclose()


async def test_a_failing_put_is_an_http_error(make: Callable[..., KaseyaAdapter]) -> None:
    ad = make()
    with pytest.raises(RemoteError) as err:
        await ad.set_quantity("2007", "3010", Decimal(6))
    await ad.aclose()
    assert err.value.kind == "http" and "unexpected error" in err.value.message


async def test_find_lines_and_add_line(make: Callable[..., KaseyaAdapter], state: KsState,
                                       transport: Hooked) -> None:
    ad = make()
    await ad.snapshot(["ACME01"], [], TYPE)
    assert [ln.id for ln in await ad.find_lines("2002", "m365-bp")] == ["3003"]
    assert await ad.find_lines("2002", "AV-EDR") == []
    new_id = await ad.add_line("2002", "104", Decimal(7), "AV-EDR: Endpoint", date(2026, 11, 1))
    await ad.aclose()
    line = state.lines[int(new_id)]
    assert (line.contract_id, line.service_id, line.units) == (2002, 104, 7)
    post = next(r for r in transport.seen if r.method == "POST" and r.url.path.endswith(
        "/services"))
    body = json.loads(post.content)
    assert isinstance(body, list) and body[0]["ServiceId"] == 104
    assert body[0]["ServiceName"] == "AV-EDR" and body[0]["Units"] == 7
    service = state.services[104]   # price and cost from the catalog, never a silent 0
    assert (body[0]["UnitPrice"], body[0]["UnitCost"]) == (service.unit_price,
                                                           service.unit_cost)
    assert service.unit_cost > 0 and body[0]["EffectiveDate"] == "2026-11-01T00:00:00"


async def test_a_line_of_a_service_outside_the_catalog_read_is_not_sent(
        make: Callable[..., KaseyaAdapter], transport: Hooked) -> None:
    ad = make()
    with pytest.raises(RemoteError, match="price and cost are unknown; nothing was sent"):
        await ad.add_line("2002", "104", Decimal(7), "AV-EDR", date(2026, 11, 1))
    await ad.aclose()
    assert not [r for r in transport.seen if r.method == "POST" and
                r.url.path.endswith("/services")]


@pytest.mark.parametrize("end, live", [("0001-01-01T00:00:00", True),
                                       ("1899-12-31T00:00:00", True),
                                       ("2026-01-01T00:00:00", False),
                                       ("2099-12-31T00:00:00", True)])
async def test_an_end_date_before_1900_means_no_end(make: Callable[..., KaseyaAdapter],
                                                    state: KsState, end: str,
                                                    live: bool) -> None:
    state.contracts[2002].end = end
    ad = make()
    found = dict((k.id, k.live) for k, _ in await ad.contracts(TYPE))
    await ad.aclose()
    assert found["2002"] is live


async def test_the_call_budget_counts_per_template_or_per_path(
        make: Callable[..., KaseyaAdapter]) -> None:
    for scope, keys in (("template", {V2["list_lines"].path}),
                        ("path", {V2["list_lines"].path.format(contractId=c)
                                  for c in ("2002", "2003")})):
        budget = CallBudget(1000)
        ad = make(budget=budget, budget_scope=scope)
        await ad.lines("2002")
        await ad.lines("2003")
        await ad.aclose()
        assert {k for k in budget.endpoints() if "recurringservices" in k} == keys


@pytest.mark.parametrize("table, message", [
    ({"routes": "v3"}, "[endpoints] routes = 'v3': expected one of 'v2', 'ui-api2', 'v1-lines'"),
    ({"set_unit": {"method": "PUT"}}, "[endpoints] set_unit: not a Kaseya route"),
    ({"set_units": {"verb": "PUT"}}, "[endpoints.set_units] verb: unknown key"),
    ({"set_units": {"method": "DELETE"}}, "method: expected GET, POST, PUT or PATCH"),
    ({"set_units": {"path": "v2/x"}}, "path: expected a path starting with /"),
    ({"set_units": {"path": "/v2/{contract}"}}, "unknown placeholder {contract}"),
    ({"set_units": {"body": {"Units": "{qty}"}}}, "unknown placeholder {qty}"),
    ({"list_lines": {"fields": {"quantity": "Units"}}}, "fields: unknown name 'quantity'"),
])
def test_a_bad_endpoints_table_names_the_key(table: dict[str, Any], message: str) -> None:
    with pytest.raises(RouteError) as err:
        routes_for(table)
    assert message in str(err.value)


async def test_an_overridden_route_is_what_is_sent(make: Callable[..., KaseyaAdapter],
                                                   transport: Hooked,
                                                   state: KsState) -> None:
    state.config.lines_routes = "ui-api2"
    ad = make(endpoints={"list_lines": {"path": "/api2" + V2["list_lines"].path}},
              budget_scope="path")
    lines = await ad.lines("2002")
    await ad.aclose()
    assert [ln.id for ln in lines] == ["3003", "3004", "3005", "3006"]
    assert any(r.url.path == "/api2/v2/finance/contracts/recurringservices/2002/services"
               for r in transport.seen)


async def test_an_unknown_identifier_reads_only_the_claimed_accounts_lines(
        make: Callable[..., KaseyaAdapter], state: KsState) -> None:
    """A Billing Identifier to fix no longer makes a run read every unclaimed account's
    lines (issue 12): the console reads the one a fix picks; `unclaimed` still reads all."""
    ad = make()
    known = await ad.snapshot(KNOWN_IDS, [], TYPE)
    await ad.aclose()
    ad = make()
    fixing = await ad.snapshot(DEMO_IDS, [], TYPE)            # GHOST01 is unknown
    await ad.aclose()
    ad = make()
    everything = await ad.snapshot(KNOWN_IDS, [], TYPE, unclaimed=True)
    await ad.aclose()
    assert len(known.lines) == 6
    assert set(fixing.lines) == set(known.lines)
    assert set(known.lines) < set(everything.lines)


def test_the_readme_example_of_an_endpoints_table_is_accepted() -> None:
    import re
    import tomllib

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    [block] = [b for b in re.findall(r"```toml\n(.*?)```", readme, re.S) if "[endpoints]" in b]
    routes = routes_for(tomllib.loads(block)["endpoints"])
    assert routes["list_lines"].path.startswith("/api2/v2/") and routes["list_lines"].host == "ui"
    assert routes["set_units"].method == "PATCH"
    assert routes["set_units"].body == {"Units": "{units}", "EffectiveDate": "{effectiveDate}"}
