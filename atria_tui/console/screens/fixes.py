"""Fixes: the unmapped queue first, each fix one picker away, the preview redone at once.

A fix is saved to the job's mappings file and the preview is re-planned from what was
already read (no PSA request), so the reviewer sees the customer's rows move from
"missing Billing Identifier" to real quantity changes before leaving the queue.
"""

from __future__ import annotations

from collections import Counter
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from atria_tui.console.screens.confirm import ConfirmScreen
from atria_tui.console.screens.detail import DetailScreen, entry_detail
from atria_tui.console.screens.export import export_csv
from atria_tui.console.screens.host import host_of
from atria_tui.console.screens.pickers import PickerScreen
from atria_tui.console.screens.workers import run_service
from atria_tui.console.widgets.code_badge import badge_style, badge_text
from atria_tui.console.widgets.grid import Column, Grid
from atria_tui.core import codes, gc_pause
from atria_tui.core.model import CatalogItem, Level, LogEntry, Plan
from atria_tui.services.fixes import (
    FIX_GROUPS,
    FIX_HEADER,
    Choice,
    Fix,
    SavedFix,
    fix_rows,
    full_catalog,
)
from atria_tui.services.review import ReviewError
from atria_tui.services.review_session import ReviewSession, local_time

__all__ = ["FIX_COLUMNS", "SAVED_COLUMNS", "FixesScreen", "SavedFixesScreen"]

FIX_COLUMNS: list[Column[Fix]] = [
    Column("group", "Problem", lambda f: f.group,
           sort=lambda f: (list(FIX_GROUPS).index(f.group), f.customer_code), max_width=26),
    Column("code", "Code", lambda f: badge_text(f.code), sort=lambda f: f.code, width=6,
           style=lambda f: badge_style(codes.CATALOG[f.code].level, f.code)),
    Column("customer", "Customer", lambda f: f.customer_code, max_width=9),
    Column("name", "Name", lambda f: f.customer_name, max_width=24),
    Column("bi", "Billing Identifier", lambda f: f.billing_identifier, max_width=18),
    Column("sku", "Atria SKU", lambda f: f.sku, max_width=14),
    Column("description", "Summary description", lambda f: f.description, flex=True,
           min_width=16, max_width=30),
    Column("qty", "Qty", lambda f: "" if f.quantity is None else f"{f.quantity:g}",
           sort=lambda f: f.quantity or 0, width=5, align="right"),
    Column("fix", "Fix with", lambda f: f.fix_with, width=8),
]


SAVED_COLUMNS: list[Column[SavedFix]] = [
    Column("kind", "Maps", lambda f: f.kind, width=11),
    Column("key", "Atria (as matched)", lambda f: f.key, flex=True, min_width=10,
           max_width=30),
    Column("value", "PSA identifier / product", lambda f: f.value, max_width=26),
    Column("by", "Saved by", lambda f: f.by or "(by hand)", max_width=14),
    Column("at", "When", lambda f: local_time(f.at), sort=lambda f: f.at, max_width=22),
]


def _search(f: Fix) -> str:
    return f"{f.code} {f.customer_code} {f.customer_name} {f.sku} {f.description}"


