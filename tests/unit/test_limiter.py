"""The adaptive concurrency rule, driven with made-up latencies and 429s (no clock, no I/O),
and the asyncio gate and rate meter built on it."""

from __future__ import annotations

import asyncio

from atria_tui.adapters.limiter import AdaptiveSlots, AimdLimit, RateMeter


def rounds(rule: AimdLimit, latency_at: object, count: int, key: str = "GET /x") -> list[int]:
    """`count` rounds of `rule.limit` answers each, every one sent while requests queue,
    answered in `latency_at(limit)` seconds; the limit after each round."""
    seen = []
    for _ in range(count):
        limit = rule.limit
        tickets = [rule.ticket(busy=True) for _ in range(limit)]
        for t in tickets:
            rule.succeeded(latency_at(limit), t, key)  # type: ignore[operator]
        seen.append(rule.limit)
    return seen


def test_a_tenant_that_answers_as_fast_at_any_load_gets_the_ceiling_and_keeps_it() -> None:
    rule = AimdLimit(start=6, ceiling=24)
    seen = rounds(rule, lambda limit: 0.1, 40)
    assert seen[0] == 7 and seen[-1] == 24 and max(seen) == 24
    assert rule.halvings == 0


def test_a_tenant_that_slows_past_its_capacity_settles_between_it_and_half_again() -> None:
    # A server that runs 8 at once: beyond that, answers queue and take longer.
    rule = AimdLimit(start=6, ceiling=64)
    seen = rounds(rule, lambda limit: 0.1 * max(1.0, limit / 8), 200)
    # It stops one past the last bound answered within 1.5 × the fastest (12 here), and
    # stays there: nothing at 13 is fast enough to raise it again.
    assert seen[-1] == 13 and seen[-100:] == [13] * 100
    assert rule.halvings == 0


def test_a_latency_jump_halves_the_limit() -> None:
    rule = AimdLimit(start=6, ceiling=24)
    rounds(rule, lambda limit: 0.1, 40)
    assert rule.limit == 24
    rounds(rule, lambda limit: 0.5, 1)   # the tenant slows down five-fold
    assert rule.limit == 12 and rule.halvings == 1


def test_a_429_halves_once_per_burst_and_never_below_one() -> None:
    rule = AimdLimit(start=20, ceiling=24)
    burst = [rule.ticket() for _ in range(20)]
    for t in burst:
        rule.throttled(t)                # twenty 429s of requests sent at the same bound
    assert rule.limit == 10 and rule.halvings == 1
    for _ in range(10):
        rule.throttled(rule.ticket())    # each sent after the last decrease
    assert rule.limit == 1
    rule.succeeded(0.1, burst[0])        # an answer to a request sent at 20 says nothing
    assert rule.limit == 1


def test_no_raise_while_slots_sit_free() -> None:
    # Requests that trickle in (an hourly budget's pacing) never fill the bound: more
    # slots would not make them faster.
    rule = AimdLimit(start=4, ceiling=24)
    for _ in range(100):
        rule.succeeded(0.1, rule.ticket(busy=False))
    assert rule.limit == 4


def test_routes_are_compared_with_themselves() -> None:
    # A page of 1,000 rows is slower than one contract's lines: that is not congestion.
    rule = AimdLimit(start=6, ceiling=24)
    for _ in range(50):
        rule.succeeded(0.1, rule.ticket(), "GET /lines")
        rule.succeeded(0.9, rule.ticket(), "GET /agreements")
    assert rule.halvings == 0 and rule.limit > 6


def test_small_jitter_on_a_fast_server_is_not_a_slowdown() -> None:
    rule = AimdLimit(start=6, ceiling=24)
    seen = rounds(rule, lambda limit: 0.001 if limit % 2 else 0.004, 40)
    assert rule.halvings == 0 and seen[-1] == 24


def test_the_start_is_capped_by_the_ceiling() -> None:
    assert AimdLimit(start=10, ceiling=4).limit == 4
    assert AimdLimit(start=0, ceiling=0).limit == 1


async def test_the_gate_holds_requests_at_the_limit_and_opens_as_it_grows() -> None:
    slots = AdaptiveSlots(AimdLimit(start=2, ceiling=5))
    running = 0
    most = 0
    release = asyncio.Event()

    async def request() -> None:
        nonlocal running, most
        ticket = await slots.acquire()
        running += 1
        most = max(most, running)
        await release.wait()
        running -= 1
        slots.succeeded(0.1, ticket)
        slots.release()

    tasks = [asyncio.create_task(request()) for _ in range(20)]
    await asyncio.sleep(0)
    assert running == 2 and slots.in_flight == 2
    release.set()
    await asyncio.gather(*tasks)
    assert slots.in_flight == 0 and most <= 5
    assert slots.limit > 2                # every answer came back as fast: it grew


async def test_a_cancelled_waiter_gives_its_slot_back() -> None:
    slots = AdaptiveSlots(AimdLimit(start=1, ceiling=1))
    first = await slots.acquire()
    waiting = asyncio.create_task(slots.acquire())
    await asyncio.sleep(0)
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    slots.succeeded(0.1, first)
    slots.release()
    assert slots.in_flight == 0
    await slots.acquire()
    assert slots.in_flight == 1


def test_the_rate_meter_counts_answers_over_its_span() -> None:
    now = [100.0]
    meter = RateMeter(span=5.0, clock=lambda: now[0])
    assert meter.per_second() == 0.0
    for _ in range(50):
        now[0] += 0.1
        meter.tick()                     # 10 answers a second for 5 s
    assert 9.0 <= meter.per_second() <= 11.0
    now[0] += 60
    assert meter.per_second() == 0.0


def test_latencies_are_compared_per_route_not_per_record() -> None:
    from atria_tui.adapters.http import _route_of

    assert _route_of("/company/agreements/123/additions") == "/company/agreements/{id}/additions"
    assert _route_of("/v2/finance/contracts/{contractId}/services") == \
        "/v2/finance/contracts/{contractId}/services"
