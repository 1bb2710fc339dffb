"""In-memory state of the Autotask sandbox: the tenant's rows and the machinery around them.

Rows are plain dicts keyed by the wire names (camelCase), one dict per entity, so the query
grammar can read any field. The machinery: credentials and integration codes, the hourly
request threshold per database (rolling 60 minutes, presettable), threads in flight per
(integration code + entity), paging sessions behind `nextPageUrl`, injected faults and
counters. Tests drive time through `now`.

Demo tenant (seed `data/autotask.json`; Atria side `sample_configs/demo-autotask-billing.csv`,
period end 2026-11-25; Billing Identifier = `companyNumber`; contracts Recurring Service
(7), Active (1), 2026-01-01…2027-12-31, monthly periods from the 1st, October 2026 approved
and posted unless said otherwise):

| Atria | companyNumber | Autotask side                    | situation                     |
|-------|---------------|----------------------------------|-------------------------------|
| ASP   | ACME01        | M365-BP 10, EXO-50 5,            | M365-BP 10→12 increase,       |
|       |               | BACKUP-1TB 3, DNS-ZONE 4; an     | EXO-50 5→3 decrease,          |
|       |               | Inactive Recurring contract      | BACKUP-1TB 3=3 unchanged,     |
|       |               | ended 2025, a Block Hours one    | AV-EDR 7 new line, DNS-ZONE   |
|       |               |                                  | not in Atria (→ 0: refused by |
|       |               |                                  | default, `zero_units`)        |
| TWN   | TWIN01        | two Active Recurring contracts   | ambiguous contract            |
| INA   | INACT01       | company `isActive` false         | inactive company              |
| FR1   | FRESH01       | M365-BP 3                        | LEGACY-FAX unknown SKU;       |
|       |               |                                  | M365-BP 3=3                   |
| DUO   | DUAL01        | EXO-50 2                         | VOIP-SEAT: two active         |
|       |               |                                  | services with sku VOIP-SEAT   |
|       |               |                                  | (names are unique): ambiguous |
|       |               |                                  | by `sku`, unknown by `name`   |
| PST   | POST01        | M365-BP 4, posted to 2026-12-31  | 4→6 refused in December       |
| FRC   | FRAC01        | M365-BP 2                        | Atria 2.5: fractional         |
| NOC   | NOCON01       | only a Block Hours contract      | no Recurring contract         |
| GHO   | GHOST01       | no such company                  | unknown customer              |
| -     | FILL01..30    | Recurring, NET-/SEC- fillers     | not billed; > 500 unit rows   |

Services: `name` is the SKU and `sku` repeats it, except the two VOIP-SEAT services
("VOIP-SEAT Standard", "VOIP-SEAT Legacy", both sku VOIP-SEAT) and TEAMS-PHONE (inactive).
One service bundle, M365-SECURE (no service has that name): FR1 bills it, and a bundle is
out of the job's scope (reported, never written).
"""

from __future__ import annotations

import asyncio
import copy
import json
import math
import secrets
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from atria_tui.sandbox.autotask.types import (
    CONTRACT_ACTIVE,
    FIELDS,
    MONTHLY,
    RECURRING_SERVICE,
    AtConfig,
)
from atria_tui.sandbox.kaseya.types import FaultRule, Stats

__all__ = ["DEMO_SECRETS", "AtConfig", "AtState", "FaultRule", "Paging", "Stats", "load_seed"]

Clock = Callable[[], datetime]
Row = dict[str, Any]

DEMO_SECRETS = {
    "ApiIntegrationCode": "ATRIATUISANDBOXTRACKINGID",
    "UserName": "atria.api@sandbox.example",
    "Secret": "demo-secret",
}
SEED_PATH = Path(__file__).parent.parent / "data" / "autotask.json"
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
MAX_WALKS = 1000


def utcnow() -> datetime:
    return datetime.now(UTC)


def load_seed(path: Path = SEED_PATH) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def day_text(day: date) -> str:
    """A date-only value as the API returns it: midnight, no offset."""
    return f"{day.isoformat()}T00:00:00"


