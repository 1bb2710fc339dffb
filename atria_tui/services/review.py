"""What the review screens need that is not drawing: approvals, the fix queue, pickers.

Kept apart from the screens so the rules a reviewer relies on can be tested without a
terminal: which rows start unapproved (decreases and big swings, `needs_review`), that a
re-plan after a fix keeps every approval and note already given, that a fix is written
to the job's mappings file before the plan changes (a crash never loses a fix that was
shown as applied), and that re-planning costs no PSA request.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Literal

from rapidfuzz import fuzz, utils

from atria_tui.adapters.lines import read_lines, single_live_contracts
from atria_tui.core import codes, numbers
from atria_tui.core.model import (
    ZERO,
    CatalogItem,
    Level,
    Mappings,
    Plan,
    PlanItem,
    PsaSnapshot,
    norm,
)
from atria_tui.core.paths import atomic_write
from atria_tui.engine.reconcile import hold_for_review, needs_review
from atria_tui.job.file import JobConfig
from atria_tui.job.mappings import load_mappings, mappings_path, save_mappings
from atria_tui.job.parameters import ConfigError
from atria_tui.psa import PROFILES, profile_of
from atria_tui.psa.errors import RemoteError
from atria_tui.services.engine import PlanContext, StoredPlanError, stored_plan
from atria_tui.services.run_checks import RunAbort, job_session
from atria_tui.services.runtime import Runtime

FixKind = Literal["customer", "sku", "description"]

# The unmapped queue, in the order a reviewer works through it.
# Each group holds every PSA's code for its situation, read from the profiles.
FIX_GROUPS: dict[str, tuple[str, ...]] = {
    group: tuple(dict.fromkeys(getattr(p.codes, name) for p in PROFILES.values()
                               for name in names))
    for group, names in (("Missing Billing Identifier", ("identifier_missing",)),
                         ("Missing SKU", ("sku_missing",)),
                         ("SKU unknown to the PSA", ("unknown_sku",)),
                         ("No account or agreement", ("account_unknown", "contract_missing")))
}
_KIND: dict[str, FixKind] = {"Missing Billing Identifier": "customer", "Missing SKU":
                             "description", "SKU unknown to the PSA": "sku",
                             "No account or agreement": "customer"}
_GROUP_OF = {code: group for group, group_codes in FIX_GROUPS.items() for code in group_codes}

FIX_HEADER = ["group", "code", "customer_code", "customer_name", "billing_identifier", "sku",
              "description", "quantity", "message", "resolution"]


class ReviewError(Exception):
    """A problem the reviewer can act on (shown as a notification, never a traceback)."""


# --- approvals ---------------------------------------------------------------------------


def initial_review(plan: Plan, swing_threshold: float) -> Plan:
    """Decreases and swings over the threshold start unapproved; other writes approved
    (`hold_for_review`, the rule headless plan and apply follow too)."""
    return hold_for_review(plan, swing_threshold)


def carry_review(old: Plan, new: Plan, swing_threshold: float) -> Plan:
    """A re-planned preview keeps the approvals and notes the reviewer already gave.

    The decisions are copied out first: an incremental re-plan hands the rows of the
    customers a fix did not touch to the new plan as they are, so `old` and `new` share
    those rows, and resetting `new` would reset them in `old` too."""
    before = {i.key: (i.approved, i.note, i.decided) for i in old.items}
    initial_review(new, swing_threshold)
    for item in new.items:
        seen = before.get(item.key)
        if seen is not None:
            item.approved, item.note, item.decided = seen
    return new


def set_approved(items: Iterable[PlanItem], approved: bool) -> int:
    """Approve/reject the writes among `items`; rows that write nothing are left alone."""
    count = 0
    for item in items:
        if item.action.writes and (item.approved != approved or not item.decided):
            count += item.approved != approved
            item.approved, item.decided = approved, True
    return count


def decide(item: PlanItem, approved: bool) -> None:
    """One reviewer's decision on one row: approved (✓) or rejected (✗)."""
    item.approved, item.decided = approved, True


