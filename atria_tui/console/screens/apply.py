"""Apply: the reviewed plan written to the PSA, its log streaming in as it is written.

The confirmation happened before this screen (ConfirmScreen, with the money at stake).
The apply runs in a thread; its log entries go through LogTable's buffer (drained every
100 ms), progress is throttled, and conflicts and failures are counted in the header
while the run is still going. Leaving is refused until the run has finished: the
journal would let an interrupted apply resume, but nobody should have to.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, ProgressBar, Static

from atria_tui.console.screens import workers
from atria_tui.console.screens.detail import DetailScreen, entry_detail
from atria_tui.console.screens.export import export_csv
from atria_tui.console.screens.host import host_of
from atria_tui.console.screens.workers import run_service
from atria_tui.console.widgets.grid import Grid
from atria_tui.console.widgets.log_table import LogTable, format_time
from atria_tui.core import gc_pause
from atria_tui.core.export import LOG_HEADER, log_rows, places_of
from atria_tui.core.model import LogEntry, Plan, PlanItem
from atria_tui.engine.joblock import JobLocked
from atria_tui.job.file import JobConfig
from atria_tui.services.engine import RunResult, apply_job
from atria_tui.services.review import notes_of

__all__ = ["ApplyScreen", "export_log"]


def export_log(screen: Screen[Any], log: LogTable, default: Path,
               notes: dict[tuple[str, str], str],
               places: dict[tuple[str, str], tuple[str, str]] | None = None) -> None:
    """The export dialog for a log table (Apply and Log screens): rows as shown, notes,
    and the PSA product and agreement each row was written to."""
    entries = log.visible_entries()
    export_csv(screen, "Export the log to CSV", default, LOG_HEADER,
               log_rows(entries, notes, places or {}),
               f"{len(entries)} row(s) as shown, with the reviewers' notes")


class ApplyScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="apply.back"),
        Binding("x", "export", "Export CSV", id="apply.export"),
    ]

    class Progress(workers.Progress):
        """Writes done of total: the newest one counts."""

    class Finished(Message):
        def __init__(self, result: RunResult | None, error: str = "") -> None:
            super().__init__()
            self.result, self.error = result, error

    def __init__(self, job: JobConfig, plan: Plan, review_file: Path | None = None,
                 of_run: int | None = None) -> None:
        super().__init__()
        self.job = job
        self.plan = plan
        self.of_run = of_run  # the plan run reviewed: the run history links the apply to it
        self.review_file = review_file  # the saved review, done with once all is written
        self.quit_when_done = False
        self.summary: Text | None = None  # what the run did, once it has finished
        self.result: RunResult | None = None
        self.running = True  # from the start: ctrl+q must know an apply is under way
        self._last_progress = 0.0

    def compose(self) -> ComposeResult:
        yield Header()
        approved = sum(1 for i in self.plan.items if i.action.writes and i.approved)
        yield Static(f"Applying {approved} approved change(s) to {self.job.task.psa_name} · "
                     f"period ending {self.plan.period.end}", id="apply-title", markup=False)
        with Horizontal(id="apply-progress-row"):
            yield ProgressBar(id="apply-progress", show_eta=False)
            yield Static("Starting…", id="apply-status", markup=False)
        yield LogTable(id="apply-log")
        yield Footer()

    @property
    def log_table(self) -> LogTable:
        return self.query_one("#apply-log", LogTable)

    def on_mount(self) -> None:
        self.title = f"Apply · {self.job.label}"
        self.running = True
        self.set_focus(self.log_table.grid)
        self._apply_worker(self.log_table)

    @work(thread=True, exclusive=True, group="apply", exit_on_error=False)
    def _apply_worker(self, log: LogTable) -> None:
        svc = host_of(self).services

        def sink(entry: LogEntry, item: PlanItem | None) -> None:
            log.feed(entry)  # the table's thread-safe buffer, drained by the UI

        def progress(step: str, done: int, total: int) -> None:
            # One write is one step: at most 20 a second cross to the UI thread (each post
            # wakes its loop), and a queued one is replaced by the next (can_replace).
            now = time.monotonic()
            if done >= total or now - self._last_progress >= 0.05:
                self._last_progress = now
                self.post_message(self.Progress(step, done, total))

        async def apply() -> RunResult:
            result = await apply_job(svc, self.job, reviewed=self.plan, sink=sink,
                                     progress=progress, of_run=self.of_run)
            o = result.outcome
            if self.review_file and o is not None and not (o.failed or o.conflicts):
                self.review_file.unlink(missing_ok=True)  # reviewed and written: done
            return result

        with gc_pause.building():
            run_service(self, f"Apply of {self.job.label}", apply,
                        done=self.Finished, failed=lambda error: self.Finished(None, error),
                        expected=(JobLocked,),  # another apply or revert of the job runs
                        report=False)  # the screen shows any error as "Apply stopped"

    def on_apply_screen_progress(self, event: Progress) -> None:
        bar = self.query_one("#apply-progress", ProgressBar)
        bar.update(total=event.total or None, progress=event.done)
        self.query_one("#apply-status", Static).update(
            f"{event.step}: {event.done} of {event.total}" if event.total else event.step)

    def on_apply_screen_finished(self, event: Finished) -> None:
        self.running = False
        self.log_table.drain()
        status = self.query_one("#apply-status", Static)
        bar = self.query_one("#apply-progress", ProgressBar)
        self.result = event.result
        if event.result is None:
            status.update(Text(f"Apply stopped: {event.error}", "bold #ff6b6b"))
            self.summary = Text(f"{self.job.label}: apply stopped: {event.error}")
            self.notify(event.error, title="Apply stopped", severity="error", timeout=15)
            if self.quit_when_done:
                self.app.exit(return_code=1, message=self.summary)
            return
        r = event.result
        title = self.query_one("#apply-title", Static)
        title.update(Text.assemble(
            (f"Run {r.run_id}: {r.status}", "bold #ff6b6b" if r.exit_code else "bold"),
            f" · {self.job.task.psa_name} · period ending {self.plan.period.end}"))
        text = Text()
        if r.outcome is not None:
            o = r.outcome
            done = o.applied + o.unchanged + o.conflicts + o.failed
            bar.update(total=max(1, done), progress=done)
            text.append(f"{o.applied} written · {o.unchanged} already right · ")
            text.append(f"{o.conflicts} conflicts", "bold #e07be0" if o.conflicts else "")
            text.append(" · ")
            text.append(f"{o.failed} failed", "bold #ff6b6b" if o.failed else "")
            text.append(f" · {o.skipped} skipped")
        elif r.fatal is not None:
            text.append(f"{r.fatal.code}: {r.fatal.message}", "#ff6b6b")
        status.update(text)
        self.summary = Text.assemble(f"{self.job.label} · run {r.run_id}: {r.status}\n", text,
                                     f"\n`atria-tui log {r.run_id}` shows every line.")
        if self.quit_when_done:  # ctrl+q during the apply: its summary outlives the console
            self.app.exit(message=self.summary)

    def quit_after(self) -> None:
        """Close the console once the apply has finished (now, if it has), printing its
        summary after the console is gone."""
        if self.running:
            self.quit_when_done = True
            self.notify("The console closes when the apply has finished, and prints its "
                        "summary.", title="Quit", timeout=10)
        else:
            self.app.exit(message=self.summary)

    def action_back(self) -> None:
        if self.running:
            self.notify("The apply is still writing; wait for it to finish.",
                        severity="warning", timeout=4)
            return
        self.app.pop_screen()

    def action_export(self) -> None:
        folder = self.job.path.parent if self.job.path else host_of(self).jobs_dir
        stem = self.job.path.stem if self.job.path else "apply"
        run = f"run-{self.result.run_id}" if self.result else "apply"
        export_log(self, self.log_table, folder / f"{stem}-{run}-log.csv",
                   notes_of(self.plan.items), places_of(self.plan.items))

    def on_grid_selected(self, event: Grid.Selected) -> None:
        """Enter on a log entry, during or after the apply: all of it, and what to do."""
        event.stop()
        self.app.push_screen(DetailScreen(entry_detail(event.row, format_time(event.row.time))))
