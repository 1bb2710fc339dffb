"""The job form's "Test connection": `atria-tui doctor` in a dialog, on the form's values.

A billing admin filling in a new job wants to know, before saving and long before month
end, that the URL, the credentials and every route the job will use answer. The check is
the CLI's (services.doctor), read-only, run in a worker on the job as the form stands,
with the secrets typed but not yet saved; the table is the CLI's table.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from atria_tui.console.screens.host import host_of
from atria_tui.console.screens.workers import run_service
from atria_tui.job.file import JobConfig
from atria_tui.services.doctor import DoctorReport, doctor_job

__all__ = ["DoctorScreen"]

COLUMNS = ("Check", "Candidate", "Request", "HTTP", "Verdict", "Next")
VERDICT_STYLE = {"works": "green", "exists": "green", "skipped": "dim"}


class DoctorScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape", "close", "Close", id="doctor.close")]

    class Checked(Message):
        def __init__(self, report: DoctorReport | None, error: str = "") -> None:
            super().__init__()
            self.report, self.error = report, error

    def __init__(self, job: JobConfig, typed: Mapping[str, str]) -> None:
        super().__init__()
        self.job = job
        self.typed = dict(typed)

    def compose(self) -> ComposeResult:
        with Vertical(id="doctor-dialog", classes="dialog"):
            yield Static(f"Test connection · {self.job.label}", classes="dialog-title",
                         markup=False)
            yield Static("Checking the host, TLS, the login and each route, read-only…",
                         id="doctor-status", markup=False)
            yield DataTable(id="doctor-table", cursor_type="row", zebra_stripes=True)
            yield Static("Esc close · nothing is written to the PSA", id="doctor-hint",
                         markup=False)

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(*COLUMNS)
        self._check()

    @work(thread=True, exclusive=True, group="doctor", exit_on_error=False)
    def _check(self) -> None:
        svc, job, typed = host_of(self).services, self.job, self.typed
        run_service(self, "Testing the connection", lambda: doctor_job(svc, job, typed),
                    done=lambda report: self.Checked(report),
                    failed=lambda error: self.Checked(None, error))

    def on_doctor_screen_checked(self, event: Checked) -> None:
        status = self.query_one("#doctor-status", Static)
        report = event.report
        if report is None:
            status.update(Text(f"Stopped: {event.error}", "bold red"))
            return
        if report.fatal:
            status.update(Text(f"Stopped: {report.fatal}", "bold red"))
            return
        rows = []
        for p in report.probes:
            style = VERDICT_STYLE.get(p.verdict, "bold red" if p.needed else "yellow")
            dim = "" if p.needed else "dim"
            rows.append((Text(p.step, dim), Text(p.candidate, dim),
                         Text(f"{p.method} {p.url}".strip(), dim), Text(str(p.status or "")),
                         Text(p.verdict, style), Text(p.advice, dim)))
        # Each column as wide as its widest cell before a row goes in: a DataTable that
        # widens its columns later keeps a row it painted in between (the cursor row) at the
        # old widths, e.g. "POST /v" for the login's request.
        table = self.query_one(DataTable)
        table.clear(columns=True)
        for i, name in enumerate(COLUMNS):
            table.add_column(name, width=max([len(name), *(row[i].cell_len for row in rows)]))
        table.add_rows(rows)
        if report.ok:
            status.update(Text("Every route this job needs answers.", "green"))
        else:
            failing = sorted({p.step for p in report.probes if p.needed and not p.ok})
            hint = "".join(f'; {p.step}: [endpoints] routes = "{p.candidate}" works here'
                           for p in report.alternatives)
            status.update(Text(f"Not ready: {', '.join(failing)}{hint}", "bold red"))

    def action_close(self) -> None:
        self.dismiss(None)