ReviewState = Literal["approved", "rejected", "open", ""]


def review_state(item: PlanItem) -> ReviewState:
    """Approved (by a reviewer or by the rule), rejected by a reviewer, or not reviewed
    yet ("open": held back by the rule and nobody has decided); "" for a row that writes
    nothing."""
    if not item.action.writes:
        return ""
    if item.approved:
        return "approved"
    return "rejected" if item.decided else "open"


@dataclass(frozen=True, slots=True)
class Summary:
    counts: dict[str, int]
    changes: int
    approved: int
    to_review: int
    money: Decimal
    approved_money: Decimal
    at_stake: Decimal
    rejected: int = 0
    rows: int = 0

    def codes_text(self) -> str:
        return "  ".join(f"{code} {n}" for code, n in sorted(self.counts.items()))


def summarize(items: Sequence[PlanItem], swing_threshold: float = 0.25) -> Summary:
    """The header's counts and money. One pass: the console calls it on the UI thread for
    every decision and every re-sort of a 50,000-row preview."""
    counts: dict[str, int] = {}
    changes = approved = to_review = rejected = 0
    money = approved_money = at_stake = ZERO
    get = counts.get
    for i in items:
        counts[i.code] = get(i.code, 0) + 1
        if not i.action.writes:
            continue
        changes += 1
        delta = i.money_delta
        money += delta
        if i.approved:
            approved += 1
            approved_money += delta
            at_stake += abs(delta)
        elif i.decided:
            rejected += 1
        else:
            to_review += 1
    return Summary(counts=counts, changes=changes, approved=approved, to_review=to_review,
                   money=money, approved_money=approved_money, at_stake=at_stake,
                   rejected=rejected, rows=len(items))


def plan_filter(level: Level | None, code: str | None, changes_only: bool,
                customer: str | None = None) -> Callable[[PlanItem], bool] | None:
    """The preview's filter: at least `level`, exactly `code`, only rows that write, one
    customer."""
    if level is None and code is None and not changes_only and customer is None:
        return None
    rank = level.rank if level else -1

    def keep(i: PlanItem) -> bool:
        return (i.level.rank >= rank and (code is None or i.code == code)
                and (not changes_only or i.action.writes)
                and (customer is None or i.customer_code == customer))

    return keep


def is_blocker(item: PlanItem) -> bool:
    """A row that stops a line from being billed: a warning or error that writes nothing
    (no account, unknown SKU, missing identifier…). Blockers are listed first."""
    return item.level in _BLOCKING and not item.action.writes


_BLOCKING = frozenset(lv for lv in Level if lv.rank >= Level.WARNING.rank)


def blockers_first(items: Sequence[PlanItem]) -> list[PlanItem]:
    """The preview's order: blockers, then the rest, each in the plan's order. Two linear
    passes (no sort): it runs on every load of a 50,000-row preview."""
    blockers = [i for i in items if is_blocker(i)]
    if not blockers:
        return list(items)
    return blockers + [i for i in items if not is_blocker(i)]


@dataclass(frozen=True, slots=True)
class CustomerTotal:
    """One customer's subtotal in the preview's "By customer" view."""

    code: str
    name: str
    rows: int
    changes: int
    delta: Decimal
    money: Decimal
    blockers: int
    to_review: int


def customer_totals(items: Iterable[PlanItem]) -> list[CustomerTotal]:
    """Per customer: rows, changes, Δ qty, Δ money, blockers and rows left to review;
    customers with blockers first, then those with rows to review, then by code."""
    groups: dict[str, list[PlanItem]] = {}
    for i in items:
        groups.setdefault(i.customer_code, []).append(i)
    out = []
    for code, rows in groups.items():
        changes = [i for i in rows if i.action.writes]
        out.append(CustomerTotal(
            code, next((i.customer_name for i in rows if i.customer_name), ""), len(rows),
            len(changes), sum((i.delta for i in changes), ZERO),
            sum((i.money_delta for i in changes), ZERO), sum(map(is_blocker, rows)),
            sum(1 for i in changes if not i.approved and not i.decided)))
    return sorted(out, key=lambda t: (-t.blockers, -t.to_review, norm(t.code)))


