"""The shared client: bounded retries, Retry-After, timeouts, per-endpoint pacing."""

from __future__ import annotations

import httpx
import pytest

from atria_tui.adapters.http import (
    CallBudget,
    ClientOptions,
    HttpClient,
    PsaError,
    retry_after_seconds,
)


def client(handler: object, retries: int = 3) -> tuple[HttpClient, list[float]]:
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)

    c = HttpClient("http://psa.test", options=ClientOptions(retries=retries),
                   transport=httpx.MockTransport(handler), sleep=sleep)  # type: ignore[arg-type]
    return c, slept


async def test_timeouts_and_5xx_are_retried_a_bounded_number_of_times() -> None:
    calls = {"n": 0}

    def flaky(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] <= 2:
            raise httpx.ReadTimeout("slow", request=request)
        if calls["n"] == 3:
            return httpx.Response(503)
        return httpx.Response(200, json=[1])

    c, slept = client(flaky)
    resp, body = await c.json("GET", "/x")
    assert body == [1] and calls["n"] == 4 and len(slept) == 3
    c2, _ = client(lambda r: httpx.Response(500, json={"message": "boom"}), retries=2)
    with pytest.raises(PsaError) as err:
        await c2.request("GET", "/y")
    assert err.value.kind == "http" and c2.requests == 3 and "boom" in str(err.value)


async def test_429_honours_retry_after() -> None:
    answers = iter([httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200)])
    c, slept = client(lambda r: next(answers))
    assert (await c.request("GET", "/z")).status_code == 200
    assert slept == [7.0]
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", 1.0) == 0.0
    assert retry_after_seconds("nonsense", 1.5) == 1.5


async def test_budget_paces_per_endpoint_instead_of_failing() -> None:
    now = {"t": 0.0}

    async def sleep(s: float) -> None:
        now["t"] += s

    b = CallBudget(per_hour=3, clock=lambda: now["t"], sleep=sleep)
    for _ in range(7):
        await b.acquire("/a")
    await b.acquire("/b")
    # 7 calls at 3 an hour: two full windows, each with the 2 s safety margin.
    assert now["t"] == pytest.approx(2 * 3602.0)
    assert b.waited == pytest.approx(2 * 3602.0)


async def test_calls_count_from_when_sent_and_the_ledger_outlives_a_run(tmp_path: object) -> None:
    from pathlib import Path

    now = {"t": 0.0}

    async def sleep(s: float) -> None:
        now["t"] += s

    ledger = Path(str(tmp_path)) / "budget.json"
    b = CallBudget(per_hour=2, clock=lambda: now["t"], sleep=sleep, ledger=ledger)
    r = await b.acquire("/a")
    now["t"] = 30.0                      # queued 30 s for a connection, then sent
    b.sent("/a", r)
    await b.acquire("/a")
    b.save()
    later = CallBudget(per_hour=2, clock=lambda: now["t"], sleep=sleep, ledger=ledger)
    await later.acquire("/a")            # a new run in the same hour must wait
    assert now["t"] == pytest.approx(30.0 + 3602.0)
