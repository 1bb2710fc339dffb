"""In-memory state of the ConnectWise Manage sandbox, plus the knobs tests turn.

The emulator (`app.py`) is only HTTP plumbing; everything a test or benchmark wants
to set up or inspect lives here as plain methods, so in-process tests need no admin calls
and the `/_sandbox/*` endpoints are thin wrappers over the same code.

Demo scenario seeded from `data/connectwise.json` (billing period 2026-10-26..2026-11-25,
previous period ends 2026-10-25; AgreementType "Hosting and Cloud Services"; demo job has
AllowAtriaCreateAdditions = true). What each demo customer is for:

    code  identifier      agreement / additions (qty)         Atria bills            expect
    ----  --------------  ----------------------------------  ---------------------  ----------
    ASP   AcmeServices    Acme Hosting: M365-BP 10, EXO-50 5, M365-BP 12, EXO-50 5,  CW07 10->12
                          BACKUP-1TB 3, ONSITE-HR 4 (dates    AV-EDR 7, TEAMS-PHONE  CW09, CW20,
                          come back as ""), + a Managed       2, SEC-BUNDLE 1; prev  CW08, CW22,
                          Services agreement                  BACKUP-1TB 3; one non- CW12 (POST
                                                              billable EXO-50 row    400 bundle)
    FR1   FreshRoast      M365-BP 3                           "" SKU, LEGACY-FAX,    CW05, CW06,
                                                              M365-BP 3              CW09
    UJA   (empty in CSV)  company UjalaTraders exists (for    M365-BP 2              CW04
                          the fuzzy picker): M365-BP 2
    OBR   O'Brien         M365-BP 2                           M365-BP 4              CW07
    QTE   Say "Hi" Ltd    EXO-50 1                            EXO-50 2               CW07
    NOA   NoAgreement     only a Managed Services agreement   M365-BP 2              CW14
    GHO   GhostCo         (no such company)                   M365-BP 1              CW14
    DUP   DupAgree        two live Hosting agreements         M365-BP 3              ambiguous
    AMB   AmbLines        M365-BP 2 + M365-BP 3, EXO-50 1     M365-BP 5, EXO-50 1    ambig., CW09
    CAN   CancelCo        DNS-ZONE 3 cancelled 2025-03-31,    DNS-ZONE 3, M365-BP 1  CW08, CW09
                          M365-BP 1; + a cancelled agreement
    OLD   OldCustomer     M365-BP 5, EXO-50 5                 previous period only   CW20 x2
    FLT   FaultyCo        additions read always 500 (_fault)  M365-BP 2              CW10
    BIG   BigCorp         40 additions (filler SKUs)          all 40, 10 changed     paging >25
    --    34 filler companies (+ DefunctHoldings: inactive, deletedFlag) with agreements not
          in the billing file, so ignoring paging on companies/agreements loses rows.

Catalog: M365-BP 22.00, EXO-50 4.00, BACKUP-1TB 35.00, AV-EDR 6.50, ONSITE-HR 150 (Service),
TEAMS-PHONE 8.00 (inactive), SEC-BUNDLE 15.00 (Bundle), DNS-ZONE 1.00, + 45 filler items.
"""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEMO_SECRETS: dict[str, str] = {
    "CompanyName": "atria_demo",
    "PublicKey": "demo-public-key",
    "PrivateKey": "demo-private-key",
    "ClientId": "5a8c3a0e-0000-4000-8000-000000000001",
}
API_VERSION = "2025.8"
# The longest request URL (scheme, host, path and percent-encoded query) the sandbox
# accepts: the ~2,000 the vendor document tells clients to stay under (IIS refuses a query
# string past 2,048, and proxies in front of it less generous still).
MAX_URL_CHARS = 2000
SEED_PATH = Path(__file__).parent.parent / "data" / "connectwise.json"

# Collection name -> key in the seed JSON.
COLLECTIONS = {
    "agreementTypes": "agreementTypes",
    "companies": "companies",
    "agreements": "agreements",
    "additions": "additions",
    "catalog": "catalog",
}