def confirm_text(s: Summary, plan: Plan, psa: str, currency: str = "") -> str:
    """What the apply confirmation states: how many lines change and the money at stake."""
    body = (f"{s.approved} line(s) will change in {psa} for the period ending "
            f"{plan.period.end}.\nMoney at stake: {numbers.money(s.at_stake, currency)} "
            f"(net Δ {numbers.signed_money(s.approved_money, currency)} per period).")
    if s.changes > s.approved:
        body += f"\n{s.changes - s.approved} change(s) not approved are left as they are."
    return body


def run_now_text(plan: Plan, swing_threshold: float, psa: str, currency: str = ""
                 ) -> str | None:
    """What "Run now" asks before applying a plan nobody reviewed row by row: how many
    changes, the money, and how many of them a reviewer would have been asked about
    (decreases, big swings) or cannot be written; None when the plan writes nothing."""
    changes = [i for i in plan.changes if i.approved]
    if not changes:
        return None
    held = sum(1 for i in plan.changes if not i.approved and needs_review(i, swing_threshold))
    problems = sum(1 for i in plan.items if i.level.rank >= Level.WARNING.rank)
    money_ = sum((i.money_delta for i in changes), ZERO)
    lines = [f"Period ending {plan.period.end}: {len(changes)} change(s) to write to "
             f"{psa}, money Δ {numbers.signed_money(money_, currency)} per period."]
    if held:
        lines.append(f"{held} decrease(s) or large swing(s) are held for review and not "
                     "written: press p (Preview) to approve them line by line.")
    if problems:
        lines.append(f"{problems} row(s) have warnings or errors and are not written.")
    lines.append("To check the changes one by one first, cancel and press p (Preview).")
    return "\n".join(lines)


# --- since last month ----------------------------------------------------------------------

MonthKey = tuple[str, str]


def month_key(item: PlanItem) -> MonthKey:
    """What a line is across months: customer and SKU (or description), not the line id
    or the code, which change from one period to the next."""
    return norm(item.customer_code), norm(item.sku or item.description)


def last_applied(svc: Runtime, job: JobConfig, period_end: str) -> dict[MonthKey, Decimal]:
    """The quantity each line held after the job's newest apply of an earlier period:
    what was written (journal `done`), else what the PSA held then. Empty on a job's
    first run, or when that apply's stored plan cannot be read (never an error)."""
    runs = [r for r in svc.store.runs(job.key, limit=500)
            if r.kind == "apply" and r.period_end and r.period_end < period_end]
    if not runs:
        return {}
    newest = max(runs, key=lambda r: (r.period_end, r.id))
    try:
        plan = stored_plan(svc, newest.id)
    except StoredPlanError:
        return {}
    if plan is None:
        return {}
    written = {j.item_key: j.after for j in svc.store.journal(newest.id) if j.state == "done"}
    out: dict[MonthKey, Decimal] = {}
    for item in plan.items:
        held = written.get(item.key, item.psa_quantity)
        if held is not None and (item.sku or item.description):
            key = month_key(item)
            out[key] = out.get(key, ZERO) + held
    return out


def swing_since(item: PlanItem, last: Decimal | None, swing_threshold: float) -> bool:
    """Whether this month's Atria quantity moved against last month's by more than the
    swing threshold (a line new since last month, or gone, counts as a swing)."""
    now = item.atria_quantity
    if last is None or now is None:
        return False
    if last == 0:
        return now != 0
    return abs(now - last) / abs(last) > Decimal(str(swing_threshold))


