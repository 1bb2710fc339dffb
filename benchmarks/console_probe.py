"""What the console benchmark observes: Grid paints, UI stalls, and what caused them.

A "paint" is `Grid.render_lines` running: headless Textual still renders every frame, it
only skips writing it to a terminal, so the first paint of a new index is when a user
would see it. Stalls come from a 10 ms heartbeat (`app.set_interval`): a gap beyond 10 ms
is time the event loop could not run. A gap alone does not say why, so every gap is
matched against the suspects that can stop a Python UI thread without any handler being
slow: full garbage collections (they stop every thread) and long C calls in workers that
keep the GIL (`json.dumps`/`json.loads` of a 40 MB plan). Handlers are timed as well.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from benchmarks.console_workload import swapped

__all__ = ["TICK", "BenchError", "Probe", "Stalls", "gil_hold", "until"]

TICK = 0.01


class BenchError(Exception):
    """Something the benchmark waited for never happened; the message says what."""


class Probe:
    """Grid paints, a heartbeat, handler times and suspects (GC, JSON), while installed."""

    def __init__(self) -> None:
        self.painted: dict[tuple[int, int, Any, int], float] = {}
        self.gaps: list[tuple[float, float]] = []
        self.handlers: dict[str, float] = {}
        self.suspects: list[tuple[float, float, str]] = []
        self._last: float | None = None
        self._gc_start = 0.0
        # (time, where the UI thread was) sampled while a heartbeat is late: names the
        # code a stall was spent in, which handler wall times (awaits included) cannot.
        self.samples: list[tuple[float, str]] = []
        self._sampling = False

    @contextmanager
    def installed(self) -> Iterator[None]:
        from textual.message_pump import MessagePump
        from textual.timer import Timer

        from atria_tui.console.widgets.grid import Grid

        render, dispatch, tick = Grid.render_lines, MessagePump._dispatch_message, Timer._tick
        probe = self

        def render_lines(grid: Any, crop: Any) -> Any:
            strips = render(grid, crop)
            m = grid.model
            probe.painted.setdefault((id(grid), id(m.index), m.query, len(m)),
                                     time.perf_counter())
            return strips

        async def timed(label: str, call: Awaitable[None]) -> None:
            t0 = time.perf_counter()
            await call
            spent = time.perf_counter() - t0
            if spent > probe.handlers.get(label, 0.0):
                probe.handlers[label] = spent

        async def dispatch_message(pump: Any, message: Any) -> None:
            await timed(f"{type(pump).__name__}.{type(message).__name__}",
                        dispatch(pump, message))

        async def timer_tick(timer: Any, *, next_timer: float, count: int) -> None:
            name = getattr(timer._callback, "__qualname__", None) or timer.name
            await timed(f"timer {name}", tick(timer, next_timer=next_timer, count=count))

        gc.callbacks.append(self._gc)
        self._sampling = True
        sampler = threading.Thread(target=self._sample, args=(threading.get_ident(),),
                                   name="stall-sampler", daemon=True)
        sampler.start()
        try:
            with swapped([(Grid, "render_lines", render_lines),
                          (MessagePump, "_dispatch_message", dispatch_message),
                          (Timer, "_tick", timer_tick)]):
                yield
        finally:
            self._sampling = False
            sampler.join()
            gc.callbacks.remove(self._gc)

    def _sample(self, ui: int) -> None:
        """Every 2 ms: when the heartbeat is over 20 ms late, note where the UI thread is
        (its innermost frames in this project or Textual)."""
        while self._sampling:
            time.sleep(0.002)
            last = self._last
            now = time.perf_counter()
            if last is None or now - last < TICK + 0.02:
                continue
            frame = sys._current_frames().get(ui)
            where: list[str] = []
            while frame is not None and len(where) < 3:
                name = frame.f_code.co_filename
                if "atria_tui" in name or "/textual/" in name or "benchmarks" in name:
                    short = name.rsplit("/", 2)
                    where.append(f"{'/'.join(short[-2:])}:{frame.f_lineno} "
                                 f"{frame.f_code.co_name}")
                frame = frame.f_back
            self.samples.append((now, " ← ".join(where) or "outside Python code"))

    def stall_site(self, a: float, b: float) -> str:
        """Where the UI thread was most often during [a, b], as sampled."""
        seen: dict[str, int] = {}
        for t, where in self.samples:
            if a <= t <= b:
                seen[where] = seen.get(where, 0) + 1
        if not seen:
            return ""
        top = sorted(seen.items(), key=lambda kv: -kv[1])[:3]
        return (f"UI thread sampled {sum(seen.values())}×, most in: "
                + "; ".join(f"{where} ({n}×)" for where, n in top))

    def _gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_start = time.perf_counter()
        elif info["generation"] == 2:
            self.suspects.append((self._gc_start, time.perf_counter(), "full GC"))

    @contextmanager
    def mark(self, label: str) -> Iterator[None]:
        """Note when something that may hold the GIL for long runs (in any thread)."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.suspects.append((t0, time.perf_counter(), label))

    def overlap(self, a: float, b: float) -> str:
        """What overlapped [a, b]: suspects with the milliseconds each covered."""
        spent: dict[str, float] = {}
        for s, e, label in self.suspects:
            if s < b and e > a:
                spent[label] = spent.get(label, 0.0) + min(b, e) - max(a, s)
        return ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in spent.items())

    async def paint_of(self, grid: Any, since: float, timeout: float = 60) -> float:
        """When the grid first painted its current index (after `since`)."""
        end = time.monotonic() + timeout
        while True:
            m = grid.model
            at = self.painted.get((id(grid), id(m.index), m.query, len(m)))
            if at is not None and at >= since:
                return at
            if time.monotonic() > end:
                raise BenchError(f"{type(grid.screen).__name__}: the grid never painted")
            await asyncio.sleep(0.002)

    def beat(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.gaps.append((self._last, now))
        self._last = now

    def start_phase(self) -> None:
        self.gaps, self.handlers, self._last = [], {}, time.perf_counter()
        self.samples = []

    def stalls(self) -> Stalls:
        if not self.gaps:
            return Stalls(0.0, 0.0, 0.0, "", 0)
        ranked = sorted(self.gaps, key=lambda g: g[1] - g[0])
        stalls = [max(0.0, e - s - TICK) for s, e in ranked]
        p99 = stalls[min(len(stalls) - 1, int(len(stalls) * 0.99))]
        clean = next((max(0.0, e - s - TICK) for s, e in reversed(ranked)
                      if not self.overlap(s, e)), 0.0)
        cause = self.overlap(*ranked[-1])
        label, spent = max(self.handlers.items(), key=lambda kv: kv[1], default=("", 0.0))
        why = f"overlapped {cause}" if cause else "no GC or JSON overlapped"
        site = self.stall_site(*ranked[-1])
        return Stalls(stalls[-1], p99, clean,
                      f"{why}; slowest handler {label} {spent * 1000:.0f} ms"
                      + (f"; {site}" if site else ""), len(stalls))


@dataclass(frozen=True)
class Stalls:
    """The longest stall, the p99, the longest with no suspect overlapping it, and why."""

    longest: float
    p99: float
    clean: float
    why: str
    beats: int


async def until(what: str, done: Callable[[], object], timeout: float = 120) -> None:
    from textual.css.query import NoMatches

    end = time.monotonic() + timeout
    while True:
        try:
            if done():
                return
        except NoMatches:  # the screen is not composed yet
            pass
        if time.monotonic() > end:
            raise BenchError(f"timed out waiting for {what}")
        await asyncio.sleep(0.002)


def gil_hold(call: Callable[[], object]) -> tuple[float, float]:
    """(longest time another thread could not run, total) while `call` runs here."""
    gaps: list[float] = []
    done = threading.Event()

    def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            time.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    thread = threading.Thread(target=ticker, daemon=True)
    thread.start()
    time.sleep(0.01)
    t0 = time.perf_counter()
    call()
    total = time.perf_counter() - t0
    done.set()
    thread.join()
    return max(gaps, default=0.0), total