def day_of(text: str) -> date:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).date()


def add_months(day: date, months: int) -> date:
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    last = (date(year + month // 12, month % 12 + 1, 1) - DAY).day
    return date(year, month, min(day.day, last))


@dataclass(slots=True)
class Paging:
    """A query walk behind `nextPageUrl`: the ids found by the first page, and its body."""

    entity: str
    body: Any
    ids: list[int]
    size: int
    include: tuple[str, ...] | None


@dataclass(slots=True)
class Entities:
    rows: dict[str, dict[int, Row]] = field(
        default_factory=lambda: {name: {} for name in FIELDS})

    def table(self, entity: str) -> dict[int, Row]:
        return self.rows[entity]


class AtState:
    """The tenant's data plus the sandbox machinery (auth, threshold, threads, paging)."""

    def __init__(self, seed: Mapping[str, Any] | None = None, *, now: Clock = utcnow,
                 config: AtConfig | None = None) -> None:
        self.now = now
        self.config = config or AtConfig()
        self._seed = copy.deepcopy(dict(seed)) if seed is not None else load_seed()
        self.reset()

    # --- data ------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the seed: data, threshold window, threads, paging, faults, counters."""
        seed = self._seed
        tenant = seed.get("tenant", {})
        self.zone_name = str(tenant.get("zoneName", "Sandbox Zone"))
        self.ci = int(tenant.get("ci", 0))
        self.users = [dict(u) for u in seed.get("users", [])]
        self.integration_codes = [str(c) for c in seed.get("integrationCodes", [])]
        self.data = Entities()
        self.udf_definitions: dict[str, list[dict[str, Any]]] = {
            k: list(v) for k, v in seed.get("userDefinedFields", {}).items()}
        services = self.data.table("Services")
        for raw in seed.get("services", []):
            row = self._blank("Services", raw["id"])
            row.update({k: v for k, v in raw.items() if k in row})
            row.setdefault("isActive", True)
            row["isActive"] = bool(raw.get("isActive", True))
            row["periodType"] = raw.get("periodType", MONTHLY)
            row["sku"] = raw.get("sku", raw["name"])
            row["userDefinedFields"] = []
            services[row["id"]] = row
        for raw in seed.get("serviceBundles", []):
            row = self._blank("ServiceBundles", raw["id"])
            row.update({k: v for k, v in raw.items() if k in row})
            row["isActive"] = bool(raw.get("isActive", True))
            row["periodType"] = raw.get("periodType", MONTHLY)
            self.data.table("ServiceBundles")[row["id"]] = row
        names = [s["name"].casefold() for s in services.values()]
        if len(names) != len(set(names)):
            raise ValueError("service names must be unique (Violation of UNIQUE KEY "
                             "constraint 'IX_service')")
        for raw in seed.get("companies", []):
            company = self._blank("Companies", raw["id"])
            company.update({k: v for k, v in raw.items() if k in company})
            company["companyType"] = raw.get("companyType", 1)
            company["isActive"] = bool(raw.get("isActive", True))
            company["userDefinedFields"] = [
                {"name": k, "value": v} for k, v in raw.get("udf", {}).items()]
            self.data.table("Companies")[company["id"]] = company
            for c in raw.get("contracts", []):
                self._seed_contract(company["id"], c)
        self.adjustments: list[Row] = []
        self.faults: list[FaultRule] = []
        self.stats = Stats()
        self.window: deque[datetime] = deque()
        self.in_flight: Counter[tuple[str, str]] = Counter()
        self.thread_rejections = 0
        self.paging: dict[str, Paging] = {}

    def reseed(self, seed: Mapping[str, Any] | None) -> None:
        """New data (None: the demo seed), then `reset`; a bad seed leaves the old one."""
        previous = self._seed
        self._seed = copy.deepcopy(dict(seed)) if seed is not None else load_seed()
        try:
            self.reset()
        except Exception:
            self._seed = previous
            self.reset()
            raise

    def _blank(self, entity: str, row_id: int) -> Row:
        if isinstance(row_id, bool) or not isinstance(row_id, int):
            raise ValueError(f"{entity} id must be an integer, got {row_id!r}")
        row: Row = {name: None for name, *_ in FIELDS[entity]}
        row["id"] = row_id
        return row

    def _seed_contract(self, company_id: int, raw: Mapping[str, Any]) -> None:
        contract = self._blank("Contracts", raw["id"])
        contract.update({k: v for k, v in raw.items() if k in contract})
        contract.update(
            companyID=company_id,
            contractType=raw.get("contractType", RECURRING_SERVICE),
            status=raw.get("status", CONTRACT_ACTIVE),
            contractPeriodType=raw.get("contractPeriodType", MONTHLY),
            contractNumber=raw.get("contractNumber", f"C{raw['id']}"),
            startDate=day_text(day_of(raw["startDate"])),
            endDate=day_text(day_of(raw["endDate"])),
            isDefaultContract=bool(raw.get("isDefaultContract", False)),
            billToCompanyID=company_id,
            lastModifiedDateTime="2026-01-01T00:00:00Z",
            userDefinedFields=[],
        )
        self.data.table("Contracts")[contract["id"]] = contract
        posted = raw.get("postedThrough")
        for line in raw.get("services", []):
            service = self.data.table("Services")[line["serviceID"]]
            cs = self._blank("ContractServices", line["id"])
            price = float(line.get("unitPrice", service["unitPrice"] or 0))
            cost = float(line.get("unitCost", service["unitCost"] or 0))
            cs.update(contractID=contract["id"], serviceID=service["id"], unitPrice=price,
                      unitCost=cost, internalCurrencyUnitPrice=price,
                      internalCurrencyAdjustedPrice=price,
                      invoiceDescription=service.get("invoiceDescription"))
            self.data.table("ContractServices")[cs["id"]] = cs
            self._unit_rows(cs, day_of(contract["startDate"]), int(line["units"]),
                            day_of(posted) if posted else None)

    def _unit_rows(self, cs: Row, start: date, units: int, posted: date | None) -> None:
        """One ContractServiceUnit per contract period from the period holding `start`."""
        contract = self.data.table("Contracts")[cs["contractID"]]
        first, end = day_of(contract["startDate"]), day_of(contract["endDate"])
        k = 0
        while (period_start := add_months(first, k)) <= end:
            period_end = min(add_months(first, k + 1) - DAY, end)
            k += 1
            if period_end < start:
                continue
            row_start = max(period_start, start)
            row = self._new_unit(cs, row_start, period_end, units)
            if posted is not None and period_end <= posted:
                row["approveAndPostDate"] = f"{(posted + DAY).isoformat()}T09:00:00Z"

    def _new_unit(self, cs: Row, start: date, end: date, units: int) -> Row:
        table = self.data.table("ContractServiceUnits")
        row = self._blank("ContractServiceUnits", max(table, default=900000) + 1)
        row.update(contractID=cs["contractID"], contractServiceID=cs["id"],
                   serviceID=cs["serviceID"], startDate=day_text(start),
                   endDate=day_text(end), organizationalLevelAssociationID=None)
        self._price(row, units, cs)
        table[row["id"]] = row
        return row

    @staticmethod
    def _price(row: Row, units: int, cs: Row) -> None:
        """`price`/`cost` are extended amounts (units × per-unit), per the spec."""
        row["units"] = units
        row["price"] = round(units * float(cs["unitPrice"] or 0), 2)
        row["cost"] = round(units * float(cs["unitCost"] or 0), 2)
        row["internalCurrencyPrice"] = row["price"]

    def units_of(self, cs_id: int) -> list[Row]:
        return sorted((r for r in self.data.table("ContractServiceUnits").values()
                       if r["contractServiceID"] == cs_id), key=lambda r: r["startDate"])

    def tenant_day(self, moment: datetime) -> date:
        """A UTC date-time in the tenant's time zone, truncated to its date."""
        return (moment + timedelta(minutes=self.config.tz_offset_minutes)).date()

    def posted_through(self, contract_id: int) -> date | None:
        ends = [day_of(r["endDate"]) for r in self.data.table("ContractServiceUnits").values()
                if r["contractID"] == contract_id and r["approveAndPostDate"]]
        return max(ends, default=None)

    # --- writes ----------------------------------------------------------------------

    def add_contract_service(self, contract: Row, service: Row, values: Mapping[str, Any],
                             start: date | None) -> Row:
        table = self.data.table("ContractServices")
        cs = self._blank("ContractServices", max(table, default=700000) + 1)
        price = values.get("unitprice")
        cost = values.get("unitcost")
        price = float(service["unitPrice"] or 0) if price is None else float(price)
        cost = float(service["unitCost"] or 0) if cost is None else float(cost)
        cs.update(contractID=contract["id"], serviceID=service["id"], unitPrice=price,
                  unitCost=cost, internalCurrencyUnitPrice=price,
                  internalCurrencyAdjustedPrice=price,
                  invoiceDescription=values.get("invoicedescription",
                                                service.get("invoiceDescription")),
                  internalDescription=values.get("internaldescription"))
        table[cs["id"]] = cs
        if start is None:
            posted = self.posted_through(contract["id"])
            start = max(day_of(contract["startDate"]), (posted + DAY) if posted else date.min)
        self._unit_rows(cs, start, 0, None)
        return cs

    def adjust(self, cs: Row, effective: date, change: int) -> None:
        """Apply `change` from `effective` on: a row holding the date is split (the earlier
        row ends on it, the new one starts on it); later rows move by `change`."""
        rows = self.units_of(cs["id"])
        for row in rows:
            start, end = day_of(row["startDate"]), day_of(row["endDate"])
            if start >= effective:
                self._price(row, int(row["units"]) + change, cs)
            elif end >= effective:
                row["endDate"] = day_text(effective)
                self._new_unit(cs, effective, end, int(row["units"]) + change)

    def units_after(self, cs: Row, effective: date, change: int) -> list[int]:
        return [int(r["units"]) + change for r in self.units_of(cs["id"])
                if day_of(r["endDate"]) >= effective]

    # --- auth, threshold, threads, faults -------------------------------------------

    def user(self, name: str) -> Row | None:
        folded = name.strip().casefold()
        return next((u for u in self.users if str(u["userName"]).casefold() == folded), None)

    def count_request(self) -> None:
        self.window.append(self.now())

    def usage(self) -> int:
        cutoff = self.now() - HOUR
        while self.window and self.window[0] <= cutoff:
            self.window.popleft()
        return len(self.window)

    def retry_after(self) -> int:
        if not self.window:
            return 60
        return max(1, math.ceil((self.window[0] + HOUR - self.now()).total_seconds()))

    def preset_usage(self, count: int) -> None:
        """Pretend other integrations already made `count` requests this hour."""
        self.window = deque([self.now()] * count)

    def match_fault(self, method: str, path: str) -> FaultRule | None:
        for rule in self.faults:
            if rule.matches(method, path):
                rule.fired += 1
                self.stats.faults += 1
                return rule
        return None

    async def hold(self, key: tuple[str, str]) -> None:
        if self.config.latency_ms:
            await asyncio.sleep(self.config.latency_ms / 1000)

    def new_paging(self, paging: Paging) -> str:
        """Keep a walk for `nextPageUrl`; the oldest go first past `MAX_WALKS`."""
        token = secrets.token_urlsafe(12)
        self.paging[token] = paging
        while len(self.paging) > MAX_WALKS:
            del self.paging[next(iter(self.paging))]
        return token

    def to_json(self) -> dict[str, Any]:
        return {
            "config": asdict(self.config),
            "now": self.now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "usage": self.usage(),
            "threadRejections": self.thread_rejections,
            "faults": [f.to_json() for f in self.faults],
            "stats": self.stats.to_json(),
            "adjustments": list(self.adjustments),
            "data": {name: sorted(rows.values(), key=lambda r: r["id"])
                     for name, rows in self.data.rows.items() if name !=
                     "ContractServiceAdjustments"},
        }