def notes_of(items: Iterable[PlanItem]) -> dict[tuple[str, str], str]:
    """Reviewers' notes keyed as export.log_rows expects them: (customer, SKU)."""
    return {(i.customer_code, i.sku): i.note for i in items if i.note.strip()}


# --- the fix queue -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fix:
    """One entry of the unmapped queue; `kind` says which mappings table fixes it."""

    group: str
    code: str
    kind: FixKind
    customer_code: str
    customer_name: str
    billing_identifier: str
    sku: str
    description: str
    quantity: Decimal | None
    message: str
    account_word: str = "company"  # the PSA's own word for what a customer is mapped to

    @property
    def wants(self) -> Literal["account", "product"]:
        return "account" if self.kind == "customer" else "product"

    @property
    def fix_with(self) -> str:
        """What the clerk picks, in the PSA's words ("account" in Kaseya BMS)."""
        return self.account_word if self.wants == "account" else "product"

    @property
    def subject(self) -> str:
        """What the picker's suggestions are ranked against (the Atria side's name)."""
        if self.kind == "customer":
            return self.customer_name or self.customer_code
        return self.description or self.sku

    @property
    def source(self) -> str:
        """The mappings key: customer code, Atria SKU or summary description."""
        return {"customer": self.customer_code, "sku": self.sku,
                "description": self.description}[self.kind]

    @property
    def resolution(self) -> str:
        return codes.resolution(self.code)


def fix_queue(plan: Plan) -> list[Fix]:
    """The plan's unmapped rows, grouped by code, one per customer or SKU to fix."""
    order = list(FIX_GROUPS)
    word = profile_of(plan.task).account_word
    found: dict[tuple[str, str, str], Fix] = {}
    for i in plan.items:
        group = _GROUP_OF.get(i.code)
        if group is None:
            continue
        kind = _KIND[group]
        fix = Fix(group, i.code, kind, i.customer_code, i.customer_name, i.billing_identifier,
                  i.sku, i.description, i.atria_quantity, i.message, word)
        found.setdefault((group, norm(i.customer_code), norm(fix.source)), fix)
    return sorted(found.values(), key=lambda f: (order.index(f.group), norm(f.customer_code),
                                                 norm(f.sku or f.description)))


SAVED_GROUP = "Fixed in atria-tui: enter in Atria"


def fix_rows(fixes: Iterable[Fix], saved: Mappings | None = None) -> Iterable[list[object]]:
    """The fixes still to make, then (`saved`) the ones made in the console: those live
    only in JOB.mappings.toml until someone enters them in Atria, which is what the
    export is for."""
    for f in fixes:
        yield [f.group, f.code, f.customer_code, f.customer_name, f.billing_identifier, f.sku,
               f.description, f.quantity, f.message, f.resolution]
    if saved is None:
        return
    for code, identifier in sorted(saved.customers.items()):
        yield [SAVED_GROUP, "", code, "", identifier, "", "", "",
               f"Customer {code} → PSA Billing Identifier {identifier}",
               f"Store {identifier} as the customer's Billing Identifier in Atria."]
    for sku, product in sorted(saved.skus.items()):
        yield [SAVED_GROUP, "", "", "", "", sku, "", "",
               f"Atria SKU {sku} → PSA product {product}",
               f"Store {product} as the SKU of this product in Atria."]
    for description, product in sorted(saved.descriptions.items()):
        yield [SAVED_GROUP, "", "", "", "", "", description, "",
               f"Description {description!r} → PSA product {product}",
               f"Give this product the SKU {product} in Atria."]


# --- picker choices ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Choice:
    """A PSA company/account (value = its Billing Identifier) or product (value = code)."""

    kind: Literal["account", "product"]
    value: str
    label: str
    detail: str = ""
    usable: bool = True
    item: CatalogItem | None = field(default=None, compare=False)
    score: float = 0.0


