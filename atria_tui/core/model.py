"""Plain data shared by every layer.

Vendor-neutral on purpose: adapters translate ConnectWise additions and Kaseya service
lines into these shapes, so reconcile, apply, the store and the console never learn a
vendor field name. Quantities are Decimal because they are money drivers and are written
back to the PSA; floats would round-trip 0.1 badly.

Text from Atria and the PSA is made printable here, as the records, PSA rows, plan items
and log entries are built (`printable`), see there for why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

ZERO = Decimal(0)
# No real seat or licence count reaches this; a billed quantity above it is a broken export
# (or a unit mix-up), and writing it to a PSA would invoice it. Jobs may raise it
# (`[options] max_quantity`).
DEFAULT_MAX_QUANTITY = 100_000

# C0 and C1 control characters, DEL included: ESC starts terminal sequences (retitle the
# window, clear the screen, rewrite what was printed), BEL rings, CR overwrites a line.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_BUT_BREAKS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_BREAKS = re.compile(r"[\t\n]")
SHOWN_FOR_CONTROL = "\N{REPLACEMENT CHARACTER}"


def printable(text: str, *, breaks: bool = False) -> str:
    """`text` with every control character shown as U+FFFD; tabs and newlines become a space
    unless `breaks` keeps them (multi-line descriptions and notes).

    Customer names, descriptions and PSA error messages come from systems this tool does
    not control, and reach the console, piped CLI output, CSV files and the database. The
    dataclasses of this module are the one place all such text passes through on the way
    in (adapters and the records reader build them; plans, log entries and exports are
    made from them; entries read back from the database are rebuilt as them), so cleaning
    them here covers every output with a few lines, where cleaning at each output (Rich
    tables, Textual widgets, CSV, JSON) would need a guard in every renderer and would miss
    the next one. A visible mark rather than silent removal shows that the source was odd.
    """
    if breaks:
        return _CONTROL_BUT_BREAKS.sub(SHOWN_FOR_CONTROL, text)
    return _CONTROL.sub(SHOWN_FOR_CONTROL, _BREAKS.sub(" ", text))


def _clean(obj: object, lines: tuple[str, ...], texts: tuple[str, ...] = ()) -> None:
    """Make fields printable in place (frozen dataclasses included): `lines` must stay on
    one line, `texts` may keep tabs and newlines. Clean text costs one regex scan."""
    for names, breaks in ((lines, False), (texts, True)):
        for name in names:
            value = getattr(obj, name)
            if isinstance(value, str) and not value.isprintable() and _CONTROL.search(value):
                object.__setattr__(obj, name, printable(value, breaks=breaks))


class Level(StrEnum):
    VERBOSE = "Verbose"
    INFO = "Info"
    WARNING = "Warning"
    ERROR = "Error"

    @property
    def rank(self) -> int:
        return _LEVEL_RANK[self]

    @classmethod
    def parse(cls, text: str) -> Level:
        """Accept the spellings users type and the seeds use (`warn`, `WARNING`, `info`)."""
        key = text.strip().lower()
        for level in cls:
            if key == level.value.lower():
                return level
        if key == "warn":
            return cls.WARNING
        raise ValueError(f"unknown log level {text!r} (expected verbose, info, warning or error)")


_LEVEL_RANK = {Level.VERBOSE: 0, Level.INFO: 1, Level.WARNING: 2, Level.ERROR: 3}


class Task(StrEnum):
    CONNECTWISE = "connectwise-manage"
    KASEYA = "kaseya-bms"
    AUTOTASK = "autotask-psa"

    @property
    def psa_name(self) -> str:
        """The PSA's name as people say it (beside the member: a new PSA adds both)."""
        return _PSA_NAMES[self]


_PSA_NAMES = {Task.CONNECTWISE: "ConnectWise", Task.KASEYA: "Kaseya",
              Task.AUTOTASK: "Autotask"}


