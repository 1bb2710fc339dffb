"""The console application: one factory for the CLI, the demo and the tests.

The app owns what every screen shares (the services, the jobs folder, the clock: the
`ConsoleHost` protocol the screens see) and the flows that can start from anywhere (the
Jobs and Runs screens, the command palette): preview, run now, edit, open a run's log,
help. Screens ask for a flow by posting a message (`OpenPreview`, `RunNow`, `EditJob`,
`OpenLog`) that bubbles up to this App; they never import it, so the imports point one
way: the app imports the screens. The clock is the runtime's, so next-run times, run
starts and log times in a snapshot test all come from one fixed clock.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive

from atria_tui.console.commands import AtriaCommands
from atria_tui.console.screens.apply import ApplyScreen
from atria_tui.console.screens.confirm import ConfirmScreen
from atria_tui.console.screens.help import HelpScreen, keys_of
from atria_tui.console.screens.host import (
    ConsoleHost,
    Crashed,
    EditJob,
    OpenLog,
    OpenPreview,
    RunNow,
)
from atria_tui.console.screens.job_form import JobFormScreen
from atria_tui.console.screens.jobs import JobsScreen
from atria_tui.console.screens.log import LogScreen
from atria_tui.console.screens.preview import PreviewScreen
from atria_tui.console.screens.workers import run_service
from atria_tui.core.paths import config_dir
from atria_tui.job.file import JobConfig
from atria_tui.services import history
from atria_tui.services.engine import RunResult, plan_job
from atria_tui.services.review import run_now_text
from atria_tui.services.review_hold import ReviewHeld, hold_review
from atria_tui.services.runtime import Runtime

__all__ = ["AtriaApp", "make_app"]


class AtriaApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "atria-tui"
    COMMANDS = App.COMMANDS | {AtriaCommands}
    BINDINGS = [
        Binding("f1,question_mark", "help", "Help", key_display="?", id="app.help"),
    ]

    activity: reactive[str] = reactive("")
    """What a background flow (run now) is doing; the Jobs screen shows it."""

    class Activity(Message):
        """Run now's step, from its worker: the newest of a burst replaces the rest."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, AtriaApp.Activity)

    class Planned(Message):
        """Run now: the plan is ready (or the run ended before it had one)."""

        def __init__(self, result: RunResult) -> None:
            super().__init__()
            self.result = result

    def __init__(self, *, jobs_dir: Path, services: Runtime, demo: bool = False,
                 open_run: int | None = None) -> None:
        super().__init__()
        self.jobs_dir = jobs_dir
        self.services = services
        self.demo = demo
        self.open_run = open_run  # a run's log to open at start (a notification's link)
        if demo:
            self.sub_title = "demo · embedded sandbox, throwaway data"
        else:
            self.sub_title = str(jobs_dir)

    def now(self) -> datetime:
        """Local time by the runtime's clock (cron fields mean the user's wall clock)."""
        return self.services.now().astimezone()

    def on_mount(self) -> None:
        self.push_screen(JobsScreen())
        if self.open_run is not None:
            self.open_log(self.open_run)

    # --- flows shared by the screens and the command palette -----------------------------

    def on_open_preview(self, message: OpenPreview) -> None:
        self.open_preview(message.job)

    def on_run_now(self, message: RunNow) -> None:
        self.run_now(message.job)

    def on_edit_job(self, message: EditJob) -> None:
        self.edit_job(message.job)

    def on_open_log(self, message: OpenLog) -> None:
        self.open_log(message.run_id)

    async def action_quit(self) -> None:
        """ctrl+q and q: never a silent end. An apply that is writing is finished first
        (its summary is printed when the console has closed); a preview's review is
        saved already, and the question says so. Decided after the keys already queued
        (a `y` that starts an apply, typed just before) have had their effect."""
        self.call_later(self._ask_quit)

    def _ask_quit(self) -> None:
        if isinstance(self.screen, ConfirmScreen) and self.screen.id == "quit-confirm":
            return  # the question is on screen already
        apply = next((s for s in self.screen_stack
                      if isinstance(s, ApplyScreen) and s.running), None)
        if apply is not None:
            def finish(ok: bool | None) -> None:
                if ok:
                    apply.quit_after()

            self.push_screen(ConfirmScreen(
                f"An apply is writing to {apply.job.task.psa_name}",
                "Stopping the console now would leave the apply half done. Let it finish, "
                "then quit (its summary is printed), or keep working.",
                confirm="Finish, then quit", cancel="Keep working", id="quit-confirm"),
                finish)
            return
        preview = next((s for s in self.screen_stack
                        if isinstance(s, PreviewScreen) and s.session is not None), None)
        body = ("Your review (approvals, rejections, notes) is saved; the next preview of "
                f"{preview.job.label} offers to resume it." if preview is not None else
                "Nothing is lost: reviews are saved as they are made.")

        def answered(ok: bool | None) -> None:
            if not ok:
                return
            # An apply that began meanwhile is finished first; any apply's summary is
            # printed when the console has closed.
            started = next((s for s in self.screen_stack if isinstance(s, ApplyScreen)), None)
            if started is not None:
                started.quit_after()
            else:
                self.exit()

        self.push_screen(ConfirmScreen("Quit atria-tui?", body, confirm="Quit", cancel="Stay",
                                       id="quit-confirm"), answered)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            screen = self.screen
            self.push_screen(HelpScreen(keys_of(screen), screen.title or ""))

    def open_preview(self, job: JobConfig) -> None:
        """The job's preview, holding its review lock; when another console (a clerk in
        another browser) holds it, say who and offer to open it read-only."""
        try:
            hold = hold_review(self.services, job)
        except ReviewHeld as held:
            holder, why = held.holder, str(held)

            def answered(ok: bool | None) -> None:
                if ok:
                    self.push_screen(PreviewScreen(job, read_only=holder))

            self.push_screen(ConfirmScreen(
                "Preview held by another clerk",
                f"{why}.\nOpen it read-only? You can look, filter and export; approvals, "
                "notes, fixes and apply stay with them.", confirm="Read-only",
                cancel="Cancel"), answered)
            return
        self.push_screen(PreviewScreen(job, hold=hold))

    def open_log(self, run_id: int) -> None:
        if history.run(self.services, run_id) is None:
            self.notify(f"Run {run_id} does not exist", severity="error")
            return
        self.push_screen(LogScreen(run_id))

    def edit_job(self, job: JobConfig) -> None:
        self.push_screen(JobFormScreen(job))

    def run_now(self, job: JobConfig) -> None:
        """Plan, show what would be written, and apply the approved changes on "Apply"."""
        if self.activity:
            self.notify(f"Busy: {self.activity}", severity="warning")
            return
        self.activity = f"Run now · {job.label}: planning…"
        if not isinstance(self.screen, JobsScreen):  # the Jobs screen shows progress itself
            self.notify(f"Planning {job.label}; the confirmation opens when the plan is ready",
                        title="Run now")
        self._plan_for_run(job)

    @work(thread=True, exclusive=True, group="run-now", exit_on_error=False)
    def _plan_for_run(self, job: JobConfig) -> None:
        def progress(step: str, done: int, total: int) -> None:
            count = f" ({done}/{total})" if total else ""
            self.post_message(self.Activity(f"Run now · {job.label}: {step}{count}…"))

        run_service(self, f"Run {job.label}",
                    lambda: plan_job(self.services, job, progress=progress),
                    done=self.Planned)

    def on_atria_app_activity(self, message: Activity) -> None:
        self.activity = message.text

    def on_atria_app_planned(self, message: Planned) -> None:
        self._confirm_run(message.result)

    def on_crashed(self, message: Crashed) -> None:
        self.report_crash(message.what, message.error)

    def report_crash(self, what: str, exc: BaseException) -> None:
        """An unexpected error in a worker, as a notification instead of a traceback."""
        self.activity = ""
        self.notify(f"{what} stopped: {type(exc).__name__}: {exc}", title="Unexpected error",
                    severity="error", timeout=15)

    def _confirm_run(self, result: RunResult) -> None:
        self.activity = ""
        job, plan = result.job, result.plan
        if plan is None or result.fatal is not None:
            why = result.fatal.message if result.fatal else result.status
            self.notify(f"{job.label}: nothing applied. {why} (run {result.run_id} has the log)",
                        title="Run now", severity="error", timeout=10)
            return
        body = run_now_text(plan, job.options.swing_threshold, job.task.psa_name,
                            job.options.currency)
        if body is None:
            self.notify(f"{job.label}: the PSA already matches Atria for period "
                        f"{plan.period.end}; nothing to write", title="Run now")
            return

        def answered(ok: bool | None) -> None:
            if ok:
                self.push_screen(ApplyScreen(job, plan, of_run=result.run_id))

        self.push_screen(ConfirmScreen(f"Run {job.label} now?", body,
                                       confirm="Apply", danger=True), answered)


def make_app(*, services: Runtime, jobs_dir: Path | None = None,
             demo: bool = False, open_run: int | None = None) -> AtriaApp:
    """The console over `jobs_dir` (default: the configured jobs folder), on the runtime
    the front end built (the CLI's holds the embedded sandbox for `sandbox://` jobs);
    `open_run` opens that run's log over the Jobs screen."""
    return AtriaApp(jobs_dir=jobs_dir if jobs_dir is not None else config_dir(),
                    services=services, demo=demo, open_run=open_run)


_HOST: type[ConsoleHost] = AtriaApp  # mypy checks the app is what the screens expect