def account_choices(snapshot: PsaSnapshot, plan: Plan | None = None) -> list[Choice]:
    """Accounts with a contract of the configured type; `detail` says which, and who uses it.

    An account without exactly one live contract cannot take lines, so it is offered but
    marked unusable rather than hidden (the reviewer may be looking for exactly that one).
    """
    users: dict[str, set[str]] = {}
    for i in plan.items if plan else []:
        if i.billing_identifier:
            users.setdefault(norm(i.billing_identifier), set()).add(i.customer_code)
    out: list[Choice] = []
    for account in snapshot.accounts.values():
        live = [k for k in snapshot.contracts.get(account.id, []) if k.live]
        detail = live[0].name if len(live) == 1 else (
            f"{len(live)} live contracts" if live else "no live contract")
        used = sorted(users.get(norm(account.identifier), ()))
        if used:
            detail += f" · used by {', '.join(used)}"
        out.append(Choice("account", account.identifier, account.name, detail,
                          usable=len(live) == 1 and account.active))
    return sorted(out, key=lambda c: (norm(c.label), norm(c.value)))


def product_choices(catalog: Iterable[CatalogItem]) -> list[Choice]:
    out: list[Choice] = []
    seen: set[str] = set()
    for item in catalog:
        if not item.code or item.id in seen:
            continue
        seen.add(item.id)
        detail = f"{item.price:,.2f}" + ("" if item.active else " · inactive")
        label = item.description if norm(item.name) == norm(item.code) else item.name
        out.append(Choice("product", item.code, label or item.name, detail,
                          usable=item.active and item.can_be_line, item=item))
    return sorted(out, key=lambda c: (norm(c.value), c.item.id if c.item else ""))


def _score(query: str, choice: Choice) -> float:
    label = fuzz.WRatio(query, choice.label, processor=utils.default_process)
    value = fuzz.WRatio(query, choice.value, processor=utils.default_process)
    return float(max(label, value))


def rank(choices: Sequence[Choice], query: str, subject: str = "",
         limit: int | None = None) -> list[Choice]:
    """Best first: by what was typed, else by similarity to the Atria name (suggestions).

    Ties keep the alphabetical order, so the list does not jump around while typing.
    """
    text = query.strip() or subject.strip()
    if not text:
        ranked = list(choices)
    else:
        scored = [Choice(c.kind, c.value, c.label, c.detail, c.usable, c.item,
                         round(_score(text, c), 1)) for c in choices]
        if query.strip():
            scored = [c for c in scored if c.score >= 50]
        ranked = sorted(scored, key=lambda c: (-c.score, not c.usable))
    return ranked[:limit] if limit else ranked


async def full_catalog(svc: Runtime, job: JobConfig, snapshot: PsaSnapshot
                       ) -> list[CatalogItem]:
    """Every catalog item a product picker may offer (read once, then cached by the caller).

    ConnectWise snapshots hold only the items of the SKUs billed, so the whole catalog is
    read on demand; a Kaseya snapshot already holds every service.
    """
    if profile_of(job.task).catalog_in_snapshot:
        return list(snapshot.catalog)
    try:
        session, _ = job_session(svc, job)
    except RunAbort as abort:
        raise ReviewError(abort.entry.message) from None
    try:
        reader = getattr(session, "all_catalog", None)
        if reader is None:
            return list(snapshot.catalog)
        items: list[CatalogItem] = await reader()
        return items
    except RemoteError as exc:  # already redacted by the session
        raise ReviewError(f"could not read the {job.task.psa_name} catalog: "
                          f"{exc.message}") from None
    finally:
        await session.aclose()


# --- applying a fix ------------------------------------------------------------------------


_TABLE: dict[FixKind, str] = {"customer": "customers", "sku": "skus",
                              "description": "descriptions"}