class Action(StrEnum):
    UPDATE = "update"
    ADD = "add"
    ZERO = "zero"
    NONE = "none"
    SKIP = "skip"

    @property
    def writes(self) -> bool:
        # A set lookup by hash: `in` over a tuple compares StrEnum members as strings, and
        # this runs for every row of a 50,000-row preview on each summary.
        return self in _WRITING


_WRITING = frozenset({Action.UPDATE, Action.ADD, Action.ZERO})


class Status(StrEnum):
    PENDING = "pending"
    APPLIED = "applied"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"
    CONFLICT = "conflict"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Period:
    """A billing period, identified (as Atria does) by its end date."""

    start: date
    end: date

    def __str__(self) -> str:
        return self.end.isoformat()


@dataclass(frozen=True, slots=True)
class BillingRecord:
    customer_code: str
    customer_name: str
    billing_identifier: str
    sku: str
    line_description: str
    summary_description: str
    quantity: Decimal
    billable: bool
    period_end: date | None
    source_line: int = 0

    def __post_init__(self) -> None:
        # One C-speed scan of all fields: 40,000 clean rows must cost next to nothing.
        text = (f"{self.customer_code}{self.customer_name}{self.billing_identifier}{self.sku}"
                f"{self.line_description}{self.summary_description}")
        if not text.isprintable() and _CONTROL.search(text):
            _clean(self, ("customer_code", "customer_name", "billing_identifier", "sku"),
                   ("line_description", "summary_description"))


@dataclass(frozen=True, slots=True)
class LogEntry:
    code: str
    level: Level
    message: str
    customer: str = ""
    sku: str = ""
    time: datetime | None = None

    def __post_init__(self) -> None:
        _clean(self, ("code", "message", "customer", "sku"))  # an entry is one line


# --- the PSA side, as read -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PsaAccount:
    """A ConnectWise company or a Kaseya account; `identifier` is the Billing Identifier."""

    id: str
    identifier: str
    name: str
    active: bool = True

    def __post_init__(self) -> None:
        _clean(self, ("identifier", "name"))


@dataclass(frozen=True, slots=True)
class PsaContract:
    """A ConnectWise agreement or Kaseya contract of the configured type."""

    id: str
    account_id: str
    name: str
    type_name: str
    live: bool = True

    def __post_init__(self) -> None:
        _clean(self, ("name", "type_name"))


@dataclass(frozen=True, slots=True)
class PsaLine:
    """A ConnectWise addition or a Kaseya recurring service line.

    `product_code` is what a SKU is compared with by default (ConnectWise product
    identifier, Kaseya service name); `description` serves Kaseya's other match modes.
    """

    id: str
    contract_id: str
    product_id: str
    product_code: str
    description: str
    quantity: Decimal
    unit_price: Decimal = ZERO
    live: bool = True

    def __post_init__(self) -> None:
        _clean(self, ("product_code",), ("description",))


@dataclass(frozen=True, slots=True)
class CatalogItem:
    """A ConnectWise catalog item or a Kaseya service."""

    id: str
    code: str
    name: str
    description: str = ""
    price: Decimal = ZERO
    active: bool = True
    can_be_line: bool = True
    cost: Decimal = ZERO

    def __post_init__(self) -> None:
        _clean(self, ("code", "name"), ("description",))


@dataclass(slots=True)
class PsaSnapshot:
    """Everything the plan needs from the PSA, read once, in bulk.

    `accounts` is keyed by the normalised Billing Identifier; `contracts` by account id
    (only contracts of the configured type); `lines` by contract id. A contract id present
    in `line_errors` could not be read (its message says why).
    """

    accounts: dict[str, PsaAccount] = field(default_factory=dict)
    contracts: dict[str, list[PsaContract]] = field(default_factory=dict)
    lines: dict[str, list[PsaLine]] = field(default_factory=dict)
    catalog: list[CatalogItem] = field(default_factory=list)
    contract_type_valid: bool = True
    line_errors: dict[str, str] = field(default_factory=dict)
    # Contracts whose lines were not read because the host does not serve the route.
    missing_routes: dict[str, str] = field(default_factory=dict)
    # Contracts the PSA will take no write for (Autotask: every period a change could take
    # effect in is approved and posted): contract id → (the profile's code, why). Their
    # billed lines are reported with that code and nothing of them is written.
    refused: dict[str, tuple[str, str]] = field(default_factory=dict)


