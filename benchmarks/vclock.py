"""The benchmark's virtual clock, shared by the server and every measured process.

Why: Kaseya allows 1,500 calls per hour per endpoint, so a 5,000-customer plan really
waits hours. Waiting for real would make the benchmark useless, so the client's call
budget, its token clock and the emulator's clock all read one shared offset; a wait
advances the offset instead of sleeping. The emulator still enforces the budget against
that clock, so a client that overspends gets 429s exactly as on a real tenant, and the
offset gained during a run *is* the time the budget imposed.

Why a file: the measured `atria-tui` runs as a child process of its own (not forked from
the benchmark), so the offset lives in an 8-byte memory-mapped file that the server, the
benchmark and the measured CLI each map (`SharedOffset`).
"""

from __future__ import annotations

import asyncio
import heapq
import mmap
import struct
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

_DOUBLE = struct.Struct("d")


class SharedOffset:
    """One float in a memory-mapped file: `value` reads and writes it across processes."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if not self.path.exists() or self.path.stat().st_size < _DOUBLE.size:
            self.path.write_bytes(_DOUBLE.pack(0.0))
        with self.path.open("r+b") as fh:
            self._map = mmap.mmap(fh.fileno(), _DOUBLE.size)

    @property
    def value(self) -> float:
        return float(_DOUBLE.unpack_from(self._map, 0)[0])

    @value.setter
    def value(self, seconds: float) -> None:
        _DOUBLE.pack_into(self._map, 0, seconds)


class VirtualClock:
    """Real time plus a shared offset that jumps over waits nobody needs to sit through.

    A discrete-event rule: a sleeper is woken when real time reaches its wake-up, or, once
    the client has had no request in flight for `QUIET` seconds (everything left is
    waiting), the clock jumps to the earliest wake-up. So work that would really happen
    during a wait (requests already granted and queued) still happens before the jump, and
    the offset at the end is exactly the waiting the budget imposed. Requests are counted
    by `CountingTransport`.
    """

    QUIET = 0.05
    TICK = 0.005

    def __init__(self, offset: SharedOffset) -> None:
        self.offset = offset
        self.in_flight = 0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = 0
        self._keeper: asyncio.Task[None] | None = None

    @property
    def skipped(self) -> float:
        """Seconds of waiting skipped so far."""
        return float(self.offset.value)

    def monotonic(self) -> float:
        return time.monotonic() + self.offset.value

    def utcnow(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset.value)

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        loop = asyncio.get_running_loop()
        wake: asyncio.Future[None] = loop.create_future()
        self._seq += 1
        heapq.heappush(self._sleepers, (self.monotonic() + seconds, self._seq, wake))
        if self._keeper is None or self._keeper.done():
            self._keeper = loop.create_task(self._keep())
        await wake

    async def _keep(self) -> None:
        quiet_since = time.monotonic()
        while self._sleepers:
            await asyncio.sleep(self.TICK)
            real = time.monotonic()
            if self.in_flight:
                quiet_since = real
            elif real - quiet_since >= self.QUIET:
                ahead = self._sleepers[0][0] - self.monotonic()
                if ahead > 0:
                    self.offset.value += ahead
                quiet_since = real
            now = self.monotonic()
            while self._sleepers and self._sleepers[0][0] <= now:
                wake = heapq.heappop(self._sleepers)[2]
                if not wake.done():
                    wake.set_result(None)

    def transport(self) -> CountingTransport:
        return CountingTransport(self)


class CountingTransport(httpx.AsyncBaseTransport):
    """Loopback HTTP that tells the clock when requests are in flight; reusable after
    `aclose` (each session of a run closes its client)."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self._inner: httpx.AsyncHTTPTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._inner is None:
            self._inner = httpx.AsyncHTTPTransport()
        self.clock.in_flight += 1
        try:
            return await self._inner.handle_async_request(request)
        finally:
            self.clock.in_flight -= 1

    async def aclose(self) -> None:
        if self._inner is not None:
            await self._inner.aclose()
            self._inner = None


