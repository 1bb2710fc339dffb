"""One HTTP client for every adapter: retries, Retry-After, adaptive concurrency, pacing.

PSAs throttle (ConnectWise answers 429/5xx under load; Kaseya allows 1,500 calls an hour
per endpoint), so politeness lives here once instead of in each adapter. Errors come out
as `RemoteError` with a kind the services map to the seed's codes; their text never holds a
credential because headers are never part of a message.

A `sandbox://HOST/PATH` URL names a server embedded in the process (no socket): the
caller hands in its transport (the runtime gets it from the edge: the demo, the CLI,
tests); with none, every request fails as a connection error that says so.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import email.utils
import hashlib
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from atria_tui.adapters.http_pool import pooled_transport
from atria_tui.adapters.limiter import AdaptiveSlots, AimdLimit, RateMeter, Ticket
from atria_tui.psa.errors import ErrorKind, RemoteError
from atria_tui.psa.session import Pace

SANDBOX_SCHEME = "sandbox://"
SANDBOX_BASE = "http://sandbox.invalid"
MAX_RETRY_AFTER = 120.0
MAX_BODY_BYTES = 256 * 1024 * 1024  # an answer (decompressed) larger than this is refused
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
AuthHeaders = Callable[[], Awaitable[Mapping[str, str]]]


def is_embedded(url: str) -> bool:
    return url.strip().lower().startswith(SANDBOX_SCHEME)


def resolve_url(url: str) -> str:
    """A job's URL as an httpx base URL (a `sandbox://` one under a host that never resolves)."""
    url = url.strip()
    if is_embedded(url):
        return f"{SANDBOX_BASE}/{url[len(SANDBOX_SCHEME):].strip('/')}"
    return url.rstrip("/")


