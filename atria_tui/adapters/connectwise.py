"""ConnectWise Manage: the only module that knows its paths and JSON field names.

Reads are bulk (`identifier in (…)`), split so that every request URL, percent-encoded as
httpx sends it and with its paging parameters, stays within `MAX_URL_CHARS` (IIS and the
proxies in front of ConnectWise refuse longer ones); a request that cannot fit is refused
here, before it is sent. Lists are paged by re-sending our own parameters with `page=N`:
the `Link: rel="next"` header (or, without one, a full page) only says that another page
exists; its URL is never followed, since a server or generated client that drops
`conditions` from it would hand us unfiltered rows. Every row is re-checked against the
condition it was read by (agreement type, company or catalog identifier) and dropped if it
does not match. Additions have no cross-agreement endpoint, so they are read one agreement
at a time, concurrently within the client's bound. Writes are JSON Patch on `quantity`
only (patching `product` would make ConnectWise re-default price and description); a new
addition is sent with its whole description. `Accept` names the job's API version
(`[options] connectwise_api_version`), or none: the unversioned media type.
"""

from __future__ import annotations

import asyncio
import base64
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx

from atria_tui.adapters.connectwise_routes import Route, routes_for
from atria_tui.adapters.http import ClientOptions, HttpClient
from atria_tui.adapters.lines import accounts_to_read, read_lines
from atria_tui.adapters.paging import MAX_PAGES, Deadline, Pages
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
from atria_tui.psa.session import BudgetView, Pace

MEDIA_TYPE = "application/vnd.connectwise.com+json"
# The whole request URL, percent-encoded: what mature clients batch `in (…)` lists to, and
# under what IIS (maxQueryString 2048) and common proxies accept.
MAX_URL_CHARS = 2000
SECRET_NAMES = ("CompanyName", "PublicKey", "PrivateKey", "ClientId")



def quote(value: str | int) -> str:
    """A conditions literal: numbers bare, strings double-quoted with \\ and \" escaped."""
    if isinstance(value, int):
        return str(value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def encoded_length(text: str) -> int:
    """Characters `text` takes as a query value, percent-encoded as httpx encodes it
    (`"` %22, `,` %2C, a blank +, each UTF-8 byte of anything else non-safe %XX). The
    encoding is character by character, so lengths of parts add up."""
    return len(str(httpx.QueryParams({"q": text}))) - 2


def in_clauses(field: str, values: Sequence[str | int], room: int) -> list[str]:
    """`field in (…)` split so that each condition, percent-encoded, takes at most `room`
    characters. A value too long to fit even alone gets a condition of its own (the URL
    check refuses to send it)."""
    head, tail, comma = encoded_length(f"{field} in ("), encoded_length(")"), encoded_length(",")
    out: list[str] = []
    chunk: list[str] = []
    size = 0
    for v in values:
        lit = quote(v)
        cost = encoded_length(lit)
        if chunk and size + comma + cost > room:
            out.append(f"{field} in ({','.join(chunk)})")
            chunk = []
        size = size + comma + cost if chunk else head + cost + tail
        chunk.append(lit)
    if chunk:
        out.append(f"{field} in ({','.join(chunk)})")
    return out


def accept_header(api_version: str = "") -> str:
    """The media type, with `; version=…` only when the job names one."""
    version = api_version.strip()
    return f"{MEDIA_TYPE}; version={version}" if version else MEDIA_TYPE


def auth_headers(secrets: Mapping[str, str], api_version: str = "") -> dict[str, str]:
    token = f"{secrets['CompanyName']}+{secrets['PublicKey']}:{secrets['PrivateKey']}"
    return {"Authorization": "Basic " + base64.b64encode(token.encode()).decode(),
            "clientId": secrets["ClientId"], "Accept": accept_header(api_version)}


def derived_secrets(secrets: Mapping[str, str]) -> list[str]:
    """The Basic token built from the secrets: a gateway that echoes request headers in an
    error body would otherwise put a usable credential in the run log."""
    try:
        return [auth_headers(secrets)["Authorization"].removeprefix("Basic ")]
    except KeyError:
        return []


def _dec(value: Any, what: str) -> Decimal:
    d = psa_number(value, what)  # NaN, Infinity, 1e999 and absurd values are refused
    # JSON floats arrive as 10.0; keep quantities as people write them (10, 2.5).
    return d.to_integral_value() if d == d.to_integral_value() else d.normalize()


def _id(row: dict[str, Any], what: str) -> str:
    """ConnectWise ids are integers; anything else would be spliced into a write's URL."""
    return psa_id(row, what, numeric=True)


def _past(value: Any, today: date) -> bool:
    """Unset dates come back as "" or null; a date in the past means cancelled."""
    if not value:
        return False
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).date() <= today
    except ValueError:
        return False


