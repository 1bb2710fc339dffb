"""One clerk reviews a job's preview at a time; another may look, read-only.

With `atria-tui serve` every browser session is its own console process on the same jobs
folder and store. Two clerks approving, noting and fixing the same job's preview would
overwrite each other's saved review and mappings, and one could apply what the other had
not finished checking. So a preview holds the job's review lock (an OS file lock beside
the write locks: released when its console exits, even killed); a second preview of the
job is told who holds it and since when, and may open read-only: it plans and shows, but
decides, notes, fixes and applies nothing and saves no review.
"""

from __future__ import annotations

import contextlib
import getpass
from datetime import datetime

from atria_tui.engine.joblock import JobLocked, job_lock
from atria_tui.job.file import JobConfig
from atria_tui.services.runtime import Runtime

__all__ = ["ReviewHeld", "ReviewHold", "hold_review"]


class ReviewHeld(Exception):
    """Someone else's preview of the job is open: `holder` says whose, since when."""

    def __init__(self, job: JobConfig, holder: str) -> None:
        super().__init__(f"{job.label} is being reviewed by {holder}")
        self.holder = holder


class ReviewHold:
    """A held review lock; `release` (or the process ending) lets the next clerk in."""

    def __init__(self, stack: contextlib.ExitStack) -> None:
        self._stack = stack

    def release(self) -> None:
        self._stack.close()


def hold_review(svc: Runtime, job: JobConfig, who: str | None = None) -> ReviewHold:
    """Take the job's review lock for this console; `ReviewHeld` if another has it."""
    stack = contextlib.ExitStack()
    try:
        stack.enter_context(job_lock(svc.locks(), f"review-{job.key}",
                                     f"preview by {who or _user()}"))
    except JobLocked as exc:
        stack.close()
        holder = exc.holder
        if holder is None:
            raise ReviewHeld(job, "another console") from None
        text = holder.command.removeprefix("preview by ") or "another console"
        text += f" (process {holder.pid}" + (f" on {holder.host}" if holder.host else "")
        text += f", since {_local(holder.since)})" if holder.since else ")"
        raise ReviewHeld(job, text) from None
    return ReviewHold(stack)


def _local(stamp: str) -> str:
    try:
        return f"{datetime.fromisoformat(stamp).astimezone():%Y-%m-%d %H:%M %Z}"
    except ValueError:
        return stamp


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in a container's bare environment
        return "another clerk"
