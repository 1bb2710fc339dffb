"""The review of a plan that is not drawing: which rows start unapproved, the header's
counts, the preview's filters and order, the questions before a write, last month's
quantities.

Kept apart from the screens so the rules a reviewer relies on can be tested without a
terminal: which rows start unapproved (decreases and big swings, `needs_review`), that a
re-plan after a fix keeps every approval and note already given. What blocks a match and
how it is fixed is `services/fixes.py`; the review in progress (saved as it is made, undo)
is `services/review_session.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from atria_tui.core import numbers
from atria_tui.core.model import (
    ZERO,
    Level,
    Plan,
    PlanItem,
    norm,
)
from atria_tui.engine.reconcile import hold_for_review, needs_review
from atria_tui.job.file import JobConfig
from atria_tui.services.engine import StoredPlanError, stored_plan
from atria_tui.services.runtime import Runtime


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