def _nothing_embedded(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("sandbox:// URLs are served only by `atria-tui` itself (demo, "
                             "plan, apply, console): nothing is embedded here", request=request)


def retry_after_seconds(value: str | None, default: float,
                        cap: float | None = MAX_RETRY_AFTER) -> float:
    """Retry-After is either seconds or an HTTP date; anything odd falls back to backoff."""
    if not value:
        return default
    try:
        seconds = max(float(value), 0.0)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return default
        seconds = max(when.timestamp() - time.time(), 0.0)
    return seconds if cap is None else min(seconds, cap)


@dataclass
class CallBudget:
    """A rolling one-hour allowance per endpoint: a large run slows down, never gets cut off.

    A call is counted from when it is *sent* (`sent()` replaces the reservation made while
    waiting for a connection), with a small margin, because the PSA counts arrivals and a
    window freed a few seconds early is answered with a 429 asking to wait an hour.
    `clock` and `sleep` are injectable so tests can run an hour in no time; `ledger` keeps
    the calls on disk so a plan and a later apply (or cron runs) share one hour.
    """

    per_hour: int
    window: float = 3600.0
    margin: float = 2.0
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    ledger: Path | None = None
    _calls: dict[str, list[float]] = field(default_factory=dict)
    waited: float = 0.0

    def __post_init__(self) -> None:
        if self.ledger is not None and self.ledger.exists():
            try:
                data = json.loads(self.ledger.read_text())
                self._calls = {k: sorted(float(t) for t in v) for k, v in data.items()}
            except (OSError, ValueError, TypeError, AttributeError):
                self._calls = {}  # an unreadable ledger only costs pacing accuracy

    def endpoints(self) -> set[str]:
        """The keys calls are counted under (route templates, or paths)."""
        return set(self._calls)

    def wait_needed(self, endpoint: str) -> float:
        calls = self._calls.setdefault(endpoint, [])
        now = self.clock()
        span = self.window + self.margin
        drop = bisect.bisect_right(calls, now - span)
        del calls[:drop]
        if len(calls) < self.per_hour:
            return 0.0
        return span - (now - calls[0])

    def left(self, endpoint: str) -> int:
        """Calls the endpoint may make now without waiting."""
        self.wait_needed(endpoint)  # drops the calls that have aged out
        return max(0, self.per_hour - len(self._calls.get(endpoint, [])))

    def time_for(self, endpoint: str, calls: int) -> float:
        """Seconds until `calls` more calls to the endpoint have gone, at this budget: each
        waits for the call `per_hour` before it to age out of the window. Calls go in
        bursts (an hour's worth at once, then nothing until the first of them ages out), so
        5,000 calls at 1,500/h take three hours, not 5,000 ÷ 1,500."""
        if calls <= 0:
            return 0.0
        now = self.clock()
        span = self.window + self.margin
        sent = [t for t in self._calls.get(endpoint, []) if t > now - span]
        at = now
        for _ in range(calls):
            at = max(now, sent[-self.per_hour] + span) if len(sent) >= self.per_hour else now
            sent.append(at)
        return at - now

    async def acquire(self, endpoint: str) -> float:
        """Wait for a slot; returns the reservation to hand to `sent()`."""
        while (delay := self.wait_needed(endpoint)) > 0:
            self.waited += delay
            await self.sleep(delay)
        stamp = self.clock()
        bisect.insort(self._calls[endpoint], stamp)
        return stamp

    def sent(self, endpoint: str, reservation: float) -> None:
        calls = self._calls.setdefault(endpoint, [])
        at = bisect.bisect_left(calls, reservation)
        if at < len(calls) and calls[at] == reservation:
            del calls[at]
        bisect.insort(calls, self.clock())

    def save(self) -> None:
        if self.ledger is None:
            return
        from atria_tui.core.paths import atomic_write

        span = self.window + self.margin
        now = self.clock()
        data = {k: [t for t in v if now - t < span] for k, v in self._calls.items()}
        atomic_write(self.ledger, json.dumps(data).encode())


_SHARED_BUDGETS: dict[tuple[str, str, int], CallBudget] = {}


def shared_budget(base_url: str, per_hour: int) -> CallBudget:
    """One budget per tenant (base URL) in a process, kept in the data folder between runs."""
    from atria_tui.core.paths import data_dir

    folder = data_dir() / "call-budget"
    key = (str(folder), base_url, per_hour)
    if key not in _SHARED_BUDGETS:
        name = hashlib.sha256(base_url.encode()).hexdigest()[:16] + ".json"
        _SHARED_BUDGETS[key] = CallBudget(per_hour, ledger=folder / name)
    return _SHARED_BUDGETS[key]


@dataclass
class ClientOptions:
    """`retries` bounds the retries of a failed read (5xx, timeout, dropped connection);
    throttling (429) is retried for as long as `retry_window` seconds allow, so a PSA
    that refuses every second request still gets the run done, only slower.
    `concurrency` is where the adaptive bound starts, `max_concurrency` its ceiling."""

    concurrency: int = 6
    max_concurrency: int = 24
    timeout: float = 30.0
    retries: int = 4
    backoff: float = 0.25
    budget_per_hour: int | None = None
    retry_window: float = 600.0
    max_body: int = MAX_BODY_BYTES


class HttpClient:
    def __init__(self, base_url: str, *, headers: Mapping[str, str] | None = None,
                 options: ClientOptions | None = None,
                 transport: httpx.AsyncBaseTransport | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 budget: CallBudget | None = None) -> None:
        self.options = options or ClientOptions()
        base = resolve_url(base_url)
        self.base_url = base
        if transport is None and is_embedded(base_url):
            transport = httpx.MockTransport(_nothing_embedded)
        self.transport = transport  # another client to the same server reuses it
        self._client = httpx.AsyncClient(
            base_url=base, headers=dict(headers or {}), timeout=self.options.timeout,
            transport=transport or pooled_transport(self.options.max_concurrency + 2),
            follow_redirects=False)
        self.slots = AdaptiveSlots(AimdLimit(self.options.concurrency,
                                             max(1, self.options.max_concurrency)))
        self.rate = RateMeter()
        self._sleep = sleep
        per_hour = self.options.budget_per_hour
        if budget is None and per_hour:
            # An injected sleep means a test's fake time: it gets a private budget.
            budget = (shared_budget(base, per_hour) if sleep is asyncio.sleep
                      else CallBudget(per_hour, sleep=sleep))
        self.budget = budget
        self.requests = 0
        self.by_endpoint: dict[str, int] = {}

    @property
    def pace(self) -> Pace:
        return Pace(self.slots.limit, self.rate.per_second())

    async def aclose(self) -> None:
        await self._client.aclose()
        if self.budget is not None:
            # A ledger that cannot be written only makes the next run's pacing less exact.
            with contextlib.suppress(OSError):
                self.budget.save()

    def set_header(self, name: str, value: str | None) -> None:
        if value is None:
            self._client.headers.pop(name, None)
        else:
            self._client.headers[name] = value

    async def request(self, method: str, url: str, *, endpoint: str = "",
                      params: Mapping[str, Any] | None = None, json_body: Any = None,
                      form: Mapping[str, str] | None = None,
                      headers: Mapping[str, str] | None = None,
                      auth: AuthHeaders | None = None,
                      unlimited: bool = False,
                      idempotent: bool | None = None,
                      answered_5xx: Callable[[httpx.Response], bool] | None = None
                      ) -> httpx.Response:
        """Send with retries; returns the final response (2xx or a non-retryable 4xx).

        A request that never reached the PSA (no connection, 429) is retried whatever its
        method. One that may have reached it (timeout, dropped connection, 5xx) is retried
        only when repeating it is harmless (`idempotent`, by default GET/HEAD/OPTIONS);
        a write is raised with `maybe_landed` instead, for the caller to re-read and decide.

        `auth` is asked for its headers inside the connection slot, right before each
        attempt: a token taken before an hour's pacing, or before a queue of concurrent
        reads, may have lapsed by the send. `unlimited` (logins, token refreshes) skips the
        slot limit, so a renewal is never stuck behind the requests that wait for it.
        `answered_5xx` picks the 5xx answers that are the API's word on the request (Autotask
        answers a refused request with a 500 and its `errors`): those are returned to the
        caller as they are, neither retried nor raised as a write that may have landed.
        """
        endpoint = endpoint or url.split("?")[0]
        repeatable = method.upper() in SAFE_METHODS if idempotent is None else idempotent
        what = f"{method} {endpoint}"
        attempt = 0
        slept = 0.0  # time slept between attempts (a test's fake sleep takes no real time)
        started = time.monotonic()
        base_headers = dict(headers or {})
        while True:
            attempt += 1
            reservation = await self.budget.acquire(endpoint) if self.budget else 0.0
            try:
                resp = await self._slotted(endpoint, reservation, unlimited, auth,
                                           base_headers, method, url, params, json_body,
                                           form, headers)
            except httpx.InvalidURL as exc:
                raise RemoteError("connect", f"{what}: not a usable URL ({exc})") from None
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout,
                    httpx.UnsupportedProtocol) as exc:
                # Nothing was sent: safe to try again for any method.
                kind: ErrorKind = "timeout" if isinstance(exc, httpx.TimeoutException) \
                    else "connect"
                if attempt > self.options.retries or self._late(started, slept):
                    raise RemoteError(kind, f"{what}: cannot connect: {_reason(exc)}") from exc
                slept += self._backoff(attempt)
                await self._sleep(self._backoff(attempt))
                continue
            except httpx.HTTPError as exc:
                # Sent, and no answer: the PSA may have carried it out.
                kind = "timeout" if isinstance(exc, httpx.TimeoutException) else "connect"
                text = (f"{what}: no answer within {self.options.timeout:g} s"
                        if kind == "timeout" else f"{what}: connection lost: {_reason(exc)}")
                if not repeatable:
                    raise RemoteError(kind, text, maybe_landed=True) from exc
                if attempt > self.options.retries or self._late(started, slept):
                    raise RemoteError(kind, text) from exc
                slept += self._backoff(attempt)
                await self._sleep(self._backoff(attempt))
                continue
            if resp.status_code == 429:
                delay = retry_after_seconds(resp.headers.get("retry-after"),
                                            self._backoff(min(attempt, 8)), None)
                if delay > MAX_RETRY_AFTER:
                    # An hourly budget used up answers "in 59 minutes": retrying sooner
                    # is refused again, and a run that sleeps an hour looks hung.
                    raise RemoteError("budget", f"HTTP 429 from {what}{_detail(resp)} (call "
                                   "budget used up: the API asks to wait "
                                   f"{delay:.0f} s before the next call, longer than a run "
                                   f"waits, {MAX_RETRY_AFTER:.0f} s)", resp.status_code)
                if self._late(started, slept, delay):
                    raise RemoteError("budget", f"HTTP 429 from {what}{_detail(resp)}: still "
                                   f"throttled after {time.monotonic() - started:.0f} s of "
                                   "retries", resp.status_code)
                slept += delay
                await self._sleep(delay)
                continue
            if resp.status_code >= 500 and answered_5xx is not None and answered_5xx(resp):
                return resp
            if resp.status_code >= 500:
                text = f"HTTP {resp.status_code} from {what}{_detail(resp)}"
                if not repeatable:
                    raise RemoteError("http", text, resp.status_code, maybe_landed=True)
                if attempt > self.options.retries or self._late(started, slept):
                    raise RemoteError("http", text, resp.status_code)
                slept += self._backoff(attempt)
                await self._sleep(self._backoff(attempt))
                continue
            return resp

    async def _slotted(self, endpoint: str, reservation: float, unlimited: bool,
                       auth: AuthHeaders | None, base_headers: dict[str, str], method: str,
                       url: str, params: Mapping[str, Any] | None, json_body: Any,
                       form: Mapping[str, str] | None,
                       headers: Mapping[str, str] | None) -> httpx.Response:
        """One attempt inside a concurrency slot, its answer told to the limiter: how long
        it took, or that the PSA pushed back (429, timeout). The budget's reservation was
        made before the slot, so the limiter never lets through more than the pacing."""
        ticket: Ticket | None = None if unlimited else await self.slots.acquire()
        try:
            if auth is not None:
                headers = {**base_headers, **await auth()}
            if self.budget:
                self.budget.sent(endpoint, reservation)
            self.requests += 1
            self.by_endpoint[endpoint] = self.by_endpoint.get(endpoint, 0) + 1
            started = time.monotonic()
            try:
                resp = await self._send(method, url, params, json_body, form, headers)
            except httpx.TimeoutException:
                if ticket is not None:
                    self.slots.throttled(ticket)
                raise
            self.rate.tick()
            if ticket is not None:
                if resp.status_code == 429:
                    self.slots.throttled(ticket)
                elif resp.status_code < 500:
                    self.slots.succeeded(time.monotonic() - started, ticket,
                                         f"{method} {_route_of(endpoint)}")
            return resp
        finally:
            if ticket is not None:
                self.slots.release()

    async def _send(self, method: str, url: str, params: Mapping[str, Any] | None,
                    json_body: Any, form: Mapping[str, str] | None,
                    headers: Mapping[str, str] | None) -> httpx.Response:
        """One exchange, its body read with a size cap (a small gzip can inflate to GBs)."""
        req = self._client.build_request(method, url, params=params, json=json_body,
                                         data=form, headers=headers)
        resp = await self._client.send(req, stream=True)
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in resp.aiter_bytes():
                size += len(chunk)
                if size > self.options.max_body:
                    raise RemoteError("decode", f"{method} {url.split('?')[0]}: the answer is "
                                   f"larger than {self.options.max_body // 2**20} MB; refused",
                                   resp.status_code)
                chunks.append(chunk)
        finally:
            await resp.aclose()
        drop = {"content-encoding", "content-length", "transfer-encoding"}
        kept = [(k, v) for k, v in resp.headers.multi_items() if k.lower() not in drop]
        return httpx.Response(resp.status_code, headers=kept, content=b"".join(chunks),
                              request=req, extensions=resp.extensions)

    def _late(self, started: float, slept: float, delay: float = 0.0) -> bool:
        """Past the retry window, counted in real time or in time slept, whichever is
        more (a test's fake sleep takes no real time)."""
        spent = max(time.monotonic() - started, slept)
        return spent + delay > self.options.retry_window

    def _backoff(self, attempt: int) -> float:
        return float(min(self.options.backoff * (2 ** (attempt - 1)), 30.0))

    async def json(self, method: str, url: str, **kw: Any) -> tuple[httpx.Response, Any]:
        resp = await self.request(method, url, **kw)
        if resp.status_code in (401, 403):
            raise RemoteError("auth", f"HTTP {resp.status_code} Unauthorized{_detail(resp)}",
                           resp.status_code)
        if not resp.content:
            return resp, None
        where = f"{method} {url.split('?')[0]}"

        def no_constant(name: str) -> Any:
            # Python's json reads NaN and Infinity, which JSON itself does not have; a
            # quantity that is not a number must never reach a plan.
            raise ValueError(f"{name} is not a JSON number")

        try:
            return resp, json.loads(resp.content, parse_constant=no_constant)
        except ValueError as exc:
            raise RemoteError("decode", f"invalid JSON from {where}: {exc}",
                           resp.status_code) from exc
        except RecursionError:
            raise RemoteError("decode", f"invalid JSON from {where}: nested too deeply to read",
                           resp.status_code) from None


_ID_SEGMENT = re.compile(r"/[0-9][^/]*")


def _route_of(endpoint: str) -> str:
    """What the limiter compares latencies within: a route, not one agreement's path (a
    ConnectWise read names the concrete path; one sample per key would never look slow)."""
    return _ID_SEGMENT.sub("/{id}", endpoint)


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _detail(resp: httpx.Response) -> str:
    """A short vendor message from an error body, if it has one."""
    try:
        body = resp.json()
    except ValueError:
        return ""
    if isinstance(body, dict) and isinstance(body.get("errors"), list) and body["errors"]:
        return ": " + "; ".join(str(e) for e in body["errors"])[:300]  # Autotask's
    if isinstance(body, dict):
        err = body.get("error") if isinstance(body.get("error"), dict) else body
        msg = err.get("message") if isinstance(err, dict) else None
        if msg:
            return f": {str(msg)[:300]}"
    return ""
