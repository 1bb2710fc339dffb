"""What `atria-tui doctor` learns about one route of a tenant: the same shape for every PSA.

An adapter tries its routes read-only (`PsaSession.doctor`) and says, per route and per
candidate (the job's route and each shipped alternative), what the tenant answered; the
services add the host and TLS checks and decide the exit status. A write route is never
written: it is looked up with a GET on its path, and a 405 or 200 there means the path
exists (a 404 that it does not), which is as far as a read can tell.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Verdict = Literal["works", "exists", "refused", "not found", "not allowed", "not JSON",
                  "unreachable", "failed", "skipped"]
# What counts as usable for a route the job needs. "exists": a write route's path answers,
# which is all a read-only check can say.
USABLE: frozenset[str] = frozenset({"works", "exists"})


@dataclass(frozen=True)
class Probe:
    step: str            # "host", "tls", "login", or the route's name
    candidate: str       # "job" (what the job will use) or a shipped alternative's name
    method: str
    url: str             # path (and host) tried, with no credential in it
    status: int | None   # HTTP status, None when no answer
    verdict: Verdict
    advice: str          # what to do next
    needed: bool         # the job's run uses this (an alternative is not needed)

    @property
    def ok(self) -> bool:
        return self.verdict in USABLE or self.verdict == "skipped"

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def verdict_of(status: int | None, is_json: bool, *, write: bool = False) -> Verdict:
    """The verdict of one answer: by status first, then by whether it was the API's JSON."""
    if status is None:
        return "unreachable"
    if status in (401, 403):
        return "refused"
    if status == 404:
        return "not found"
    if status == 405:
        return "exists" if write else "not allowed"
    if 200 <= status < 300:
        if write:
            return "exists"
        return "works" if is_json else "not JSON"
    return "failed"
