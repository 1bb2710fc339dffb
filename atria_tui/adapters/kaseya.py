"""Kaseya BMS v2: with `kaseya_routes`, the only module that knows its paths and fields.

The binding constraint is the hourly call budget per endpoint (1,500, older tenants 500),
so reads are shaped by call count: contracts come from one bulk paged read of the type
(not one call per account), the service catalog is read whole once, and accounts are read
in bulk pages when the tenant's account list is shorter than the list of codes to look up
(per code otherwise, since the summary endpoint filters one Account Code at a time). Only
the contract lines cost one call per contract: the (unverified) lines endpoint has no bulk
form. Calls are paced per endpoint *template* by the shared client, so a large run slows
down instead of being refused.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import urlsplit

from atria_tui.adapters.http import CallBudget, ClientOptions, HttpClient
from atria_tui.adapters.kaseya_auth import Clock, KaseyaAuth, V1Auth, lower_keys, utcnow
from atria_tui.adapters.kaseya_routes import SHIPPED, Route, fill, routes_for
from atria_tui.adapters.lines import (
    LinesTally,
    accounts_to_read,
    line_by_rereading,
    lines_of_product,
    read_lines,
)
from atria_tui.adapters.paging import Deadline, Pages
from atria_tui.adapters.values import psa_id, psa_id_value, psa_number
from atria_tui.core.model import (
    CatalogItem,
    PsaAccount,
    PsaContract,
    PsaLine,
    PsaSnapshot,
    norm,
)
from atria_tui.psa.doctor import Probe, verdict_of
from atria_tui.psa.errors import RemoteError
from atria_tui.psa.session import BudgetView, LineCache, Pace

MAX_PAGE_SIZE = 100
# No tenant has a million accounts, contracts or services; a larger count is a corrupt
# answer, and would have the adapter request ten thousand pages at once.
MAX_TOTAL_RECORDS = 1_000_000

# API hosts of the UI hosts the guide tells users to enter as ApiUrl (by region).
API_HOSTS = (
    (re.compile(r"(^|\.)([a-z0-9-]*emea[a-z0-9-]*|eu[0-9]*bms[a-z0-9-]*)\.kaseya\.com$"),
     "api.bmsemea.kaseya.com"),
    (re.compile(r"(^|\.)([a-z0-9-]*apac[a-z0-9-]*|(au|ap)[0-9]*bms[a-z0-9-]*)\.kaseya\.com$"),
     "api.bmsapac.kaseya.com"),
    (re.compile(r"^(www\.)?(na[0-9]*)?bms\.kaseya\.com$"), "api.bms.kaseya.com"),
    (re.compile(r"(^|\.)vorexlogin\.com$"), "api.vorexlogin.com"),
)


@dataclass(frozen=True)
class Bases:
    """Where the routes go: `api` (v2) and `ui` (the ApiUrl's own host), and why."""

    api: str
    ui: str
    reason: str


def bases(api_url: str) -> Bases:
    """The guide asks for the BMS *UI* URL as ApiUrl, which does not serve `/v2/…` at its
    root. A known UI host maps to its region's API host; another `*.kaseya.com` or
    `vorexlogin.com` UI host is reached through `{UI}/api2`, where the web app itself
    calls v2. Any other URL (an API host, a proxy, the sandbox) is used as given. A
    trailing `/v2` is dropped: every route path starts with it."""
    url = api_url.strip().rstrip("/")
    if url.casefold().endswith("/v2"):
        url = url[:-3]
    parts = urlsplit(url)
    host = (parts.hostname or "").casefold()
    ui = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else url
    if not host.endswith(("kaseya.com", "vorexlogin.com")) or host.startswith("api."):
        return Bases(url, url, "ApiUrl as given")
    if parts.path.strip("/"):
        return Bases(url, ui, "ApiUrl as given (it names a path)")
    for pattern, api_host in API_HOSTS:
        if pattern.search(host) and host != api_host:
            return Bases(f"https://{api_host}", ui, f"the API host of UI host {host}")
    return Bases(f"{ui}/api2", ui, f"UI host {host} has no known API host: its /api2")


def base_url(api_url: str) -> str:
    return bases(api_url).api


def _dec(value: Any, what: str) -> Decimal:
    number = psa_number(value, what)  # NaN, Infinity, 1e999 and absurd values are refused
    # JSON numbers arrive as 10.0; keep whole quantities whole so logs read "10", not "10.0".
    return number.to_integral_value() if number == number.to_integral_value() else number


def _id(row: Mapping[str, Any], what: str) -> str:
    return psa_id(row, what)


def _ended(value: Any, today: date) -> bool:
    """An end date before today; unset or unreadable dates mean open-ended, and so does a
    year before 1900 (the summary DTO's EndDate is not nullable: `0001-01-01T00:00:00`)."""
    if not isinstance(value, str) or not value.strip():
        return False
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00")).date()
    except ValueError:
        return False
    return when.year >= 1900 and when < today


def _rows(result: Any, what: str) -> list[dict[str, Any]]:
    if result is None:
        return []
    if not isinstance(result, list):
        raise RemoteError("decode", f"{what}: expected a list in 'result', got "
                       f"{type(result).__name__}")
    if not all(isinstance(r, dict) for r in result):
        raise RemoteError("decode", f"{what}: expected objects in the 'result' list")
    return [lower_keys(r) for r in result]


def _ids(rows: list[dict[str, Any]]) -> list[str]:
    return [str(r["id"]) for r in rows if r.get("id") is not None]


def _units(q: Decimal, what: str) -> int:
    """`Units` is int32 on the documented POST: a fraction is never sent (the plan refuses or
    rounds it first, TU16); one reaching here is refused before anything is sent."""
    if q != q.to_integral_value() or not -(2**31) <= q < 2**31:
        raise RemoteError("http", f"{what}: Units {q} is not a whole number Kaseya takes; "
                          "nothing was sent")
    return int(q)


def _money(q: Decimal) -> int | float:
    return int(q) if q == q.to_integral_value() else float(q)


BudgetScope = Literal["template", "path"]


class KaseyaAdapter:
    def __init__(self, api_url: str, secrets: Mapping[str, str], *,
                 options: ClientOptions | None = None, page_size: int = MAX_PAGE_SIZE,
                 today: date | None = None, clock: Clock = utcnow,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 budget: CallBudget | None = None, deadline: Deadline | None = None,
                 endpoints: Mapping[str, Any] | None = None,
                 unit_effective: date | None = None, budget_scope: BudgetScope = "template",
                 **client_kw: Any) -> None:
        """`endpoints` is the job's [endpoints] table (checked at the run's start);
        `unit_effective` the date a unit change takes effect (default: today);
        `budget_scope` whether the hourly budget counts per route template or per path."""
        self.routes = routes_for(endpoints)
        self.bases = bases(api_url)
        self.http = HttpClient(self.bases.api, options=options, sleep=sleep, budget=budget,
                               **client_kw)
        self.ui_http = self.http
        if self.bases.ui != self.bases.api and any(r.host == "ui"
                                                   for r in self.routes.values()):
            self.ui_http = HttpClient(self.bases.ui, options=options, sleep=sleep,
                                      budget=budget, **client_kw)
        login, refresh = self.routes["login"], self.routes["refresh"]
        self.auth = KaseyaAuth(self._client(login), secrets, login_path=login.path,
                               refresh_path=refresh.path, clock=clock)
        v1 = self.routes["login_v1"]
        self.auth_v1 = V1Auth(self._client(v1), secrets, login_path=v1.path,
                              refresh_path=v1.path, clock=clock)
        self.page_size = max(1, min(page_size, MAX_PAGE_SIZE))
        self.today = today or datetime.now(UTC).date()
        self.unit_effective = unit_effective
        self.budget_scope = budget_scope
        self._services: dict[str, CatalogItem] = {}
        self._read: dict[str, list[PsaLine]] = {}  # a contract's lines, last read
        self.deadline = deadline
        self.line_cache: LineCache | None = None
        self.lines_tally = LinesTally()

    def use_line_cache(self, cache: LineCache) -> None:
        """Lines kept from an interrupted plan: the snapshot reads only the contracts it
        lacks, and hands it each one it reads (apply's reads never use it)."""
        self.line_cache = cache

    @property
    def connection_note(self) -> tuple[str, str]:
        """(base, why) for the run log: which host the v2 routes went to."""
        return self.bases.api, self.bases.reason

    async def doctor(self, contract_type: str) -> list[Probe]:
        """Which of the routes a run uses this tenant answers, read-only (see KaseyaDoctor)."""
        doc = KaseyaDoctor(self, contract_type)
        try:
            return await doc.run()
        finally:
            await doc.aclose()

    def _client(self, route: Route) -> HttpClient:
        return self.ui_http if route.host == "ui" else self.http

    def _what(self, name: str, field: str = "") -> str:
        """A route as errors name it: `GET /v2/crm/accounts/summary: accountId`."""
        return self.routes[name].label() + (f": {field}" if field else "")

    async def _call(self, name: str, *, ids: Mapping[str, str] | None = None,
                    params: Mapping[str, Any] | None = None, json_body: Any = None,
                    idempotent: bool | None = None) -> tuple[Any, int | None]:
        """One call of route `name`, on its host, signed as it says, paced by its budget
        key (the route template, or the concrete path if the job says so)."""
        route = self.routes[name]
        path = route.path.format(**(ids or {}))
        endpoint = path if self.budget_scope == "path" else route.path
        signer = self.auth_v1 if route.sign == "v1" else self.auth
        return await signer.call(route.method, path, endpoint=endpoint, params=params,
                                 json_body=json_body, idempotent=idempotent,
                                 http=self._client(route), envelope=route.envelope)

    async def aclose(self) -> None:
        await self.http.aclose()
        if self.ui_http is not self.http:
            await self.ui_http.aclose()

    @property
    def requests(self) -> int:
        extra = self.ui_http.requests if self.ui_http is not self.http else 0
        return self.http.requests + extra

    @property
    def pace(self) -> Pace:
        """Both hosts' clients together when the UI host serves some routes."""
        pace = self.http.pace
        if self.ui_http is not self.http:
            ui = self.ui_http.pace
            pace = Pace(pace.concurrency + ui.concurrency, pace.per_second + ui.per_second)
        return pace

    @property
    def budget_view(self) -> BudgetView | None:
        """The lines route's budget while a snapshot reads lines (one call per contract:
        the read the budget bounds). Counted per concrete path, each contract has a budget
        of its own, and none bounds the read."""
        route = self.routes["list_lines"]
        budget = self._client(route).budget
        if budget is None or self.budget_scope == "path" or not self.lines_tally.left:
            return None
        to_read = self.lines_tally.left
        return BudgetView("lines", budget.per_hour, budget.left(route.path), to_read,
                          budget.time_for(route.path, to_read))

    @property
    def budget_wait_seconds(self) -> float:
        """Time spent waiting for the hourly budget, for the run summary."""
        clients = {id(c): c for c in (self.http, self.ui_http)}.values()
        return sum(c.budget.waited for c in clients if c.budget)

    # -- paging ------------------------------------------------------------------------------

    async def _page(self, name: str, number: int, filters: Mapping[str, Any]
                    ) -> tuple[list[dict[str, Any]], int | None]:
        """One page, and the tenant's `totalRecords` if it sent one (bounded: the count
        decides how many pages are requested at once)."""
        route = self.routes[name]
        method, path = route.method, route.path
        paging = {"PageSize": self.page_size, "PageNumber": number}
        if method == "GET":
            result, total = await self._call(name, params={**filters, **paging})
        else:
            body = {**paging, "Filter": dict(filters)}
            # A search: a POST that only reads, so it may be retried like a GET.
            result, total = await self._call(name, json_body=body, idempotent=True)
        if total is not None and not 0 <= total <= MAX_TOTAL_RECORDS:
            raise RemoteError("decode", f"{method} {path}: totalRecords {total} is not a record "
                           f"count (0 to {MAX_TOTAL_RECORDS:,})")
        return _rows(result, f"{method} {path}"), total

    async def _all(self, name: str, filters: Mapping[str, Any] | None = None, *,
                   first: tuple[list[dict[str, Any]], int | None] | None = None
                   ) -> list[dict[str, Any]]:
        """Every page. With `totalRecords` the rest are fetched concurrently; without it,
        one by one until a short page. The first page's length is the page size the
        tenant really uses (it may cap below what was asked)."""
        flt = dict(filters or {})
        pages = Pages(self.routes[name].label(), self.deadline)
        pages.next()
        rows, total = first or await self._page(name, 1, flt)
        rows = list(rows)
        pages.got(_ids(rows), 1)
        if not rows:
            return rows
        if total is not None:
            count = math.ceil(total / len(rows))
            pages.expect(count)
            if self.deadline is not None:
                self.deadline.check(pages.what)
            rest = await asyncio.gather(*(self._page(name, n, flt)
                                          for n in range(2, count + 1)))
            for n, (page, _) in enumerate(rest, start=2):
                pages.got(_ids(page), n)
                rows.extend(page)
            return rows
        number, size = 1, len(rows)
        while size >= self.page_size:
            number += 1
            pages.next()
            page, _ = await self._page(name, number, flt)
            pages.got(_ids(page), number)
            rows.extend(page)
            size = len(page)
        return rows

    # -- reading -------------------------------------------------------------------------

    async def accounts(self, identifiers: Sequence[str]) -> dict[str, PsaAccount]:
        """Accounts by Account Code, matched exactly (trimmed, case-insensitive).

        One probe page tells how many pages the whole account list takes; when that is no
        more than the number of codes, reading it all costs fewer calls than one per code.
        A bulk read keeps every account, not only the codes asked for: the console's picker
        offers them, and a fixed Billing Identifier is re-planned without another request.
        """
        wanted = {norm(i): i.strip() for i in identifiers if i.strip()}
        if not wanted:
            return {}
        rows: list[dict[str, Any]] | None = None
        if len(wanted) > 1:
            first = await self._page("accounts", 1, {})
            page, total = first
            pages: int | None = None
            if total is not None:
                pages = math.ceil(total / len(page)) if page else 0
            elif len(page) < self.page_size:
                pages = 1
            if pages is not None and pages <= len(wanted):
                rows = await self._all("accounts", first=first)
        keep_all = rows is not None
        if rows is None:
            batches = await asyncio.gather(*(self._all("accounts", {"Filter.AccountCode": c})
                                             for _, c in sorted(wanted.items())))
            rows = [r for batch in batches for r in batch]
        found: dict[str, PsaAccount] = {}
        for r in rows:
            key = norm(str(r.get("accountcode") or ""))
            if key and (keep_all or key in wanted):
                found[key] = PsaAccount(_id(r, self._what("accounts")),
                                        str(r.get("accountcode") or ""),
                                        str(r.get("accountname") or ""),
                                        r.get("isactive") is not False)
        return found

    async def contracts(self, contract_type: str) -> list[tuple[PsaContract, str]]:
        """Every contract of the type, all accounts, in one paged read, with the account
        name: tenants that follow the swagger strictly send no accountId."""
        rows = await self._all("contracts", {"Filter.ContractType": contract_type})
        out = []
        for r in rows:
            if norm(str(r.get("contracttype") or contract_type)) != norm(contract_type):
                continue
            live = (norm(str(r.get("status") or "Active")) == "active"
                    and not _ended(r.get("enddate"), self.today))
            account = psa_id_value(r.get("accountid"), self._what("contracts", "accountId"),
                                   optional=True)
            k = PsaContract(_id(r, self._what("contracts")), account,
                            str(r.get("contractname") or ""),
                            str(r.get("contracttype") or contract_type), live)
            out.append((k, str(r.get("accountname") or "")))
        return out

    async def catalog(self) -> list[CatalogItem]:
        """All services, active and inactive: KS14 must tell "missing" from "inactive"."""
        items = [CatalogItem(_id(r, self._what("services")), str(r.get("name") or ""),
                             str(r.get("name") or ""), str(r.get("description") or ""),
                             _dec(r.get("unitprice"), self._what("services", "unitPrice")),
                             r.get("isactive") is not False,
                             cost=_dec(r.get("unitcost"), self._what("services", "unitCost")))
                 for r in await self._all("services")]
        self._services = {i.id: i for i in items}
        return items

    def _line(self, r: Mapping[str, Any], contract_id: str) -> PsaLine:
        route = self.routes["list_lines"]

        def get(name: str) -> Any:
            return r.get(route.answer_field(name))

        service_id = psa_id_value(get("serviceId"), self._what("list_lines", "serviceId"),
                                  optional=True)
        service = self._services.get(service_id)
        description = str(get("description") or "") or (service.description if service
                                                         else "")
        name = str(get("serviceName") or "") or (service.name if service else "")
        line_id = psa_id({"id": get("id")}, self._what("list_lines", route.answer_field("id")))
        # Interned: 150 services repeat on 44,000 lines; one string per value (issue 12).
        return PsaLine(id=line_id, contract_id=contract_id, product_id=sys.intern(service_id),
                       product_code=sys.intern(name), description=sys.intern(description),
                       quantity=_dec(get("units"), self._what("list_lines", "units")),
                       unit_price=_dec(get("unitPrice"), self._what("list_lines", "unitPrice")))

    async def lines(self, contract_id: str) -> list[PsaLine]:
        what = self.routes["list_lines"].label()
        if self.deadline is not None:  # one call per contract: the longest read of a plan
            self.deadline.check(what)
        result, _ = await self._call("list_lines", ids={"contractId": contract_id})
        found = [self._line(r, contract_id) for r in _rows(result, what)]
        self._read[contract_id] = found
        return found

    async def snapshot(self, identifiers: Sequence[str], skus: Sequence[str],
                       contract_type: str, *, unclaimed: bool = False) -> PsaSnapshot:
        """`skus` is not used to narrow the catalog: SKUFieldMatch may compare service
        descriptions, which no server-side filter can do."""
        snap = PsaSnapshot()
        contracts = await self.contracts(contract_type)
        if not contracts:  # no contract of this type anywhere: the type is wrong (KS12)
            snap.contract_type_valid = False
            return snap
        snap.accounts, snap.catalog = await asyncio.gather(self.accounts(identifiers),
                                                           self.catalog())
        by_id = {a.id: a for a in snap.accounts.values()}
        by_name: dict[str, list[PsaAccount]] = {}
        for a in snap.accounts.values():
            by_name.setdefault(norm(a.name), []).append(a)
        for k, account_name in contracts:
            if k.account_id:
                owners = [by_id[k.account_id]] if k.account_id in by_id else []
            else:
                owners = by_name.get(norm(account_name), [])
            for owner in owners:
                attributed = PsaContract(k.id, owner.id, k.name, k.type_name, k.live)
                snap.contracts.setdefault(owner.id, []).append(attributed)
        await read_lines(snap, self.lines,
                         accounts_to_read(snap, identifiers, unclaimed),
                         limit=self.http.slots.rule,
                         cache=self.line_cache, tally=self.lines_tally)
        return snap

    # -- writing (apply) ---------------------------------------------------------------------

    async def contract_lines(self, contract_id: str) -> list[PsaLine]:
        """All lines of one contract, for apply's once-per-contract conflict check."""
        return await self.lines(contract_id)

    async def read_line(self, contract_id: str, line_id: str) -> PsaLine | None:
        """No single-line endpoint exists: re-read the contract's lines (conflict check)."""
        return await line_by_rereading(self.lines, contract_id, line_id)

    async def find_lines(self, contract_id: str, product_code: str) -> list[PsaLine]:
        return lines_of_product(await self.lines(contract_id), product_code)

    async def set_quantity(self, contract_id: str, line_id: str, quantity: Decimal) -> None:
        """A unit change is effective-dated in BMS (it prorates): the route's body template
        carries the date the run gives (the period's start by default)."""
        route = self.routes["set_units"]
        units = _units(quantity, route.label())
        line = next((ln for ln in self._read.get(contract_id, []) if ln.id == line_id), None)
        when = self.unit_effective or self.today
        body = fill(route.body, {"units": units, "lineId": line_id, "contractId": contract_id,
                                 "serviceId": line.product_id if line else "",
                                 "effectiveDate": f"{when.isoformat()}T00:00:00"})
        await self._call("set_units", ids={"contractId": contract_id, "lineId": line_id},
                         json_body=body)

    async def add_line(self, contract_id: str, product_id: str, quantity: Decimal,
                       description: str, effective: date) -> str:
        route = self.routes["add_lines"]
        try:
            service_id = int(product_id)
        except ValueError:
            raise RemoteError("http", f"service id {product_id!r} is not a Kaseya id") from None
        service = self._services.get(product_id)
        if service is None:
            # UnitCost and UnitPrice come from the catalog; omitted they would be 0 on the
            # customer's invoice, so nothing is sent without them.
            raise RemoteError("http", f"{route.label()}: service {product_id} is not in the "
                              "catalog this run read, so its price and cost are unknown; "
                              "nothing was sent")
        body = fill(route.body, {
            "serviceId": service_id, "serviceName": service.name, "description": description,
            "units": _units(quantity, route.label()), "unitCost": _money(service.cost),
            "unitPrice": _money(service.price),
            "effectiveDate": f"{effective.isoformat()}T00:00:00"})
        result, _ = await self._call("add_lines", ids={"contractId": contract_id},
                                     json_body=body)
        first = result[0] if isinstance(result, list) and result else result
        # Kept in the journal and spliced into later URLs: checked like any id read back.
        return psa_id_value(lower_keys(first).get("id"), route.label(), optional=True)


# -- doctor: which routes this tenant answers, read-only ----------------------------------


class KaseyaDoctor:
    """Tries each route a run uses, and each shipped alternative of the unverified ones,
    with the smallest read it can; a write route is looked up with a GET on its path."""

    def __init__(self, adapter: KaseyaAdapter, contract_type: str) -> None:
        self.ad = adapter
        self.contract_type = contract_type
        self.probes: list[Probe] = []
        self._clients: dict[str, HttpClient] = {"api": adapter.http}
        if adapter.ui_http is not adapter.http:
            self._clients["ui"] = adapter.ui_http
        self._signers: dict[tuple[str, str, str], KaseyaAuth] = {}

    def client(self, host: str) -> HttpClient:
        found = self._clients.get(host)
        if found is None:
            base = self.ad.bases.ui if host == "ui" else self.ad.bases.api
            found = self._clients[host] = HttpClient(base, options=self.ad.http.options,
                                                     transport=self.ad.http.transport)
        return found

    def signer(self, routes: Mapping[str, Route], sign: str) -> KaseyaAuth:
        if routes is self.ad.routes:  # the job's own: its sessions, logged in already
            return self.ad.auth_v1 if sign == "v1" else self.ad.auth
        login = routes["login_v1"] if sign == "v1" else routes["login"]
        key = (sign, login.host, login.path)
        if key not in self._signers:
            cls = V1Auth if sign == "v1" else KaseyaAuth
            self._signers[key] = cls(self.client(login.host), self.ad.auth.secrets,
                                     login_path=login.path,
                                     refresh_path=routes["refresh"].path, clock=self.ad.auth.clock)
        return self._signers[key]

    def url(self, route: Route, path: str) -> str:
        """The path, marked when it goes to the UI host (the header names both bases)."""
        return ("UI " if route.host == "ui" and self.ad.bases.ui != self.ad.bases.api
                else "") + path

    async def _send(self, routes: Mapping[str, Route], route: Route, method: str, path: str, *,
                    params: Mapping[str, Any] | None = None, json_body: Any = None
                    ) -> tuple[int | None, Any, str]:
        """(status, parsed JSON or None, error text) of one read-only call."""
        signer = self.signer(routes, route.sign) if route.sign != "none" else None
        headers: dict[str, str] = {}
        try:
            if signer is not None:
                token, _ = await signer.token()
                headers = {"Authorization": f"Bearer {token}"}
            resp = await self.client(route.host).request(
                method, path, endpoint=route.path, params=params, json_body=json_body,
                headers=headers, idempotent=True)
        except RemoteError as exc:
            return exc.status, None, exc.message
        try:
            body = json.loads(resp.content) if resp.content else None
        except ValueError:
            return resp.status_code, _NOT_JSON, ""
        return resp.status_code, body, ""

    def add(self, step: str, candidate: str, route: Route, path: str, status: int | None,
            body: Any, error: str, *, needed: bool, write: bool = False,
            advice: str = "") -> Probe:
        verdict = verdict_of(status, body is not _NOT_JSON, write=write)
        if error and status is None:
            verdict = "unreachable"
        if verdict == "works" and route.envelope == "v2" and isinstance(body, dict) and \
                lower_keys(body).get("success") is False:
            verdict = "failed"
        if not needed:  # a shipped alternative: say only whether it would do
            advice = (f'works here: [endpoints] routes = "{candidate}"'
                      if verdict in ("works", "exists") else "not served here")
        probe = Probe(step, candidate, "GET" if write else route.method, self.url(route, path),
                      status, verdict, advice or _advice(step, verdict, route, error), needed)
        self.probes.append(probe)
        return probe

    async def run(self) -> list[Probe]:
        ad, routes = self.ad, self.ad.routes
        login = routes["login"]
        try:
            await ad.auth.token()
            self.probes.append(Probe("login", "job", "POST", self.url(login, login.path), 200,
                                     "works", "", True))
        except RemoteError as exc:
            self.add("login", "job", login, login.path, exc.status, {}, exc.message,
                     needed=True)
            return self.probes
        contract_id = await self.reads(routes)
        line_id = await self.lines(contract_id)
        await self.units(contract_id, line_id)
        return self.probes

    async def reads(self, routes: Mapping[str, Route]) -> str | None:
        page = {"PageSize": 1, "PageNumber": 1}
        contract_id = None
        for name, params, body in (
                ("accounts", page, None),
                ("contracts", {**page, "Filter.ContractType": self.contract_type}, None),
                ("services", None, {**page, "Filter": {}})):
            route = routes[name]
            status, answer, error = await self._send(routes, route, route.method, route.path,
                                                     params=params, json_body=body)
            probe = self.add(name, "job", route, route.path, status, answer, error, needed=True)
            if name == "contracts" and probe.verdict == "works":
                rows = lower_keys(answer).get("result")
                if isinstance(rows, list) and rows and isinstance(rows[0], dict):
                    contract_id = str(lower_keys(rows[0]).get("id") or "") or None
        return contract_id

    def candidates(self, name: str) -> list[tuple[str, Mapping[str, Route]]]:
        """The job's route, then each shipped alternative that differs from it."""
        seen = {_shape(self.ad.routes[name])}
        out: list[tuple[str, Mapping[str, Route]]] = [("job", self.ad.routes)]
        for set_name, routes in SHIPPED.items():
            if _shape(routes[name]) not in seen:
                seen.add(_shape(routes[name]))
                out.append((set_name, routes))
        return out

    async def lines(self, contract_id: str | None) -> str | None:
        line_id = None
        for candidate, routes in self.candidates("list_lines"):
            route = routes["list_lines"]
            needed = candidate == "job"
            if contract_id is None:
                self.probes.append(Probe("list_lines", candidate, route.method, route.path,
                                         None, "skipped", "no contract of type "
                                         f"{self.contract_type!r} to read lines of", needed))
                continue
            path = route.path.format(contractId=contract_id)
            status, answer, error = await self._send(routes, route, route.method, path)
            rows = answer if route.envelope == "plain" else lower_keys(answer).get("result")
            if isinstance(rows, dict):
                rows = lower_keys(rows).get("value")
            probe = self.add("list_lines", candidate, route, path, status, answer, error,
                             needed=needed)
            if probe.verdict == "works" and not isinstance(rows, list):
                self.probes[-1] = probe = replace(probe, verdict="failed",
                                                  advice="the answer holds no list of lines")
            if probe.verdict == "works" and rows and line_id is None:
                first = lower_keys(rows[0])
                line_id = str(first.get(route.answer_field("id")) or "") or None
        return line_id

    async def units(self, contract_id: str | None, line_id: str | None) -> None:
        """With no line read (the lines route failed), the path is looked up with line id 0:
        a server that has the route answers 405 (or the API's own 404), one that has not
        answers its 404 page."""
        for candidate, routes in self.candidates("set_units"):
            route = routes["set_units"]
            needed = candidate == "job"
            if contract_id is None:
                self.probes.append(Probe("set_units", candidate, "GET", route.path, None,
                                         "skipped", "no contract to look the route up with "
                                         "(a write route is never tried by writing)", needed))
                continue
            path = route.path.format(contractId=contract_id, lineId=line_id or "0")
            status, answer, error = await self._send(routes, route, "GET", path)
            self.add("set_units", candidate, route, path, status, answer, error,
                     needed=needed, write=True)

    async def aclose(self) -> None:
        for client in self._clients.values():
            if client is not self.ad.http and client is not self.ad.ui_http:
                await client.aclose()


_NOT_JSON = object()


def _shape(route: Route) -> tuple[str, str, str, str]:
    return (route.method, route.host, route.path, route.sign)


def _advice(step: str, verdict: str, route: Route, error: str) -> str:
    if verdict == "works":
        return ""
    if verdict == "exists":
        return (f"the path answers; {route.method} itself was not tried (it would write): "
                "check the first apply's log")
    if verdict == "refused":
        return ("check UserName, Password and Tenant, and the API user's permissions"
                if step == "login" else "the API user lacks permission for this route")
    if verdict in ("not found", "not allowed", "not JSON"):
        if step == "login":
            return ("this host does not serve the login route: set ApiUrl to your region's "
                    "API host (e.g. https://api.bms.kaseya.com)")
        return ("this host does not serve the route: use a candidate that works "
                "([endpoints] routes = \"…\"), or set its method and path in [endpoints]")
    if verdict == "unreachable":
        return f"no answer: {error}" if error else "no answer"
    return error or "see the status"
