"""The ConnectWise emulator in-process, for the emulator's own tests (the Kaseya and Atria
emulator tests define their own `state` and `client`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from atria_tui.sandbox.connectwise.state import CwState
from tests.sandbox_helpers import cw_client


@pytest.fixture
def state() -> CwState:
    return CwState()


@pytest.fixture
async def client(state: CwState) -> AsyncIterator[httpx.AsyncClient]:
    async with cw_client(state) as c:
        yield c
