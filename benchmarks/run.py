"""Scale and speed at a large MSP's size: plan, apply, re-plan and a naive integration.

For each PSA: `plan` through `services.engine.plan_job` against the sandbox served on
127.0.0.1 with per-request latency; a re-plan after a console fix (PlanContext.replan);
`apply` of the first 1,000 changes (the rest unapproved). Then the naive per-line
strategy on the same data (sandbox reset to the seeds). Requests are counted by the client
and by the server; the minimum comes from the data (`report.py`). Kaseya's hourly budget
is enforced by the emulator against a virtual clock that the client's waits advance, so the
hour it imposes is reported, not slept (`server.py`).

    python -m benchmarks.run --customers 2000 --latency-ms 20 --out benchmarks/RESULTS.md
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import resource
import shlex
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from atria_tui.adapters.http import CallBudget
from atria_tui.core.model import Mappings, Plan, Task, norm
from atria_tui.core.records import read_records
from atria_tui.engine.reconcile import scope
from atria_tui.engine.secret_store import SecretStore, env_name
from atria_tui.engine.store import Store
from atria_tui.job.file import load_job
from atria_tui.sandbox.connectwise.state import DEMO_SECRETS as CW_SECRETS
from atria_tui.sandbox.kaseya.state import DEMO_SECRETS as KS_SECRETS
from atria_tui.services import engine as runs
from atria_tui.services.engine import PlanContext, apply_job, plan_job
from atria_tui.services.runtime import Runtime
from benchmarks import report
from benchmarks.generate import Generated, generate, identifier_for
from benchmarks.naive import NaiveConnectWise, NaiveKaseya, NaiveResult, billed
from benchmarks.server import Served, VirtualClock, start

T = TypeVar("T")
ENVIRON = {env_name(k): v for k, v in {**CW_SECRETS, **KS_SECRETS}.items()}


class BenchError(Exception):
    """A run that could not be measured (the plan failed); the message says why."""


def log(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


@contextmanager
def virtual_budget(clock: VirtualClock) -> Iterator[None]:
    """Give Kaseya sessions a call budget, token clock and sleep on the benchmark's clock.

    `services.engine` opens its sessions itself, so its `open_session` is wrapped for the
    duration of the benchmark (and put back after); nothing else about a run changes.
    """
    real = runs.open_session

    def wrapped(job: Any, api_url: str, secrets: Any, **kw: Any) -> Any:
        if job.task is Task.KASEYA:
            kw.setdefault("sleep", clock.sleep)
            kw.setdefault("clock", clock.utcnow)
            kw.setdefault("budget", CallBudget(job.options.call_budget_per_hour,
                                               clock=clock.monotonic, sleep=clock.sleep))
        return real(job, api_url, secrets, **kw)

    runs.open_session = wrapped
    try:
        yield
    finally:
        runs.open_session = real


@dataclass
class Probe:
    """Server counters and the virtual clock around one measured step."""

    served: Served
    task: Task

    async def counts(self) -> tuple[Counter[str], int]:
        cw, ks = await self.served.stats()
        if self.task is Task.CONNECTWISE:
            return Counter(cw["requests"]), 0
        return Counter(ks["byEndpoint"]), int(ks["throttled"])

    async def measure(self, work: Awaitable[T]) -> tuple[T, report.Phase]:
        before, throttled = await self.counts()
        waited = self.served.clock.skipped
        start = time.perf_counter()
        result = await work
        seconds = time.perf_counter() - start
        after, throttled_after = await self.counts()
        delta = after - before
        if self.task is not Task.KASEYA:  # only Kaseya's calls wait on the shared clock
            waited = self.served.clock.skipped
        return result, report.Phase(seconds=seconds, server=sum(delta.values()),
                                    waited=self.served.clock.skipped - waited,
                                    throttled=throttled_after - throttled,
                                    by_endpoint=dict(delta))


@dataclass
class Pending:
    """What the minimum needs, kept small so the seeds are only loaded after RSS is read."""

    run: report.PsaRun
    task: Task
    identifiers: tuple[str, ...]
    skus: tuple[str, ...]
    contract_type: str


async def bench_psa(task: Task, gen: Generated, served: Served, work: Path,
                    apply_count: int, review_minutes: float = 0) -> Pending:
    name = task.psa_name
    job = load_job(gen.cw_job if task is Task.CONNECTWISE else gen.ks_job)
    job.parameters["ApiUrl"] = served.cw_url if task is Task.CONNECTWISE else served.ks_url
    store_dir = work / task.value
    svc = Runtime(Store(store_dir / "runs.db"), SecretStore(store_dir / "secrets"),
                   environ=ENVIRON, transport=served.clock.transport())
    probe = Probe(served, task)
    run = report.PsaRun(name, budget=job.options.call_budget_per_hour
                        if task is Task.KASEYA else 0)

    log(f"{name}: plan")
    planned, run.plan = await probe.measure(plan_job(svc, job))
    run.plan.client = planned.requests
    if planned.plan is None or planned.context is None or planned.fatal is not None:
        why = planned.fatal.message if planned.fatal else planned.status
        code = planned.fatal.code if planned.fatal else ""
        run.failed = f"plan ended with {code} {why!r}".replace("  ", " ")
        log(f"{name}: {run.failed}")
        run.rss_mb = rss_mb()
        return Pending(run, task, (), (), "")
    p, ctx = planned.plan, planned.context
    run.codes = dict(Counter(i.code for i in p.items))
    kinds = Counter(i.action.value for i in p.changes)
    run.changes = len(p.changes)
    run.kinds = dict(kinds)
    log(f"{name}: {len(p.items)} plan rows, {run.changes} changes {dict(kinds)}")

    log(f"{name}: re-plan after a fix")
    await replan(run, ctx, p, probe, task)

    approved = p.changes[:apply_count]
    for n, item in enumerate(p.changes):
        item.approved = n < apply_count
    if review_minutes and task is Task.KASEYA:  # the reviewer's time passes on the budget
        await served.clock.sleep(review_minutes * 60)
    log(f"{name}: apply {len(approved)} changes")
    applied, run.apply = await probe.measure(apply_job(svc, job, reviewed=p))
    run.apply.client = applied.requests if applied.fatal is None else -1
    login = 1 if task is Task.KASEYA else 0
    run.apply.minimum = len({i.contract_id for i in approved}) + len(approved) + login
    run.apply.minimum_blind = len(approved) + login
    o = applied.outcome
    run.apply.detail = (f"{o.applied} written, {o.unchanged} already so, {o.conflicts} "
                        f"conflicts, {o.failed} failed" if o else "")
    if applied.fatal is not None:
        done = sum(1 for r in svc.store.journal(applied.run_id) if r.state == "done")
        run.apply.ended = f"run ended after {done} of {len(approved)} writes"
        run.apply.detail = f"**{run.apply.ended}**: {applied.fatal.code} {applied.fatal.message}"
    svc.store.close()
    run.rss_mb = rss_mb()
    sc = scope(ctx.records, ctx.params, ctx.mappings)
    return Pending(run, task, sc.identifiers, sc.skus, ctx.params.contract_type)


async def replan(run: report.PsaRun, ctx: PlanContext, p: Plan, probe: Probe,
                 task: Task) -> None:
    """The console's fix for a customer with no Billing Identifier, then re-plan."""
    unmapped = next((i for i in p.items if i.code in ("CW04", "KS09")), None)
    fixed = Mappings(dict(ctx.mappings.customers), dict(ctx.mappings.skus),
                     dict(ctx.mappings.descriptions), set(ctx.mappings.managed))
    if unmapped is not None:
        fixed.customers[norm(unmapped.customer_code)] = identifier_for(
            unmapped.customer_code, task)
    before, _ = await probe.counts()
    for _ in range(5):
        start = time.perf_counter()
        again = ctx.replan(fixed)
        run.replan_ms.append((time.perf_counter() - start) * 1000)
    after, _ = await probe.counts()
    run.replan_requests = sum((after - before).values())
    if unmapped is None:
        run.fix = "no unmapped customer in this data set"
        return
    now = sorted({i.code for i in again.items if i.customer_code == unmapped.customer_code})
    run.fix = f"{unmapped.customer_code}: {unmapped.code} → {', '.join(now)}"


