"""Scaffolding shared by the emulator and adapter tests: credentials, clients, a clock."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import httpx

from atria_tui.sandbox.connectwise import create_app as create_cw_app
from atria_tui.sandbox.connectwise.state import DEMO_SECRETS as CW_SECRETS
from atria_tui.sandbox.connectwise.state import CwState
from atria_tui.sandbox.kaseya.state import KsState
from atria_tui.sandbox.kaseya.types import SandboxConfig

CW_AUTH = base64.b64encode(
    f"{CW_SECRETS['CompanyName']}+{CW_SECRETS['PublicKey']}:"
    f"{CW_SECRETS['PrivateKey']}".encode()
).decode()
CW_HEADERS = {"Authorization": f"Basic {CW_AUTH}", "clientId": CW_SECRETS["ClientId"]}


@asynccontextmanager
async def cw_client(state: CwState) -> AsyncIterator[httpx.AsyncClient]:
    """The ConnectWise emulator in-process, with the demo credentials."""
    transport = httpx.ASGITransport(app=create_cw_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox",
                                 headers=CW_HEADERS) as c:
        yield c


class Clock:
    """A settable "now" for emulators and adapters that expire tokens and budgets."""

    def __init__(self, start: datetime) -> None:
        self.moment = start

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, seconds: float = 0.0, **kw: float) -> None:
        self.moment += timedelta(seconds=seconds, **kw)


def ks_state(**kw: object) -> KsState:
    """The Kaseya emulator on the guessed v2 lines routes (the adapter's default set); the
    tests of the vendor-document mode build theirs with `lines_routes="none"`."""
    kw.setdefault("config", SandboxConfig(lines_routes="v2"))
    return KsState(**kw)  # type: ignore[arg-type]
