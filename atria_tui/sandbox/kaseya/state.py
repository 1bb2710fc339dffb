"""In-memory state of the Kaseya BMS sandbox.

The emulator exists so the Kaseya adapter, the console and the benchmarks can be exercised
against the behaviours that matter on a real tenant: short-lived tokens, a per-endpoint hourly
call budget, paging, odd data (ambiguous lines, missing contracts) and failing writes. All of
that lives here, apart from the HTTP routes, so tests can drive time (`now`) and inspect or
poke the state directly.

Demo customers (seed `data/kaseya.json`; Atria side in `sample_configs/demo-kaseya-billing.csv`;
period end 2026-11-25, previous 2026-10-25, ContractType "Recurring Services"):

| Atria | Account code | Kaseya side                                  | expected outcome           |
|-------|--------------|----------------------------------------------|----------------------------|
| ASP   | ACME01       | "Acme Recurring": M365-BP 10, EXO-50 5,      | M365-BP 10→12 KS07,        |
|       |              | BACKUP-1TB 3, ONSITE-HR 4; plus an Inactive  | EXO-50 KS04, BACKUP-1TB→0  |
|       |              | (ended 2025) Recurring contract and a Block  | KS11, ONSITE-HR untouched, |
|       |              | Hours one                                    | AV-EDR 7 no line KS06      |
| FR1   | FRESH01      | "Fresh Roast Recurring": M365-BP 3           | empty SKU KS23, LEGACY-FAX |
|       |              |                                              | KS14, M365-BP 3=3 KS04     |
| UJA   | (empty)      | -                                            | KS09                       |
| NOC   | NOCON01      | only a "Block Hours" contract                | KS05                       |
| GHO   | GHOST01      | no such account                              | KS22                       |
| OLD   | OLD01        | M365-BP 5, EXO-50 5; Atria: previous only    | KS18, KS11 x2, KS19        |
| FLT   | FAULT01      | M365-BP 4, line seeded `"_fault_put": 500`   | 4→6 planned, KS08 on apply |
| AMB   | AMB01        | two live M365-BP lines (2 and 3)             | ambiguous line, skipped    |
| BIG   | BIG01        | 40 lines of 40 filler services               | paging; KS04 / KS07 mix    |
| -     | FILL01..35   | Recurring (some also T&M / Block Hours)      | not billed: never touched  |

Services: M365-BP, EXO-50, BACKUP-1TB, AV-EDR, ONSITE-HR, DNS-ZONE, TEAMS-PHONE (inactive) and
40 fillers (NET-101 …); every description starts with "<name>: " for SKUDescription matching.
"""

from __future__ import annotations

import copy
import json
import math
import secrets
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from atria_tui.sandbox.kaseya.types import (
    Account,
    Contract,
    FaultRule,
    Line,
    SandboxConfig,
    Service,
    Stats,
    Token,
)

__all__ = [
    "DEMO_SECRETS",
    "Account",
    "Contract",
    "FaultRule",
    "KsState",
    "Line",
    "SandboxConfig",
    "Service",
    "Stats",
    "Token",
    "load_seed",
]

Clock = Callable[[], datetime]

DEMO_SECRETS = {
    "UserName": "api.demo@atria.example",
    "Password": "demo-password",
    "Tenant": "AtriaDemo",
}
SEED_PATH = Path(__file__).parent.parent / "data" / "kaseya.json"
HOUR = timedelta(hours=1)


def utcnow() -> datetime:
    return datetime.now(UTC)


def load_seed(path: Path = SEED_PATH) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