async def naive(gen: Generated, served: Served, runs_: list[Pending],
                max_writes: int) -> None:
    """The per-line strategy on the same data, both PSAs at once (each one sequential)."""
    await served.reset()
    jobs = {t.task: t for t in runs_}

    async def one(task: Task) -> None:
        job = load_job(gen.cw_job if task is Task.CONNECTWISE else gen.ks_job)
        from atria_tui.core.periods import resolve_period
        from atria_tui.job.file import job_params

        params = job_params(job)
        period = resolve_period(params.billing_period, job.period_start_day,
                                datetime.now(UTC).date())
        assert job.source.path is not None
        records = [r for r in read_records(job.source.path, period_end=period.end)
                   if r.period_end == period.end]
        client: NaiveConnectWise | NaiveKaseya
        if task is Task.CONNECTWISE:
            client = NaiveConnectWise(served.cw_url, CW_SECRETS, params.contract_type,
                                      served.clock.sleep, max_writes)
        else:
            client = NaiveKaseya(served.ks_url, KS_SECRETS, params.contract_type,
                                 served.clock.sleep, max_writes, served.clock.transport())
        result: NaiveResult
        result, phase = await Probe(served, task).measure(client.run(billed(records)))
        phase.seconds, phase.client = result.seconds, result.requests
        phase.detail = f"{result.writes} writes"
        jobs[task].run.naive = phase

    log("naive per-line strategy (both PSAs at once)")
    await asyncio.gather(*(one(t) for t in jobs))


