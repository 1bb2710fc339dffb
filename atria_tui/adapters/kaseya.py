"""Kaseya BMS v2: the only module that knows its paths and JSON field names.

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
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from atria_tui.adapters.http import CallBudget, ClientOptions, HttpClient
from atria_tui.adapters.kaseya_auth import Clock, KaseyaAuth, lower_keys, utcnow
from atria_tui.adapters.lines import accounts_to_read, read_lines
from atria_tui.adapters.paging import Deadline, Pages
from atria_tui.adapters.values import psa_id, psa_id_value, psa_number
from atria_tui.model import (
    CatalogItem,
    PsaAccount,
    PsaContract,
    PsaLine,
    PsaSnapshot,
    norm,
)
from atria_tui.psa.errors import RemoteError

MAX_PAGE_SIZE = 100
# No tenant has a million accounts, contracts or services; a larger count is a corrupt
# answer, and would have the adapter request ten thousand pages at once.
MAX_TOTAL_RECORDS = 1_000_000

# Documented in the public BMS API 2.0 swagger: name → (method, path template).
ENDPOINTS: dict[str, tuple[str, str]] = {
    "login": ("POST", "/v2/security/authenticate"),
    "refresh": ("POST", "/v2/security/refreshtoken"),
    "accounts": ("GET", "/v2/crm/accounts/summary"),
    "contracts": ("GET", "/v2/finance/contracts/summary"),
    "services": ("POST", "/v2/admin/finance/services/search"),
    "add_lines": ("POST", "/v2/finance/contracts/recurringservices/{contractId}/services"),
}

# NOT in the public v2 swagger: inferred from what the Atria integration must do (list a
# contract's service lines with units; change Units on one line). These MUST be checked
# against a real tenant (they may live under v1 or an unpublished v2 path) and corrected here.
UNVERIFIED_ENDPOINTS: dict[str, tuple[str, str]] = {
    "list_lines": ("GET", "/v2/finance/contracts/recurringservices/{contractId}/services"),
    "set_units": ("PUT",
                  "/v2/finance/contracts/recurringservices/{contractId}/services/{lineId}"),
}


def base_url(api_url: str) -> str:
    """The seed's ApiUrl may already end in /v2; every path here starts with it."""
    url = api_url.strip().rstrip("/")
    if url.casefold().endswith("/v2"):
        url = url[:-3]
    return url


def _dec(value: Any, what: str) -> Decimal:
    number = psa_number(value, what)  # NaN, Infinity, 1e999 and absurd values are refused
    # JSON numbers arrive as 10.0; keep whole quantities whole so logs read "10", not "10.0".
    return number.to_integral_value() if number == number.to_integral_value() else number


def _id(row: Mapping[str, Any], what: str) -> str:
    return psa_id(row, what)


def _what(name: str, field: str = "") -> str:
    """An endpoint as errors name it: `GET /v2/crm/accounts/summary: accountId`."""
    method, path = ENDPOINTS.get(name) or UNVERIFIED_ENDPOINTS[name]
    return f"{method} {path}" + (f": {field}" if field else "")


def _ended(value: Any, today: date) -> bool:
    """An end date before today; unset or unreadable dates mean open-ended."""
    if not isinstance(value, str) or not value.strip():
        return False
    try:
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00")).date() < today
    except ValueError:
        return False


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


def _num(q: Decimal) -> int | float:
    return int(q) if q == q.to_integral_value() else float(q)


