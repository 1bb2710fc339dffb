"""Bounds on paged reads, the same for every PSA.

A paged read trusts the server to say when it is done (a `next` link, a short page, a
total). A server that repeats a page, or counts its total wrong, would keep a run paging
until the process is killed, and a cron job that never ends looks like one that is still
working. So a read stops, with an error that says why, when a page brings no row not
already read, after `MAX_PAGES` pages, or when the run's deadline has passed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from atria_tui.psa.errors import RemoteError

# 10,000 pages of 1,000 rows: far past any real tenant, near enough to stop a loop.
MAX_PAGES = 10_000


class DeadlinePassed(RemoteError):
    """Ends the run, not one contract's read: every later read would meet it too."""


@dataclass(frozen=True)
class Deadline:
    """When a run stops reading: `clock()` reaching `at` (a monotonic time by default)."""

    at: float
    minutes: float
    clock: Callable[[], float] = time.monotonic

    @classmethod
    def after(cls, minutes: float, clock: Callable[[], float] = time.monotonic) -> Deadline:
        return cls(clock() + minutes * 60.0, minutes, clock)

    def check(self, what: str) -> None:
        if self.clock() >= self.at:
            raise DeadlinePassed("timeout", f"the run's deadline of {self.minutes:g} minute(s) "
                           f"passed while reading {what}; reading stopped and nothing was "
                           "written. Raise [options] run_deadline_minutes, or narrow "
                           "CustomersFilter, and run again")


@dataclass
class Pages:
    """One paged read's count and the ids it has seen."""

    what: str
    deadline: Deadline | None = None
    max_pages: int | None = None  # None: MAX_PAGES
    count: int = 0
    ids: set[str] = field(default_factory=set)

    def next(self) -> None:
        """Before asking for another page."""
        if self.deadline is not None:
            self.deadline.check(self.what)
        self.expect(self.count + 1)
        self.count += 1

    def expect(self, pages: int) -> None:
        """Before asking for pages up to `pages` (a total given by the server)."""
        limit = self.max_pages or MAX_PAGES
        if pages > limit:
            raise RemoteError("decode", f"paging of {self.what} passed {limit:,} pages; "
                           "stopped (the server does not stop paging, or reports a wrong "
                           "total)")

    def got(self, ids: Iterable[str], number: int | None = None) -> None:
        """After a page: a page of rows all read before means the server is not advancing."""
        page = list(ids)
        if page and all(i in self.ids for i in page):
            raise RemoteError("decode", f"paging of {self.what} does not advance: page "
                           f"{number or self.count} repeats rows already read (id {page[0]})")
        self.ids.update(page)
