"""The embedded emulators behind `sandbox://` URLs, handed to a runtime only at the edge.

Tests pass `EMBEDDED` to their `Runtime`; the CLI (and so the demo, the console and the
scheduler it starts) passes `cli/emulators.py`'s stand-in, which imports this module on
the first `sandbox://` URL, so a headless run against a real PSA never loads the sandbox.
The runtime itself never imports an emulator; the Starlette app is built on first use.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from atria_tui.core.model import Task


class EmbeddedSandbox:
    """Transport, demo credentials and demo Atria token of the in-process emulators."""

    def transport(self) -> httpx.AsyncBaseTransport:
        from atria_tui.sandbox.server import shared_app

        return httpx.ASGITransport(app=shared_app())

    def psa_secrets(self, task: Task) -> Mapping[str, str]:
        """The demo needs no account: the emulators accept these credentials."""
        if task is Task.CONNECTWISE:
            from atria_tui.sandbox.connectwise.state import DEMO_SECRETS as CW

            return dict(CW)
        if task is Task.AUTOTASK:
            from atria_tui.sandbox.autotask.state import DEMO_SECRETS as AP

            return dict(AP)
        from atria_tui.sandbox.kaseya.state import DEMO_SECRETS as KS

        return dict(KS)

    def atria_token(self) -> str:
        from atria_tui.sandbox.atria_api import DEMO_ATRIA_TOKEN

        return DEMO_ATRIA_TOKEN


EMBEDDED = EmbeddedSandbox()