def _ref(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, dict) else None


def _more(resp: httpx.Response, rows: int, page_size: int) -> bool:
    """Whether another page exists: the `Link` header says so when there is one (its URL is
    not used), else a full page may have more. An empty page has nothing after it."""
    if not rows:
        return False
    if "link" in resp.headers:
        return "next" in resp.links
    return rows >= page_size


class ConnectWiseAdapter:
    def __init__(self, api_url: str, secrets: Mapping[str, str], *,
                 options: ClientOptions | None = None, page_size: int = 1000,
                 today: date | None = None, deadline: Deadline | None = None,
                 api_version: str = "", endpoints: Mapping[str, Any] | None = None,
                 **client_kw: Any) -> None:
        self.routes = routes_for(endpoints)
        self.http = HttpClient(api_url, headers=auth_headers(secrets, api_version),
                               options=options, **client_kw)
        self.page_size = max(1, min(page_size, 1000))
        self.today = today or datetime.now(UTC).date()
        self.deadline = deadline

    async def aclose(self) -> None:
        await self.http.aclose()

    @property
    def requests(self) -> int:
        return self.http.requests

    @property
    def pace(self) -> Pace:
        return self.http.pace

    @property
    def budget_view(self) -> BudgetView | None:
        return None  # ConnectWise throttles with 429s, not an hourly budget

    # -- reading ---------------------------------------------------------------------------

    def _list_params(self, page: int, conditions: str | None = None,
                     fields: str | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"pageSize": self.page_size, "page": page, "orderBy": "id asc"}
        if conditions is not None:
            params["conditions"] = conditions
        if fields:
            params["fields"] = fields
        return params

    def url_of(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        """The request URL as httpx will send it (base URL, path, encoded query)."""
        url = httpx.URL(self.http.base_url + path)
        return str(url.copy_merge_params(dict(params)) if params else url)

    def _room(self, path: str, fields: str | None = None) -> int:
        """Encoded characters left for `conditions` in a list read of `path`, with the
        longest page number a read may reach."""
        return MAX_URL_CHARS - len(self.url_of(path, self._list_params(MAX_PAGES, "", fields)))

    async def _call(self, method: str, path: str, *, endpoint: str,
                    params: Mapping[str, Any] | None = None,
                    json_body: Any = None) -> tuple[httpx.Response, Any]:
        """One request, refused before it is sent when its URL is too long to be accepted."""
        # Percent-encoding at most triples a character: a URL whose raw text is short
        # enough cannot be too long encoded, and the exact count (a URL parsed and built,
        # ~0.2 ms) is only needed near the limit, not for each of 5,000 reads.
        raw = len(self.http.base_url) + len(path) + sum(
            len(str(k)) + len(str(v)) + 2 for k, v in (params or {}).items())
        size = len(self.url_of(path, params)) if 3 * raw > MAX_URL_CHARS else raw
        if size > MAX_URL_CHARS:
            raise RemoteError("http", f"{method} {endpoint}: the request URL would be "
                              f"{size:,} characters, percent-encoded; ConnectWise (IIS) and "
                              f"its proxies refuse more than {MAX_URL_CHARS:,}, so it was not "
                              f"sent (ApiUrl takes {len(self.http.base_url):,})")
        return await self.http.json(method, path, params=params, json_body=json_body,
                                    endpoint=endpoint)

    async def _get_all(self, path: str, conditions: str | None = None,
                       fields: str | None = None) -> list[dict[str, Any]]:
        """Every page of a list: our own parameters again with `page=N` each time (a
        `Link` URL is never followed), until no page is left, within `Pages`' bounds."""
        rows: list[dict[str, Any]] = []
        pages = Pages(f"GET {path}", self.deadline)
        while True:
            pages.next()
            params = self._list_params(pages.count, conditions, fields)
            resp, body = await self._call("GET", path, params=params, endpoint=path)
            _raise_for(resp.status_code, body, f"GET {path}")
            if not isinstance(body, list):
                raise RemoteError("decode", f"expected a list from GET {path}")
            page = [r for r in body if isinstance(r, dict)]
            pages.got(str(r["id"]) for r in page if r.get("id") is not None)
            rows.extend(page)
            if not _more(resp, len(body), self.page_size):
                return rows

    async def _get_in(self, path: str, field: str, values: Sequence[str]
                      ) -> list[dict[str, Any]]:
        """Rows whose `field` is one of `values` (trimmed, case-insensitive), read in as
        few `in (…)` requests as the URL length allows; a row the server returns for
        anything else (a filter ignored or lost) is dropped."""
        wanted = {norm(v) for v in values}
        if not wanted:
            return []
        clauses = in_clauses(field, list(values), self._room(path))
        results = await asyncio.gather(*(self._get_all(path, c) for c in clauses))
        return [r for batch in results for r in batch
                if norm(str(r.get(field) or "")) in wanted]

    async def agreement_type_exists(self, name: str) -> bool:
        rows = await self._get_all(self.routes["agreement_types"].path, f"name={quote(name)}")
        return any(norm(str(r.get("name", ""))) == norm(name) for r in rows)

    async def companies(self, identifiers: Sequence[str]) -> dict[str, PsaAccount]:
        found: dict[str, PsaAccount] = {}
        path = self.routes["companies"].path
        for row in await self._get_in(path, "identifier", identifiers):
            if row.get("deletedFlag"):
                continue
            acc = PsaAccount(_id(row, f"GET {path}"), str(row.get("identifier", "")),
                             str(row.get("name", "")))
            found[norm(acc.identifier)] = acc
        return found

    async def agreements(self, agreement_type: str
                         ) -> tuple[dict[str, PsaAccount], dict[str, list[PsaContract]]]:
        """Every agreement of the type, in one paged bulk read.

        Each agreement embeds its company's id, identifier and name, so the Billing
        Identifier lookup needs no company request, and the console can re-plan a fixed
        identifier without reading the PSA again.
        """
        accounts: dict[str, PsaAccount] = {}
        out: dict[str, list[PsaContract]] = {}
        path = self.routes["agreements"].path
        for row in await self._get_all(path, f"type/name={quote(agreement_type)}"):
            if norm(str(_ref(row.get("type"), "name") or "")) != norm(agreement_type):
                continue  # not of the type asked for: a filter the server ignored or lost
            live = (not row.get("cancelledFlag")
                    and str(row.get("agreementStatus") or "Active").lower() == "active")
            company = row.get("company") or {}
            cid = psa_id_value(_ref(company, "id"), f"GET {path}: company",
                               numeric=True, optional=True)
            ident = str(_ref(company, "identifier") or "")
            if ident:
                accounts.setdefault(norm(ident), PsaAccount(cid, ident,
                                                            str(_ref(company, "name") or "")))
            k = PsaContract(_id(row, f"GET {path}"), cid, str(row.get("name", "")),
                            str(_ref(row.get("type"), "name")), live)
            out.setdefault(k.account_id, []).append(k)
        return accounts, out

    def _line(self, row: Any, agreement_id: str, what: str) -> PsaLine:
        if not isinstance(row, dict):
            raise RemoteError("decode", f"{what}: expected an addition object, got "
                           f"{type(row).__name__}")
        product = row.get("product") or {}
        # Interned: a catalog's products repeat on every agreement; one string per value
        # rather than one per line (issue 12).
        return PsaLine(
            id=_id(row, what), contract_id=agreement_id,
            product_id=sys.intern(psa_id_value(_ref(product, "id"), f"{what}: product",
                                               numeric=True, optional=True)),
            product_code=sys.intern(str(_ref(product, "identifier") or "")),
            description=sys.intern(str(row.get("description") or row.get("invoiceDescription")
                                       or "")),
            quantity=_dec(row.get("quantity"), f"{what}: quantity"),
            unit_price=_dec(row.get("unitPrice"), f"{what}: unitPrice"),
            live=not _past(row.get("cancelledDate"), self.today))

    async def additions(self, agreement_id: str) -> list[PsaLine]:
        route = self.routes["additions"]
        path = route.path.format(agreementId=agreement_id)
        what = route.label()
        return [self._line(r, agreement_id, what) for r in await self._get_all(path)]

    async def catalog(self, skus: Sequence[str]) -> list[CatalogItem]:
        return self._items(await self._get_in(self.routes["catalog"].path, "identifier", skus),
                           self.routes["catalog"].label())

    @staticmethod
    def _items(rows: Iterable[dict[str, Any]], what: str) -> list[CatalogItem]:
        return [CatalogItem(_id(r, what), str(r.get("identifier", "")),
                            str(r.get("description", "")), str(r.get("description", "")),
                            _dec(r.get("price"), f"{what}: price"), not r.get("inactiveFlag"),
                            str(r.get("productClass", "")).lower() != "bundle")
                for r in rows]

    async def snapshot(self, identifiers: Sequence[str], skus: Sequence[str],
                       agreement_type: str, *, unclaimed: bool = False) -> PsaSnapshot:
        """Type check, agreements (bulk), catalog (bulk), then additions per live agreement.

        Additions are read for the billed accounts with exactly one live agreement of the
        type, and with `unclaimed` for every account (`adapters.lines.accounts_to_read`);
        the console reads an unclaimed account's additions when a fix picks it.
        """
        snap = PsaSnapshot()
        if not await self.agreement_type_exists(agreement_type):
            snap.contract_type_valid = False
            return snap
        (snap.accounts, snap.contracts), snap.catalog = await asyncio.gather(
            self.agreements(agreement_type), self.catalog(skus))
        await read_lines(snap, self.additions,
                         accounts_to_read(snap, identifiers, unclaimed),
                         limit=self.http.slots.rule)
        return snap

    async def all_catalog(self) -> list[CatalogItem]:
        """The whole catalog, for the console's product picker (read once, on demand)."""
        route = self.routes["catalog"]
        return self._items(await self._get_all(route.path), route.label())

    # -- writing (apply) ---------------------------------------------------------------------

    async def contract_lines(self, contract_id: str) -> list[PsaLine]:
        """All lines of one contract, for apply's once-per-contract conflict check."""
        return await self.additions(contract_id)

    async def read_line(self, contract_id: str, line_id: str) -> PsaLine | None:
        route = self.routes["addition"]
        path = route.path.format(agreementId=contract_id, additionId=line_id)
        resp, body = await self._call(route.method, path, endpoint=route.path)
        if resp.status_code == 404:
            return None
        _raise_for(resp.status_code, body, f"GET {path}")
        return self._line(body, contract_id, route.label())

    async def find_lines(self, contract_id: str, product_code: str) -> list[PsaLine]:
        return [ln for ln in await self.additions(contract_id)
                if ln.live and norm(ln.product_code) == norm(product_code)]

    async def _patch(self, contract_id: str, line_id: str, patch: list[dict[str, Any]]
                     ) -> None:
        route = self.routes["set_quantity"]
        path = route.path.format(agreementId=contract_id, additionId=line_id)
        resp, body = await self._call(route.method, path, json_body=patch,
                                      endpoint=route.path)
        _raise_for(resp.status_code, body, f"{route.method} {path}")

    async def set_quantity(self, contract_id: str, line_id: str, quantity: Decimal) -> None:
        await self._patch(contract_id, line_id,
                          [{"op": "replace", "path": "quantity", "value": _num(quantity)}])

    async def end_line(self, contract_id: str, line_id: str, when: date) -> None:
        """The PSA-native way to stop billing a line (`zero_mode = "cancel"`)."""
        await self._patch(contract_id, line_id, [{"op": "replace", "path": "cancelledDate",
                                                  "value": f"{when.isoformat()}T00:00:00Z"}])

    async def add_line(self, contract_id: str, product_id: str, quantity: Decimal,
                       description: str, effective: date) -> str:
        route = self.routes["add_addition"]
        path = route.path.format(agreementId=contract_id)
        body_out = {"product": {"id": int(product_id)}, "billCustomer": "Billable",
                    "quantity": _num(quantity), "description": description,
                    "effectiveDate": f"{effective.isoformat()}T00:00:00Z"}
        resp, body = await self._call(route.method, path, json_body=body_out,
                                      endpoint=route.path)
        _raise_for(resp.status_code, body, f"{route.method} {path}")
        # Kept in the journal and spliced into later URLs (revert, resume): checked like
        # any id read from ConnectWise.
        return psa_id_value(_ref(body, "id"), route.label(), numeric=True, optional=True)

    # -- doctor: which routes this tenant answers, read-only --------------------------------

    async def doctor(self, contract_type: str) -> list[Probe]:
        """Each route a run uses, with the smallest read (pageSize=1); the write routes
        looked up with a GET on their paths (an addition, and the additions list)."""
        probes: list[Probe] = []
        one = {"pageSize": 1, "page": 1}

        async def probe(name: str, path: str, params: Mapping[str, Any] | None = None, *,
                        write: bool = False, step: str = "", needed: bool = True
                        ) -> tuple[Probe, Any]:
            route = self.routes[name]
            status: int | None
            try:
                resp, body = await self._call("GET", path, params=params, endpoint=route.path)
                status, is_json = resp.status_code, True
            except RemoteError as exc:  # 401/403, or an answer that is not JSON
                status, body, is_json = exc.status, None, exc.kind != "decode"
                if exc.status is None:
                    found = Probe(step or name, "job", "GET" if write else route.method, path,
                                  None, "unreachable", exc.message, needed)
                    probes.append(found)
                    return found, None
            verdict = verdict_of(status, is_json, write=write)
            advice = _cw_advice(step or name, verdict, route)
            if write and verdict == "exists":
                advice = (f"the path answers; {route.method} itself was not tried (it would "
                          "write): check the first apply's log")
            found = Probe(step or name, "job", "GET" if write else route.method, path, status,
                          verdict, advice, needed)
            probes.append(found)
            return found, body

        # The first authenticated read doubles as the login check (Basic auth has no
        # login of its own).
        types = self.routes["agreement_types"]
        login, found = await probe("agreement_types", types.path,
                                   {**one, "conditions": f"name={quote(contract_type)}"},
                                   step="login")
        if not login.ok:
            return probes
        probes.append(replace(login, step="agreement_types"))
        if not (isinstance(found, list) and found):
            probes[-1] = replace(probes[-1], verdict="failed", advice=(
                f"no agreement type named {contract_type!r} (CW21): check AgreementType"))
        _, rows = await probe("agreements", self.routes["agreements"].path,
                              {**one, "conditions": f"type/name={quote(contract_type)}"})
        await probe("companies", self.routes["companies"].path, one)
        await probe("catalog", self.routes["catalog"].path, one)
        agreement = _first_id(rows)
        if agreement is None:
            for name in ("additions", "set_quantity", "add_addition"):
                route = self.routes[name]
                probes.append(Probe(name, "job", route.method, route.path, None, "skipped",
                                    f"no agreement of type {contract_type!r} to try it on",
                                    True))
            return probes
        additions = self.routes["additions"].path.format(agreementId=agreement)
        _, lines = await probe("additions", additions, one)
        addition = _first_id(lines) or "0"
        await probe("set_quantity", self.routes["set_quantity"].path.format(
            agreementId=agreement, additionId=addition), write=True)
        await probe("add_addition", self.routes["add_addition"].path.format(
            agreementId=agreement), one, write=True)
        return probes


def _first_id(rows: Any) -> str | None:
    if isinstance(rows, list) and rows and isinstance(rows[0], dict):
        value = rows[0].get("id")
        return str(value) if value is not None else None
    return None


def _cw_advice(step: str, verdict: str, route: Route) -> str:
    if verdict in ("works", "exists"):
        return ""
    if verdict == "refused":
        return ("check CompanyName, PublicKey, PrivateKey and ClientId, and the API member's "
                "security role" if step == "login" else
                "the API member's security role does not allow this route")
    if verdict in ("not found", "not allowed", "not JSON"):
        return ("ApiUrl does not end in the API's base (…/v4_6_release/apis/3.0)"
                if step == "login" else f"this host does not serve {route.label()}: set its "
                "method and path in the job's [endpoints]")
    return "see the HTTP status"


def _num(q: Decimal) -> int | float:
    return int(q) if q == q.to_integral_value() else float(q)


def _raise_for(status: int, body: Any, what: str) -> None:
    if 200 <= status < 300:
        return
    msg = ""
    if isinstance(body, dict):
        msg = str(body.get("message") or body.get("code") or "")
        errs = body.get("errors")
        if isinstance(errs, list) and errs:
            msg += " (" + "; ".join(_err(e) for e in errs[:3]) + ")"
    raise RemoteError("auth" if status in (401, 403) else "http",
                   f"HTTP {status} from {what}: {msg or 'no details'}", status, body)


def _err(e: Any) -> str:
    if not isinstance(e, dict):
        return str(e)
    return ": ".join(str(e[k]) for k in ("field", "message") if e.get(k))

