"""The `Embedded` hook every CLI runtime gets: the emulators, imported on first use.

`sandbox://` URLs (the demo's jobs, tests) reach the in-process emulators, but a job
against a real PSA never uses them, and importing `atria_tui.sandbox` (Starlette, the
emulators' state) costs every headless command start-up time. So the CLI hands its
runtime this stand-in, which imports `sandbox/embedded.py` only when a `sandbox://` URL
first asks for a transport or a credential.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

    from atria_tui.core.model import Task
    from atria_tui.services.runtime import Embedded

__all__ = ["EMULATORS", "LazyEmulators"]


class LazyEmulators:
    """`Embedded`, deferring to `sandbox.embedded.EMBEDDED`, loaded the first time it is
    needed (so only commands that reach a `sandbox://` URL import the emulators)."""

    def _loaded(self) -> Embedded:
        from atria_tui.sandbox.embedded import EMBEDDED

        return EMBEDDED

    def transport(self) -> httpx.AsyncBaseTransport:
        return self._loaded().transport()

    def psa_secrets(self, task: Task) -> Mapping[str, str]:
        return self._loaded().psa_secrets(task)

    def atria_token(self) -> str:
        return self._loaded().atria_token()


EMULATORS = LazyEmulators()
