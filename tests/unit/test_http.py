"""The shared client: bounded retries, Retry-After, timeouts, per-endpoint pacing."""

from __future__ import annotations

import httpx
import pytest

from atria_tui.adapters.http import (
    CallBudget,
    ClientOptions,
    HttpClient,
    RemoteError,
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
    with pytest.raises(RemoteError) as err:
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


# --- writes that may have landed are never repeated blind ---------------------------------


def counting(answer: object) -> tuple[object, dict[str, int]]:
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        result = answer(request, calls["n"])  # type: ignore[operator]
        if isinstance(result, Exception):
            raise result
        return result  # type: ignore[no-any-return]

    return handler, calls


@pytest.mark.parametrize("method", ["POST", "PATCH", "PUT"])
async def test_a_write_answered_5xx_is_raised_as_maybe_landed_not_retried(method: str) -> None:
    handler, calls = counting(lambda r, n: httpx.Response(500, json={"message": "oops"}))
    c, slept = client(handler)
    with pytest.raises(RemoteError) as err:
        await c.request(method, "/additions", json_body={"quantity": 1})
    assert calls["n"] == 1 and slept == [] and c.requests == 1
    assert err.value.maybe_landed and err.value.answered and err.value.status == 500


@pytest.mark.parametrize("exc", [httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.ReadError])
async def test_a_write_with_no_answer_is_raised_as_maybe_landed_not_retried(exc: type) -> None:
    handler, calls = counting(lambda r, n: exc("lost", request=r))
    c, _ = client(handler)
    with pytest.raises(RemoteError) as err:
        await c.request("POST", "/additions", json_body={})
    assert calls["n"] == 1 and err.value.maybe_landed and not err.value.answered


async def test_a_write_that_never_left_or_was_throttled_is_retried() -> None:
    answers = [httpx.ConnectError("refused"), httpx.Response(429, headers={"Retry-After": "1"}),
               httpx.Response(201, json={"id": 5})]

    def answer(r: httpx.Request, n: int) -> object:
        a = answers[n - 1]
        if isinstance(a, Exception):
            raise a
        return a

    handler, calls = counting(answer)
    c, _ = client(handler)
    resp = await c.request("POST", "/additions", json_body={})
    assert resp.status_code == 201 and calls["n"] == 3 and c.requests == 3


async def test_a_search_post_marked_idempotent_is_retried_like_a_read() -> None:
    handler, calls = counting(lambda r, n: httpx.Response(503) if n == 1 else
                              httpx.Response(200, json=[]))
    c, _ = client(handler)
    assert (await c.request("POST", "/search", json_body={}, idempotent=True)).status_code == 200
    assert calls["n"] == 2


async def test_throttling_is_retried_for_time_not_a_count() -> None:
    """A PSA that answers 429 to every second request still gets the run done."""
    handler, calls = counting(lambda r, n: httpx.Response(429, headers={"Retry-After": "2"})
                              if n % 2 else httpx.Response(200, json=[]))
    c, _ = client(handler, retries=0)
    for _ in range(50):
        assert (await c.request("GET", "/x")).status_code == 200
    assert calls["n"] == 100 and c.requests == 100
    always, _ = counting(lambda r, n: httpx.Response(429, headers={"Retry-After": "30"}))
    c2, slept = client(always, retries=0)
    with pytest.raises(RemoteError) as err:
        await c2.request("GET", "/y")
    assert err.value.kind == "budget" and 570 <= sum(slept) <= 600


async def test_an_answer_that_inflates_past_the_cap_is_refused() -> None:
    import gzip

    bomb = gzip.compress(b"[" + b" " * (3 * 2**20) + b"]")
    assert len(bomb) < 2**16
    c = HttpClient("http://psa.test", options=ClientOptions(max_body=2**20),
                   transport=httpx.MockTransport(lambda r: httpx.Response(
                       200, content=bomb, headers={"Content-Encoding": "gzip"})))
    with pytest.raises(RemoteError) as err:
        await c.json("GET", "/big")
    assert err.value.kind == "decode" and "larger than 1 MB" in str(err.value)
    small = gzip.compress(b'{"a": 1}')
    c2 = HttpClient("http://psa.test", transport=httpx.MockTransport(lambda r: httpx.Response(
        200, content=small, headers={"Content-Encoding": "gzip"})))
    assert (await c2.json("GET", "/ok"))[1] == {"a": 1}