class KaseyaAdapter:
    def __init__(self, api_url: str, secrets: Mapping[str, str], *,
                 options: ClientOptions | None = None, page_size: int = MAX_PAGE_SIZE,
                 today: date | None = None, clock: Clock = utcnow,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 budget: CallBudget | None = None, deadline: Deadline | None = None,
                 **client_kw: Any) -> None:
        self.http = HttpClient(base_url(api_url), options=options, sleep=sleep, budget=budget,
                               **client_kw)
        self.auth = KaseyaAuth(self.http, secrets, login_path=ENDPOINTS["login"][1],
                               refresh_path=ENDPOINTS["refresh"][1], clock=clock)
        self.page_size = max(1, min(page_size, MAX_PAGE_SIZE))
        self.today = today or datetime.now(UTC).date()
        self._services: dict[str, CatalogItem] = {}
        self.deadline = deadline

    async def aclose(self) -> None:
        await self.http.aclose()

    @property
    def requests(self) -> int:
        return self.http.requests

    @property
    def budget_wait_seconds(self) -> float:
        """Time spent waiting for the hourly budget, for the run summary."""
        return self.http.budget.waited if self.http.budget else 0.0

    # -- paging ------------------------------------------------------------------------------

    async def _page(self, name: str, number: int, filters: Mapping[str, Any]
                    ) -> tuple[list[dict[str, Any]], int | None]:
        """One page, and the tenant's `totalRecords` if it sent one (bounded: the count
        decides how many pages are requested at once)."""
        method, path = ENDPOINTS[name]
        paging = {"PageSize": self.page_size, "PageNumber": number}
        if method == "GET":
            result, total = await self.auth.call(method, path, endpoint=path,
                                                 params={**filters, **paging})
        else:
            body = {**paging, "Filter": dict(filters)}
            # A search: a POST that only reads, so it may be retried like a GET.
            result, total = await self.auth.call(method, path, endpoint=path, json_body=body,
                                                 idempotent=True)
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
        pages = Pages(" ".join(ENDPOINTS[name]), self.deadline)
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
                found[key] = PsaAccount(_id(r, _what("accounts")), str(r.get("accountcode") or ""),
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
            account = psa_id_value(r.get("accountid"), _what("contracts", "accountId"),
                                   optional=True)
            k = PsaContract(_id(r, _what("contracts")), account,
                            str(r.get("contractname") or ""),
                            str(r.get("contracttype") or contract_type), live)
            out.append((k, str(r.get("accountname") or "")))
        return out

    async def catalog(self) -> list[CatalogItem]:
        """All services, active and inactive: KS14 must tell "missing" from "inactive"."""
        items = [CatalogItem(_id(r, _what("services")), str(r.get("name") or ""),
                             str(r.get("name") or ""), str(r.get("description") or ""),
                             _dec(r.get("unitprice"), _what("services", "unitPrice")),
                             r.get("isactive") is not False)
                 for r in await self._all("services")]
        self._services = {i.id: i for i in items}
        return items

    def _line(self, r: Mapping[str, Any], contract_id: str) -> PsaLine:
        service_id = psa_id_value(r.get("serviceid"), _what("list_lines", "serviceId"),
                                  optional=True)
        service = self._services.get(service_id)
        description = str(r.get("description") or "") or (service.description if service
                                                           else "")
        name = str(r.get("servicename") or "") or (service.name if service else "")
        return PsaLine(id=_id(r, _what("list_lines")), contract_id=contract_id,
                       product_id=service_id, product_code=name, description=description,
                       quantity=_dec(r.get("units"), _what("list_lines", "units")),
                       unit_price=_dec(r.get("unitprice"), _what("list_lines", "unitPrice")))

    async def lines(self, contract_id: str) -> list[PsaLine]:
        method, template = UNVERIFIED_ENDPOINTS["list_lines"]
        path = template.format(contractId=contract_id)
        if self.deadline is not None:  # one call per contract: the longest read of a plan
            self.deadline.check(f"{method} {template}")
        result, _ = await self.auth.call(method, path, endpoint=template)
        return [self._line(r, contract_id) for r in _rows(result, f"{method} {template}")]

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
                         accounts_to_read(snap, identifiers, unclaimed))
        return snap

    # -- writing (apply) ---------------------------------------------------------------------

    async def contract_lines(self, contract_id: str) -> list[PsaLine]:
        """All lines of one contract, for apply's once-per-contract conflict check."""
        return await self.lines(contract_id)

    async def read_line(self, contract_id: str, line_id: str) -> PsaLine | None:
        """No single-line endpoint exists: re-read the contract's lines (conflict check)."""
        try:
            found = await self.lines(contract_id)
        except RemoteError as exc:
            if exc.status == 404:
                return None
            raise
        return next((ln for ln in found if ln.id == line_id), None)

    async def find_lines(self, contract_id: str, product_code: str) -> list[PsaLine]:
        return [ln for ln in await self.lines(contract_id)
                if norm(ln.product_code) == norm(product_code)]

    async def set_quantity(self, contract_id: str, line_id: str, quantity: Decimal) -> None:
        method, template = UNVERIFIED_ENDPOINTS["set_units"]
        path = template.format(contractId=contract_id, lineId=line_id)
        await self.auth.call(method, path, endpoint=template,
                             json_body={"Units": _num(quantity)})

    async def add_line(self, contract_id: str, product_id: str, quantity: Decimal,
                       description: str, effective: date) -> str:
        method, template = ENDPOINTS["add_lines"]
        path = template.format(contractId=contract_id)
        try:
            service_id = int(product_id)
        except ValueError:
            raise RemoteError("http", f"service id {product_id!r} is not a Kaseya id") from None
        item: dict[str, Any] = {"ServiceId": service_id, "Units": _num(quantity),
                                "ServiceDescription": description,
                                "EffectiveDate": f"{effective.isoformat()}T00:00:00"}
        service = self._services.get(product_id)
        if service:
            item |= {"ServiceName": service.name, "UnitPrice": _num(service.price)}
        result, _ = await self.auth.call(method, path, endpoint=template, json_body=[item])
        first = result[0] if isinstance(result, list) and result else result
        # Kept in the journal and spliced into later URLs: checked like any id read back.
        return psa_id_value(lower_keys(first).get("id"), f"{method} {template}",
                            optional=True)
