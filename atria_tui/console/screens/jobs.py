"""The Jobs screen: the console's home, one row per job file in the jobs folder.

Everything a month-end operator does starts here with one key on the highlighted job
(preview, run now, edit, history), so the table keeps its cursor on the same job across
refreshes, and a job file that does not load stays visible with its error rather than
vanishing from the list. The table is re-read whenever the screen comes back into view,
so a job saved in the form or a run just finished shows without a manual refresh.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from atria_tui.console.screens.confirm import ConfirmScreen
from atria_tui.console.screens.history import RunsScreen
from atria_tui.console.screens.host import EditJob, OpenPreview, RunNow, host_of
from atria_tui.console.screens.job_form import JobFormScreen, TaskChoiceScreen
from atria_tui.core.model import Task
from atria_tui.job.file import JobConfig, new_job
from atria_tui.job.form_checks import fmt_when
from atria_tui.job.parameters import API_URL_PARAM, ConfigError
from atria_tui.services.history import FAILED, INTERRUPTED, SUCCESS, WARNINGS
from atria_tui.services.jobs import (
    JobRow,
    delete_job,
    last_result,
    list_jobs,
    set_enabled,
    shown_path,
)

__all__ = ["JobsScreen"]

COLUMNS = (("label", "Label"), ("task", "Task"), ("cron", "Cron"), ("next", "Next run"),
           ("enabled", "Enabled"), ("last", "Last result"))
_STATUS_STYLE = {SUCCESS: "green", WARNINGS: "yellow", FAILED: "bold red",
                 INTERRUPTED: "magenta"}


class JobsScreen(Screen[None]):
    BINDINGS = [
        Binding("p", "preview", "Preview", key_display="p/⏎", id="jobs.preview"),
        Binding("r", "run_now", "Run now", id="jobs.run"),
        Binding("e", "edit", "Edit", id="jobs.edit"),
        Binding("a", "add", "Add", id="jobs.add"),
        Binding("space", "toggle_enabled", "On/off", id="jobs.toggle"),
        Binding("d", "delete", "Delete", id="jobs.delete"),
        Binding("h", "history", "Runs", id="jobs.history"),
        Binding("H", "all_runs", "All runs", show=False, id="jobs.all_runs"),
        Binding("f5", "refresh", "Refresh", show=False, id="jobs.refresh"),
        Binding("q", "app.quit", "Quit", id="jobs.quit"),
        # A DataTable's Home/End scroll sideways; here they move the cursor, as in every grid.
        Binding("home", "jump(0)", "First job", show=False, priority=True, id="jobs.first"),
        Binding("end", "jump(-1)", "Last job", show=False, priority=True, id="jobs.last"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, JobRow] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="jobs-empty", markup=False)
        table: DataTable[object] = DataTable(id="jobs-table", cursor_type="row", zebra_stripes=True)
        yield table
        yield Static("", id="job-detail", markup=False)
        yield Static("", id="jobs-status", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#jobs-table", DataTable)
        for key, title in COLUMNS:
            table.add_column(title, key=key)
        self.refresh_jobs()
        table.focus()
        self.watch(self.app, "activity", self._show_activity)

    def _show_activity(self, text: str) -> None:
        status = self.query_one("#jobs-status", Static)
        status.update(text)
        status.display = bool(text)

    def on_screen_resume(self) -> None:
        self.refresh_jobs()

    # --- table ----------------------------------------------------------------------------

    def refresh_jobs(self, select: str | None = None) -> None:
        """Re-read the folder; keep the cursor on `select` (a path) or the current job."""
        app = host_of(self)
        table = self.query_one("#jobs-table", DataTable)
        keep = select or (self.selected.path.as_posix() if self.selected else None)
        rows = list_jobs(app.jobs_dir, app.services, app.now)
        self.rows = {r.path.as_posix(): r for r in rows}
        table.clear()
        for key, row in self.rows.items():
            table.add_row(*self._cells(row), key=key)
        empty = self.query_one("#jobs-empty", Static)
        empty.display = not rows
        empty.update(f"No jobs in {app.jobs_dir}.\nPress a to add one, or run "
                     "`atria-tui demo` to try the console on the embedded sandbox.")
        table.display = bool(rows)
        if keep in self.rows:
            table.move_cursor(row=table.get_row_index(keep))
        self._show_detail()

    @staticmethod
    def _cells(row: JobRow) -> list[Text]:
        if row.job is None:
            return [Text(row.label), Text("⚠ cannot load", style="bold red"), Text(""),
                    Text(""), Text(""), Text(last_result(row.last_run))]
        assert row.task is not None
        status = row.last_run.status if row.last_run else ""
        return [
            Text(row.label),
            Text(row.task.psa_name),
            Text(row.cron),
            Text(fmt_when(row.next_run) if row.next_run else "—"),
            Text("● on", style="green") if row.enabled else Text("○ off", style="dim"),
            Text(last_result(row.last_run), style=_STATUS_STYLE.get(status, "dim")),
        ]

    @property
    def selected(self) -> JobRow | None:
        table = self.query_one("#jobs-table", DataTable)
        if not self.rows or table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.rows.get(key or "")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_preview()  # the month-end work starts with a preview

    def _show_detail(self) -> None:
        detail = self.query_one("#job-detail", Static)
        row = self.selected
        if row is None:
            detail.update("")
            return
        if row.job is None:
            detail.update(f"{row.path}\n{row.error}\nFix the file in an editor; the "
                          "console shows it again once it loads.")
            detail.add_class("error")
            return
        detail.remove_class("error")
        job = row.job
        url_name = API_URL_PARAM[job.task]
        source = (shown_path(job.source.path, row.path.parent) if job.source.kind == "file"
                  else job.source.url)
        detail.update(f"{row.path.name} · source {job.source.kind}: {source or '(none)'}\n"
                      f"{url_name} {job.param(url_name, '') or '(not set)'} · BillingPeriod "
                      f"{job.param('BillingPeriod', 'Current')} · log level "
                      f"{job.log_level.value}")

    def _job(self, doing: str) -> JobConfig | None:
        row = self.selected
        if row is None:
            self.notify("No job selected: press a to add one", severity="warning")
            return None
        if row.job is None:
            self.notify(f"Cannot {doing} {row.path.name}: {row.error}", severity="error",
                        timeout=10)
            return None
        return row.job

    # --- actions --------------------------------------------------------------------------

    def action_jump(self, where: int) -> None:
        table = self.query_one("#jobs-table", DataTable)
        if table.row_count:
            table.move_cursor(row=table.row_count - 1 if where < 0 else 0)

    def action_refresh(self) -> None:
        self.refresh_jobs()

    def action_preview(self) -> None:
        job = self._job("preview")
        if job is not None:
            self.post_message(OpenPreview(job))

    def action_run_now(self) -> None:
        job = self._job("run")
        if job is not None:
            self.post_message(RunNow(job))

    def action_edit(self) -> None:
        job = self._job("edit")
        if job is not None:
            self.post_message(EditJob(job))

    def action_add(self) -> None:
        def chosen(task: Task | None) -> None:
            if task is not None:
                self.app.push_screen(JobFormScreen(new_job(task), new=True), saved)

        def saved(job: JobConfig | None) -> None:
            if job is not None and job.path is not None:
                self.refresh_jobs(select=job.path.as_posix())

        self.app.push_screen(TaskChoiceScreen(), chosen)

    def action_toggle_enabled(self) -> None:
        row = self.selected
        if self._job("enable or disable") is None or row is None:
            return
        try:
            job = set_enabled(row.path, not row.enabled)
        except (ConfigError, OSError) as exc:
            self.notify(str(exc), severity="error")
            return
        self.refresh_jobs()
        state = "enabled" if job.enabled else "disabled (no next run)"
        self.notify(f"{job.label}: {state}")

    def action_delete(self) -> None:
        row = self.selected
        if row is None:
            return

        def answered(ok: bool | None) -> None:
            if not ok:
                return
            try:
                delete_job(row.path, host_of(self).services.secrets)
            except OSError as exc:
                self.notify(f"{row.path}: {exc.strerror or exc}", severity="error")
                return
            self.refresh_jobs()
            self.notify(f"Deleted {row.label}")

        body = (f"{row.label}\n({row.path.name})\n\nThe job file, its mappings and its "
                "stored secrets are removed. Its run history is kept.")
        self.app.push_screen(ConfirmScreen("Delete this job?", body, confirm="Delete",
                                           danger=True), answered)

    def action_history(self) -> None:
        row = self.selected
        if row is not None:
            self.app.push_screen(RunsScreen(job_id=row.job_id, label=row.label))

    def action_all_runs(self) -> None:
        self.app.push_screen(RunsScreen())
