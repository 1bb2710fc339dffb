"""Command palette entries (ctrl+p): every job's flows and recent runs, by name.

Billing staff know their jobs by label ("Kaseya month end"), not by position in a list,
and they look for a run by its number from an email or a ticket; the palette gets them
there from any screen. Jobs and runs are read once, when the palette opens. A chosen
entry posts the same request message a screen would (`OpenPreview`, `RunNow`, ...) to
the App, so the palette needs nothing of the App but the `ConsoleHost` protocol.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from textual.app import App
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.message import Message

from atria_tui.console.screens.host import (
    ConsoleHost,
    EditJob,
    OpenLog,
    OpenPreview,
    RunNow,
    host_of,
)
from atria_tui.services import history
from atria_tui.services.jobs import list_jobs

__all__ = ["AtriaCommands", "PaletteEntry", "palette_entries"]

RECENT_RUNS = 30

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class PaletteEntry:
    text: str
    help: str
    command: Callable[[], object]


def _request(app: App[object], message: Callable[[_T], Message], arg: _T
             ) -> Callable[[], object]:
    """A command that posts a fresh `message(arg)` to the App when chosen."""
    return lambda: app.post_message(message(arg))


def palette_entries(app: App[object]) -> list[PaletteEntry]:
    """What the palette offers now; broken job files offer nothing but Help."""
    host = host_of(app)
    entries: list[PaletteEntry] = []
    for row in list_jobs(host.jobs_dir, host.services, host.now):
        job = row.job
        if job is None:
            continue
        task = job.task.psa_name
        entries += [
            PaletteEntry(f"Preview {row.label}", f"{task}: plan and review, write nothing",
                         _request(app, OpenPreview, job)),
            PaletteEntry(f"Run {row.label} now", f"{task}: plan, confirm, apply",
                         _request(app, RunNow, job)),
            PaletteEntry(f"Edit {row.label}", f"{task}: parameters, schedule, secrets",
                         _request(app, EditJob, job)),
        ]
    for run in history.runs(host.services, None, RECENT_RUNS):
        entries.append(PaletteEntry(f"Open run {run.id} log",
                                    f"{run.kind} of {run.label}: {run.status}",
                                    _request(app, OpenLog, run.id)))
    entries.append(PaletteEntry("Help: log codes",
                                "every code with its level, message and resolution",
                                partial(app.run_action, "app.help")))
    return entries


class AtriaCommands(Provider):
    """Jobs, runs and help, for `App.COMMANDS`."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._entries: list[PaletteEntry] = []

    async def startup(self) -> None:
        if isinstance(self.app, ConsoleHost):
            self._entries = await asyncio.to_thread(palette_entries, self.app)

    async def discover(self) -> Hits:
        for entry in self._entries:
            if not entry.text.startswith("Open run"):
                yield DiscoveryHit(entry.text, entry.command, help=entry.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for entry in self._entries:
            score = matcher.match(entry.text)
            if score > 0:
                yield Hit(score, matcher.highlight(entry.text), entry.command, text=entry.text,
                          help=entry.help)
