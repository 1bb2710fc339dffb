"""A past run's log in the same table as a live apply: search, sort, level filter, export.

The log is read from the store in a thread (a 50,000-line run is a few hundred
milliseconds of SQLite), and the notes reviewers typed on the run's plan go into the
export, as they do from the Apply screen. The notes come from the stored plan, which for
50,000 rows is ~40 MB of JSON and a second to parse, so the entries are shown first and
the notes follow; an export asked for before they are in waits for them.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from atria_tui.console.screens.apply import export_log
from atria_tui.console.screens.detail import DetailScreen, entry_detail
from atria_tui.console.screens.host import host_of
from atria_tui.console.screens.workers import run_service
from atria_tui.console.widgets.grid import Grid
from atria_tui.console.widgets.log_table import LogTable, format_time
from atria_tui.core import gc_pause
from atria_tui.core.model import LogEntry
from atria_tui.services import history
from atria_tui.services.engine import stored_notes, stored_places
from atria_tui.services.history import FAILED, RunRow

__all__ = ["LogScreen"]


def run_title(run: RunRow) -> Text:
    text = Text()
    text.append(f"Run {run.id}", "bold")
    text.append(f" · {run.kind} · {run.label}")
    if run.period_end:
        text.append(f" · period ending {run.period_end}")
    text.append(" · ")
    text.append(run.status, "bold #ff6b6b" if run.status == FAILED else "bold")
    started = run.started_at.replace("T", " ")[:16]
    text.append(f" · started {started} UTC", "dim")
    if run.of_run:
        text.append(f" · {history.related_text(run)}", "dim")
    return text


class LogScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="log.back"),
        Binding("x", "export", "Export CSV", id="log.export"),
    ]

    class Loaded(Message):
        def __init__(self, run: RunRow | None, entries: list[LogEntry]) -> None:
            super().__init__()
            self.run, self.entries = run, entries

    class NotesLoaded(Message):
        def __init__(self, notes: dict[tuple[str, str], str],
                     places: dict[tuple[str, str], tuple[str, str]] | None = None) -> None:
            super().__init__()
            self.notes = notes
            self.places = places or {}

    def __init__(self, run_id: int) -> None:
        super().__init__()
        self.run_id = run_id
        self.run: RunRow | None = None
        self.notes: dict[tuple[str, str], str] = {}
        self.places: dict[tuple[str, str], tuple[str, str]] = {}
        self.loaded = False  # entries and notes both in
        self._export_waiting = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(f"Run {self.run_id} · loading…", id="log-title", markup=False)
        yield LogTable(id="run-log")
        yield Footer()

    @property
    def log_table(self) -> LogTable:
        return self.query_one("#run-log", LogTable)

    def on_mount(self) -> None:
        self.title = f"Log · run {self.run_id}"
        self._load()

    @work(thread=True, exclusive=True, group="log-load", exit_on_error=False)
    def _load(self) -> None:
        svc, run_id = host_of(self).services, self.run_id

        def read() -> tuple[RunRow | None, list[LogEntry]]:
            run = history.run(svc, run_id)
            with gc_pause.building():
                return run, history.run_log(svc, run_id)

        if run_service(self, f"Reading the log of run {run_id}", read,
                       done=lambda loaded: self.Loaded(*loaded)):
            # An unreadable stored plan has no notes; whatever happens, NotesLoaded is
            # posted, so an export asked for meanwhile does not wait for ever.
            run_service(self, f"Reading the notes of run {run_id}",
                        lambda: (stored_notes(svc, run_id), stored_places(svc, run_id)),
                        done=lambda found: self.NotesLoaded(*found),
                        failed=lambda _: self.NotesLoaded({}),
                        expected=(ValueError, KeyError, TypeError))

    def on_log_screen_loaded(self, event: Loaded) -> None:
        self.run = event.run
        title = self.query_one("#log-title", Static)
        if event.run is None:
            title.update(f"Run {self.run_id} does not exist.")
        else:
            title.update(run_title(event.run))
        self.log_table.set_entries(event.entries)
        self.set_focus(self.log_table.grid)

    def on_log_screen_notes_loaded(self, event: NotesLoaded) -> None:
        self.notes = event.notes
        self.places = event.places
        self.loaded = True
        if self._export_waiting:
            self._export_waiting = False
            self.action_export()

    def action_back(self) -> None:
        self.app.pop_screen()

    def on_grid_selected(self, event: Grid.Selected) -> None:
        """Enter on an entry: the whole message and the guide's resolution."""
        event.stop()
        self.app.push_screen(DetailScreen(entry_detail(event.row, format_time(event.row.time))))

    def action_export(self) -> None:
        if not self.loaded:
            self._export_waiting = True
            self.notify("Reading the reviewers' notes; the export opens in a moment",
                        timeout=3)
            return
        app = host_of(self)
        stem = self.run.job_id if self.run else "run"
        export_log(self, self.log_table, app.jobs_dir / f"{stem}-run-{self.run_id}-log.csv",
                   self.notes, self.places)
