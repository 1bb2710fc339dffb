"""What a screen may use of the console it runs in, and how it asks for a shared flow.

Screens sit below the app shell and never import it: the app imports every screen, so a
screen reaching back up would close an import cycle. What a screen reads from the app
(the runtime, the jobs folder, the clock) is the `ConsoleHost` protocol, reached with
`host_of(self)`. A flow that starts from more than one place (preview a job, run it now,
edit it, open a run's log: from the Jobs screen, the Runs screen and the command
palette) is a message: the screen posts it, it bubbles up to the App, and the App's
handler (`on_open_preview`, ...) runs the flow. `Crashed` is how a worker thread hands
the App an error nobody expected, to show instead of a traceback.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from textual.message import Message
from textual.message_pump import MessagePump

from atria_tui.job.file import JobConfig
from atria_tui.services.runtime import Runtime

__all__ = ["ConsoleHost", "Crashed", "EditJob", "OpenLog", "OpenPreview", "RunNow",
           "host_of"]


@runtime_checkable
class ConsoleHost(Protocol):
    """What every screen shares, owned by the App."""

    services: Runtime
    jobs_dir: Path
    demo: bool
    activity: str
    """What a background flow (run now) is doing; empty when none is running."""

    def now(self) -> datetime:
        """Local time by the runtime's clock."""
        ...

    def report_crash(self, what: str, exc: BaseException) -> None:
        """Show an unexpected error as a notification (UI thread only)."""
        ...


def host_of(node: MessagePump) -> ConsoleHost:
    """The console `node` runs in, typed; TypeError under any other App."""
    app = node.app
    if not isinstance(app, ConsoleHost):
        raise TypeError(f"{type(node).__name__} runs outside the atria-tui console")
    return app


class OpenPreview(Message):
    """Plan `job` and review the plan row by row; nothing is written."""

    def __init__(self, job: JobConfig) -> None:
        super().__init__()
        self.job = job


class RunNow(Message):
    """Plan `job`, say what would be written, and apply it once confirmed."""

    def __init__(self, job: JobConfig) -> None:
        super().__init__()
        self.job = job


class EditJob(Message):
    """Open the job form on `job`."""

    def __init__(self, job: JobConfig) -> None:
        super().__init__()
        self.job = job


class OpenLog(Message):
    """Show the log of run `run_id` (a run that does not exist is a notification)."""

    def __init__(self, run_id: int) -> None:
        super().__init__()
        self.run_id = run_id


class Crashed(Message):
    """A worker stopped on an error nothing expected; posted to the App from its thread."""

    def __init__(self, what: str, error: BaseException) -> None:
        super().__init__()
        self.what, self.error = what, error
