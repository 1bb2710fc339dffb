"""The adaptive bound end to end: the ConnectWise emulator's throttle (a 429 with
Retry-After on every Nth call) halves it, and the snapshot read under it is the same."""

from __future__ import annotations

import httpx

from atria_tui.adapters.connectwise import ConnectWiseAdapter
from atria_tui.adapters.http import ClientOptions
from atria_tui.sandbox import connectwise
from atria_tui.sandbox.connectwise.state import DEMO_SECRETS, CwState

TYPE = "Hosting and Cloud Services"


def adapter(state: CwState, start: int, ceiling: int) -> ConnectWiseAdapter:
    async def no_wait(_: float) -> None:
        return None

    return ConnectWiseAdapter("http://cw.test", DEMO_SECRETS,
                              options=ClientOptions(concurrency=start, max_concurrency=ceiling,
                                                    retries=3),
                              transport=httpx.ASGITransport(app=connectwise.create_app(state)),
                              sleep=no_wait)


async def read(state: CwState, start: int, ceiling: int) -> tuple[ConnectWiseAdapter, object]:
    a = adapter(state, start, ceiling)
    try:
        # Every account's lines (a Billing Identifier to fix): the most reads the demo has.
        snap = await a.snapshot(["AcmeServices", "NoSuchCustomer"], [], TYPE, unclaimed=True)
    finally:
        await a.aclose()
    return a, snap


async def test_a_429_from_the_psa_halves_the_bound_and_the_read_is_unchanged() -> None:
    calm, calm_snap = await read(CwState(), 8, 16)
    assert calm.http.slots.rule.halvings == 0
    assert calm.pace.concurrency >= 8

    throttled_state = CwState()
    throttled_state.configure(rate_limit_every=5)
    throttled, snap = await read(throttled_state, 8, 16)
    rule = throttled.http.slots.rule
    assert rule.halvings >= 1 and rule.limit < 8       # halved, from 8 at the start
    assert throttled.requests > calm.requests           # the 429s were retried
    assert snap == calm_snap                            # and nothing read differs


async def test_the_bound_never_passes_the_job_ceiling() -> None:
    a, _ = await read(CwState(), 2, 3)
    assert a.http.slots.rule.highest <= 3 and a.pace.concurrency <= 3
