"""How many requests a PSA gets at once: additive increase, multiplicative decrease (AIMD).

A fixed bound is wrong both ways: six at a time leaves a fast tenant idle for most of a
5,000-customer plan (each read waits its latency behind five others), and more than a
throttled tenant takes only earns 429s. So the bound starts where the job says
(`concurrency`), grows by one each time a full round of requests at the current bound
came back as fast as the tenant answers when idle, and halves as soon as the tenant says
it is overloaded (a 429, a timeout) or its answers slow down (the recent median well
above the fastest since the last decrease): the rule TCP uses to share a link nobody
describes. It never goes below one nor above the job's `max_concurrency`.

`AimdLimit` is the rule alone (no clock, no I/O), so it can be driven with made-up
latencies; `AdaptiveSlots` is the asyncio gate the HTTP client holds requests at. Latency
is compared per route (`key`): a page of 1,000 agreements is slower than one contract's
lines, and that is not congestion. An hourly call budget is enforced before a request
reaches this gate, so a larger bound never sends more than the budget allows.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Ticket:
    """What the gate knew when a request got its slot: the decrease it was sent after
    (`epoch`) and whether requests were queueing for slots (`busy`). A request sent before
    the last decrease says nothing about the new bound; one sent while slots were free
    says nothing about whether more would help."""

    epoch: int
    busy: bool


@dataclass
class AimdLimit:
    start: int = 6
    ceiling: int = 24
    tolerance: float = 1.5  # a latency within this multiple of the fastest still holds
    jump: float = 2.0  # the recent median beyond this multiple of the fastest: slow down
    recent: int = 8  # samples per route the median is taken from
    # A slowdown smaller than this is noise whatever the ratio: an embedded or local
    # server answers in a millisecond, and a scheduler hiccup doubles that.
    slack: float = 0.05
    limit: int = field(init=False)
    epoch: int = field(default=0, init=False)
    halvings: int = field(default=0, init=False)
    highest: int = field(init=False)
    _good: int = field(default=0, init=False)
    _fastest: dict[str, float] = field(default_factory=dict, init=False)
    _recent: dict[str, deque[float]] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.ceiling = max(1, self.ceiling)
        self.limit = max(1, min(self.start, self.ceiling))
        self.highest = self.limit

    def ticket(self, busy: bool = True) -> Ticket:
        return Ticket(self.epoch, busy)

    def succeeded(self, latency: float, ticket: Ticket, key: str = "") -> None:
        """An answer (not a 429, not a 5xx) that took `latency` seconds."""
        if ticket.epoch != self.epoch:
            return
        fastest = self._fastest[key] = min(latency, self._fastest.get(key, latency))
        recent = self._recent.setdefault(key, deque(maxlen=self.recent))
        recent.append(latency)
        if len(recent) >= self.recent // 2:
            median = statistics.median(recent)
            if median > self.jump * fastest and median > fastest + self.slack:
                self._decrease()
                return
        if ticket.busy and latency <= max(self.tolerance * fastest, fastest + self.slack / 2):
            self._good += 1
            if self._good >= self.limit:
                self._good = 0
                self.limit = min(self.ceiling, self.limit + 1)
                self.highest = max(self.highest, self.limit)

    def throttled(self, ticket: Ticket) -> None:
        """A 429 or a timeout. A burst of them from requests sent at the same bound halves
        it once, not once per answer."""
        if ticket.epoch == self.epoch:
            self._decrease()

    def _decrease(self) -> None:
        self.limit = max(1, self.limit // 2)
        self.epoch += 1
        self.halvings += 1
        self._good = 0
        self._recent.clear()
        # The fastest answer is measured again at the new bound: the one before may have
        # been a fluke (an empty page), or the tenant may have slowed for good; either way
        # the next halving is judged against what the tenant does now.
        self._fastest.clear()


class AdaptiveSlots:
    """A semaphore whose size is `AimdLimit.limit`, woken in FIFO order as slots free up
    or the limit grows (one wake per slot, not every waiter per release: a plan queues
    thousands of reads)."""

    def __init__(self, limit: AimdLimit) -> None:
        self.rule = limit
        self.in_flight = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def limit(self) -> int:
        return self.rule.limit

    async def acquire(self) -> Ticket:
        if self.in_flight < self.rule.limit and not self._waiters:
            self.in_flight += 1
            return self.rule.ticket(busy=self.in_flight >= self.rule.limit)
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # the slot was handed over as the task was cancelled
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
            raise
        return self.rule.ticket(busy=True)

    def release(self) -> None:
        self.in_flight -= 1
        self._wake()

    def succeeded(self, latency: float, ticket: Ticket, key: str = "") -> None:
        self.rule.succeeded(latency, ticket, key)
        self._wake()

    def throttled(self, ticket: Ticket) -> None:
        self.rule.throttled(ticket)

    def _wake(self) -> None:
        while self._waiters and self.in_flight < self.rule.limit:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.in_flight += 1
                waiter.set_result(None)


class RateMeter:
    """Requests answered per second over the last few seconds, for the progress line."""

    def __init__(self, span: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.span = span
        self.clock = clock
        self._times: deque[float] = deque()
        self._first: float | None = None

    def tick(self) -> None:
        now = self.clock()
        if self._first is None:
            self._first = now
        self._times.append(now)
        self._drop(now)

    def per_second(self) -> float:
        if self._first is None:
            return 0.0
        now = self.clock()
        self._drop(now)
        elapsed = min(self.span, now - self._first)
        return len(self._times) / elapsed if elapsed > 0 else 0.0

    def _drop(self, now: float) -> None:
        while self._times and self._times[0] < now - self.span:
            self._times.popleft()
