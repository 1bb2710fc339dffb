"""Value types of the Kaseya BMS sandbox: entities, tokens, fault rules, counters, config.

Apart from `state` so the state module stays about behaviour (seeding, auth, budget) and
these plain shapes can be imported by the routes without the machinery.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

LINES_ROUTES = ("none", "v2", "ui-api2", "v1")


@dataclass(slots=True)
class SandboxConfig:
    """Knobs the admin API can turn; `max_page_size` mirrors tenants capping pages at 100."""

    latency_ms: int = 0
    budget_per_hour: int = 1500
    token_ttl_seconds: int = 1200
    refresh_ttl_seconds: int = 86400
    max_page_size: int = 100
    # Which host serves the two routes no public document shows (a contract's lines with
    # their units; a change of Units): "none", as the vendor's swagger has it (GET on the
    # POST-only route is 405, the PUT route is missing), or one guessed route set:
    # "v2" (API host), "ui-api2" (under /api2), "v1" (V1 under /api with its own token).
    lines_routes: str = "none"

    def update(self, changes: Mapping[str, Any]) -> None:
        """Validate everything first so a bad request changes nothing."""
        allowed = set(asdict(self))
        unknown = sorted(set(changes) - allowed)
        if unknown:
            raise ValueError(f"unknown config key(s) {unknown}; allowed: {sorted(allowed)}")
        for key, value in changes.items():
            if key == "lines_routes":
                if value not in LINES_ROUTES:
                    raise ValueError(f"config 'lines_routes' must be one of {LINES_ROUTES}, "
                                     f"got {value!r}")
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"config {key!r} must be a non-negative integer, got {value!r}")
        for key, value in changes.items():
            setattr(self, key, value)


@dataclass(slots=True)
class Service:
    id: int
    name: str
    description: str
    unit_price: float
    unit_cost: float
    active: bool = True
    category: str = ""


@dataclass(slots=True)
class Account:
    id: int
    code: str
    name: str
    active: bool = True


@dataclass(slots=True)
class Contract:
    id: int
    account_id: int
    name: str
    type: str
    status: str
    number: str
    start: str
    end: str
    billing_cycle: str = "Monthly"

    def expired(self, now: datetime) -> bool:
        end = datetime.fromisoformat(self.end)
        return end.replace(tzinfo=end.tzinfo or UTC) < now

    def live(self, now: datetime) -> bool:
        return self.status.casefold() == "active" and not self.expired(now)


@dataclass(slots=True)
class Line:
    """A recurring service line; `fault_put` makes every PUT on it fail with that status."""

    id: int
    contract_id: int
    service_id: int
    service_name: str
    description: str
    units: float
    unit_price: float
    unit_cost: float
    effective_date: str
    sort_order: int = 0
    modified_on: str | None = None
    fault_put: int | None = None


@dataclass(slots=True)
class Token:
    access: str
    refresh: str
    access_expires: datetime
    refresh_expires: datetime
    user: str
    tenant: str


@dataclass(slots=True)
class FaultRule:
    """An injected failure: the next `times` matching requests get `status` (0 = forever)."""

    path: re.Pattern[str]
    method: str | None = None
    status: int = 500
    times: int = 1
    retry_after: int | None = None
    malformed: bool = False
    fired: int = 0

    @classmethod
    def parse(cls, raw: Any) -> FaultRule:
        if not isinstance(raw, dict):
            raise ValueError(f"a fault rule must be a JSON object, got {raw!r}")
        unknown = sorted(
            set(raw) - {"method", "path", "status", "times", "retry_after", "malformed"}
        )
        if unknown:
            raise ValueError(f"unknown fault rule key(s) {unknown}")
        try:
            pattern = re.compile(str(raw.get("path", ".*")))
        except re.error as exc:
            raise ValueError(f"fault rule 'path' is not a valid regex: {exc}") from exc
        status = raw.get("status", 200 if raw.get("malformed") else 500)
        times = raw.get("times", 1)
        retry_after = raw.get("retry_after")
        for name, value in (("status", status), ("times", times), ("retry_after", retry_after)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"fault rule {name!r} must be an integer, got {value!r}")
        if not 100 <= status <= 599:
            raise ValueError(f"fault rule 'status' must be an HTTP status, got {status}")
        method = raw.get("method")
        return cls(
            path=pattern,
            method=str(method).upper() if method else None,
            status=status,
            times=times or 0,
            retry_after=retry_after,
            malformed=bool(raw.get("malformed", False)),
        )

    def matches(self, method: str, path: str) -> bool:
        if self.method not in (None, "*", method.upper()):
            return False
        if self.times > 0 and self.fired >= self.times:
            return False
        return self.path.search(path) is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path.pattern,
            "status": self.status,
            "times": self.times,
            "retry_after": self.retry_after,
            "malformed": self.malformed,
            "fired": self.fired,
        }


@dataclass(slots=True)
class Stats:
    """Request counters the benchmarks read to prove the client stayed within budget."""

    total: int = 0
    throttled: int = 0
    faults: int = 0
    by_endpoint: Counter[str] = field(default_factory=Counter)
    by_status: Counter[str] = field(default_factory=Counter)

    def record(self, endpoint: str, status: int) -> None:
        self.total += 1
        self.by_endpoint[endpoint] += 1
        self.by_status[str(status)] += 1

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "throttled": self.throttled,
            "faults": self.faults,
            "byEndpoint": dict(self.by_endpoint),
            "byStatus": dict(self.by_status),
        }
