"""The one error type for a remote service that failed: a PSA or the Atria API.

It lives beside the PSA profiles, not in the HTTP client, so the engine (apply, revert)
can catch it without importing an HTTP library; `kind` says what failed and maps to the
guide's code through the profile.
"""

from __future__ import annotations

from typing import Any, Literal

# "route": the host does not serve the route (405, or a 404/405 page that is not the API's
# JSON): every call to it fails the same way, so reads stop asking (see adapters.lines).
ErrorKind = Literal["connect", "timeout", "auth", "http", "decode", "budget", "route"]


class RemoteError(Exception):
    """A remote call that failed; `maybe_landed` says a write may still have taken effect.

    A POST that timed out, lost its connection or got a 5xx may have been carried out by
    the PSA all the same; sending it again blind is how a retried addition bills a
    customer twice. Such a write is raised with `maybe_landed`, and the caller re-reads
    the PSA to decide (`answered`: the PSA did answer, so it has finished with it).
    """

    def __init__(self, kind: ErrorKind, message: str, status: int | None = None,
                 body: Any = None, *, maybe_landed: bool = False, code: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.body = body
        self.maybe_landed = maybe_landed
        # The profile's code for this failure when the adapter recognised what it is (an
        # Autotask refusal of a posted period); "" leaves the choice to the caller.
        self.code = code

    @property
    def answered(self) -> bool:
        return self.status is not None

    @property
    def message(self) -> str:
        return str(self)

    def reworded(self, message: str) -> RemoteError:
        """The same failure told differently (redacted, with a hint): what it says about a
        write that may have landed is kept, or the write would be sent again blind."""
        return RemoteError(self.kind, message, self.status, maybe_landed=self.maybe_landed,
                           code=self.code)