def save_fix(job_path: Path | None, mappings: Mappings, fix: Fix, choice: Choice,
             at: str = "") -> Path:
    """Write the fix to the job's mappings file and into `mappings` (the plan's copy).

    The file is re-read first so fixes saved elsewhere meanwhile are kept; keys are
    normalised the way reconcile looks them up.
    """
    if job_path is None:
        raise ReviewError("this job has not been saved to a file yet: save it, then fix")
    if (fix.wants == "account") != (choice.kind == "account"):
        raise ReviewError(f"{fix.code} is fixed with a PSA {fix.wants}, not a {choice.kind}")
    path = mappings_path(job_path)
    try:
        on_disk = load_mappings(path)
    except ConfigError as exc:
        raise ReviewError(str(exc)) from None
    key = norm(fix.source)
    if not key:
        raise ReviewError(f"{fix.code}: nothing to map (empty {fix.kind})")
    table = _TABLE[fix.kind]
    getattr(on_disk, table)[key] = choice.value
    on_disk.saved[(table, key)] = (_who(), at)
    try:
        save_mappings(on_disk, path)
    except OSError as exc:
        raise ReviewError(f"{path}: could not save the fix: {exc.strerror or exc}") from None
    getattr(mappings, table)[key] = choice.value
    mappings.saved[(table, key)] = on_disk.saved[(table, key)]
    return path


def _who() -> str:
    """The clerk who saved a fix: the login name, as the OS knows it."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (a container without a passwd entry)
        return ""


@dataclass(frozen=True, slots=True)
class SavedFix:
    """One mapping of the job's mappings file, as the "Saved fixes" list shows it."""

    table: str
    key: str
    value: str
    by: str
    at: str

    @property
    def kind(self) -> str:
        return {"customers": "Customer", "skus": "Atria SKU",
                "descriptions": "Description"}[self.table]


def saved_fixes(mappings: Mappings) -> list[SavedFix]:
    """Every mapping of the job (customers, SKUs, descriptions), with who saved it when."""
    out = []
    for table in _TABLE.values():
        for key, value in sorted(getattr(mappings, table).items()):
            by, at = mappings.saved.get((table, key), ("", ""))
            out.append(SavedFix(table, key, value, by, at))
    return out


async def read_lines_for(svc: Runtime, ctx: PlanContext, identifiers: Iterable[str]) -> int:
    """Read the lines of the accounts a fix points customers at, if the plan did not.

    A plan reads only the lines of the accounts its customers claim (issue 12: headless
    runs never read the agreements nobody bills), so a fix naming an unclaimed account
    needs that account's lines before it can re-plan: one read per contract, in the
    fix's worker, not before the preview opens. How many contracts were read."""
    snap = ctx.snapshot
    wanted = {snap.accounts[norm(i)].id for i in identifiers if norm(i) in snap.accounts}
    done = {*snap.lines, *snap.line_errors, *snap.missing_routes}
    todo = {k.account_id for k in single_live_contracts(snap, wanted) if k.id not in done}
    if not todo:
        return 0
    try:
        session, _ = job_session(svc, ctx.job)
    except RunAbort as abort:
        raise ReviewError(abort.entry.message) from None
    try:
        await read_lines(snap, session.contract_lines, todo)  # the client's own bound
    except RemoteError as exc:  # already redacted by the session
        raise ReviewError(f"could not read the {ctx.job.task.psa_name} lines the fix "
                          f"needs: {exc.message}") from None
    finally:
        await session.aclose()
    return len(todo)


def _identifiers_without(ctx: PlanContext, fix: SavedFix) -> list[str]:
    """The Billing Identifiers a customer's records give once its fix is removed."""
    if fix.table != "customers":
        return []
    return [r.billing_identifier for r in ctx.records
            if norm(r.customer_code) == norm(fix.key) and r.billing_identifier.strip()]