class CwError(Exception):
    """An error the API answers with a vendor-shaped body (`code`, `message`, `errors`)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        errors: list[dict[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors is not None:
            out["errors"] = self.errors
        return out


@dataclass
class FaultRule:
    """One injected failure: the first rule whose method and path regex match is used."""

    path: re.Pattern[str]
    method: str | None = None
    status: int = 500
    times: int | None = None  # None = forever
    body: Any = None
    retry_after: float | None = None
    malformed: bool = False

    @classmethod
    def from_dict(cls, raw: Any) -> FaultRule:
        """Build from the admin JSON; a bad rule is a clear ValueError, not a traceback."""
        if not isinstance(raw, Mapping):
            raise ValueError(f"fault rule must be an object, got {type(raw).__name__}")
        known = {"method", "path", "status", "times", "body", "retry_after", "malformed"}
        unknown = set(raw) - known
        if unknown:
            raise ValueError(
                f"fault rule: unknown field(s) {sorted(unknown)}; known: {sorted(known)}"
            )
        try:
            pattern = re.compile(str(raw.get("path", ".*")))
        except re.error as exc:
            raise ValueError(f"fault rule: path is not a valid regex ({exc})") from None
        method = raw.get("method")
        status = raw.get("status", 500)
        times = raw.get("times")
        retry = raw.get("retry_after")
        if method is not None and not isinstance(method, str):
            raise ValueError('fault rule: method must be a string such as "GET"')
        if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
            raise ValueError(f"fault rule: status must be an HTTP status code, got {status!r}")
        if times is not None and (not isinstance(times, int) or isinstance(times, bool)):
            raise ValueError(f"fault rule: times must be an integer or null, got {times!r}")
        if retry is not None and (not isinstance(retry, int | float) or isinstance(retry, bool)):
            raise ValueError(f"fault rule: retry_after must be a number of seconds, got {retry!r}")
        return cls(
            path=pattern,
            method=method.upper() if method else None,
            status=status,
            times=times,
            body=raw.get("body"),
            retry_after=retry,
            malformed=bool(raw.get("malformed", False)),
        )

    def matches(self, method: str, path: str) -> bool:
        if self.method not in (None, "*", method.upper()):
            return False
        return self.path.search(path) is not None and (self.times is None or self.times > 0)


class CwState:
    """Companies, agreements, types, additions and catalog keyed by int id, plus controls."""

    def __init__(self, seed: Mapping[str, Any] | None = None) -> None:
        self._seed: dict[str, Any] = (
            dict(seed) if seed is not None else json.loads(SEED_PATH.read_text("utf-8"))
        )
        self.companies: dict[int, dict[str, Any]] = {}
        self.agreements: dict[int, dict[str, Any]] = {}
        self.agreement_types: dict[int, dict[str, Any]] = {}
        self.additions: dict[int, dict[str, Any]] = {}
        self.catalog: dict[int, dict[str, Any]] = {}
        self.agreement_faults: dict[int, int] = {}
        self.faults: list[FaultRule] = []
        self.latency_ms = 0
        self.rate_limit_every = 0
        # Knobs for a faulty server: `conditions` ignored (every row answered), and query
        # parameters left out of the `Link` URLs it builds (e.g. ["conditions"]).
        self.ignore_conditions = False
        self.link_omits: tuple[str, ...] = ()
        self.requests: Counter[tuple[str, str]] = Counter()
        self.request_seq = 0
        self.longest_url = 0
        self.accept: Counter[str] = Counter()
        self.reset()

    # ------------------------------------------------------------------ data

    def reset(self) -> None:
        """Back to the seed: data, faults, knobs and counters."""
        self.load(self._seed)
        self.faults = []
        self.latency_ms = 0
        self.rate_limit_every = 0
        self.ignore_conditions = False
        self.link_omits = ()
        self.requests = Counter()
        self.request_seq = 0
        self.longest_url = 0
        self.accept = Counter()

    def load(self, data: Mapping[str, Any]) -> None:
        """Replace the data with `data` (the `data/connectwise.json` shape) until the next
        `reset`, which goes back to the seed the state was built with."""

        def index(key: str) -> dict[int, dict[str, Any]]:
            rows = copy.deepcopy(data.get(key, []))
            if not isinstance(rows, list):
                raise ValueError(f"{key} must be a list of records")
            return {int(r["id"]): r for r in rows}

        self.companies = index("companies")
        self.agreement_types = index("agreementTypes")
        self.additions = index("additions")
        self.catalog = index("catalog")
        self.agreements = index("agreements")
        # `_fault` in the seed marks an agreement whose additions read always fails.
        self.agreement_faults = {
            aid: int(a.pop("_fault")) for aid, a in self.agreements.items() if "_fault" in a
        }

    def rows(self, collection: str) -> list[dict[str, Any]]:
        """All records of a collection, ordered by id (the service's natural order)."""
        table = {
            "companies": self.companies,
            "agreements": self.agreements,
            "agreementTypes": self.agreement_types,
            "additions": self.additions,
            "catalog": self.catalog,
        }[collection]
        return [table[k] for k in sorted(table)]

    def additions_of(self, agreement_id: int) -> list[dict[str, Any]]:
        return [a for a in self.rows("additions") if a.get("agreementId") == agreement_id]

    def next_id(self, table: Mapping[int, Any]) -> int:
        return max(table, default=0) + 1

    def catalog_by_identifier(self, identifier: str) -> dict[str, Any] | None:
        key = identifier.casefold()
        return next(
            (c for c in self.rows("catalog") if str(c["identifier"]).casefold() == key), None
        )

    def snapshot(self) -> dict[str, Any]:
        """Every agreement with its additions, for tests and the e2e harness to assert on."""
        out = []
        for agr in self.rows("agreements"):
            entry = copy.deepcopy(agr)
            entry["additions"] = [
                {
                    "id": ad["id"],
                    "sku": ad["product"]["identifier"],
                    "quantity": ad["quantity"],
                    "unitPrice": ad["unitPrice"],
                    "cancelledDate": ad.get("cancelledDate"),
                    "billCustomer": ad.get("billCustomer"),
                    "description": ad.get("description"),
                }
                for ad in self.additions_of(agr["id"])
            ]
            out.append(entry)
        return {"agreements": out}

    def quantity_of(self, company_identifier: str, sku: str) -> list[float]:
        """Quantities of live additions for (company, SKU): a handy assertion helper."""
        ids = {
            a["id"]
            for a in self.agreements.values()
            if str(a["company"]["identifier"]).casefold() == company_identifier.casefold()
        }
        return [
            float(ad["quantity"])
            for ad in self.rows("additions")
            if ad["agreementId"] in ids
            and str(ad["product"]["identifier"]).casefold() == sku.casefold()
            and not ad.get("cancelledDate")
        ]

    # ------------------------------------------------------------------ controls

    def add_faults(self, rules: Iterable[FaultRule | Mapping[str, Any]]) -> None:
        for rule in rules:
            self.faults.append(rule if isinstance(rule, FaultRule) else FaultRule.from_dict(rule))

    def clear_faults(self) -> None:
        self.faults = []

    def configure(
        self,
        *,
        latency_ms: int | None = None,
        rate_limit_every: int | None = None,
        ignore_conditions: bool | None = None,
        link_omits: Iterable[str] | None = None,
    ) -> None:
        if latency_ms is not None:
            if latency_ms < 0:
                raise ValueError("latency_ms must be >= 0")
            self.latency_ms = latency_ms
        if rate_limit_every is not None:
            if rate_limit_every < 0:
                raise ValueError("rate_limit_every must be >= 0 (0 disables it)")
            self.rate_limit_every = rate_limit_every
        if ignore_conditions is not None:
            self.ignore_conditions = ignore_conditions
        if link_omits is not None:
            self.link_omits = tuple(link_omits)

    def config(self) -> dict[str, Any]:
        return {
            "latency_ms": self.latency_ms,
            "rate_limit_every": self.rate_limit_every,
            "ignore_conditions": self.ignore_conditions,
            "link_omits": list(self.link_omits),
        }

    def record_request(
        self, method: str, template: str, url_length: int = 0, accept: str | None = None
    ) -> int:
        """Count a call per (method, path template), note its URL length and `Accept`
        header; return its sequence number (1-based)."""
        self.requests[(method.upper(), template)] += 1
        self.request_seq += 1
        self.longest_url = max(self.longest_url, url_length)
        self.accept[accept if accept is not None else ""] += 1
        return self.request_seq

    def rate_limited(self, seq: int) -> bool:
        return self.rate_limit_every > 0 and seq % self.rate_limit_every == 0

    def take_fault(self, method: str, path: str) -> FaultRule | None:
        """The first matching rule, with one use consumed."""
        for rule in self.faults:
            if rule.matches(method, path):
                if rule.times is not None:
                    rule.times -= 1
                return rule
        return None

    def stats(self) -> dict[str, Any]:
        return {
            "total": sum(self.requests.values()),
            "requests": {f"{m} {t}": n for (m, t), n in sorted(self.requests.items())},
            "longest_url": self.longest_url,
            "accept": dict(sorted(self.accept.items())),
        }
