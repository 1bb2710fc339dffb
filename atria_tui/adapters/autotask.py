"""Autotask PSA (REST v1.0): with `autotask_routes`, the only module that knows its API.

What shapes it:
- **Quantities are deltas.** A ContractService has no units field; the units in force on a
  date are a ContractServiceUnit row, and a change is a ContractServiceAdjustment whose
  `unitChange` is added to them. So a line's quantity here is the units in force *on the
  date a change would take effect* (the job's effective-date policy, by default the start of
  the first Autotask period after the Atria period with nothing approved and posted), and
  every write computes `target − current` from the adapter's latest read of that line, a
  read no write has consumed and no write to its contract overlapped (`_fresh`, stamped
  with the contract's write count `_posts`): never from the preview. A write whose answer
  was lost is therefore decided by re-reading the units (apply's journal): at the target it
  landed, at the old value it is sent again with a delta read afresh, else a conflict.
- **Reads are bulk queries**: `POST {Entity}/query` with filters and IncludeFields, paged by
  POSTing the same body to `nextPageUrl` (a GET there is refused), `in` lists of at most
  500 values; the catalogue is read whole.
- **Limits are the database's**: 10,000 requests an hour shared with every integration
  (`preflight` reads ThresholdInformation and paces this job to its share), at most 3
  requests at once per entity (reads 2, writes 1 here); a 500 with `errors` is the API's
  refusal of the request (logged, not retried) except the thread threshold (waited out).
- **The zone is looked up**, without credentials, when BaseUrl is blank, once per ZoneUser
  per process (a day at most).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx

from atria_tui.adapters import autotask_routes as R
from atria_tui.adapters.http import CallBudget, ClientOptions, HttpClient, resolve_url
from atria_tui.adapters.lines import line_by_rereading, lines_of_product
from atria_tui.adapters.paging import Deadline
from atria_tui.adapters.values import psa_number
from atria_tui.core import codes
from atria_tui.core.model import (
    CatalogItem,
    LogEntry,
    PsaAccount,
    PsaContract,
    PsaLine,
    PsaSnapshot,
    Task,
    norm,
)
from atria_tui.psa import profile_of
from atria_tui.psa.doctor import Probe, verdict_of
from atria_tui.psa.errors import RemoteError
from atria_tui.psa.session import BudgetView, Pace

MAX_PAGE = 500
MAX_IN = 500           # an `in` list counts as that many ORs; a query allows 500
MAX_PAGES = 1000       # go-autotask's cap: a walk longer than this is a broken answer
READS_PER_ENTITY = 2   # the tenant allows 3 per (integration code + entity); one is spare
THREAD_WAITS = 8       # thread-threshold rejections of one request waited out, at most
MIN_CALLS = 25         # a run needs at least this many requests of the hour's headroom
ZONE_TTL = 24 * 3600.0
DEFAULT_COMPANY_FIELD = "companyNumber"
DEFAULT_SERVICE_FIELD = "name"
WRITE_TIME = "T12:00:00"  # a date-only value sent at noon UTC lands on that date in −12…+11
VENDOR_DOMAIN = ".autotask.net"
_THREAD = re.compile(r"thread threshold", re.IGNORECASE)
_POSTED = re.compile(r"approved and posted", re.IGNORECASE)
_ZERO = re.compile(r"\b0 units\b|greater than 0|cannot be 0|zero units", re.IGNORECASE)

CODES = profile_of(Task.AUTOTASK).codes

# (zone lookup URL, user) → (monotonic time, tenant base): the zone is looked up once per
# ZoneUser in a process (go-autotask caches a day).
_ZONES: dict[tuple[str, str], tuple[float, str]] = {}


def is_zone_lookup(url: str) -> bool:
    return urlsplit(resolve_url(url)).path.rstrip("/").casefold().endswith("/zoneinformation")


def tenant_base(url: str) -> str:
    """`https://webservicesN.autotask.net/ATServicesRest/` (a zone's `url`, or BaseUrl) as
    the base every route is under: its `V1.0/` (kept when given)."""
    u = url.strip().rstrip("/")
    return u if u.casefold().endswith("/v1.0") else f"{u}/V1.0"


def _day(value: Any) -> date | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00")).date()
    except ValueError:
        return None


def _when(day: date) -> str:
    return f"{day.isoformat()}T00:00:00"


def _add_months(day: date, months: int) -> date:
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    last = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(day.day, last))


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise RemoteError("decode", f"{what}: expected a whole number, got {value!r}")
    return int(value)


def _errors(resp: httpx.Response) -> list[str]:
    try:
        body = resp.json()
    except ValueError:
        return []
    found = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(found, list):
        return []
    out = []
    for e in found:  # strings; go-autotask also accepts {"message", "field"} objects
        out.append(str(e.get("message", e)) if isinstance(e, dict) else str(e))
    return out


def _has_errors(resp: httpx.Response) -> bool:
    return bool(_errors(resp))


class _DatabaseBudget(CallBudget):
    """The hourly threshold is per database, not per route: every call counts in one key."""

    async def acquire(self, endpoint: str) -> float:
        return await super().acquire("database")

    def sent(self, endpoint: str, reservation: float) -> None:
        super().sent("database", reservation)


@dataclass(slots=True)
class _Contract:
    id: str
    company_id: str
    name: str
    start: date | None
    end: date | None
    months: int
    live: bool
    effective: date | None = None
    refusal: str = ""       # why no write can take effect (a posted period…)


class AutotaskAdapter:
    def __init__(self, api_url: str, secrets: Mapping[str, str], *,
                 options: ClientOptions | None = None, page_size: int = MAX_PAGE,
                 today: date | None = None, transport: httpx.AsyncBaseTransport | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 deadline: Deadline | None = None, parameters: Mapping[str, Any] | None = None,
                 period_end: date | None = None, zone_url: str = "", company_field: str = "",
                 service_field: str = "", budget_share: float = 0.5,
                 effective_date: str = "first_unposted") -> None:
        """`api_url`: BaseUrl, or the zone lookup a blank one stands for (the profile's, or
        the job's [options] zone_url); `parameters` the job's (ZoneUser); `period_end` the
        Atria billing period's end (today outside a run)."""
        self.options = options or ClientOptions()
        self.transport = transport
        self.sleep = sleep
        self.deadline = deadline
        self.secrets = {k: str(v) for k, v in secrets.items()}
        params = {str(k).casefold(): v for k, v in (parameters or {}).items()}
        self.zone_user = str(params.get("zoneuser") or "").strip() or \
            self.secrets.get("UserName", "")
        self.lookup = api_url.strip() if is_zone_lookup(api_url) else ""
        self.base = "" if self.lookup else tenant_base(api_url)
        self.page_size = max(1, min(page_size, MAX_PAGE))
        self.today = today or datetime.now(UTC).date()
        self.period_end = period_end or self.today
        self.company_field = company_field.strip() or DEFAULT_COMPANY_FIELD
        self.service_field = service_field.strip() or DEFAULT_SERVICE_FIELD
        self.budget_share = budget_share
        self.policy = effective_date.strip() or "first_unposted"
        self._zone_http: HttpClient | None = None
        self._http: HttpClient | None = None
        self._reads: dict[str, asyncio.Semaphore] = {}
        self._write = asyncio.Semaphore(1)
        # One write at a time from its fresh read to its read-back, so the read a delta is
        # computed from cannot be overlapped by another write of this session.
        self._write_turn = asyncio.Lock()
        self._fields: dict[str, list[dict[str, Any]]] = {}
        self._services: dict[str, CatalogItem] = {}
        self._contracts: dict[str, _Contract] = {}
        self._line_service: dict[str, str] = {}   # contract service id → service id
        # contract service id → (units last read, the contract's write count when that read
        # began); a write counts before it is sent and after it is answered, so a read that
        # overlapped a write to its contract is never used for the next delta.
        self._fresh: dict[str, tuple[int, int]] = {}
        self._posts: dict[str, int] = {}
        self.thread_waits = 0
        self._effective_noted = False
        self._read_contracts: list[_Contract] = []
        self.reason = "BaseUrl as given" if self.base else ""

    # -- connection ----------------------------------------------------------------------

    @property
    def requests(self) -> int:
        return sum(c.requests for c in (self._zone_http, self._http) if c is not None)

    @property
    def pace(self) -> Pace | None:
        return self._http.pace if self._http is not None else None

    @property
    def budget_view(self) -> BudgetView | None:
        return None

    @property
    def connection_note(self) -> tuple[str, str] | None:
        """(base, why) for the run log (TU14): the zone found for ZoneUser, or BaseUrl."""
        return (self.base, self.reason) if self.base else None

    async def aclose(self) -> None:
        for client in (self._zone_http, self._http):
            if client is not None:
                await client.aclose()

    async def zone(self) -> str:
        """The tenant base: BaseUrl, or the zone lookup's answer (no credentials sent)."""
        if self.base:
            return self.base
        if not self.zone_user:
            raise RemoteError("connect", "BaseUrl is blank and there is no ZoneUser (or "
                              "UserName secret) to look the zone up with",
                              code=CODES.api_url_missing)
        key = (self.lookup.casefold(), self.zone_user.casefold())
        cached = _ZONES.get(key)
        if cached is not None and time.monotonic() - cached[0] < ZONE_TTL:
            self.base, self.reason = cached[1], f"zone of ZoneUser {self.zone_user} (cached)"
            return self.base
        if self._zone_http is None:
            self._zone_http = HttpClient(self.lookup, options=self.options,
                                         transport=self.transport, sleep=self.sleep)
        resp = await self._zone_http.request("GET", resolve_url(self.lookup),
                                             endpoint="zoneInformation",
                                             params={"user": self.zone_user},
                                             answered_5xx=_has_errors)
        errs = _errors(resp)
        if resp.status_code != 200:
            raise RemoteError("connect", f"zone lookup for {self.zone_user}: HTTP "
                              f"{resp.status_code}{': ' + '; '.join(errs) if errs else ''}",
                              resp.status_code)
        try:
            url = resp.json().get("url")
        except (ValueError, AttributeError):
            url = None
        if not isinstance(url, str) or not url.strip():
            raise RemoteError("decode", "zone lookup: the answer has no 'url'")
        asked, answer = urlsplit(self.lookup), urlsplit(url.strip())
        if asked.scheme.casefold() == "https" and answer.scheme.casefold() != "https":
            # The credentials go to this host next: never downgrade them to clear text.
            raise RemoteError("decode", f"zone lookup answered a non-https URL {url!r}")
        vendor = VENDOR_DOMAIN
        if (asked.hostname or "").casefold().endswith(vendor) and not \
                (answer.hostname or "").casefold().endswith(vendor):
            # An unauthenticated answer decides where the secrets go: a vendor lookup must
            # name a vendor host.
            raise RemoteError("decode", f"zone lookup answered a host outside {vendor}: "
                              f"{answer.hostname!r}")
        self.base = tenant_base(url)
        self.reason = f"zone of ZoneUser {self.zone_user}"
        _ZONES[key] = (time.monotonic(), self.base)
        return self.base

    async def _tenant(self) -> HttpClient:
        if self._http is None:
            base = await self.zone()
            headers = {"ApiIntegrationCode": self.secrets.get("ApiIntegrationCode", ""),
                       "UserName": self.secrets.get("UserName", ""),
                       "Secret": self.secrets.get("Secret", "")}
            self._http = HttpClient(base, headers=headers, options=self.options,
                                    transport=self.transport, sleep=self.sleep)
        return self._http

    def _gate(self, entity: str, write: bool) -> asyncio.Semaphore:
        if write:
            return self._write
        found = self._reads.get(entity)
        if found is None:
            found = self._reads[entity] = asyncio.Semaphore(READS_PER_ENTITY)
        return found

    async def _send(self, method: str, path: str, *, entity: str, body: Any = None,
                    write: bool = False, label: str = "", zero: bool = False) -> Any:
        """One request, its JSON answer. A thread-threshold refusal is waited out (the
        request was not carried out, so even a write is sent again); any other 500 with
        `errors` is the API refusing the request: raised, not retried, never `maybe_landed`.
        """
        http = await self._tenant()
        what = f"{method} {label or path}"
        waits = 0
        while True:
            if self.deadline is not None and not write:
                self.deadline.check(what)
            async with self._gate(entity, write):
                resp = await http.request(method, path, endpoint=what.split(" ", 1)[1],
                                          json_body=body, idempotent=not write,
                                          answered_5xx=_has_errors)
            errs = _errors(resp)
            if resp.status_code >= 500 and any(_THREAD.search(e) for e in errs):
                self.thread_waits += 1
                waits += 1
                if waits > THREAD_WAITS:
                    raise RemoteError("http", f"{what}: Autotask's thread threshold was still "
                                      f"exceeded after {THREAD_WAITS} waits", resp.status_code)
                await self.sleep(min(0.5 * 2 ** (waits - 1), 8.0))
                continue
            break
        status = resp.status_code
        detail = "; ".join(errs)[:400]
        if status in (401, 403):
            raise RemoteError("auth", f"HTTP {status} from {what}"
                              f"{': ' + detail if detail else ''}", status)
        if status >= 400:
            kind: Any = "route" if status in (404, 405) and not errs else "http"
            code = ""
            if _POSTED.search(detail):
                code = CODES.posted_refused or ""
            elif zero and _ZERO.search(detail):
                code = CODES.zero_refused or ""
            elif errs and not write:
                # A read the API refused (a field the job names that the tenant lacks, a
                # picklist value): the job's settings against this tenant, not an outage.
                code = CODES.invalid_answer
            raise RemoteError(kind, f"HTTP {status} from {what}"
                              f"{': ' + detail if detail else ''}", status, code=code)
        if not resp.content:
            return None
        try:
            return json.loads(resp.content)
        except ValueError as exc:
            raise RemoteError("decode", f"invalid JSON from {what}: {exc}", status) from exc

    # -- the hourly threshold ------------------------------------------------------------

    async def preflight(self) -> list[LogEntry]:
        """Read the database's threshold use; pace this job to its share of the hour (and
        never past what is left); end the run (AP28) when too little is left."""
        data = await self._send("GET", R.THRESHOLD, entity=R.THRESHOLD)
        if not isinstance(data, dict):
            raise RemoteError("decode", "ThresholdInformation: expected an object")
        threshold = _int(data.get("externalRequestThreshold"), "externalRequestThreshold")
        used = _int(data.get("currentTimeframeRequestCount", 0), "currentTimeframeRequestCount")
        minutes = _int(data.get("requestThresholdTimeframe", 60), "requestThresholdTimeframe")
        allowance = min(int(threshold * self.budget_share), threshold - used)
        if allowance < MIN_CALLS:
            raise RemoteError("budget", f"{used:,} of {threshold:,} requests used in the last "
                              f"{minutes} minutes; this job's share "
                              f"({self.budget_share:.0%}) leaves {max(allowance, 0):,}, fewer "
                              f"than the {MIN_CALLS} a run needs", code=CODES.budget_short or "")
        http = await self._tenant()
        budget = _DatabaseBudget(allowance, window=minutes * 60.0)
        budget.sent("database", 0.0)  # ThresholdInformation itself counted
        http.budget = budget
        found = [codes.entry(CODES.budget_note or "", used=f"{used:,}",
                             threshold=f"{threshold:,}", minutes=minutes,
                             allowance=f"{allowance:,}")]
        if self.lookup:  # the base was found after the run logged its connection
            found.insert(0, codes.entry("TU14", psa_name="Autotask", base=self.base,
                                        reason=self.reason))
        return found

    def notes(self) -> list[LogEntry]:
        out: list[LogEntry] = []
        if self.thread_waits and CODES.threads_waited:
            out.append(codes.entry(CODES.threads_waited, count=self.thread_waits))
            self.thread_waits = 0
        if not self._effective_noted and self._read_contracts and CODES.effective_note:
            self._effective_noted = True
            by_day: dict[date, int] = {}
            for k in self._read_contracts:
                if k.effective is not None and not k.refusal:
                    by_day[k.effective] = by_day.get(k.effective, 0) + 1
            policy = ("the first Autotask period after the Atria period with nothing "
                      "approved and posted" if self.policy == "first_unposted"
                      else "the job's effective_date")
            for day, count in sorted(by_day.items()):
                out.append(codes.entry(CODES.effective_note, date=day.isoformat(),
                                       count=count, policy=policy))
        return out

    # -- queries -------------------------------------------------------------------------

    async def query(self, entity: str, filters: list[dict[str, Any]],
                    fields: Iterable[str]) -> list[dict[str, Any]]:
        """Every row of a query: the first page by POST, the next ones by POSTing the same
        body to `nextPageUrl` (which must stay on the tenant's host: it carries no secret,
        but our headers would go with it)."""
        body = {"filter": filters, "MaxRecords": self.page_size, "IncludeFields": list(fields)}
        http = await self._tenant()
        origin = urlsplit(http.base_url)
        rows: list[dict[str, Any]] = []
        path, pages = R.query(entity), 0
        while True:
            pages += 1
            if pages > MAX_PAGES:
                raise RemoteError("decode", f"{entity}/query: more than {MAX_PAGES} pages")
            data = await self._send("POST", path, entity=entity, body=body,
                                    label=f"{entity}/query" + ("/next" if pages > 1 else ""))
            if not isinstance(data, dict) or not isinstance(data.get("items"), list):
                raise RemoteError("decode", f"{entity}/query: the answer has no 'items' list")
            rows += [r for r in data["items"] if isinstance(r, dict)]
            details = data.get("pageDetails")
            nxt = details.get("nextPageUrl") if isinstance(details, dict) else None
            if not nxt:
                return rows
            where = urlsplit(str(nxt))
            if (where.scheme, where.netloc) != (origin.scheme, origin.netloc):
                raise RemoteError("decode", f"{entity}/query: nextPageUrl leaves the tenant's "
                                  f"host ({where.netloc}); not followed")
            path = str(nxt)

    async def query_in(self, entity: str, field: str, values: Sequence[Any],
                       filters: list[dict[str, Any]], fields: Iterable[str], *,
                       udf: bool = False) -> list[dict[str, Any]]:
        """`field in values` in batches of 500, plus `filters`; each row re-checked."""
        unique = list(dict.fromkeys(values))
        wanted = {norm(str(v)) for v in unique}
        batches = [unique[i:i + MAX_IN] for i in range(0, len(unique), MAX_IN)]
        cond: dict[str, Any] = {"op": "in", "field": field}
        if udf:
            cond["udf"] = True
        found = await asyncio.gather(*(self.query(entity, [{**cond, "value": b}, *filters],
                                                  fields) for b in batches))
        out: list[dict[str, Any]] = []
        for rows in found:
            for r in rows:
                value = _udf(r, field) if udf else r.get(field)
                if value is not None and norm(str(value)) in wanted:
                    out.append(r)
        return out

    async def entity_fields(self, entity: str) -> list[dict[str, Any]]:
        if entity not in self._fields:
            data = await self._send("GET", R.fields(entity), entity=entity)
            found = data.get("fields") if isinstance(data, dict) else None
            if not isinstance(found, list):
                raise RemoteError("decode", f"{R.fields(entity)}: the answer has no 'fields'")
            self._fields[entity] = [f for f in found if isinstance(f, dict)]
        return self._fields[entity]

    async def picklist(self, entity: str, field: str) -> dict[int, str]:
        """value → label of a picklist field (values are strings in metadata, ints on the
        wire: compared as ints)."""
        for f in await self.entity_fields(entity):
            if str(f.get("name", "")).casefold() == field.casefold():
                out: dict[int, str] = {}
                for v in f.get("picklistValues") or []:
                    try:
                        out[int(str(v.get("value")))] = str(v.get("label", ""))
                    except (TypeError, ValueError):
                        continue
                return out
        return {}

    async def _value_of(self, entity: str, field: str, label: str) -> int | None:
        text = label.strip()
        if text.isdigit():
            return int(text)
        return next((v for v, lb in (await self.picklist(entity, field)).items()
                     if lb.strip().casefold() == text.casefold()), None)

    # -- reading (plan) ------------------------------------------------------------------

    async def accounts(self, identifiers: Sequence[str], *,
                       by_id: Sequence[str] = ()) -> dict[str, PsaAccount]:
        """Companies keyed by the Billing Identifier field: those the identifiers name, and
        those whose ids are given (the owners of the type's contracts, for the console's
        company picker). `in` lists of at most 500 values."""
        field = self.company_field
        udf = field.casefold().startswith("udf:")
        name = field[4:] if udf else field
        values: list[Any] = [i.strip() for i in identifiers if i.strip()]
        if name.casefold() == "id":
            values = [int(v) for v in values if v.isdigit()]
        include = [*R.COMPANY_FIELDS] + ([] if udf or name == "id" else [name])
        found = await asyncio.gather(
            self.query_in(R.COMPANIES, name, values, [], include, udf=udf) if values
            else _nothing(),
            self.query_in(R.COMPANIES, "id", [int(i) for i in by_id if i.isdigit()], [],
                          include) if by_id else _nothing())
        out: dict[str, PsaAccount] = {}
        for r in (*found[0], *found[1]):
            ident = _udf(r, name) if udf else r.get(name)
            if ident is None or not str(ident).strip() or r.get("id") is None:
                continue
            out.setdefault(norm(str(ident)), PsaAccount(
                str(r["id"]), str(ident), str(r.get("companyName") or ""),
                active=r.get("isActive") is not False))
        return out

    async def catalog(self) -> list[CatalogItem]:
        include = [*R.SERVICE_FIELDS]
        if self.service_field not in include:
            include.append(self.service_field)
        rows = await self.query(R.SERVICES, [{"op": "gte", "field": "id", "value": 0}],
                                include)
        items = []
        for r in rows:
            if r.get("id") is None:
                continue
            code = r.get(self.service_field)
            item = CatalogItem(
                str(r["id"]), str(code if code is not None else ""), str(r.get("name") or ""),
                str(r.get("description") or r.get("invoiceDescription") or ""),
                psa_number(r.get("unitPrice") or 0, "Services.unitPrice"),
                r.get("isActive") is not False,
                cost=psa_number(r.get("unitCost") or 0, "Services.unitCost"))
            self._services[item.id] = item
            items.append(item)
        return items + await self.bundles()

    async def bundles(self) -> list[CatalogItem]:
        """Service bundles, as catalogue items no line can be (`can_be_line` false): a SKU
        that names only a bundle is reported (AP37) rather than unknown. A tenant or a
        security level that does not serve them has none."""
        try:
            rows = await self.query(R.BUNDLES, [{"op": "gte", "field": "id", "value": 0}],
                                    R.BUNDLE_FIELDS)
        except RemoteError as exc:
            if exc.kind in ("route", "http") and not exc.maybe_landed:
                return []
            raise
        return [CatalogItem(f"bundle:{r['id']}", str(r.get("name") or ""),
                            str(r.get("name") or ""), "bundle",
                            psa_number(r.get("unitPrice") or 0, "ServiceBundles.unitPrice"),
                            r.get("isActive") is not False, can_be_line=False)
                for r in rows if r.get("id") is not None]

    async def contracts_of(self, type_value: int) -> list[_Contract]:
        """Every contract of the type, in one paged bulk read (as ConnectWise's agreements):
        their companies are the ones the console's company picker offers."""
        months = {v: R.PERIOD_MONTHS.get(lb.strip().casefold(), 1)
                  for v, lb in (await self.picklist(R.CONTRACTS, "contractPeriodType")).items()}
        active = {v for v, lb in (await self.picklist(R.CONTRACTS, "status")).items()
                  if lb.strip().casefold() == R.ACTIVE_LABEL}
        rows = await self.query(R.CONTRACTS,
                                [{"op": "eq", "field": "contractType", "value": type_value}],
                                R.CONTRACT_FIELDS)
        return [self._contract_of(r, months, active) for r in rows
                if r.get("id") is not None and _as_int(r.get("contractType")) == type_value]

    def _contract_of(self, r: Mapping[str, Any], months: Mapping[int, int],
                     active: set[int]) -> _Contract:
        start, end = _day(r.get("startDate")), _day(r.get("endDate"))
        d = self.period_end
        covers = (start is None or start <= d) and (end is None or d <= end)
        status = r.get("status")
        k = _Contract(str(r["id"]), str(r.get("companyID") or ""),
                      str(r.get("contractName") or f"contract {r['id']}"), start, end,
                      months.get(_as_int(r.get("contractPeriodType")), 1),
                      covers and _as_int(status) in active)
        self._contracts[k.id] = k
        return k

    async def snapshot(self, identifiers: Sequence[str], skus: Sequence[str],
                       contract_type: str, *, unclaimed: bool = False) -> PsaSnapshot:
        snap = PsaSnapshot()
        type_value = await self._value_of(R.CONTRACTS, "contractType", contract_type)
        if type_value is None:
            snap.contract_type_valid = False
            return snap
        contracts, snap.catalog = await asyncio.gather(self.contracts_of(type_value),
                                                       self.catalog())
        owners = sorted({k.company_id for k in contracts})
        snap.accounts = await self.accounts(identifiers, by_id=owners)
        billed = {a.id for i in identifiers if (a := snap.accounts.get(norm(i))) is not None}
        # Lines of the billed companies only (with `unclaimed`, of every company): the
        # console reads another company's when a fix picks it (`contract_lines`).
        live = [k for k in contracts if k.live and (unclaimed or k.company_id in billed)]
        # Only a company with one live contract is planned (several are ambiguous).
        per_company: dict[str, int] = {}
        for k in live:
            per_company[k.company_id] = per_company.get(k.company_id, 0) + 1
        wanted = [k for k in live if per_company[k.company_id] == 1]
        lines = await self.lines_of(wanted)
        self._read_contracts = wanted
        read = {k.id for k in wanted}
        for k in contracts:
            # The date a change takes effect, per line in the preview (its contract column
            # and messages): it is not the Atria period's, and it may differ per contract.
            name = (f"{k.name} (changes from {k.effective})"
                    if k.effective is not None and not k.refusal and k.id in read else k.name)
            snap.contracts.setdefault(k.company_id, []).append(
                PsaContract(k.id, k.company_id, name, contract_type, live=k.live))
        for k in wanted:
            snap.lines[k.id] = lines.get(k.id, [])
            if k.refusal:
                snap.refused[k.id] = (CODES.posted_refused or CODES.lines_unreadable,
                                      k.refusal)
        return snap

    async def _posted_through(self, ids: Sequence[str]) -> dict[str, date]:
        """Per contract, the last day of its approved-and-posted periods that reach the
        Atria period's end or later (earlier posted periods cannot hold a change anyway)."""
        rows = await self.query_in(
            R.UNITS, "contractID", [int(i) for i in ids],
            [{"op": "exist", "field": "approveAndPostDate"},
             {"op": "gte", "field": "endDate", "value": _when(self.period_end)}],
            ("id", "contractID", "endDate", "approveAndPostDate"))
        out: dict[str, date] = {}
        for r in rows:
            end = _day(r.get("endDate"))
            if end is not None and r.get("approveAndPostDate"):
                cid = str(r.get("contractID"))
                out[cid] = max(out.get(cid, end), end)
        return out

    def _effective(self, k: _Contract, posted: date | None) -> None:
        """When a change of this contract takes effect, or why none can (k.refusal)."""
        if self.policy != "first_unposted":
            day = date.fromisoformat(self.policy)
            if posted is not None and day <= posted:
                k.refusal = (f"the job's effective_date {day} falls in a period approved and "
                             f"posted (through {posted})")
            elif (k.start and day < k.start) or (k.end and day > k.end):
                k.refusal = f"the job's effective_date {day} is outside the contract's dates"
            k.effective = day
            return
        if k.start is None:
            k.refusal = "the contract has no start date to count its periods from"
            return
        n = 0
        while True:
            start = _add_months(k.start, n * k.months)
            n += 1
            if k.end is not None and start > k.end:
                k.refusal = (f"no period of {k.name} after the Atria period ends "
                             f"{self.period_end} is open"
                             + (f" (posted through {posted})" if posted else ""))
                return
            if start > self.period_end and (posted is None or start > posted):
                k.effective = start
                return
            if n > 1200:  # a century of periods: the dates are broken
                k.refusal = "the contract's periods could not be counted"
                return

    async def lines_of(self, contracts: Sequence[_Contract]) -> dict[str, list[PsaLine]]:
        """The contracts' services with the units in force on each one's effective date."""
        if not contracts:
            return {}
        stamps = {k.id: self._posts.get(k.id, 0) for k in contracts}
        unknown = [k for k in contracts if k.effective is None and not k.refusal]
        if unknown:
            posted = await self._posted_through([k.id for k in unknown])
            for k in unknown:
                self._effective(k, posted.get(k.id))
        ids = [int(k.id) for k in contracts]
        css = await self.query_in(R.CONTRACT_SERVICES, "contractID", ids, [],
                                  R.CONTRACT_SERVICE_FIELDS)
        by_day: dict[date, list[int]] = {}
        for k in contracts:
            if k.effective is not None:
                by_day.setdefault(k.effective, []).append(int(k.id))
        unit_rows = await asyncio.gather(*(self.query_in(
            R.UNITS, "contractID", group,
            [{"op": "lte", "field": "startDate", "value": _when(day)},
             {"op": "gte", "field": "endDate", "value": _when(day)}], R.UNIT_FIELDS)
            for day, group in by_day.items()))
        units: dict[str, tuple[date, int]] = {}
        for rows in unit_rows:
            for r in rows:
                start = _day(r.get("startDate")) or date.min
                cs = str(r.get("contractServiceID"))
                value = _int(r.get("units"), "ContractServiceUnits.units")
                if cs not in units or start >= units[cs][0]:  # the latest row wins
                    units[cs] = (start, value)
        missing = sorted({str(r.get("serviceID")) for r in css} - set(self._services))
        if missing:
            rows = await self.query_in(R.SERVICES, "id", [int(m) for m in missing if m.isdigit()],
                                       [], [*R.SERVICE_FIELDS, self.service_field])
            for r in rows:
                code = r.get(self.service_field)
                self._services[str(r["id"])] = CatalogItem(
                    str(r["id"]), str(code if code is not None else ""),
                    str(r.get("name") or ""), str(r.get("description") or ""),
                    psa_number(r.get("unitPrice") or 0, "Services.unitPrice"),
                    r.get("isActive") is not False)
        out: dict[str, list[PsaLine]] = {str(i): [] for i in ids}
        for r in css:
            cs_id, cid, sid = str(r.get("id")), str(r.get("contractID")), str(r.get("serviceID"))
            service = self._services.get(sid)
            qty = units.get(cs_id, (date.min, 0))[1]
            self._line_service[cs_id] = sid
            if cid in stamps:
                self._fresh[cs_id] = (qty, stamps[cid])
            out.setdefault(cid, []).append(PsaLine(
                cs_id, cid, sid, service.code if service else "",
                str(r.get("invoiceDescription") or (service.name if service else "")),
                Decimal(qty), psa_number(r.get("unitPrice") or 0, "ContractServices.unitPrice")))
        return out

    async def _contract(self, contract_id: str) -> _Contract | None:
        found = self._contracts.get(contract_id)
        if found is not None:
            return found
        if not contract_id.isdigit():
            return None
        try:
            data = await self._send("GET", R.one(R.CONTRACTS, contract_id), entity=R.CONTRACTS,
                                    label="Contracts/{id}")
        except RemoteError as exc:
            if exc.status == 404:
                return None
            raise
        row = data.get("item") if isinstance(data, dict) else None
        if not isinstance(row, dict):
            return None
        months = {v: R.PERIOD_MONTHS.get(lb.strip().casefold(), 1)
                  for v, lb in (await self.picklist(R.CONTRACTS, "contractPeriodType")).items()}
        active = {v for v, lb in (await self.picklist(R.CONTRACTS, "status")).items()
                  if lb.strip().casefold() == R.ACTIVE_LABEL}
        return self._contract_of(row, months, active)

    # -- writing (apply) -----------------------------------------------------------------

    async def contract_lines(self, contract_id: str) -> list[PsaLine]:
        """A contract's services and units read now (apply's conflict check and re-reads)."""
        k = await self._contract(contract_id)
        if k is None:
            raise RemoteError("http", f"contract {contract_id} not found", 404)
        return (await self.lines_of([k])).get(contract_id, [])

    async def read_line(self, contract_id: str, line_id: str) -> PsaLine | None:
        return await line_by_rereading(self.contract_lines, contract_id, line_id)

    async def find_lines(self, contract_id: str, product_code: str) -> list[PsaLine]:
        return lines_of_product(await self.contract_lines(contract_id), product_code)

    async def _writable(self, contract_id: str) -> _Contract:
        k = await self._contract(contract_id)
        if k is None:
            raise RemoteError("http", f"contract {contract_id} not found", 404)
        if k.effective is None and not k.refusal:
            await self.lines_of([k])
        if k.refusal or k.effective is None:
            raise RemoteError("http", k.refusal or "no effective date",
                              code=CODES.posted_refused or "")
        return k

    async def set_quantity(self, contract_id: str, line_id: str, quantity: Decimal) -> None:
        """`unitChange = target − current`, current being this line's latest read that no
        write has used yet (read now if there is none): a retry after a lost answer is
        computed from the re-read that decided it, never from the preview."""
        target = _whole(quantity)
        k = await self._writable(contract_id)
        async with self._write_turn:
            await self._set(k, line_id, target)

    async def _set(self, k: _Contract, line_id: str, target: int) -> None:
        contract_id = k.id
        current = self._unused_read(contract_id, line_id)
        if current is None:
            await self.lines_of([k])
            current = self._unused_read(contract_id, line_id)
            if current is None:
                raise RemoteError("http", f"contract service {line_id} is not on contract "
                                  f"{contract_id}", 404)
        change = target - current
        if change == 0:
            return
        assert k.effective is not None
        body = {"contractID": int(contract_id), "contractServiceID": int(line_id),
                "serviceID": int(self._line_service[line_id]),
                "effectiveDate": f"{k.effective.isoformat()}{WRITE_TIME}", "unitChange": change}
        await self._post(contract_id, body, zero=target == 0)
        await self._read_back(k, line_id, target)

    def _unused_read(self, contract_id: str, line_id: str) -> int | None:
        """The line's units from a read no write has used and none overlapped, once."""
        found = self._fresh.pop(line_id, None)
        if found is None or found[1] != self._posts.get(contract_id, 0):
            return None
        return found[0]

    async def _post(self, contract_id: str, body: dict[str, Any], *, zero: bool = False
                    ) -> None:
        self._posts[contract_id] = self._posts.get(contract_id, 0) + 1
        try:
            await self._send("POST", R.ADJUST.format(contractId=contract_id),
                             entity=R.ADJUSTMENTS, body=body, write=True,
                             label="Contracts/{id}/ServiceAdjustments", zero=zero)
        finally:
            self._posts[contract_id] += 1

    async def _read_back(self, k: _Contract, line_id: str, target: int) -> None:
        """The units on the effective date after a write: the date-only conversion and the
        row split are unverified, so the write is confirmed by what the tenant now holds."""
        lines = await self.lines_of([k])
        now = next((ln for ln in lines.get(k.id, []) if ln.id == line_id), None)
        self._fresh.pop(line_id, None)  # a read-back is not a read a later write may use
        if now is None or now.quantity != target:
            raise RemoteError("http", f"contract service {line_id}: the adjustment was "
                              f"accepted but the units on {k.effective} read back as "
                              f"{now.quantity if now else 'nothing'}, not {target}")

    async def add_line(self, contract_id: str, product_id: str, quantity: Decimal,
                       description: str, effective: date) -> str:
        """A service added by an adjustment naming contractID + serviceID (the tenant creates
        the ContractService); `effective` is the job's policy's date, not the caller's."""
        target = _whole(quantity)
        if target <= 0:
            raise RemoteError("http", f"service {product_id}: {target} units is nothing to add")
        if not product_id.isdigit():
            raise RemoteError("http", f"service id {product_id!r} is not an Autotask id")
        k = await self._writable(contract_id)
        async with self._write_turn:
            return await self._add(k, product_id, target)

    async def _add(self, k: _Contract, product_id: str, target: int) -> str:
        contract_id = k.id
        assert k.effective is not None
        body = {"contractID": int(contract_id), "serviceID": int(product_id),
                "effectiveDate": f"{k.effective.isoformat()}{WRITE_TIME}", "unitChange": target}
        await self._post(contract_id, body)
        lines = (await self.lines_of([k])).get(k.id, [])
        mine = [ln for ln in lines if ln.product_id == product_id]
        for ln in mine:
            self._fresh.pop(ln.id, None)
        if len(mine) != 1 or mine[0].quantity != target:
            raise RemoteError("http", f"service {product_id} on contract {contract_id}: the "
                              "adjustment was accepted but reads back as "
                              f"{[str(ln.quantity) for ln in mine] or 'absent'}, not {target}")
        return mine[0].id

    # -- doctor --------------------------------------------------------------------------

    async def doctor(self, contract_type: str) -> list[Probe]:
        """Zone lookup, credentials (ThresholdInformation), the picklists and fields the job
        relies on, a one-row units query; the write route is only looked up (GET → 405)."""
        probes: list[Probe] = []
        if self.lookup:
            try:
                await self.zone()
                probes.append(Probe("zone", "job", "GET", self.lookup, 200, "works",
                                    f"ZoneUser {self.zone_user}: {self.base}", True))
            except RemoteError as exc:
                probes.append(Probe("zone", "job", "GET", self.lookup, exc.status,
                                    "failed" if exc.status else "unreachable",
                                    f"check ZoneUser ({exc.message})", True))
                return probes

        async def probe(step: str, method: str, path: str, check: Callable[[Any], str],
                        entity: str, body: Any = None, write: bool = False) -> None:
            try:
                data = await self._send(method, path, entity=entity, body=body)
                problem = check(data)
                probes.append(Probe(step, "job", method, path, 200,
                                    "failed" if problem else "works", problem, True))
            except RemoteError as exc:
                verdict = verdict_of(exc.status, exc.kind != "decode", write=write)
                advice = ("check ApiIntegrationCode, UserName and Secret (an API-only user)"
                          if verdict == "refused" else exc.message)
                probes.append(Probe(step, "job", "GET" if write else method, path, exc.status,
                                    verdict, "" if verdict == "exists" else advice, True))

        def threshold(data: Any) -> str:
            if not isinstance(data, dict) or "externalRequestThreshold" not in data:
                return "no externalRequestThreshold in the answer"
            return ""

        await probe("threshold", "GET", R.THRESHOLD, threshold, R.THRESHOLD)
        if probes and probes[-1].verdict == "refused":
            return probes

        def field_check(entity: str, name: str, label: str | None = None) -> Callable[[Any], str]:
            def check(data: Any) -> str:
                rows = data.get("fields") if isinstance(data, dict) else None
                if not isinstance(rows, list):
                    return "no fields in the answer"
                found = next((f for f in rows if isinstance(f, dict)
                              and str(f.get("name", "")).casefold() == name.casefold()), None)
                if found is None:
                    return f"{entity} has no field {name!r}"
                if label is not None and not any(
                        str(v.get("label", "")).casefold() == label.casefold()
                        for v in found.get("picklistValues") or []):
                    return f"{entity}.{name} has no picklist value {label!r}"
                return ""
            return check

        await probe("contract type", "GET", R.fields(R.CONTRACTS),
                    field_check(R.CONTRACTS, "contractType", contract_type), R.CONTRACTS)
        if not self.company_field.casefold().startswith("udf:"):
            await probe("company field", "GET", R.fields(R.COMPANIES),
                        field_check(R.COMPANIES, self.company_field), R.COMPANIES)
        await probe("service field", "GET", R.fields(R.SERVICES),
                    field_check(R.SERVICES, self.service_field), R.SERVICES)
        await probe("units", "POST", R.query(R.UNITS), lambda d: "" if isinstance(d, dict)
                    and isinstance(d.get("items"), list) else "no items in the answer",
                    R.UNITS, body={"filter": [{"op": "gte", "field": "id", "value": 0}],
                                   "MaxRecords": 1, "IncludeFields": ["id"]})
        await probe("adjustments", "GET", R.ADJUST.format(contractId=0), lambda d: "",
                    R.ADJUSTMENTS, write=True)
        return probes


async def _nothing() -> list[dict[str, Any]]:
    return []


def _as_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def _udf(row: Mapping[str, Any], name: str) -> Any:
    for u in row.get("userDefinedFields") or []:
        if isinstance(u, dict) and str(u.get("name", "")).casefold() == name.casefold():
            return u.get("value")
    return None


def _whole(q: Decimal) -> int:
    """Units are int32: a fraction never reaches the wire (the plan refuses or rounds it,
    AP26); one that does is refused here, before anything is sent."""
    if q != q.to_integral_value() or not -(2**31) <= q < 2**31:
        raise RemoteError("http", f"{q} is not a whole number of units; nothing was sent",
                          code=CODES.fractional)
    return int(q)