def minimums(gen: Generated, pending: list[Pending]) -> None:
    for p in pending:
        if p.run.failed:
            continue
        if p.task is Task.CONNECTWISE:
            seed = json.loads(gen.cw_seed.read_text("utf-8"))
            parts = report.cw_plan_minimum(seed, p.identifiers, p.skus, p.contract_type)
        else:
            seed = json.loads(gen.ks_seed.read_text("utf-8"))
            parts = report.ks_plan_minimum(seed, p.identifiers, p.contract_type)
        p.run.plan.minimum = sum(parts.values())
        p.run.plan.detail = " + ".join(f"{v:,} {k}" for k, v in parts.items())


async def bench(args: argparse.Namespace, work: Path) -> str:
    started = time.perf_counter()
    gen = generate(work / "data", args.customers, args.seed)
    log(f"generated {gen.customers} customers, {gen.records} records, {gen.lines} lines")
    served = start(gen.cw_seed, gen.ks_seed, latency_ms=args.latency_ms)
    try:
        with virtual_budget(served.clock):
            pending = [await bench_psa(task, gen, served, work, args.apply,
                                       args.review_minutes)
                       for task in (Task.CONNECTWISE, Task.KASEYA)]
            peak = rss_mb()
            if not args.no_naive:
                await naive(gen, served, pending, args.apply)
    finally:
        served.stop()
    minimums(gen, pending)
    psa_runs = [p.run for p in pending]
    command = "python -m benchmarks.run " + shlex.join(args.argv)
    body = report.table(psa_runs, customers=gen.customers, records=gen.records,
                        lines=gen.lines, latency_ms=args.latency_ms, command=command,
                        peak_rss_mb=peak, total_seconds=time.perf_counter() - started)
    return "\n".join([
        "# Benchmark results", "",
        f"Command: `{command}`  ",
        f"Recorded {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
        f"Python {platform.python_version()}, {_cores()} cores.", "",
        CONSOLE_NOTE, "",
        body, "## Targets", "", report.targets(psa_runs, peak),
        "## Kaseya calls per endpoint against the hourly budget", "",
        report.endpoint_table(pending[1].run), "",
        report.NOTES]).rstrip() + "\n"


CONSOLE_NOTE = ("The console at scale (50,000-row preview and log, UI stalls while a plan "
                "or apply streams) is measured by `python -m benchmarks.console_bench "
                "--rows 50000 --out benchmarks/RESULTS-console.md`: see "
                "[RESULTS-console.md](RESULTS-console.md).")


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description="Scale and speed benchmark (issue 5).")
    ap.add_argument("--customers", type=int, default=2000)
    ap.add_argument("--latency-ms", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--apply", type=int, default=1000, help="changes to approve and apply")
    ap.add_argument("--review-minutes", type=float, default=0,
                    help="time between plan and apply, as seen by Kaseya's hourly budget")
    ap.add_argument("--no-naive", action="store_true", help="skip the naive strategy")
    ap.add_argument("--out", type=Path, help="write the Markdown here (also printed)")
    args = ap.parse_args(argv)
    args.argv = argv
    if args.customers < 1 or args.latency_ms < 0 or args.apply < 0:
        ap.error("--customers must be >= 1, --latency-ms and --apply >= 0")
    with tempfile.TemporaryDirectory(prefix="atria-bench-") as tmp:
        try:
            text = asyncio.run(bench(args, Path(tmp)))
        except BenchError as exc:
            print(f"benchmark failed: {exc}", file=sys.stderr)
            return 2
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