class FixGrid(Grid[Fix]):
    """The queue: Enter (shown in the footer) opens the picker for the row."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select", "Fix", id="fixes.fix"),
    ]


class FixesScreen(Screen[bool]):
    """Dismisses with True when at least one fix was saved (the preview must reload)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back to preview", id="fixes.back"),
        Binding("x", "export", "Export fixes", id="fixes.export"),
        Binding("v", "saved", "Saved fixes", id="fixes.saved"),
        Binding("i", "explain", "Resolution", id="fixes.explain"),
    ]

    class CatalogRead(Message):
        def __init__(self, fix: Fix, items: list[CatalogItem] | None, error: str = "") -> None:
            super().__init__()
            self.fix, self.items, self.error = fix, items, error

    class Fixed(Message):
        def __init__(self, fix: Fix, choice: Choice, plan: Plan | None,
                     error: str = "") -> None:
            super().__init__()
            self.fix, self.choice, self.plan, self.error = fix, choice, plan, error

    def __init__(self, session: ReviewSession) -> None:
        super().__init__()
        self.session = session
        self.changed = False
        self.busy = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="fixes-summary")
        yield FixGrid(FIX_COLUMNS, id="fixes-grid", search=_search,
                   row_key=lambda f: (f.group, f.customer_code, f.source),
                   empty_text="Nothing left to fix: every customer and SKU is mapped.")
        yield Static("", id="fixes-status", classes="hint", markup=False)
        yield Footer()

    @property
    def grid(self) -> Grid[Fix]:
        grid: Grid[Fix] = self.query_one("#fixes-grid", Grid)
        return grid

    def on_mount(self) -> None:
        self.title = f"Fixes · {self.session.job.label}"
        self.reload()
        self.set_focus(self.grid)

    def reload(self) -> None:
        fixes = self.session.fixes()
        self.grid.set_rows(fixes)
        counts = Counter(f.group for f in fixes)
        text = Text()
        text.append(f"{len(fixes)} to fix", "bold")
        text.append("  ·  ")
        for group in FIX_GROUPS:
            text.append(f"{group}: ", "dim")
            text.append(f"{counts.get(group, 0)}", "bold" if counts.get(group) else "dim")
            text.append("   ")
        text.append("\nEnter opens a picker; the fix is saved to the job's mappings file and "
                    "the preview is re-planned without asking the PSA again; v lists the "
                    "fixes saved.", "dim")
        self.query_one("#fixes-summary", Static).update(text)

    def _status(self, text: str) -> None:
        self.query_one("#fixes-status", Static).update(text)

    # -- fixing ------------------------------------------------------------------------------

    def on_grid_selected(self, event: Grid.Selected) -> None:
        event.stop()
        self.action_fix()

    def action_fix(self) -> None:
        fix = self.grid.cursor_row
        if fix is None or self.busy:
            return
        if self.session.needs_catalog(fix):
            self.busy = True
            self._status(f"Reading the {self.session.job.task.psa_name} catalog…")
            self._read_catalog(fix)
            return
        self.open_picker(fix)

    @work(thread=True, exclusive=True, group="fixes-catalog", exit_on_error=False)
    def _read_catalog(self, fix: Fix) -> None:
        svc, session = host_of(self).services, self.session
        run_service(self, "Reading the catalog",
                    lambda: full_catalog(svc, session.job, session.ctx.snapshot),
                    done=lambda items: self.CatalogRead(fix, items),
                    failed=lambda error: self.CatalogRead(fix, None, error),
                    expected=(ReviewError,),
                    report=False)  # the screen shows any error, and the queue stays usable

    def on_fixes_screen_catalog_read(self, event: CatalogRead) -> None:
        self.busy = False
        if event.items is None:
            self._status(event.error)
            self.notify(event.error, severity="error", title="Catalog")
            return
        self.session.catalog = event.items
        self._status(f"{len(event.items)} catalog item(s) read; kept for this preview.")
        self.open_picker(event.fix)

    def open_picker(self, fix: Fix) -> None:
        psa = self.session.job.task.psa_name
        if fix.wants == "account":
            title = f"{fix.code} · {fix.customer_code}: choose the {psa} {fix.account_word}"
        else:
            title = f"{fix.code} · {fix.sku or fix.description}: choose the {psa} product"

        def chosen(choice: Choice | None) -> None:
            if choice is not None:
                self.busy = True
                self._status(f"Saving {fix.source} → {choice.value} and re-planning…")
                self._save(fix, choice)

        self.app.push_screen(PickerScreen(title, fix.subject, self.session.choices(fix)),
                             chosen)

    @work(thread=True, exclusive=True, group="fixes-save", exit_on_error=False)
    def _save(self, fix: Fix, choice: Choice) -> None:
        svc = host_of(self).services
        at = svc.now().isoformat(timespec="seconds")
        # A re-plan builds new rows: no full collection over the preview meanwhile.
        with gc_pause.building():
            run_service(self, f"Saving the fix for {fix.source}",
                        lambda: self.session.fix_reading(svc, fix, choice, at),
                        done=lambda plan: self.Fixed(fix, choice, plan),
                        failed=lambda error: self.Fixed(fix, choice, None, error),
                        expected=(ReviewError,),
                        report=False)  # the screen shows any error as "Fix not saved"

    def on_fixes_screen_fixed(self, event: Fixed) -> None:
        self.busy = False
        if event.plan is None:
            self._status(event.error)
            self.notify(event.error, severity="error", title="Fix not saved")
            return
        self.changed = True
        fix = event.fix
        now = sorted({i.code for i in event.plan.items
                      if i.customer_code == fix.customer_code
                      and (fix.kind == "customer" or i.sku == fix.sku
                           or i.description == fix.description)})
        message = (f"{fix.source} → {event.choice.value} saved; the preview now shows "
                   f"{', '.join(now) or 'no rows'} for {fix.customer_code}.")
        self._status(message)
        self.notify(message, title="Fixed")
        self.reload()

    # -- other actions -----------------------------------------------------------------------

    def action_explain(self) -> None:
        fix = self.grid.cursor_row
        if fix is None:
            return
        d = codes.CATALOG.get(fix.code)
        level = d.level if d else Level.WARNING
        entry = LogEntry(fix.code, level, fix.message, fix.customer_code, fix.sku)
        self.app.push_screen(DetailScreen(entry_detail(entry)))

    def action_export(self) -> None:
        job = self.session.job
        folder = job.path.parent if job.path else host_of(self).jobs_dir
        stem = job.path.stem if job.path else "job"
        export_csv(self, "Export the fixes to CSV (to enter them in Atria)",
                   folder / f"{stem}-fixes-{self.session.plan.period.end}.csv", FIX_HEADER,
                   fix_rows(self.grid.visible_rows(), self.session.ctx.mappings))

    def action_saved(self) -> None:
        if self.busy:
            return

        def back(changed: bool | None) -> None:
            if changed:
                self.changed = True
                self.reload()

        self.app.push_screen(SavedFixesScreen(self.session), back)

    def action_back(self) -> None:
        if not self.busy:
            self.dismiss(self.changed)


