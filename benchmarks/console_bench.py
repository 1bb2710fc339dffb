"""The console at scale: 50,000-row preview and log tables, and the UI thread while runs stream.

Drives the real app headless (`run_test(size=(160, 45))` + Pilot) on the synthetic workload
of `console_workload` (~2,500 customers, exactly `--rows` plan rows). No PSA is involved:
the screens' `plan_job`/`apply_job` are replaced, inside this script only, by fakes that do
a real run's local work. Nothing of the app itself is changed.

What is measured, and how:
- open: from pushing the screen to the Grid's first paint showing all rows;
- sort / filter: from the request (Grid API, or the `l` key) to the first paint of the
  new index, through `await grid.settled()`; a "paint" is `Grid.render_lines` running
  (headless Textual renders every frame, it only skips writing it to a terminal);
- stalls: a 10 ms heartbeat (`app.set_interval`); each gap beyond 10 ms is time the UI
  thread could not run. Every gap is matched against what overlapped it (full garbage
  collections, the workers' JSON encoding), and message handlers are timed, so the longest
  stall names its cause in the table.

    python -m benchmarks.console_bench --rows 50000 --out benchmarks/RESULTS-console.md
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import shlex
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from atria_tui.model import item_entry
from atria_tui.serialize import plan_to_json
from atria_tui.services.runs import Services, job_key
from atria_tui.store import SUCCESS, Store
from benchmarks.console_workload import Fakes, build_workload, swapped

TARGETS = {"open": 1.0, "sort": 0.2, "filter": 0.2, "stall": 0.1}
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

    @contextmanager
    def installed(self) -> Iterator[None]:
        from textual.message_pump import MessagePump
        from textual.timer import Timer

        from atria_tui.widgets.grid import Grid

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
        try:
            with swapped([(Grid, "render_lines", render_lines),
                          (MessagePump, "_dispatch_message", dispatch_message),
                          (Timer, "_tick", timer_tick)]):
                yield
        finally:
            gc.callbacks.remove(self._gc)

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

    def stalls(self) -> tuple[float, float, str]:
        """Longest and p99 stall, and what the longest one overlapped / the slowest handler."""
        if not self.gaps:
            return 0.0, 0.0, ""
        ranked = sorted(self.gaps, key=lambda g: g[1] - g[0])
        stalls = [max(0.0, e - s - TICK) for s, e in ranked]
        p99 = stalls[min(len(stalls) - 1, int(len(stalls) * 0.99))]
        s, e = ranked[-1]
        cause = self.overlap(s, e)
        label, spent = max(self.handlers.items(), key=lambda kv: kv[1], default=("", 0.0))
        why = f"overlapped {cause}" if cause else "no GC or JSON overlapped"
        return stalls[-1], p99, f"{why}; slowest handler {label} {spent * 1000:.0f} ms"


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
# --- the scenarios ------------------------------------------------------------------------------


@dataclass
class Row:
    metric: str
    seconds: float
    target: str
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.seconds < TARGETS[self.target]


@dataclass
class Bench:
    app: Any
    pilot: Any
    probe: Probe
    fakes: Fakes
    rows: list[Row] = field(default_factory=list)

    def add(self, metric: str, t0: float, at: float, target: str, note: str) -> None:
        gc_part = self.probe.overlap(t0, at)
        self.rows.append(Row(metric, at - t0, target,
                             f"{note}; overlapped {gc_part}" if gc_part else note))

    async def measure(self, metric: str, target: str, grid: Any,
                      act: Callable[[], Awaitable[None] | None]) -> None:
        """From the request to the first paint of the resulting index."""
        t0 = time.perf_counter()
        pending = act()
        if pending is not None:
            await pending
        await grid.settled()
        at = await self.probe.paint_of(grid, t0)
        self.add(metric, t0, at, target, f"{grid.row_count:,} rows shown")

    async def table_ops(self, what: str, grid: Any, sorts: list[tuple[str, str]],
                        filters: list[tuple[str, Callable[[str], None], str]]) -> None:
        for key, label in sorts:
            await self.measure(f"{what}: sort by {label}", "sort", grid,
                               lambda k=key: grid.sort_by(k))  # type: ignore[misc]
        await self.measure(f"{what}: reverse that sort", "sort", grid,
                           lambda: grid.sort_by(sorts[-1][0], reverse=True))
        for label, setter, text in filters:
            await self.measure(f'{what}: {label} "{text}"', "filter", grid,
                               lambda s=setter, t=text: s(t))  # type: ignore[misc]
            setter("")
            await grid.settled()
        await self.measure(f"{what}: level filter Info+ (key l)", "filter", grid,
                           lambda: self.pilot.press("l"))

    async def preview(self) -> None:
        from atria_tui.screens.preview import PreviewScreen

        work = self.fakes.work
        self.fakes.ready = work.plan()
        n = len(self.fakes.ready[0].items)
        t0 = time.perf_counter()
        self.app.open_preview(work.job)
        await until("the preview", lambda: isinstance(self.app.screen, PreviewScreen)
                    and self.app.screen.grid.row_count == n)
        screen = self.app.screen
        grid = screen.grid
        at = await self.probe.paint_of(grid, t0)
        self.add(f"Preview: open a {n:,}-row plan (push → painted)", t0, at, "open",
                 f"{work.customers:,} customers")
        await self.table_ops("Preview", grid, [("customer", "customer"), ("money", "Δ money")],
                             [("filter text", grid.set_filter, "CW07"),
                              ("filter customer", grid.set_filter, work.sample_customer)])
        self.app.pop_screen()

    async def log(self) -> None:
        from atria_tui.screens.log import LogScreen

        plan, _ = self.fakes.work.plan()
        store, job = self.fakes.svc.store, self.fakes.work.job
        run_id = store.start_run(job_key(job), job.label, job.task.value, "plan",
                                 plan.period.end.isoformat())
        store.set_plan(run_id, plan_to_json(plan), plan.period.end.isoformat())
        store.add_log(run_id, [self.fakes.entry(k, item_entry(i))
                               for k, i in enumerate(plan.items)])
        store.finish_run(run_id, SUCCESS)
        n = len(plan.items)
        self.probe.start_phase()
        t0 = time.perf_counter()
        self.app.open_log(run_id)
        await until("the log", lambda: isinstance(self.app.screen, LogScreen)
                    and self.app.screen.log_table.grid.row_count == n)
        table = self.app.screen.log_table
        at = await self.probe.paint_of(table.grid, t0)
        self.add(f"Log: open a run of {n:,} entries (push → painted)", t0, at, "open",
                 "read from SQLite in a worker")
        await until("the log's notes", lambda: self.app.screen.loaded)
        await asyncio.sleep(0.05)
        worst, _, why = self.probe.stalls()
        self.rows.append(Row("Log: UI stall, longest, from open until the notes are read",
                             worst, "stall", why))
        await self.table_ops("Log", table.grid, [("customer", "customer"), ("code", "code"),
                                                 ("message", "message")],
                             [("search", table.search, "CW07"),
                              ("search", table.search, self.fakes.work.sample_customer)])
        self.app.pop_screen()

    async def stream(self, label: str, apply: bool, plan: bool) -> None:
        from atria_tui.screens.apply import ApplyScreen
        from atria_tui.screens.preview import PreviewScreen

        work = self.fakes.work
        self.fakes.ready = None
        reviewed, _ = work.plan()
        self.probe.start_phase()
        t0 = time.perf_counter()
        base = len(self.app.screen_stack)
        preview = PreviewScreen(work.job) if plan else None
        applying = ApplyScreen(work.job, reviewed) if apply else None
        for screen in (preview, applying):
            if screen is not None:
                self.app.push_screen(screen)
        if preview is not None:
            await until("the plan", lambda: preview.session is not None
                        and preview.grid.row_count == len(reviewed.items), timeout=180)
        if applying is not None:
            await until("the apply", lambda: not applying.running
                        and applying.log_table.pending == 0
                        and applying.log_table.grid.row_count == len(reviewed.items),
                        timeout=180)
        await asyncio.sleep(0.05)  # a few more ticks after the last batch
        spent = time.perf_counter() - t0
        worst, p99, why = self.probe.stalls()
        what = f"{len(reviewed.items):,} rows in {spent:.1f} s; {why}"
        self.rows.append(Row(f"Stream: {label}: UI stall, longest", worst, "stall", what))
        self.rows.append(Row(f"Stream: {label}: UI stall, p99", p99, "stall",
                             f"{len(self.probe.gaps):,} heartbeats"))
        while len(self.app.screen_stack) > base:
            self.app.pop_screen()
            await self.pilot.pause()


# --- running and reporting ----------------------------------------------------------------------


async def run_bench(rows: int, home: Path, log: Callable[[str], None]) -> Bench:
    from atria_tui.app import make_app
    from atria_tui.secrets import SecretStore

    t0 = time.perf_counter()
    work = build_workload(rows)
    log(f"workload: {rows:,} plan rows, {work.customers:,} customers, "
        f"{len(work.records):,} records ({time.perf_counter() - t0:.1f} s)")
    (home / "jobs").mkdir(parents=True, exist_ok=True)
    store = Store(home / "atria-tui.db")
    svc = Services(store=store, secrets=SecretStore(home), environ={})
    probe = Probe()
    fakes = Fakes(svc, work, probe.mark)
    app = make_app(jobs_dir=home / "jobs", services=svc, now=lambda: datetime(2026, 11, 20, 9))
    try:
        with fakes.installed(), probe.installed():
            async with app.run_test(size=(160, 45)) as pilot:
                app.set_interval(TICK, probe.beat)
                bench = Bench(app, pilot, probe, fakes)
                steps: list[tuple[str, Callable[[], Awaitable[None]]]] = [
                    ("preview", bench.preview), ("log", bench.log),
                    ("apply stream", lambda: bench.stream("apply log", True, False)),
                    ("plan stream", lambda: bench.stream("plan in a worker", False, True)),
                    ("both", lambda: bench.stream("apply log + plan at once", True, True))]
                for name, step in steps:
                    t1 = time.perf_counter()
                    await step()
                    log(f"{name}: {time.perf_counter() - t1:.1f} s")
    finally:
        store.close()
    return bench


def table(bench: Bench) -> str:
    out = ["| metric | measured | target | ok? |", "|---|---:|---:|:---:|"]
    for r in bench.rows:
        target = f"< {TARGETS[r.target] * 1000:.0f} ms"
        note = f" ({r.note})" if r.note else ""
        out.append(f"| {r.metric}{note} | {r.seconds * 1000:,.0f} ms | {target} | "
                   f"{'yes' if r.ok else '**no**'} |")
    return "\n".join(out)


def report(bench: Bench, argv: list[str]) -> str:
    cmd = shlex.join(["python", "-m", "benchmarks.console_bench", *argv])
    cpu = os.cpu_count()
    machine = (f"{platform.system()} {platform.machine()}, {cpu} cores (shared with other "
               f"work), Python {platform.python_version()}")
    return "\n".join([
        "# Console at scale: benchmark results", "",
        f"Command: `{cmd}`  ", f"Machine: {machine}, Textual {version('textual')}  ",
        f"Date: {datetime.now().strftime('%Y-%m-%d %H:%M')}", "",
        "Headless app (`run_test(size=(160, 45))`), the real screens and widgets; plan and "
        "apply replaced by local fakes (no PSA). Open/sort/filter: from the request to the "
        "first paint of the result. Stalls: gaps of a 10 ms heartbeat beyond 10 ms.", "",
        table(bench), ""])


def main(argv: list[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m benchmarks.console_bench",
                                     description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--rows", type=int, default=50_000, help="plan rows and log entries")
    parser.add_argument("--out", type=Path, help="write the Markdown report here")
    args = parser.parse_args(args_list)
    if args.rows < 50:
        parser.error("--rows must be at least 50")

    def log(text: str) -> None:
        print(f"[console-bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr,
              flush=True)

    with tempfile.TemporaryDirectory(prefix="console-bench-") as tmp:
        try:
            bench = asyncio.run(run_bench(args.rows, Path(tmp), log))
        except BenchError as exc:
            print(f"console benchmark failed: {exc}", file=sys.stderr)
            return 1
    text = report(bench, args_list)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        log(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
