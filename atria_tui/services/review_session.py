"""The review in progress: approvals, rejections and notes saved as they are made, offered
again by the next preview of the period, and undone step by step (ctrl+z).

A clerk's review work is never lost: the state is what differs from the initial review,
written atomically beside the store; a decision is kept with the quantities it was made on
and not carried to a row that changed since.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from atria_tui.core.model import (
    CatalogItem,
    Plan,
    PlanItem,
)
from atria_tui.core.paths import atomic_write
from atria_tui.engine.reconcile import needs_review
from atria_tui.job.file import JobConfig
from atria_tui.services.engine import PlanContext
from atria_tui.services.fixes import (
    Choice,
    Fix,
    SavedFix,
    account_choices,
    apply_fix,
    fix_queue,
    identifiers_without,
    product_choices,
    read_lines_for,
    remove_fix,
    saved_fixes,
)
from atria_tui.services.review import set_approved
from atria_tui.services.runtime import Runtime

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
        await read_lines_for(svc, self.ctx, identifiers_without(self.ctx, fix))
        return self.remove_fix(fix)

