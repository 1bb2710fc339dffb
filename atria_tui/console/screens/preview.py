"""Preview: Atria against the PSA per customer and SKU, reviewed row by row before apply.

Planning runs in a thread (the PSA is read once, with progress, cancellable); the plan
is then a reviewable object, as Terraform's plan is: decreases and big swings start
unapproved, every approval and note survives a re-plan after a fix, and Apply executes
exactly the approved rows of this plan, not a fresh guess.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, ProgressBar, Static

from atria_tui.console.screens import workers
from atria_tui.console.screens.apply import ApplyScreen
from atria_tui.console.screens.confirm import ConfirmScreen
from atria_tui.console.screens.customers import CustomersScreen
from atria_tui.console.screens.detail import DetailScreen, item_detail
from atria_tui.console.screens.export import export_csv
from atria_tui.console.screens.fixes import FixesScreen
from atria_tui.console.screens.host import host_of
from atria_tui.console.screens.pickers import NoteScreen
from atria_tui.console.screens.workers import run_service
from atria_tui.console.widgets.code_badge import badge_style, badge_text, row_style
from atria_tui.console.widgets.grid import Column, Grid
from atria_tui.console.widgets.log_table import LEVEL_FILTERS
from atria_tui.core import codes, gc_pause, numbers
from atria_tui.core.export import PLAN_HEADER, plan_rows
from atria_tui.core.model import Level, LogEntry, PlanItem
from atria_tui.job.file import JobConfig
from atria_tui.services import history
from atria_tui.services import review as rv
from atria_tui.services import review_session as rs
from atria_tui.services.engine import RunResult, plan_job
from atria_tui.services.review_hold import ReviewHold

__all__ = ["PLAN_COLUMNS", "PreviewScreen", "summary_text"]


def _num_key(q: Decimal | None) -> tuple[bool, Decimal]:
    return (q is None, q if q is not None else Decimal(0))


def _signed(q: Decimal, item: PlanItem) -> str:
    return "" if not item.action.writes or q == 0 else numbers.signed_qty(q)


# The three review states look different: ✓ approved, ✗ rejected, • not reviewed yet.
_MARKS = {"approved": ("✓", "bold #5fd75f"), "rejected": ("✗", "bold #ff6b6b"),
          "open": ("•", "bold #f0c05a"), "": ("", "")}


def _mark(i: PlanItem) -> str:
    return _MARKS[rv.review_state(i)][0]


def _mark_style(i: PlanItem) -> str:
    return _MARKS[rv.review_state(i)][1]


def _mark_key(i: PlanItem) -> int:
    """Not reviewed first, then rejected, then approved, then rows that write nothing."""
    return {"open": 0, "rejected": 1, "approved": 2, "": 3}[rv.review_state(i)]


# Columns frozen on the left when the grid scrolls sideways: ✓, Customer, Atria SKU.
FROZEN = 3


def plan_columns(currency: str = "",
                 last: Callable[[PlanItem], tuple[Decimal | None, bool]] | None = None
                 ) -> list[Column[PlanItem]]:
    """The preview's columns, the ones a clerk checks first on the left (they fit 80
    columns: customer, SKU, Atria qty, PSA qty, Δ qty, Δ money, code), then the detail.

    `last` gives a row's quantity last applied and whether the change since exceeds the
    swing threshold (marked ↑/↓).
    """
    def money(i: PlanItem) -> str:
        q = i.money_delta
        return "" if not i.action.writes or q == 0 else numbers.signed_money(q, currency)

    def last_text(i: PlanItem) -> str:
        if last is None:
            return ""
        q, swing = last(i)
        if q is None:
            return ""
        mark = ("↑" if (i.atria_quantity or 0) > q else "↓") if swing else " "
        return numbers.qty(q) + mark

    def last_style(i: PlanItem) -> str:
        return "bold #f0c05a" if last is not None and last(i)[1] else ""

    return [
        Column("ok", "✓", _mark, sort=_mark_key, width=1, style=_mark_style,
               title="✓ Review (not reviewed first)"),
        Column("customer", "Customer", lambda i: i.customer_code, max_width=8),
        Column("sku", "Atria SKU", lambda i: i.sku or i.description, max_width=12),
        Column("atria", "Atria qty", lambda i: numbers.qty(i.atria_quantity),
               sort=lambda i: _num_key(i.atria_quantity), width=9, align="right"),
        Column("psa", "PSA qty", lambda i: numbers.qty(i.psa_quantity),
               sort=lambda i: _num_key(i.psa_quantity), width=7, align="right"),
        Column("delta", "Δ qty", lambda i: _signed(i.delta, i), sort=lambda i: i.delta,
               width=6, align="right"),
        Column("money", "Δ money", money, sort=lambda i: i.money_delta,
               width=9 + len(currency), align="right"),
        Column("code", "Code", lambda i: badge_text(i.code), sort=lambda i: i.code, width=6,
               style=lambda i: badge_style(i.level, i.code)),
        Column("note", "✎", lambda i: "✎" if i.note else "", sort=lambda i: i.note, width=1,
               title="✎ Note"),
        Column("last", "Last mo.", last_text, sort=lambda i: _num_key(last(i)[0] if last
                                                                     else None),
               width=9, align="right", style=last_style),
        Column("price", "Unit", lambda i: numbers.money(i.unit_price, currency)
               if i.unit_price else "", sort=lambda i: i.unit_price, width=8 + len(currency),
               align="right"),
        Column("description", "Summary description", lambda i: i.description, flex=True,
               min_width=14, max_width=24),
        Column("contract", "Agreement", lambda i: i.contract_name, max_width=22),
        Column("line", "PSA product", lambda i: i.product_code, max_width=13),
        # The code is what the clerk filters by; the name is what they recognise (defect 18).
        Column("name", "Customer name", lambda i: i.customer_name, max_width=22),
    ]


PLAN_COLUMNS = plan_columns()


def summary_text(head: str, s: rv.Summary, fatal: LogEntry | None = None,
                 total_rows: int | None = None, currency: str = "") -> Text:
    """The preview's header: counts per code as badges, changes, approvals, money.

    With a filter on, `total_rows` is the plan's size and every count is of the rows
    shown ("12 of 40 rows"), so the header never states totals the clerk cannot see.
    """
    text = Text(head + "\n", "dim")
    for code, count in sorted(s.counts.items()):
        level = codes.CATALOG[code].level if code in codes.CATALOG else Level.INFO
        text.append(badge_text(f"{code} {count}"), badge_style(level, code))
        text.append(" ")
    text.append("\n")
    if total_rows is not None:
        text.append(f"{s.rows} of {total_rows} rows shown: ", "bold #5fafff")
    text.append(f"{s.changes} change(s)", "bold")
    text.append(" · ")
    text.append(f"✓ {s.approved} approved", "#5fd75f" if s.approved else "")
    text.append(" · ")
    text.append(f"✗ {s.rejected} rejected", "#ff6b6b" if s.rejected else "")
    text.append(" · ")
    text.append(f"• {s.to_review} to review", "bold #f0c05a" if s.to_review else "")
    text.append(f" · Δ money {numbers.signed_money(s.money, currency)} (approved "
                f"{numbers.signed_money(s.approved_money, currency)})")
    if fatal is not None:
        text.append(f"\n{fatal.code}: {fatal.message}", "bold #ff6b6b")
    return text


def _search(i: PlanItem) -> str:
    return " ".join((i.customer_code, i.customer_name, i.sku, i.description, i.code,
                     i.contract_name, i.product_code, i.note))


# Rows counted on the UI thread for the header; more are counted in a thread.
SUMMARY_INLINE = 5_000


class PreviewScreen(Screen[None]):
    # The footer shows what a clerk needs most, in that order (it is cut at 80 columns);
    # every other key is listed by Help (? / F1), which reads these bindings.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="preview.back"),
        Binding("c", "cancel_plan", "Cancel plan", show=False, id="preview.cancel"),
        Binding("space", "toggle_approval", "✓/✗", id="preview.toggle"),
        Binding("a", "apply", "Apply", id="preview.apply"),
        Binding("f", "fixes", "Fixes", id="preview.fixes"),
        Binding("n", "note", "Note", id="preview.note"),
        Binding("x", "export", "Export", id="preview.export"),
        Binding("g", "by_customer", "Customers", id="preview.customers"),
        Binding("i", "explain", "Why? (row in full, also ⏎)", show=False,
                id="preview.explain"),
        Binding("ctrl+z", "undo", "Undo", show=False, id="preview.undo"),
        Binding("A", "approve_shown(True)", "Approve all shown", show=False,
                id="preview.approve_all"),
        Binding("R", "approve_shown(False)", "Reject all shown", show=False,
                id="preview.reject_all"),
        Binding("slash", "filter", "Filter", show=False, priority=True, id="preview.filter"),
        Binding("l", "cycle_level", "Level", show=False, id="preview.level"),
        Binding("k", "cycle_code", "Code", show=False, id="preview.code"),
        Binding("K", "cycle_code(-1)", "Code (back)", show=False, id="preview.code_back"),
        Binding("w", "changes_only", "Changes only", show=False, id="preview.changes"),
    ]

    class Progress(workers.Progress):
        """The plan's step (reading the PSA page by page): the newest one counts."""

    class Planned(Message):  # with a summary: the worker made the initial review
        def __init__(self, result: RunResult | None, summary: rv.Summary | None = None,
                     saved: rs.SavedReview | None = None,
                     last_month: dict[rv.MonthKey, Decimal] | None = None) -> None:
            super().__init__()
            self.result, self.summary, self.saved = result, summary, saved
            self.last_month = last_month or {}

    class ReviewSaved(Message):
        """The review file was written (error empty) or could not be."""

        def __init__(self, error: str = "") -> None:
            super().__init__()
            self.error = error

    def __init__(self, job: JobConfig, *, hold: ReviewHold | None = None,
                 read_only: str | None = None) -> None:
        """`hold`: this console's review lock of the job, released when the screen goes.
        `read_only`: who holds it instead; this preview then decides and saves nothing."""
        super().__init__()
        self.job = job
        self.hold = hold
        self.read_only = read_only
        self.session: rs.ReviewSession | None = None
        self.result: RunResult | None = None
        self.planning = False
        self.level: Level | None = None
        self.code: str | None = None
        self.changes_only = False
        self.customer: str | None = None
        self._cancel: Callable[[], None] | None = None
        self.review_file: Path | None = None
        self._save_lock = threading.Lock()
        self._save_seq = 0
        self._written_seq = 0
        # Quantity last applied per line (empty on a job's first run), read by the worker.
        self.last_month: dict[rv.MonthKey, Decimal] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(self.job.label, id="preview-title", markup=False)
        yield Static("", id="preview-summary")
        with Vertical(id="preview-loading"):
            yield Static("Planning…", id="preview-step", markup=False)
            yield ProgressBar(id="preview-progress", show_eta=False)
            yield Static("Esc or c cancels", classes="hint")
        with Horizontal(id="preview-filters"):
            yield Input(placeholder="Filter: customer, SKU, description or code  ( / )",
                        id="preview-filter", disabled=True)  # until the plan is shown
            yield Static("", id="preview-mode")
        yield Grid(plan_columns(self.job.options.currency, self._last), id="preview-grid",
                   search=_search, row_key=lambda i: i.key, frozen=FROZEN,
                   row_style=lambda i: row_style(i.level, i.code),
                   empty_text="The plan has no rows.")
        yield Footer(compact=True, show_command_palette=False)

    def _last(self, item: PlanItem) -> tuple[Decimal | None, bool]:
        last = self.last_month.get(rv.month_key(item))
        return last, rv.swing_since(item, last, self.job.options.swing_threshold)

    @property
    def grid(self) -> Grid[PlanItem]:
        grid: Grid[PlanItem] = self.query_one("#preview-grid", Grid)
        return grid

    @property
    def items(self) -> list[PlanItem]:
        return self.session.plan.items if self.session else []

    def on_mount(self) -> None:
        self.title = f"Preview · {self.job.label}"
        if self.read_only:
            self.title += " · read-only"
            self.query_one("#preview-title", Static).update(
                f"{self.job.label} · READ-ONLY: reviewed by {self.read_only}")
        self._show_mode()
        self.start_plan()

    # -- planning ----------------------------------------------------------------------------

    def start_plan(self) -> None:
        self.planning = True
        self.add_class("-planning")
        self.query_one("#preview-step", Static).update("Planning…")
        self._plan_worker()

    @work(thread=True, exclusive=True, group="preview-plan", exit_on_error=False)
    def _plan_worker(self) -> None:
        svc, job = host_of(self).services, self.job

        def progress(step: str, done: int, total: int) -> None:
            self.post_message(self.Progress(step, done, total))

        async def plan() -> RunResult | None:
            """The plan, or None when cancelled (Esc or c) through `self._cancel`."""
            before = history.last_run_id(svc, job.key)
            loop, task = asyncio.get_running_loop(), asyncio.current_task()
            if task is not None:
                def cancel() -> None:
                    loop.call_soon_threadsafe(task.cancel)

                self._cancel = cancel
            try:
                return await plan_job(svc, job, progress=progress)
            except asyncio.CancelledError:  # the plan run it started must not stay Running
                history.interrupt_cancelled_plan(svc, job.key, before)
                return None
            finally:
                self._cancel = None

        def reviewed(result: RunResult | None) -> PreviewScreen.Planned:
            """The initial review, made here and not on the UI thread (~100 ms at 50,000
            rows)."""
            if result is None:
                return self.Planned(None)
            p, t = result.plan, job.options.swing_threshold
            summary = (rv.summarize(rv.initial_review(p, t).items, t)
                       if p and result.context else None)
            saved = (rs.load_review(rs.review_path(svc, job, p.period.end))
                     if p and result.context else None)
            last = rv.last_applied(svc, job, str(p.period.end)) if p else {}
            return self.Planned(result, summary, saved, last)

        with gc_pause.building():
            run_service(self, f"Preview of {job.label}", plan, done=reviewed,
                        failed=lambda _: self.Planned(None))

    def on_preview_screen_progress(self, event: Progress) -> None:
        self.query_one("#preview-step", Static).update(event.step + "…")
        bar = self.query_one("#preview-progress", ProgressBar)
        bar.update(total=event.total or None, progress=event.done)

    def on_preview_screen_planned(self, event: Planned) -> None:
        self.planning = False
        self.result = result = event.result
        if result is None:
            self.query_one("#preview-step", Static).update(
                "Planning cancelled. Esc goes back.")
            self.query_one("#preview-progress", ProgressBar).update(total=1, progress=0)
            return
        self.remove_class("-planning")
        self.last_month.update(event.last_month)
        if result.plan is None or result.context is None:
            why = result.fatal.message if result.fatal else result.status
            self.add_class("-failed")
            self.query_one("#preview-summary", Static).update(Text.assemble(
                ("Planning failed: ", "bold #ff6b6b"), why,
                f"  (run {result.run_id} has the log)"))
            return
        if event.summary is None:  # not reviewed by the worker
            rv.initial_review(result.plan, self.job.options.swing_threshold)
        self.session = rs.ReviewSession(self.job, result.context, result.plan, result.run_id)
        self.review_file = rs.review_path(host_of(self).services, self.job,
                                          result.plan.period.end)
        self.query_one("#preview-filter", Input).disabled = False
        self.show_plan(event.summary)
        self.set_focus(self.grid)
        if event.saved is not None:
            self._offer_resume(event.saved)

    def on_unmount(self) -> None:
        if self.hold is not None:
            self.hold.release()  # the next clerk may review the job now
            self.hold = None

    def _writable(self) -> bool:
        """False (and says why) in a read-only preview: the holder decides."""
        if self.read_only:
            self.notify(f"Read-only: {self.read_only} is reviewing this job; approvals, "
                        "notes, fixes and apply stay with them.", title="Read-only",
                        severity="warning")
        return not self.read_only

    def _offer_resume(self, saved: rs.SavedReview) -> None:
        """A review of this job and period was saved before: take it up again or not."""
        period = self.session.plan.period.end if self.session else ""
        if self.read_only and self.session is not None:  # show the holder's review as saved
            self.session.resume(saved)
            self.show_plan()
            return

        def answered(resume: bool | None) -> None:
            if self.session is None:
                return
            if resume:
                n = self.session.resume(saved)
                self.show_plan()
                self.notify(f"Resumed: {n} decision(s) and note(s) put back (ctrl+z takes "
                            "them back)", title="Review")
            self._save_review()  # start over: the file now holds the fresh review

        self.app.push_screen(ConfirmScreen(
            "Resume the saved review?",
            f"A review of period {period} was saved at {rs.local_time(saved.saved_at)} with "
            f"{saved.count} decision(s) or note(s).\nResume puts them back; Start over "
            "replaces the saved review with the new one.", confirm="Resume",
            cancel="Start over", escape_confirms=True), answered)

    def _save_review(self) -> None:
        """Save the review as it stands now (in a worker); the newest state wins."""
        if self.session is None or self.review_file is None or self.read_only:
            return
        self._save_seq += 1
        self._review_writer(self.review_file, self.session, self._save_seq,
                            host_of(self).now().isoformat(timespec="seconds"))

    @work(thread=True, group="review-save", exit_on_error=False, description="save the review")
    def _review_writer(self, path: Path, session: rs.ReviewSession, seq: int,
                       saved_at: str) -> None:
        def write() -> None:
            with self._save_lock:  # two writers never interleave, an older never wins
                if seq > self._written_seq:
                    # The state is read here, not on the UI thread (a pass over every row);
                    # read after the decision that asked for this save, so never older.
                    rs.write_review(path, session.state(), saved_at)
                    self._written_seq = seq

        run_service(self, "Saving the review", write, done=lambda _: self.ReviewSaved(),
                    failed=self.ReviewSaved, expected=(OSError,), report=False)

    def on_preview_screen_review_saved(self, event: ReviewSaved) -> None:
        if event.error:
            self.notify(f"The review could not be saved: {event.error}",
                        title="Review not saved", severity="error", timeout=10)

    def action_cancel_plan(self) -> None:
        if self.planning and self._cancel is not None:
            self._cancel()
            self.query_one("#preview-step", Static).update("Cancelling…")

    def action_back(self) -> None:
        if self.planning:
            self.action_cancel_plan()
            return
        if isinstance(self.focused, Input):  # Esc in the filter box leaves the box only
            self.set_focus(self.grid)
            return
        if self.session is not None and self.session.state():
            self.notify(f"Review of period {self.session.plan.period.end} saved; "
                        "p resumes it.", title="Review", timeout=4)
        self.app.pop_screen()

    # -- showing -----------------------------------------------------------------------------

    def show_plan(self, summary: rv.Summary | None = None) -> None:
        """(Re)load the grid from the session's plan, keeping the cursor's row."""
        # Blockers first (stable: the plan's order otherwise).
        self.grid.set_rows(rv.blockers_first(self.items))
        self.show_summary(summary)

    def show_summary(self, summary: rv.Summary | None = None) -> None:
        """The header's counts: of the rows shown when a filter is on. Past
        `SUMMARY_INLINE` rows they are counted in a thread (a pass over 50,000 rows would
        stall the UI on every decision and re-sort); the header follows a moment later."""
        if self.session is None:
            return
        plan = self.session.plan
        filtered = self.grid.model.needs_compute() and self.grid.row_count != len(plan.items)
        if summary is not None and not filtered:
            self._show_counts(summary, filtered)
            return
        rows: list[PlanItem] = list(self.grid.visible_rows()) if filtered else plan.items
        if len(rows) <= SUMMARY_INLINE:
            self._show_counts(rv.summarize(rows, self.session.threshold), filtered)
        else:
            # run_worker with a description: @work would describe the worker by the repr
            # of its arguments, a 50,000-row list (1.5 s on the UI thread).
            self.run_worker(self._summarize_later(rows, filtered), group="preview-summary",
                            exclusive=True, description="header counts")

    async def _summarize_later(self, rows: list[PlanItem], filtered: bool) -> None:
        if self.session is None:
            return
        s = await asyncio.to_thread(rv.summarize, rows, self.session.threshold)
        self._show_counts(s, filtered)

    def _show_counts(self, s: rv.Summary, filtered: bool) -> None:
        if self.session is None:
            return
        plan = self.session.plan
        head = (f"Period {plan.period.start} → {plan.period.end} · {self.job.task.psa_name} · "
                f"run {self.session.run_id}")
        self.query_one("#preview-summary", Static).update(
            summary_text(head, s, plan.fatal, len(plan.items) if filtered else None,
                         self.job.options.currency))

    def on_grid_reindexed(self, event: Grid.Reindexed) -> None:
        if event.grid is self.grid and self.session is not None:
            self.show_summary()

    def _show_mode(self) -> None:
        level = self.level.value + ("+" if self.level is not Level.ERROR else "") \
            if self.level else "all"
        text = Text.assemble(("Level ", "dim"), (level, "bold"), (" (l)  ", "dim"),
                             ("Code ", "dim"), (self.code or "all", "bold"), (" (k)  ", "dim"),
                             ("Rows ", "dim"), ("changes" if self.changes_only else "all",
                                                "bold"), (" (w)", "dim"))
        if self.customer is not None:
            text.append_text(Text.assemble(("  Customer ", "dim"), (self.customer, "bold"),
                                           (" (g)", "dim")))
        self.query_one("#preview-mode", Static).update(text)

    def _apply_predicate(self) -> None:
        self.grid.set_predicate(rv.plan_filter(self.level, self.code, self.changes_only,
                                               self.customer))
        self._show_mode()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "preview-filter":
            event.stop()
            self.grid.set_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "preview-filter":
            event.stop()
            self.set_focus(self.grid)  # now, not later: typed keys follow at once

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # "/" is a priority key (the focus moves before the next key is routed) except
        # while typing in a box, where it is just a character.
        return not (action == "filter" and isinstance(self.focused, Input))

    def action_filter(self) -> None:
        self.set_focus(self.query_one("#preview-filter", Input))

    def action_cycle_level(self) -> None:
        at = LEVEL_FILTERS.index(self.level)
        self.level = LEVEL_FILTERS[(at + 1) % len(LEVEL_FILTERS)]
        self._apply_predicate()

    def action_cycle_code(self, step: int = 1) -> None:
        present: list[str | None] = [None, *sorted({i.code for i in self.items})]
        at = present.index(self.code) if self.code in present else 0
        self.code = present[(at + step) % len(present)]
        self._apply_predicate()

    def action_by_customer(self) -> None:
        """Subtotals per customer (of the rows shown), blockers first; Enter narrows the
        preview to one customer, and g again (Esc in the list) shows every customer."""
        if self.session is None or self.planning:
            return
        if self.customer is not None:
            self.customer = None
            self._apply_predicate()
            return

        def chosen(code: str | None) -> None:
            if code is not None:
                self.customer = code
                self._apply_predicate()

        self.app.push_screen(CustomersScreen(rv.customer_totals(self.grid.visible_rows()),
                                             self.job.options.currency,
                                             f"By customer · {self.job.label}"), chosen)

    def action_changes_only(self) -> None:
        self.changes_only = not self.changes_only
        self._apply_predicate()

    # -- reviewing ---------------------------------------------------------------------------

    def _current(self) -> PlanItem | None:
        return self.grid.cursor_row if self.session and not self.planning else None

    def action_toggle_approval(self) -> None:
        item = self._current()
        if item is None or not self._writable():
            return
        if not item.action.writes:
            self.notify(f"{item.code}: this row writes nothing to approve", timeout=3)
            return
        assert self.session is not None
        verb = "reject" if item.approved else "approve"
        self.session.decide([item], not item.approved,
                            f"{verb} {item.customer_code} {item.sku}")
        self._save_review()
        self.grid.refresh_rows([self.grid.model.row_number(self.grid.cursor)])
        self.show_summary()
        self.grid.action_cursor(1)

    def action_approve_shown(self, approved: bool) -> None:
        """Approve/reject every change shown, after a question saying what it overwrites."""
        if self.session is None or self.planning or not self._writable():
            return
        shown = [i for i in self.grid.visible_rows() if i.action.writes]
        changing = [i for i in shown if i.approved != approved]
        verb = "Approve" if approved else "Reject"
        if not changing:
            self.notify(f"All {len(shown)} change(s) shown are already "
                        f"{'approved' if approved else 'rejected'}", timeout=3)
            return
        review = sum(1 for i in changing if approved and rv.needs_review(i, self.session.threshold))
        body = (f"{verb} {len(changing)} of the {len(shown)} change(s) shown: this "
                f"overwrites {len(changing)} decision(s)."
                + (f"\n{review} of them are decreases or large swings." if review else "")
                + "\nctrl+z undoes it.")

        def answered(ok: bool | None) -> None:
            if not ok or self.session is None:
                return
            count = self.session.decide(changing, approved, f"{verb.lower()} all shown")
            self._save_review()
            self.grid.refresh_rows(None)
            self.show_summary()
            past = "Approved" if approved else "Rejected"
            self.notify(f"{past} {count} change(s) among the rows shown; ctrl+z undoes it",
                        timeout=4)

        self.app.push_screen(ConfirmScreen(f"{verb} all {len(changing)} shown?", body,
                                           confirm=f"{verb} {len(changing)}", danger=True),
                             answered)

    def action_undo(self) -> None:
        if self.session is None or self.planning or not self._writable():
            return
        what = self.session.undo()
        if what is None:
            self.notify("Nothing to undo in this preview", timeout=3)
            return
        self._save_review()
        self.grid.refresh_rows(None)
        self.show_summary()
        self.notify(f"Undone: {what}", title="Undo", timeout=3)

    def action_note(self) -> None:
        item = self._current()
        if item is None or not self._writable():
            return

        def done(note: str | None) -> None:
            if note is not None and self.session is not None:
                self.session.set_note(item, note)
                self._save_review()
                self.grid.refresh_rows(None)

        self.app.push_screen(NoteScreen(f"Note · {item.customer_code} {item.sku or ''}",
                                        item.note), done)

    def action_explain(self) -> None:
        item = self._current()
        if item is not None:
            self.app.push_screen(DetailScreen(item_detail(item, self.job.options.currency)))

    def on_grid_selected(self, event: Grid.Selected) -> None:
        if event.grid is self.grid:
            event.stop()
            self.action_explain()

    def action_fixes(self) -> None:
        if self.session is None or self.planning or not self._writable():
            return
        self.app.push_screen(FixesScreen(self.session), lambda _: self.show_plan())

    def action_apply(self) -> None:
        if self.session is None or self.planning or not self._writable():
            return
        plan, of_run = self.session.plan, self.session.run_id
        if plan.fatal is not None:
            self.notify(f"{plan.fatal.code}: nothing can be applied", severity="error")
            return
        s = rv.summarize(plan.items, self.session.threshold)
        if not s.approved:
            self.notify("No approved changes to apply", severity="warning")
            return
        body = rv.confirm_text(s, plan, self.job.task.psa_name, self.job.options.currency)

        def answered(ok: bool | None) -> None:
            if ok:
                self.app.switch_screen(ApplyScreen(self.job, plan, self.review_file,
                                                   of_run=of_run))

        self.app.push_screen(ConfirmScreen(f"Apply to {self.job.task.psa_name}?", body,
                                           confirm="Apply", danger=True), answered)

    def action_export(self) -> None:
        if self.session is None or self.planning:
            return
        rows = list(self.grid.visible_rows())
        folder = self.job.path.parent if self.job.path else host_of(self).jobs_dir
        stem = self.job.path.stem if self.job.path else "preview"
        export_csv(self, "Export the preview to CSV",
                   folder / f"{stem}-preview-{self.session.plan.period.end}.csv",
                   PLAN_HEADER, plan_rows(rows), f"{len(rows)} row(s) as shown, with notes")