class SavedFixesScreen(Screen[bool]):
    """Every mapping of the job's mappings file, who saved it and when; `d` removes one
    and the preview is re-planned at once (no PSA request). Dismisses with True when one
    was removed."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back to fixes", id="saved.back"),
        Binding("d,delete", "remove", "Remove", id="saved.remove"),
    ]

    class Removed(Message):
        def __init__(self, fix: SavedFix, plan: Plan | None, error: str = "") -> None:
            super().__init__()
            self.fix, self.plan, self.error = fix, plan, error

    def __init__(self, session: ReviewSession) -> None:
        super().__init__()
        self.session = session
        self.changed = False
        self.busy = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="saved-summary", markup=False)
        yield Grid(SAVED_COLUMNS, id="saved-grid", row_key=lambda f: (f.table, f.key),
                   search=lambda f: f"{f.kind} {f.key} {f.value} {f.by}",
                   empty_text="No fixes saved for this job yet.")
        yield Footer()

    @property
    def grid(self) -> Grid[SavedFix]:
        grid: Grid[SavedFix] = self.query_one("#saved-grid", Grid)
        return grid

    def on_mount(self) -> None:
        self.title = f"Saved fixes · {self.session.job.label}"
        self.reload()
        self.set_focus(self.grid)

    def reload(self) -> None:
        fixes = self.session.saved_fixes()
        self.grid.set_rows(fixes)
        self.query_one("#saved-summary", Static).update(
            f"{len(fixes)} fix(es) in the job's mappings file. d removes the one under the "
            "cursor; the preview is re-planned at once.")

    def on_grid_selected(self, event: Grid.Selected) -> None:
        event.stop()

    def action_remove(self) -> None:
        fix = self.grid.cursor_row
        if fix is None or self.busy:
            return

        def answered(ok: bool | None) -> None:
            if ok:
                self.busy = True
                self._remove(fix)

        self.app.push_screen(ConfirmScreen(
            "Remove this fix?", f"{fix.kind} {fix.key} → {fix.value}\nThe preview is "
            "re-planned without it: its rows go back to what Atria says.",
            confirm="Remove", danger=True), answered)

    @work(thread=True, exclusive=True, group="saved-remove", exit_on_error=False)
    def _remove(self, fix: SavedFix) -> None:
        svc = host_of(self).services
        with gc_pause.building():
            run_service(self, f"Removing the fix for {fix.key}",
                        lambda: self.session.remove_fix_reading(svc, fix),
                        done=lambda plan: self.Removed(fix, plan),
                        failed=lambda error: self.Removed(fix, None, error),
                        expected=(ReviewError,), report=False)

    def on_saved_fixes_screen_removed(self, event: Removed) -> None:
        self.busy = False
        if event.plan is None:
            self.notify(event.error, severity="error", title="Fix not removed")
            return
        self.changed = True
        self.reload()
        self.notify(f"{event.fix.key} → {event.fix.value} removed; the preview is re-planned.",
                    title="Removed")

    def action_back(self) -> None:
        if not self.busy:
            self.dismiss(self.changed)