def remove_fix(ctx: PlanContext, current: Plan, fix: SavedFix, swing_threshold: float) -> Plan:
    """Remove one mapping from the file and from the plan's copy, then re-plan at once
    (no PSA request), keeping every approval and note."""
    if ctx.job.path is None:
        raise ReviewError("this job has not been saved to a file yet")
    path = mappings_path(ctx.job.path)
    try:
        on_disk = load_mappings(path)
    except ConfigError as exc:
        raise ReviewError(str(exc)) from None
    getattr(on_disk, fix.table).pop(fix.key, None)
    on_disk.saved.pop((fix.table, fix.key), None)
    try:
        save_mappings(on_disk, path)
    except OSError as exc:
        raise ReviewError(f"{path}: could not remove the fix: {exc.strerror or exc}") from None
    getattr(ctx.mappings, fix.table).pop(fix.key, None)
    ctx.mappings.saved.pop((fix.table, fix.key), None)
    return carry_review(current, ctx.replan(ctx.mappings), swing_threshold)


def apply_fix(ctx: PlanContext, current: Plan, fix: Fix, choice: Choice,
              swing_threshold: float, at: str = "") -> Plan:
    """Save the fix, then re-plan from what was already read: no PSA request."""
    save_fix(ctx.job.path, ctx.mappings, fix, choice, at)
    if choice.item is not None and all(c.id != choice.item.id for c in ctx.snapshot.catalog):
        ctx.snapshot.catalog.append(choice.item)
    return carry_review(current, ctx.replan(ctx.mappings), swing_threshold)


# --- the saved review and undo ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Decision:
    """What a reviewer said about one row: approved or not, and the note."""

    approved: bool
    note: str
    decided: bool = False


@dataclass(frozen=True, slots=True)
class SavedReview:
    """A review saved for a job and period: decisions by row key, when it was last saved."""

    path: Path
    saved_at: str
    decisions: dict[str, dict[str, object]]

    @property
    def count(self) -> int:
        return len(self.decisions)


def review_path(svc: Runtime, job: JobConfig, period_end: object) -> Path:
    """`reviews/<job key>-<period end>.json` beside the store: one per job and period."""
    base = Path(svc.store.path).parent if svc.store.path != ":memory:" else Path.cwd()
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in job.key)
    return base / "reviews" / f"{safe}-{period_end}.json"


def _state(items: Iterable[PlanItem], threshold: float) -> dict[str, dict[str, object]]:
    """What the reviewer changed from the initial review, and every note. A decision is
    kept with the quantities it was made on: it is not carried to a row that changed."""
    out: dict[str, dict[str, object]] = {}
    for i in items:
        initial = not needs_review(i, threshold) if i.action.writes else True
        if i.approved != initial or i.note or i.decided:
            out[i.key] = {"approved": i.approved, "decided": i.decided, "note": i.note,
                          "atria": str(i.atria_quantity), "psa": str(i.psa_quantity)}
    return out


def local_time(at: str) -> str:
    """A stored UTC time in the clerk's time zone, labelled (the text itself if not one)."""
    try:
        return datetime.fromisoformat(at).astimezone().strftime("%Y-%m-%d %H:%M %Z")
    except ValueError:
        return at


def load_review(path: Path) -> SavedReview | None:
    """The saved review at `path`, or None when there is none (or it cannot be read: a
    damaged file must not stop a preview; the reviewer starts again)."""
    try:
        data = json.loads(path.read_text("utf-8"))
        decisions = data["decisions"]
        if not isinstance(decisions, dict) or not decisions:
            return None
        return SavedReview(path, str(data.get("saved_at", "")), decisions)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def restore_review(plan: Plan, saved: SavedReview) -> int:
    """Put the saved decisions back on the rows they were made on; returns how many.

    A row whose quantities changed since keeps its note but not its approval: the
    reviewer approved another number."""
    by_key = {i.key: i for i in plan.items}
    restored = 0
    for key, d in saved.decisions.items():
        item = by_key.get(key)
        if item is None:
            continue
        item.note = str(d.get("note", ""))
        same = (d.get("atria") == str(item.atria_quantity)
                and d.get("psa") == str(item.psa_quantity))
        if same and item.action.writes and isinstance(d.get("approved"), bool):
            item.approved = bool(d["approved"])
            item.decided = bool(d.get("decided", True))
        restored += 1
    return restored


