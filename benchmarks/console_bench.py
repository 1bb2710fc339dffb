"""The console at scale: 50,000-row preview and log tables, and the UI thread while runs stream.

Drives the real app headless (`run_test` + Pilot) on a synthetic workload built in memory:
~2,500 customers' billing records and PSA agreements that `reconcile.plan` turns into
exactly `--rows` plan items (mostly unchanged lines, quantity changes, removed lines, new
lines and the usual problems). No PSA is involved: the screens' `plan_job`/`apply_job` are
replaced, inside this script only, by functions that do the same local work (the real
reconcile, the store writes, the sink and progress calls) without HTTP.

A "paint" is the Grid's `render_lines` running after the change it follows: headless
Textual still renders every frame, it only skips writing it to a terminal. UI stalls come
from a 10 ms heartbeat (`set_interval`): each gap beyond 10 ms is time the event loop
could not run. Message handlers are timed too, so a stall can be traced to its handler.

    python -m benchmarks.console_bench --rows 50000 --out benchmarks/RESULTS-console.md
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import shlex
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from textual.message_pump import MessagePump

from atria_tui.apply import ApplyOutcome
from atria_tui.config import JobConfig, new_job
from atria_tui.model import (
    BillingRecord,
    CatalogItem,
    Level,
    LogEntry,
    Mappings,
    Period,
    Plan,
    PsaAccount,
    PsaContract,
    PsaLine,
    PsaSnapshot,
    Task,
    item_entry,
)
from atria_tui.reconcile import ReconcileParams, plan_entries
from atria_tui.serialize import plan_to_json
from atria_tui.services.runs import PlanContext, RunResult, Services, job_key
from atria_tui.store import SUCCESS, Store

PERIOD = Period(date(2026, 10, 26), date(2026, 11, 25))
PREVIOUS = Period(date(2026, 9, 26), date(2026, 10, 25))
AGREEMENT = "Hosting and Cloud Services"
FAMILIES = [("M365-BP", "Microsoft 365 Business Premium"), ("M365-E3", "Microsoft 365 E3"),
            ("EXO-P1", "Exchange Online Plan 1"), ("AZ-VM", "Azure virtual machine"),
            ("BKP-M365", "Cloud backup for Microsoft 365"), ("DEF-EP", "Defender for Endpoint"),
            ("TEAMS-PH", "Teams Phone"), ("SQL-STD", "SQL Server Standard"),
            ("VEEAM-VBR", "Veeam Backup & Replication"), ("CTX-VD", "Citrix virtual desktop")]
# Per line: (what happened, weight). Mostly unchanged, as in a real month.
KINDS = [("same", 840), ("change", 90), ("removed", 25), ("add", 15), ("unknown", 10),
         ("nosku", 10), ("ambiguous", 5)]
WORDS = ["Northwind", "Contoso", "Fabrikam", "Tailspin", "Litware", "Adatum", "Proseware",
         "Wingtip", "Coho", "Alpine", "Lucerne", "Margie", "Trey", "Humongous", "Fourth"]
SUFFIX = ["Ltd", "Group", "Partners", "Dental", "Legal", "Logistics", "Clinic", "Studio"]
TARGETS = {"open": 1.0, "sort": 0.2, "filter": 0.2, "stall": 0.1}


# --- the workload -------------------------------------------------------------------------------


@dataclass
class Workload:
    job: JobConfig
    params: ReconcileParams
    records: list[BillingRecord]
    snapshot: PsaSnapshot
    customers: int
    sample_customer: str = ""

    def context(self) -> PlanContext:
        return PlanContext(self.job, self.params, self.records, self.snapshot, Mappings())

    def plan(self) -> tuple[Plan, PlanContext]:
        ctx = self.context()
        return ctx.replan(), ctx


def build_workload(rows: int, seed: int = 11) -> Workload:
    """Records and a PSA snapshot whose plan has exactly `rows` items (deterministic)."""
    rng = random.Random(seed)
    catalog = [CatalogItem(str(100 + n), f"{fam}-{size:02d}", f"{name} tier {size}",
                           f"{name} tier {size}", Decimal(rng.randrange(200, 9000)) / 100)
               for n, (fam, name, size) in enumerate(
                   (f, nm, s) for f, nm in FAMILIES for s in range(1, 41))]
    job = new_job(Task.CONNECTWISE, "Transfer Billing Data to ConnectWise (console bench)")
    job.parameters.update(ApiUrl="https://bench.invalid/v4_6_release/apis/3.0",
                          AllowAtriaCreateAdditions=True)
    job.id = "console-bench"
    params = ReconcileParams(Task.CONNECTWISE, PERIOD, PREVIOUS, (), True, "ServiceName",
                             AGREEMENT)
    snap = PsaSnapshot(catalog=list(catalog))
    records: list[BillingRecord] = []
    kinds, weights = zip(*KINDS, strict=True)
    left, number, line_id = rows, 0, 1000

    def record(code: str, name: str, bi: str, sku: str, desc: str, qty: int,
               end: date) -> None:
        # Quantities arrive split over a few billing lines, as Atria exports them.
        parts = 1 if qty < 4 or rng.random() < 0.6 else 2
        for p in range(parts):
            share = qty // parts + (qty % parts if p == 0 else 0)
            records.append(BillingRecord(code, name, bi, sku, f"{desc} · user {p}", desc,
                                         Decimal(share), True, end, len(records) + 2))

    while left > 0:
        number += 1
        code = f"C{number:04d}"
        name = f"{rng.choice(WORDS)} {rng.choice(WORDS)} {rng.choice(SUFFIX)}"
        bi = f"{code}-BI"
        problem = rng.random() if left > 1 else 1.0
        if problem < 0.012:  # no Billing Identifier in Atria (CW04) or unknown to the PSA (CW14)
            for item in rng.sample(catalog, 3):
                record(code, name, "" if problem < 0.006 else bi, item.code, item.name,
                       rng.randrange(1, 30), PERIOD.end)
            left -= 1
            continue
        account = PsaAccount(str(number), bi, name)
        contract = PsaContract(f"A{number}", account.id, f"{name} · {AGREEMENT}", AGREEMENT)
        snap.accounts[bi.casefold()] = account
        snap.contracts[account.id] = [contract]
        lines: list[PsaLine] = []
        n = min(left, rng.randrange(8, 33))
        left -= n
        for j, item in enumerate(rng.sample(catalog, n + 2)):
            kind = rng.choices(kinds, weights)[0] if j < n else "untouched"
            qty = rng.randrange(1, 250)
            line_id += 1
            line = PsaLine(str(line_id), contract.id, item.id, item.code, item.name,
                           Decimal(qty), item.price)
            if kind in ("same", "change", "removed", "untouched"):
                lines.append(line)
            if kind == "ambiguous":
                lines += [line, replace(line, id=f"{line_id}b")]
            if kind == "same" or kind == "ambiguous":
                record(code, name, bi, item.code, item.name, qty, PERIOD.end)
            elif kind == "change":
                now = max(0, qty + rng.choice((-1, 1)) * rng.randrange(1, max(2, qty // 2)))
                record(code, name, bi, item.code, item.name, now or 1, PERIOD.end)
            elif kind == "removed":
                record(code, name, bi, item.code, item.name, qty, PREVIOUS.end)
            elif kind == "add":
                record(code, name, bi, item.code, item.name, qty, PERIOD.end)
            elif kind == "unknown":
                record(code, name, bi, f"LEGACY-{line_id}", f"Legacy service {line_id}", qty,
                       PERIOD.end)
            elif kind == "nosku":
                record(code, name, bi, "", f"Custom work {line_id}", qty, PERIOD.end)
        snap.lines[contract.id] = lines
    rng.shuffle(records)
    sample = f"C{max(1, number // 2):04d}"
    return Workload(job, params, records, snap, number, sample)


# --- instruments --------------------------------------------------------------------------------


class Probe:
    """Paints of every Grid, a 10 ms heartbeat, and the slowest handlers, while installed."""

    def __init__(self) -> None:
        self.painted: dict[tuple[int, int, Any, int], float] = {}
        self.gaps: list[float] = []
        self.handlers: dict[str, float] = {}
        self._last: float | None = None

    @contextmanager
    def installed(self) -> Iterator[None]:
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
            label = f"{type(pump).__name__}.{type(message).__name__}"
            await timed(label, dispatch(pump, message))

        async def timer_tick(timer: Any, *, next_timer: float, count: int) -> None:
            name = getattr(timer._callback, "__qualname__", None) or timer.name
            await timed(f"timer {name}", tick(timer, next_timer=next_timer, count=count))

        Grid.render_lines = render_lines  # type: ignore[method-assign]
        MessagePump._dispatch_message = dispatch_message  # type: ignore[method-assign]
        Timer._tick = timer_tick  # type: ignore[method-assign]
        try:
            yield
        finally:
            Grid.render_lines = render  # type: ignore[method-assign]
            MessagePump._dispatch_message = dispatch  # type: ignore[method-assign]
            Timer._tick = tick  # type: ignore[method-assign]

    async def paint_of(self, grid: Any, since: float, timeout: float = 30) -> float:
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
            self.gaps.append(now - self._last)
        self._last = now

    def start_phase(self) -> None:
        self.gaps, self.handlers, self._last = [], {}, time.perf_counter()

    def stalls(self) -> tuple[float, float, str]:
        """Longest and p99 stall (gap beyond the 10 ms tick), and the slowest handlers."""
        stalls = sorted(max(0.0, g - 0.01) for g in self.gaps) or [0.0]
        p99 = stalls[min(len(stalls) - 1, int(len(stalls) * 0.99))]
        worst = sorted(self.handlers.items(), key=lambda kv: -kv[1])[:3]
        return stalls[-1], p99, ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in worst)


class BenchError(Exception):
    """Something the benchmark waited for never happened; the message says what."""


async def until(what: str, done: Callable[[], object], timeout: float = 60) -> None:
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


# --- the runs the screens start, without a PSA --------------------------------------------------


@dataclass
class Fakes:
    """`plan_job`/`apply_job` for the screens: the local work of a run, no HTTP."""

    svc: Services
    work: Workload
    ready: tuple[Plan, PlanContext] | None = None  # handed over at once (open timing)
    stamp: datetime = field(default_factory=lambda: datetime(2026, 11, 26, 22, 0, tzinfo=UTC))

    def entry(self, n: int, e: LogEntry) -> LogEntry:
        return replace(e, time=self.stamp + timedelta(milliseconds=20 * n))

    async def plan_job(self, svc: Services, job: JobConfig, *, sink: Any = None,
                       progress: Callable[[str, int, int], None] | None = None) -> RunResult:
        store = self.svc.store
        run_id = store.start_run(job_key(job), job.label, job.task.value, "plan")
        if self.ready is not None:
            p, ctx = self.ready
        else:  # what plan_job does after the PSA answered: reconcile, store, log per entry
            for step in range(0, self.work.customers + 1, 250):
                if progress:
                    progress(f"Reading {job.task.psa_name}", step, self.work.customers)
            ctx = self.work.context()
            p = ctx.replan()
            store.set_plan(run_id, plan_to_json(p), p.period.end.isoformat())
            for n, e in enumerate(plan_entries(p)):
                store.add_log(run_id, [self.entry(n, e)])
        store.finish_run(run_id, SUCCESS)
        return RunResult(run_id, job, SUCCESS, [], p, ctx)

    async def apply_job(self, svc: Services, job: JobConfig, *, reviewed: Plan | None = None,
                        sink: Any = None, progress: Callable[[str, int, int], None] | None = None,
                        resume: bool = True) -> RunResult:
        """One log entry per plan row, stored then fed to the sink, as `_Run.log` does."""
        assert reviewed is not None
        store = self.svc.store
        run_id = store.start_run(job_key(job), job.label, job.task.value, "apply")
        total = len(reviewed.items)
        for n, item in enumerate(reviewed.items):
            e = self.entry(n, item_entry(item))
            store.add_log(run_id, [e])
            if sink:
                sink(e, item)
            if progress:
                progress("Applying changes", n + 1, total)
        store.finish_run(run_id, SUCCESS)
        return RunResult(run_id, job, SUCCESS, [], reviewed,
                         outcome=ApplyOutcome([], applied=total))

    @contextmanager
    def installed(self) -> Iterator[None]:
        import atria_tui.app
        import atria_tui.screens.apply
        import atria_tui.screens.preview
        import atria_tui.services.runs

        planners = (atria_tui.app, atria_tui.screens.preview, atria_tui.services.runs)
        saved = [(m, m.plan_job) for m in planners]
        applier = atria_tui.screens.apply.apply_job
        for m in planners:
            m.plan_job = self.plan_job  # type: ignore[assignment]
        atria_tui.screens.apply.apply_job = self.apply_job  # type: ignore[assignment]
        try:
            yield
        finally:
            for m, real in saved:
                m.plan_job = real  # type: ignore[assignment]
            atria_tui.screens.apply.apply_job = applier


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
    notes: list[str] = field(default_factory=list)

    async def measure(self, metric: str, target: str, grid: Any,
                      act: Callable[[], Awaitable[None] | None]) -> None:
        """From the request to the first paint of the resulting index."""
        t0 = time.perf_counter()
        pending = act()
        if pending is not None:
            await pending
        await grid.settled()
        at = await self.probe.paint_of(grid, t0)
        self.rows.append(Row(metric, at - t0, target, f"{grid.row_count:,} rows shown"))

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

        work, n = self.fakes.work, 0
        self.fakes.ready = work.plan()
        n = len(self.fakes.ready[0].items)
        t0 = time.perf_counter()
        self.app.open_preview(work.job)
        await until("the preview", lambda: isinstance(self.app.screen, PreviewScreen)
                    and self.app.screen.grid.row_count == n)
        screen = self.app.screen
        grid = screen.grid
        at = await self.probe.paint_of(grid, t0)
        self.rows.append(Row(f"Preview: open a {n:,}-row plan (push → painted)", at - t0,
                             "open", f"{work.customers:,} customers"))
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
        t0 = time.perf_counter()
        self.app.open_log(run_id)
        await until("the log", lambda: isinstance(self.app.screen, LogScreen)
                    and self.app.screen.loaded)
        table = self.app.screen.log_table
        at = await self.probe.paint_of(table.grid, t0)
        self.rows.append(Row(f"Log: open a run of {n:,} entries (push → painted)", at - t0,
                             "open", "read from SQLite in a worker"))
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
        worst, p99, handlers = self.probe.stalls()
        what = f"{len(reviewed.items):,} rows in {spent:.1f} s; slowest: {handlers}"
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
    fakes, probe = Fakes(svc, work), Probe()
    app = make_app(jobs_dir=home / "jobs", services=svc, now=lambda: datetime(2026, 11, 20, 9))
    try:
        with fakes.installed(), probe.installed():
            async with app.run_test(size=(160, 45)) as pilot:
                app.set_interval(0.01, probe.beat)
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
    from importlib.metadata import version

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
