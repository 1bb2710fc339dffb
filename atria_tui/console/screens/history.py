"""Run history: every plan, apply and revert, newest first, with its log one key away.

A revert writes to the PSA, so it asks first and runs in a worker thread like any other
run; its outcome is shown as the new run's status (a revert is itself a run, with its own
log), and the table is re-read so the revert appears on top.
"""

from __future__ import annotations

import getpass
from datetime import datetime
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from atria_tui.console.screens import workers
from atria_tui.console.screens.confirm import ConfirmScreen
from atria_tui.console.screens.host import OpenLog, host_of
from atria_tui.console.screens.workers import run_service
from atria_tui.core.localtime import zone_name
from atria_tui.engine.joblock import JobLocked
from atria_tui.job.file import JobConfig
from atria_tui.services import history
from atria_tui.services.engine import RunResult, revert_run
from atria_tui.services.history import FAILED, INTERRUPTED, RUNNING, SUCCESS, WARNINGS, RunRow
from atria_tui.services.jobs import find_job
from atria_tui.services.report import ReportError, save_report
from atria_tui.services.runtime import Runtime

__all__ = ["RunsScreen", "fmt_stamp"]

_ZONE = zone_name()  # times are shown in it, labelled
# Status early and the job (often the same on every row) last: Status shows at 80 columns.
COLUMNS = (("id", "Run"), ("kind", "Kind"), ("status", "Status"), ("written", "Written"),
           ("money", "Δ money"), ("period", "Period end"),
           ("started", f"Started ({_ZONE})"), ("finished", f"Finished ({_ZONE})"),
           ("of", "Related"), ("job", "Job"))
STATUS_STYLE = {SUCCESS: "green", WARNINGS: "yellow", FAILED: "bold red",
                INTERRUPTED: "magenta", RUNNING: "cyan"}


def fmt_stamp(stamp: str | None) -> str:
    """A stored UTC timestamp in the viewer's local time, to the second."""
    if not stamp:
        return ""
    try:
        return datetime.fromisoformat(stamp).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return stamp


class RunsScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="runs.back"),
        Binding("l", "open_log", "Log", key_display="l/⏎", id="runs.log"),
        Binding("R", "revert", "Revert", id="runs.revert"),
        Binding("a", "toggle_all", "All jobs", id="runs.all"),
        Binding("o", "report", "Sign-off page", id="runs.report"),
        Binding("f5", "refresh", "Refresh", id="runs.refresh"),
    ]

    class Reverted(Message):
        def __init__(self, result: RunResult | None, error: str = "") -> None:
            super().__init__()
            self.result = result
            self.error = error

    def __init__(self, job_id: str | None = None, label: str = "") -> None:
        super().__init__()
        self.job_id = job_id
        self.label = label
        self.show_all = job_id is None
        self.reverting = False
        self.runs: dict[str, RunRow] = {}
        self.reverts: dict[int, int] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="runs-title", markup=False)
        yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="runs-status", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#runs-table", DataTable)
        for key, title in COLUMNS:
            table.add_column(title, key=key)
        self.refresh_runs()
        table.focus()

    def on_screen_resume(self) -> None:
        self.refresh_runs()

    def refresh_runs(self, select: int | None = None) -> None:
        runs = history.runs(host_of(self).services, None if self.show_all else self.job_id)
        table = self.query_one("#runs-table", DataTable)
        keep = str(select) if select is not None else (
            str(self.selected.id) if self.selected else None)
        self.runs = {str(r.id): r for r in runs}
        services = host_of(self).services
        self.reverts = {r.id: by for r in runs if r.kind == "apply"
                        and (by := history.reverted_by(services, r.id)) is not None}
        table.clear()
        for key, run in self.runs.items():
            table.add_row(*self._cells(run, self.reverts.get(run.id)), key=key)
        if keep in self.runs:
            table.move_cursor(row=table.get_row_index(keep))
        whose = "all jobs" if self.show_all else self.label or self.job_id or ""
        title = f"Runs of {whose}: {len(runs)}"
        if not runs:
            title += " (none yet: preview or run a job from the Jobs screen)"
        self.query_one("#runs-title", Static).update(title)

    @staticmethod
    def _cells(run: RunRow, reverted_by: int | None = None) -> list[Text]:
        related = Text(history.related_text(run))
        if reverted_by is not None:  # an apply whose writes were put back
            related = Text(f"reverted by {reverted_by}", style="magenta")
        written, money = history.totals_text(run)
        return [Text(str(run.id), justify="right"), Text(run.kind),
                Text(run.status, style=STATUS_STYLE.get(run.status, "")),
                Text(written, justify="right"), Text(money, justify="right"),
                Text(run.period_end),
                Text(fmt_stamp(run.started_at)), Text(fmt_stamp(run.finished_at)), related,
                Text(run.label)]

    @property
    def selected(self) -> RunRow | None:
        table = self.query_one("#runs-table", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.runs.get(key or "")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_log()

    # --- actions --------------------------------------------------------------------------

    def action_refresh(self) -> None:
        self.refresh_runs()

    def action_toggle_all(self) -> None:
        if self.job_id is None:
            return
        self.show_all = not self.show_all
        self.refresh_runs()

    def action_open_log(self) -> None:
        run = self.selected
        if run is not None:
            self.post_message(OpenLog(run.id))

    def action_revert(self) -> None:
        run = self.selected
        if run is None:
            return
        if self.reverting:
            self.notify("A revert is still running", severity="warning")
            return
        if run.kind != "apply":
            self.notify(f"Run {run.id} is a {run.kind}: only apply runs wrote to the PSA, "
                        "so only they can be reverted", severity="warning")
            return
        if run.status == RUNNING:
            self.notify(f"Run {run.id} is still running", severity="warning")
            return
        app = host_of(self)
        job = find_job(app.jobs_dir, run.job_id)
        if job is None:
            self.notify(f"Run {run.id} belongs to job {run.job_id!r}, which is not in "
                        f"{app.jobs_dir}; restore the job file to revert it", severity="error",
                        timeout=10)
            return
        body = (f"Run {run.id} ({run.label}, period ending {run.period_end or '?'}).\n\n"
                f"Every quantity it changed in {job.task.psa_name} is set back to what it "
                "was before. Lines someone edited since are left alone and reported.")
        earlier = self.reverts.get(run.id)
        if earlier is not None:
            body = (f"Run {run.id} was already reverted by run {earlier}.\n\n"
                    "Reverting again re-reads every line it wrote and writes only those that "
                    "hold its quantities again; lines already as before are left alone and "
                    "not reported as restored.")

        def answered(ok: bool | None) -> None:
            if ok:
                self.reverting = True
                self.query_one("#runs-status", Static).update(f"Reverting run {run.id}…")
                self._revert(job, run.id)

        self.app.push_screen(ConfirmScreen(f"Revert run {run.id}?", body, confirm="Revert",
                                           danger=True), answered)

    class ReportWritten(Message):
        def __init__(self, path: Path | None, error: str = "") -> None:
            super().__init__()
            self.path = path
            self.error = error

    def action_report(self) -> None:
        """The run's month-end sign-off summary (`atria-tui report RUN`), as an HTML page
        in the working folder, never over an earlier one."""
        run = self.selected
        if run is None:
            return
        services, folder = host_of(self).services, Path.cwd()
        self.query_one("#runs-status", Static).update(
            f"Writing the sign-off page of run {run.id}…")
        self._write_report(services, run.id, folder)

    @work(thread=True, exclusive=True, group="report", exit_on_error=False)
    def _write_report(self, services: Runtime, run_id: int, folder: Path) -> None:
        run_service(self, f"Sign-off page of run {run_id}",
                    lambda: save_report(services, run_id, folder,
                                        prepared_by=getpass.getuser()),
                    done=self.ReportWritten,
                    failed=lambda error: self.ReportWritten(None, error),
                    expected=(ReportError, OSError), report=False)

    def on_runs_screen_report_written(self, message: ReportWritten) -> None:
        status = self.query_one("#runs-status", Static)
        if message.path is None:
            status.update(f"No sign-off page: {message.error}")
            self.notify(message.error, title="Sign-off page", severity="error", timeout=10)
            return
        status.update(f"Sign-off page written to {message.path}: open it in a browser to "
                      "print or save as PDF.")
        self.notify(str(message.path), title="Sign-off page written", timeout=10)

    class RevertProgress(workers.Progress):
        """A revert's lines re-read and set back so far (a slow PSA takes minutes)."""

    @work(thread=True, exclusive=True, group="revert", exit_on_error=False)
    def _revert(self, job: JobConfig, run_id: int) -> None:
        services = host_of(self).services

        def progress(step: str, done: int, total: int) -> None:
            self.post_message(self.RevertProgress(step, done, total))

        run_service(self, f"Revert of run {run_id}",
                    lambda: revert_run(services, job, run_id, progress=progress),
                    done=self.Reverted, failed=lambda error: self.Reverted(None, error),
                    expected=(JobLocked,),  # another apply or revert of the job is running
                    report=False)  # the screen shows any error as "Revert stopped"

    def on_runs_screen_revert_progress(self, message: RevertProgress) -> None:
        if not self.reverting:
            return  # a late one after the outcome
        total = f": {message.done} of {message.total} line(s) checked" if message.total else ""
        self.query_one("#runs-status", Static).update(f"{message.step}{total}…")

    def on_runs_screen_reverted(self, message: Reverted) -> None:
        self.reverting = False
        status = self.query_one("#runs-status", Static)
        result = message.result
        if result is None:
            status.update(f"Revert stopped: {message.error}")
            self.notify(message.error, title="Revert stopped", severity="error", timeout=15)
            return
        text = f"Revert run {result.run_id}: {result.status}"
        if result.fatal is not None:
            text += f". {result.fatal.message}"
        elif result.outcome is not None:
            text += f" ({_outcome_text(result)})"
        status.update(text + ". Press Enter on it to read its log.")
        severity: SeverityLevel = "error" if result.exit_code else (
            "warning" if result.status == WARNINGS else "information")
        self.notify(text, title="Revert", severity=severity, timeout=10)
        self.refresh_runs(select=result.run_id)


def _outcome_text(result: RunResult) -> str:
    o = result.outcome
    if o is None:
        return ""
    counts = (("restored", o.applied), ("already as before", o.unchanged),
              ("edited since (left alone)", o.conflicts), ("failed", o.failed),
              ("skipped", o.skipped))
    return ", ".join(f"{n} {what}" for what, n in counts if n) or "nothing to restore"
