"""The per-line integration the tool is compared with: one request per customer and line.

This is how a straightforward integration is written (and how per-customer scripts behave):
for each customer, look the company up, look its agreement up, read its lines, then write
each line that differs, one request at a time. It does the same job as the tool's plan and
apply (the same billed quantities, the same number of writes), so the request and time
ratios compare strategies, not workloads. It honours 429 Retry-After (through the
benchmark's clock, so Kaseya's hourly budget costs virtual, not real, time).
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from atria_tui.adapters.connectwise import auth_headers, quote
from atria_tui.core.model import BillingRecord, norm

Sleep = Callable[[float], Awaitable[None]]


@dataclass
class NaiveResult:
    requests: int = 0
    writes: int = 0
    seconds: float = 0.0
    throttled: int = 0
    by_endpoint: Counter[str] = field(default_factory=Counter)


def billed(records: Iterable[BillingRecord]) -> dict[str, tuple[str, dict[str, Decimal]]]:
    """Customer code → (Billing Identifier, SKU → quantity) of billable current records."""
    out: dict[str, tuple[str, dict[str, Decimal]]] = {}
    qty: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for r in records:
        if not r.billable or not r.sku.strip():
            continue
        ident = out.get(r.customer_code, ("", {}))[0] or r.billing_identifier.strip()
        qty[r.customer_code][norm(r.sku)] += r.quantity
        out[r.customer_code] = (ident, qty[r.customer_code])
    return dict(sorted(out.items()))


class _Naive:
    def __init__(self, api_url: str, headers: Mapping[str, str], sleep: Sleep,
                 max_writes: int, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.client = httpx.AsyncClient(base_url=api_url.rstrip("/"), headers=dict(headers),
                                        timeout=60, transport=transport)
        self.sleep = sleep
        self.max_writes = max_writes
        self.result = NaiveResult()

    async def send(self, method: str, url: str, endpoint: str, **kw: Any) -> httpx.Response:
        while True:
            self.result.requests += 1
            self.result.by_endpoint[f"{method} {endpoint}"] += 1
            resp = await self.client.request(method, url, **kw)
            if resp.status_code != 429:
                return resp
            self.result.throttled += 1
            await self.sleep(float(resp.headers.get("retry-after") or 1))

    async def run(self, customers: Mapping[str, tuple[str, dict[str, Decimal]]]
                  ) -> NaiveResult:
        start = time.perf_counter()
        try:
            for ident, skus in customers.values():
                if ident:
                    await self.customer(ident, skus)
        finally:
            await self.client.aclose()
        self.result.seconds = time.perf_counter() - start
        return self.result

    async def customer(self, ident: str, skus: dict[str, Decimal]) -> None:
        raise NotImplementedError

    def may_write(self) -> bool:
        return self.result.writes < self.max_writes


class NaiveConnectWise(_Naive):
    def __init__(self, api_url: str, secrets: Mapping[str, str], agreement_type: str,
                 sleep: Sleep, max_writes: int = 1000) -> None:
        super().__init__(api_url, auth_headers(secrets), sleep, max_writes)
        self.agreement_type = agreement_type

    async def customer(self, ident: str, skus: dict[str, Decimal]) -> None:
        resp = await self.send("GET", "/company/companies", "/company/companies",
                               params={"conditions": f"identifier={quote(ident)}"})
        companies = resp.json()
        if not companies:
            return
        cond = f"company/id={companies[0]['id']} and type/name={quote(self.agreement_type)}"
        resp = await self.send("GET", "/finance/agreements", "/finance/agreements",
                               params={"conditions": cond})
        live = [a for a in resp.json() if not a.get("cancelledFlag")]
        if not live:
            return
        aid = live[0]["id"]
        path = f"/finance/agreements/{aid}/additions"
        resp = await self.send("GET", path, "/finance/agreements/{id}/additions",
                               params={"pageSize": 1000})
        for add in resp.json():
            want = skus.get(norm(str(add["product"]["identifier"])))
            if want is None or Decimal(str(add["quantity"])) == want or not self.may_write():
                continue
            body = [{"op": "replace", "path": "quantity", "value": float(want)}]
            await self.send("PATCH", f"{path}/{add['id']}",
                            "/finance/agreements/{id}/additions/{aid}", json=body)
            self.result.writes += 1


class NaiveKaseya(_Naive):
    LINES = "/v2/finance/contracts/recurringservices/{contractId}/services"

    def __init__(self, api_url: str, secrets: Mapping[str, str], contract_type: str,
                 sleep: Sleep, max_writes: int = 1000,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(api_url, {}, sleep, max_writes, transport)
        self.creds = {"GrantType": "password", **{k: secrets[k] for k in
                                                  ("UserName", "Password", "Tenant")}}
        self.contract_type = contract_type

    async def login(self) -> None:
        path = "/v2/security/authenticate"
        resp = await self.send("POST", path, path, data=self.creds)
        token = resp.json()["result"]["accessToken"]
        self.client.headers["Authorization"] = f"Bearer {token}"

    async def call(self, method: str, url: str, endpoint: str, **kw: Any) -> Any:
        """The `result` of one call; a 401 (token expired during a long run) logs in again."""
        if "Authorization" not in self.client.headers:
            await self.login()
        resp = await self.send(method, url, endpoint, **kw)
        if resp.status_code == 401:
            await self.login()
            resp = await self.send(method, url, endpoint, **kw)
        return resp.json().get("result")

    async def customer(self, ident: str, skus: dict[str, Decimal]) -> None:
        path = "/v2/crm/accounts/summary"
        accounts = await self.call("GET", path, path, params={
            "Filter.AccountCode": ident, "PageSize": 100, "PageNumber": 1})
        if not accounts:
            return
        path = "/v2/finance/contracts/summary"
        contracts = await self.call("GET", path, path, params={
            "Filter.AccountId": accounts[0]["id"], "Filter.ContractType": self.contract_type,
            "PageSize": 100, "PageNumber": 1})
        live = [c for c in contracts or [] if str(c.get("status")).lower() == "active"]
        if not live:
            return
        lines_path = self.LINES.format(contractId=live[0]["id"])
        for line in await self.call("GET", lines_path, self.LINES) or []:
            want = skus.get(norm(str(line["serviceName"])))
            if want is None or Decimal(str(line["units"])) == want or not self.may_write():
                continue
            await self.call("PUT", f"{lines_path}/{line['id']}", self.LINES + "/{lineId}",
                            json={"Units": float(want)})
            self.result.writes += 1