class KsState:
    """The tenant's data plus the sandbox machinery (tokens, budget, faults, counters)."""

    def __init__(
        self,
        seed: Mapping[str, Any] | None = None,
        *,
        now: Clock = utcnow,
        config: SandboxConfig | None = None,
    ) -> None:
        self.now = now
        self.config = config or SandboxConfig()
        self._seed = copy.deepcopy(dict(seed)) if seed is not None else load_seed()
        self.reset()

    # --- data --------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the seed: data, tokens, budget windows, counters and faults (not config)."""
        seed = self._seed
        self.users = [dict(u) for u in seed.get("users", [])]
        self.services = {
            s["id"]: Service(
                s["id"],
                s["name"],
                s.get("description", ""),
                float(s.get("unitPrice", 0)),
                float(s.get("unitCost", 0)),
                bool(s.get("isActive", True)),
                s.get("category", ""),
            )
            for s in seed.get("services", [])
        }
        self.accounts: dict[int, Account] = {}
        self.contracts: dict[int, Contract] = {}
        self.lines: dict[int, Line] = {}
        for a in seed.get("accounts", []):
            self.accounts[a["id"]] = Account(
                a["id"], a["accountCode"], a["accountName"], bool(a.get("isActive", True))
            )
            for c in a.get("contracts", []):
                self.contracts[c["id"]] = Contract(
                    c["id"],
                    a["id"],
                    c["contractName"],
                    c["contractType"],
                    c.get("status", "Active"),
                    c.get("contractNumber", f"CN-{c['id']}"),
                    c["startDate"],
                    c["endDate"],
                    c.get("billingCycle", "Monthly"),
                )
                for order, ln in enumerate(c.get("lines", []), start=1):
                    self._seed_line(c["id"], ln, order)
        self.tokens: dict[str, Token] = {}
        # Every change of Units: {lineId, units, effectiveDate} (BMS prorates by that date).
        self.unit_changes: list[dict[str, Any]] = []
        self.faults: list[FaultRule] = []
        self.stats = Stats()
        self._windows: dict[str, deque[datetime]] = {}

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

    def _seed_line(self, contract_id: int, raw: Mapping[str, Any], order: int) -> None:
        svc = self.services[raw["serviceId"]]
        self.lines[raw["id"]] = Line(
            raw["id"],
            contract_id,
            svc.id,
            raw.get("serviceName", svc.name),
            raw.get("description", svc.description),
            float(raw["units"]),
            float(raw.get("unitPrice", svc.unit_price)),
            float(raw.get("unitCost", svc.unit_cost)),
            raw.get("effectiveDate", "2026-01-01T00:00:00"),
            raw.get("sortOrder", order),
            fault_put=raw.get("_fault_put"),
        )

    def lines_of(self, contract_id: int) -> list[Line]:
        return sorted(
            (ln for ln in self.lines.values() if ln.contract_id == contract_id),
            key=lambda ln: (ln.sort_order, ln.id),
        )

    def add_line(
        self,
        contract_id: int,
        service: Service,
        *,
        name: str | None = None,
        description: str | None = None,
        units: float = 0,
        unit_price: float | None = None,
        unit_cost: float | None = None,
        effective_date: str | None = None,
    ) -> Line:
        line_id = max(self.lines, default=3000) + 1
        order = len(self.lines_of(contract_id)) + 1
        line = Line(
            line_id,
            contract_id,
            service.id,
            name or service.name,
            description if description is not None else service.description,
            float(units),
            service.unit_price if unit_price is None else float(unit_price),
            service.unit_cost if unit_cost is None else float(unit_cost),
            effective_date or self.stamp(),
            order,
            modified_on=self.stamp(),
        )
        self.lines[line_id] = line
        return line

    def stamp(self) -> str:
        return self.now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def dump(self) -> dict[str, Any]:
        """The current data in the seed's format, so a state can be saved and reloaded."""
        accounts = []
        for a in self.accounts.values():
            contracts = []
            for c in (c for c in self.contracts.values() if c.account_id == a.id):
                lines = [
                    {
                        "id": ln.id,
                        "serviceId": ln.service_id,
                        "serviceName": ln.service_name,
                        "description": ln.description,
                        "units": ln.units,
                        "unitPrice": ln.unit_price,
                        "unitCost": ln.unit_cost,
                        "effectiveDate": ln.effective_date,
                        "sortOrder": ln.sort_order,
                        **({"_fault_put": ln.fault_put} if ln.fault_put else {}),
                    }
                    for ln in self.lines_of(c.id)
                ]
                contracts.append(
                    {
                        "id": c.id,
                        "contractName": c.name,
                        "contractType": c.type,
                        "status": c.status,
                        "contractNumber": c.number,
                        "billingCycle": c.billing_cycle,
                        "startDate": c.start,
                        "endDate": c.end,
                        "lines": lines,
                    }
                )
            accounts.append(
                {
                    "id": a.id,
                    "accountCode": a.code,
                    "accountName": a.name,
                    "isActive": a.active,
                    "contracts": contracts,
                }
            )
        services = [
            {
                "id": s.id,
                "name": s.name,
                "description": s.description,
                "unitPrice": s.unit_price,
                "unitCost": s.unit_cost,
                "isActive": s.active,
                "category": s.category,
            }
            for s in self.services.values()
        ]
        return {
            "users": [{k: v for k, v in u.items() if k != "password"} for u in self.users],
            "services": services,
            "accounts": accounts,
        }

    # --- tokens ------------------------------------------------------------------------

    def authenticate(self, user: str, password: str, tenant: str) -> Token | None:
        for u in self.users:
            if (
                u["userName"].casefold() == user.strip().casefold()
                and u["tenant"].casefold() == tenant.strip().casefold()
                and u["password"] == password
            ):
                return self._issue(u["userName"], u["tenant"])
        return None

    def refresh(self, access: str, refresh: str) -> Token | None:
        """A refresh token is bound to its access token and is single-use."""
        old = self.tokens.get(access)
        if old is None or old.refresh != refresh or old.refresh_expires <= self.now():
            return None
        del self.tokens[access]
        return self._issue(old.user, old.tenant)

    def _issue(self, user: str, tenant: str) -> Token:
        now = self.now()
        token = Token(
            secrets.token_urlsafe(32),
            secrets.token_urlsafe(32),
            now + timedelta(seconds=self.config.token_ttl_seconds),
            now + timedelta(seconds=self.config.refresh_ttl_seconds),
            user,
            tenant,
        )
        self.tokens[token.access] = token
        return token

    def check_access(self, access: str | None) -> str | None:
        """Why `access` is refused, or None when it may be used."""
        if not access:
            return "Authorization header with a Bearer token is required."
        token = self.tokens.get(access)
        if token is None:
            return "The access token is not valid."
        if token.access_expires <= self.now():
            return "The access token has expired."
        return None

    def expire_tokens(self) -> int:
        past = self.now() - timedelta(seconds=1)
        for token in self.tokens.values():
            token.access_expires = past
        return len(self.tokens)

    # --- budget, faults ------------------------------------------------------------------

    def take_budget(self, endpoint: str) -> int | None:
        """Spend one call of `endpoint`'s rolling-hour budget; else seconds until one frees."""
        now = self.now()
        window = self._windows.setdefault(endpoint, deque())
        while window and window[0] <= now - HOUR:
            window.popleft()
        if len(window) >= self.config.budget_per_hour:
            self.stats.throttled += 1
            if not window:
                return 3600
            return max(1, math.ceil((window[0] + HOUR - now).total_seconds()))
        window.append(now)
        return None

    def budget_used(self) -> dict[str, int]:
        cutoff = self.now() - HOUR
        return {k: sum(1 for t in w if t > cutoff) for k, w in self._windows.items()}

    def match_fault(self, method: str, path: str) -> FaultRule | None:
        for rule in self.faults:
            if rule.matches(method, path):
                rule.fired += 1
                self.stats.faults += 1
                return rule
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "config": asdict(self.config),
            "tokens": len(self.tokens),
            "faults": [f.to_json() for f in self.faults],
            "budget": self.budget_used(),
            "now": self.stamp(),
            "data": self.dump(),
            "unit_changes": list(self.unit_changes),
        }
