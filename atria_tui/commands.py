"""Command palette entries (ctrl+p): every job's flows and recent runs, by name.

Billing staff know their jobs by label ("Kaseya month end"), not by position in a list,
and they look for a run by its number from an email or a ticket; the palette gets them
there from any screen. Jobs and runs are read once, when the palette opens.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

from atria_tui.services import history
from atria_tui.services.jobs import list_jobs

if TYPE_CHECKING:
    from atria_tui.app import AtriaApp

__all__ = ["AtriaCommands", "PaletteEntry", "palette_entries"]

RECENT_RUNS = 30


@dataclass(frozen=True, slots=True)
class PaletteEntry:
    text: str
    help: str
    command: Callable[[], object]


def palette_entries(app: AtriaApp) -> list[PaletteEntry]:
    """What the palette offers now; broken job files offer nothing but Help."""
    entries: list[PaletteEntry] = []
    for row in list_jobs(app.jobs_dir, app.services, app.now):
        job = row.job
        if job is None:
            continue
        task = job.task.psa_name
        entries += [
            PaletteEntry(f"Preview {row.label}", f"{task}: plan and review, write nothing",
                         partial(app.open_preview, job)),
            PaletteEntry(f"Run {row.label} now", f"{task}: plan, confirm, apply",
                         partial(app.run_now, job)),
            PaletteEntry(f"Edit {row.label}", f"{task}: parameters, schedule, secrets",
                         partial(app.edit_job, job)),
        ]
    for run in history.runs(app.services, None, RECENT_RUNS):
        entries.append(PaletteEntry(f"Open run {run.id} log",
                                    f"{run.kind} of {run.label}: {run.status}",
                                    partial(app.open_log, run.id)))
    entries.append(PaletteEntry("Help: log codes",
                                "every code with its level, message and resolution",
                                app.action_help))
    return entries


class AtriaCommands(Provider):
    """Jobs, runs and help, for `App.COMMANDS`."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._entries: list[PaletteEntry] = []

    def _atria(self) -> AtriaApp | None:
        from atria_tui.app import AtriaApp

        return self.app if isinstance(self.app, AtriaApp) else None

    async def startup(self) -> None:
        app = self._atria()
        if app is not None:
            self._entries = await asyncio.to_thread(palette_entries, app)

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