def write_review(path: Path, state: dict[str, dict[str, object]], saved_at: str) -> None:
    """Write (atomically) or, when nothing differs from the initial review, remove."""
    if not state:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps({"saved_at": saved_at, "decisions": state},
                                  indent=1, sort_keys=True).encode("utf-8"))


@dataclass
class ReviewSession:
    """One preview being reviewed: the plan, what it was made from, and caches.

    The full product catalog is read at most once per session (the first time a product
    picker opens) and kept here, beside the context it extends. Every decision goes
    through `decide`/`set_note`, which keep the undo stack (ctrl+z) and say what the
    saved review must now hold (`state`): the screen writes it in a worker.
    """

    job: JobConfig
    ctx: PlanContext
    plan: Plan
    run_id: int
    catalog: list[CatalogItem] | None = None
    undo_stack: list[tuple[str, dict[str, Decision]]] = field(default_factory=list)

    @property
    def threshold(self) -> float:
        return self.job.options.swing_threshold

    def state(self) -> dict[str, dict[str, object]]:
        return _state(self.plan.items, self.threshold)

    def _remember(self, what: str, items: Iterable[PlanItem]) -> None:
        self.undo_stack.append((what, {i.key: Decision(i.approved, i.note, i.decided)
                                       for i in items}))

    def decide(self, items: Sequence[PlanItem], approved: bool, what: str) -> int:
        """Approve or reject the writes among `items` (undoable); how many changed."""
        changing = [i for i in items
                    if i.action.writes and (i.approved != approved or not i.decided)]
        if changing:
            self._remember(what, changing)
        return set_approved(changing, approved)

    def set_note(self, item: PlanItem, note: str) -> None:
        if note != item.note:
            self._remember(f"note on {item.customer_code} {item.sku}", [item])
            item.note = note

    def resume(self, saved: SavedReview) -> int:
        """Put a saved review back (undoable as one step); how many rows it touched."""
        self._remember("resume the saved review", self.plan.items)
        return restore_review(self.plan, saved)

    def undo(self) -> str | None:
        """Take back the newest decision; what it was, or None when there is none."""
        if not self.undo_stack:
            return None
        what, before = self.undo_stack.pop()
        for item in self.plan.items:
            d = before.get(item.key)
            if d is not None:
                item.approved, item.note, item.decided = d.approved, d.note, d.decided
        return what

    def fixes(self) -> list[Fix]:
        return fix_queue(self.plan)

    def choices(self, fix: Fix) -> list[Choice]:
        if fix.wants == "account":
            return account_choices(self.ctx.snapshot, self.plan)
        return product_choices(self.catalog if self.catalog is not None
                               else self.ctx.snapshot.catalog)

    def needs_catalog(self, fix: Fix) -> bool:
        return fix.wants == "product" and self.catalog is None

    def fix(self, fix: Fix, choice: Choice, at: str = "") -> Plan:
        self.plan = apply_fix(self.ctx, self.plan, fix, choice, self.threshold, at)
        return self.plan

    async def fix_reading(self, svc: Runtime, fix: Fix, choice: Choice, at: str = "") -> Plan:
        """`fix`, after reading the lines of a chosen account the plan did not read."""
        if fix.wants == "account":
            await read_lines_for(svc, self.ctx, [choice.value])
        return self.fix(fix, choice, at)

    def saved_fixes(self) -> list[SavedFix]:
        return saved_fixes(self.ctx.mappings)

    def remove_fix(self, fix: SavedFix) -> Plan:
        self.plan = remove_fix(self.ctx, self.plan, fix, self.threshold)
        return self.plan

    async def remove_fix_reading(self, svc: Runtime, fix: SavedFix) -> Plan:
        """`remove_fix`, after reading the lines of the account the customer's own
        Billing Identifier names, if the plan did not read them."""
        await read_lines_for(svc, self.ctx, _identifiers_without(self.ctx, fix))
        return self.remove_fix(fix)