def norm(text: str) -> str:
    """How identifiers and SKUs are compared everywhere: trimmed, case-insensitive."""
    return text.strip().casefold()


def written_sku(sku: str, product: str, where: str = "") -> str:
    """The SKU as a log message names it: after a saved SKU fix the PSA product written
    differs from the Atria SKU, and the audit trail must say what was written (and where)."""
    if sku and product and norm(product) != norm(sku):
        return f"{product} (Atria SKU {sku}){where}"
    return sku


# --- the plan ----------------------------------------------------------------------------


@dataclass(slots=True)
class PlanItem:
    """One row of the preview: an Atria (customer, SKU) against a PSA line, or a problem."""

    key: str
    customer_code: str
    customer_name: str
    billing_identifier: str
    sku: str
    description: str
    atria_quantity: Decimal | None
    psa_quantity: Decimal | None
    action: Action
    code: str
    level: Level
    message: str
    account_id: str = ""
    account_name: str = ""
    contract_id: str = ""
    contract_name: str = ""
    line_id: str = ""
    product_id: str = ""
    product_code: str = ""
    unit_price: Decimal = ZERO
    approved: bool = True
    note: str = ""
    status: Status | None = None
    # A reviewer decided this row (approved or rejected it); an unapproved row nobody
    # decided is "not reviewed", which the header counts apart from a rejection.
    decided: bool = False

    def __post_init__(self) -> None:
        text = (f"{self.customer_code}{self.customer_name}{self.billing_identifier}{self.sku}"
                f"{self.message}{self.account_name}{self.contract_name}{self.product_code}"
                f"{self.description}{self.note}")
        if not text.isprintable() and _CONTROL.search(text):
            _clean(self, ("customer_code", "customer_name", "billing_identifier", "sku",
                          "message", "account_name", "contract_name", "product_code"),
                   ("description", "note"))

    @property
    def target_quantity(self) -> Decimal | None:
        if self.action is Action.ZERO:
            return ZERO
        return self.atria_quantity

    @property
    def delta(self) -> Decimal:
        if not self.action.writes:
            return ZERO
        return (self.target_quantity or ZERO) - (self.psa_quantity or ZERO)

    @property
    def money_delta(self) -> Decimal:
        return self.delta * self.unit_price


@dataclass(slots=True)
class Plan:
    task: Task
    period: Period
    items: list[PlanItem] = field(default_factory=list)
    log: list[LogEntry] = field(default_factory=list)
    fatal: LogEntry | None = None
    deprovisioned_from: int | None = None

    @property
    def changes(self) -> list[PlanItem]:
        return [i for i in self.items if i.action.writes]

    @property
    def money_delta(self) -> Decimal:
        return sum((i.money_delta for i in self.items), ZERO)


def item_entry(item: PlanItem) -> LogEntry:
    return LogEntry(item.code, item.level, item.message, item.customer_code, item.sku)


@dataclass(slots=True)
class Mappings:
    """Fixes saved from the console; they win over what Atria says.

    `customers`: Atria customer code → PSA Billing Identifier (fixes CW04/KS09, CW14/KS22).
    `skus`: Atria SKU → PSA product code (fixes CW06/KS14).
    `descriptions`: summary description of a SKU-less record → PSA product code (CW05/KS23).
    `managed`: PSA line ids this tool wrote before; they stay managed (rule 6).
    """

    customers: dict[str, str] = field(default_factory=dict)
    skus: dict[str, str] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)
    managed: set[str] = field(default_factory=set)
    # (table, key) → (who, when in UTC ISO): who saved each fix above, for the console's
    # "Saved fixes" list (fixes written by hand have none).
    saved: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
