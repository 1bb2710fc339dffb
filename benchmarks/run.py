"""The benchmark of what a user runs: `atria-tui` as a child process, at a big MSP's size.

For every size × latency cell, against the sandboxes served on 127.0.0.1 with that latency
(requests counted by the server): `plan --format json`, `plan` (table output), `plan` of the
same PSA billed with ~5% more identifiers missing, and `apply --yes --plan N` of 1,000
approved changes, for ConnectWise and Kaseya; each command's wall time, its own peak RSS
and CPU (`os.wait4`), requests and the API's minimum. Once per size, the console's re-plan
after a fix, in-process through services. Once per run, `atria-tui --help` and the console
benchmark twice in a row. Kaseya's hourly budget is simulated on a virtual clock and
reported as "budget wait" (`benchmarks/vclock.py`).

    python -m benchmarks.run --customers 2000,5000 --latency-ms 20,100 \
        --console-out benchmarks/RESULTS-console.md --out benchmarks/RESULTS.md
    python -m benchmarks.run --quick --out /tmp/RESULTS.md     # 50 and 100 customers, 5 ms, ~1 min
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import report
from benchmarks.generate import Generated, Variant, generate, identifier_for, point_jobs
from benchmarks.generate import with_missing_identifiers as missing_variant
from benchmarks.report import Cell, Measured, Replan, Results
from benchmarks.server import Served, start
from benchmarks.vclock import VirtualClock

ROOT = Path(__file__).resolve().parents[1]
APPLY_CHANGES = 1000
# `--quick`: every row of the full run, small enough for a test (< 60 s on 2 busy cores).
QUICK_CUSTOMERS, QUICK_LATENCY_MS, QUICK_CONSOLE_ROWS = [50, 100], 5, 200
HOUR = 3600.0


def log(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def _secrets_env() -> dict[str, str]:
    from atria_tui.engine.secret_store import env_name
    from atria_tui.sandbox.connectwise.state import DEMO_SECRETS as CW_SECRETS
    from atria_tui.sandbox.kaseya.state import DEMO_SECRETS as KS_SECRETS

    return {env_name(k): v for k, v in {**CW_SECRETS, **KS_SECRETS}.items()}


def cli() -> list[str]:
    """The installed `atria-tui` entry point beside this interpreter (what a user runs)."""
    script = Path(sys.executable).parent / "atria-tui"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from atria_tui.cli.main import main; "
            "sys.exit(main())"]


# --- one child process -----------------------------------------------------------------


@dataclass
class Child:
    wall: float
    rss_mb: float
    cpu: float
    rc: int
    stdout: Path
    stderr: Path


# Why a wrapper: on Linux a child's ru_maxrss starts from the high-water RSS of the process
# that exec'd it (exec records the old address space's peak), so a command spawned straight
# from this benchmark (which holds the generated data) would report at least the
# benchmark's own RSS. This tiny interpreter (-I -S: no site, no env hooks, ~8 MB) forks
# and execs the command and reports that child's own peak RSS and CPU from `wait4`.
_WRAPPER = """
import os, sys
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
with open(sys.argv[1], "w") as fh:
    fh.write(f"{ru.ru_maxrss} {ru.ru_utime + ru.ru_stime}")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def spawn(argv: list[str], env: dict[str, str], out: Path) -> Child:
    """Run one command with its output in files; its own peak RSS and CPU come from the
    wrapper's `wait4` on it (see `_WRAPPER`)."""
    stdout, stderr = out.with_suffix(".out"), out.with_suffix(".err")
    usage = out.with_suffix(".rusage")
    with stdout.open("wb") as so, stderr.open("wb") as se:
        start_t = time.perf_counter()
        rc = subprocess.call([sys.executable, "-I", "-S", "-c", _WRAPPER, str(usage), *argv],
                             stdout=so, stderr=se, env=env, cwd=ROOT)
        wall = time.perf_counter() - start_t
    try:
        kib, cpu = usage.read_text("utf-8").split()
    except (OSError, ValueError):
        kib, cpu = "0", "0"
    return Child(wall, int(kib) / 1024, float(cpu), rc, stdout, stderr)


FORBIDDEN = ("textual", "atria_tui.sandbox")


def loaded(importtime_log: str) -> list[str]:
    """Forbidden packages named in a `-X importtime` log (one line per module imported)."""
    found: set[str] = set()
    for line in importtime_log.splitlines():
        if not line.startswith("import time:"):
            continue
        name = line.rsplit("|", 1)[-1].strip()
        for bad in FORBIDDEN:
            if name == bad or name.startswith(bad + "."):
                found.add(bad)
    return sorted(found)


@dataclass
class Bench:
    """One cell's server, data and folders; runs and measures commands against it."""

    served: Served
    gen: Generated
    variant: Variant
    work: Path
    env: dict[str, str]
    seq: int = 0

    def command(self, psa: str, args: list[str], home: str, what: str,
                importtime: bool = True) -> tuple[Measured, Child]:
        self.seq += 1
        env = {**self.env, "ATRIA_TUI_HOME": str(self.work / home)}
        if importtime:
            env["PYTHONPROFILEIMPORTTIME"] = "1"
        if psa == "ks":
            self.served.clock.offset.value += HOUR  # a quiet hour: the budget is fresh
            argv = [sys.executable, "-m", "benchmarks.virtual_cli",
                    str(self.served.clock.offset.path), *args]
        else:
            argv = [*cli(), *args]
        before, throttled = self.served.counts(psa)
        waited = self.served.clock.skipped
        child = spawn(argv, env, self.work / f"{self.seq:02d}-{psa}-{what}")
        after, throttled_after = self.served.counts(psa)
        delta = Counter(after)
        delta.subtract(before)
        m = Measured(shlex.join(["atria-tui", *args]), wall=child.wall, rss_mb=child.rss_mb,
                     cpu=child.cpu, rc=child.rc, server=sum(delta.values()),
                     throttled=throttled_after - throttled,
                     waited=self.served.clock.skipped - waited,
                     by_endpoint={k: v for k, v in delta.items() if v})
        err = child.stderr.read_text("utf-8", errors="replace")
        if importtime:
            m.imports = loaded(err)
        if child.rc not in (0,):
            tail = [ln for ln in err.splitlines() if not ln.startswith("import time:")]
            m.failed = f"exit {child.rc}: " + " / ".join(tail[-3:])[:300]
        return m, child


def json_result(child: Child) -> dict[str, Any]:
    try:
        return dict(json.loads(child.stdout.read_text("utf-8")))
    except (ValueError, OSError):
        return {}


# --- the minimum, from the seeds and the export (independent of the engine) -------------


def scope_of(billing: Path) -> tuple[set[str], set[str]]:
    """Billing Identifiers and SKUs of the export: what a plan of it needs from the PSA."""
    ids: set[str] = set()
    skus: set[str] = set()
    with billing.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["BillingIdentifier"].strip():
                ids.add(row["BillingIdentifier"].strip())
            skus.add(row["Sku"].strip())
    return ids, skus


def plan_minimum(gen: Generated, psa: str, billing: Path) -> tuple[int, str]:
    ids, skus = scope_of(billing)
    if psa == "cw":
        seed = json.loads(gen.cw_seed.read_text("utf-8"))
        parts = report.cw_plan_minimum(seed, ids, skus, "Hosting and Cloud Services")
    else:
        seed = json.loads(gen.ks_seed.read_text("utf-8"))
        parts = report.ks_plan_minimum(seed, ids, "Recurring Services")
    return sum(parts.values()), " + ".join(f"{v:,} {k}" for k, v in parts.items())


# --- the commands of one cell -----------------------------------------------------------


def approve_first(home: Path, run_id: int, count: int) -> tuple[int, int]:
    """The reviewer's decision, stored with the plan run: the first `count` changes
    approved, the rest rejected. Returns (approved, contracts they touch)."""
    from atria_tui.core.serialize import plan_from_json, plan_to_json
    from atria_tui.engine.store import Store

    store = Store(home / "atria-tui.db") if (home / "atria-tui.db").exists() else None
    if store is None:
        found = sorted(home.rglob("*.db"))
        if not found:
            raise RuntimeError(f"no store under {home}")
        store = Store(found[0])
    try:
        text = store.plan_json(run_id)
        if not text:
            raise RuntimeError(f"plan run {run_id} has no stored plan")
        plan = plan_from_json(text)
        changes = plan.changes
        for n, item in enumerate(changes):
            item.approved = n < count
        store.set_plan(run_id, plan_to_json(plan), plan.period.end.isoformat())
        chosen = changes[:count]
        return len(chosen), len({i.contract_id for i in chosen})
    finally:
        store.close()


def cell_commands(b: Bench, cell: Cell, psa: str, table: bool) -> None:
    job = b.gen.cw_job if psa == "cw" else b.gen.ks_job
    name = "ConnectWise" if psa == "cw" else "Kaseya"
    home = f"home-{psa}"
    log(f"{cell.name}: {name} plan --format json")
    m, child = b.command(psa, ["plan", str(job), "--format", "json"], home, "plan-json")
    m.minimum, m.detail = plan_minimum(b.gen, psa, job.parent / (
        b.gen.cw_billing.name if psa == "cw" else b.gen.ks_billing.name))
    result = json_result(child)
    m.client = int(result.get("requests", -1))
    run_id = int(result.get("run_id", 0))
    kinds = Counter(str(i.get("action")) for i in result.get("items", [])
                    if i.get("action") not in (None, "none", "skip", "nothing"))
    m.outcome = f"{len(result.get('items', [])):,} rows; actions " + ", ".join(
        f"{v:,} {k}" for k, v in sorted(kinds.items()))
    if result.get("items") and result.get("status") != "Failed":
        m.failed = ""  # exit 2 with a plan: error-level rows (CW04…), not a failed run
    cell.runs[f"{psa} plan json"] = m
    log(f"  {m.wall:.1f} s, {m.rss_mb:.0f} MB, {m.server} requests (min {m.minimum}) "
        f"{m.failed}")
    if table:
        log(f"{cell.name}: {name} plan (table)")
        t, _ = b.command(psa, ["plan", str(job)], home, "plan-table")
        t.minimum, t.detail = m.minimum, m.detail
        if t.rc == 2 and not m.failed:
            t.failed = ""  # the same plan as the json run's: exit 2 for its error rows
        cell.runs[f"{psa} plan table"] = t
        log(f"  {t.wall:.1f} s, {t.rss_mb:.0f} MB")
    vjob = b.variant.cw_job if psa == "cw" else b.variant.ks_job
    log(f"{cell.name}: {name} plan, ~5% identifiers missing")
    v, vchild = b.command(psa, ["plan", str(vjob), "--format", "json"], home, "plan-missing")
    v.minimum, v.detail = plan_minimum(b.gen, psa, b.variant.cw_billing if psa == "cw"
                                       else b.variant.ks_billing)
    vresult = json_result(vchild)
    if vresult.get("items") and vresult.get("status") != "Failed":
        v.failed = ""
    cell.runs[f"{psa} plan missing"] = v
    log(f"  {v.wall:.1f} s, {v.server} requests (min {v.minimum})")
    a = Measured(f"atria-tui apply {job.name} --yes --plan N")
    if run_id and not m.failed:
        approved, contracts = approve_first(b.work / home, run_id, APPLY_CHANGES)
        log(f"{cell.name}: {name} apply --plan {run_id} ({approved} changes)")
        a, achild = b.command(psa, ["apply", str(job), "--yes", "--plan", str(run_id),
                                    "--format", "json"], home, "apply")
        a.minimum = contracts + approved + (1 if psa == "ks" else 0)
        a.writes = approved
        a.detail = f"{contracts:,} re-reads + {approved:,} writes"
        result = json_result(achild)
        a.client = int(result.get("requests", -1))
        writes = sum(v for k, v in a.by_endpoint.items()
                     if k.split(" ", 1)[0] in ("PATCH", "PUT")
                     or (k.startswith("POST") and "addition" in k))
        a.outcome = (f"{approved:,} approved, {writes:,} writes; run "
                     f"{result.get('status', '?')}")
        if a.failed and result.get("status") not in (None, "Failed"):
            a.failed = ""
        log(f"  {a.wall:.1f} s, {a.rss_mb:.0f} MB, {a.server} requests (min {a.minimum}) "
            f"{a.failed}")
    else:
        a.failed = "no plan run to apply"
    cell.runs[f"{psa} apply"] = a


# --- re-plan after a fix, in-process ------------------------------------------------------


@contextmanager
def virtual_budget(clock: VirtualClock) -> Iterator[None]:
    """Kaseya sessions opened in this process get the virtual clock's budget and sleeps."""
    from atria_tui.adapters.http import CallBudget
    from atria_tui.core.model import Task
    from atria_tui.services import engine as runs

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


async def replan(b: Bench, psa: str, customers: int) -> Replan:
    """Plan in-process, then the console's fix for up to 5 customers without an
    identifier, each re-planned from what was read (`review.apply_fix`)."""
    from atria_tui.core import gc_pause
    from atria_tui.core.model import Task
    from atria_tui.engine.secret_store import SecretStore
    from atria_tui.engine.store import Store
    from atria_tui.job.file import load_job
    from atria_tui.services import fixes as review
    from atria_tui.services.engine import plan_job
    from atria_tui.services.runtime import Runtime

    name = "ConnectWise" if psa == "cw" else "Kaseya"
    out = Replan(name, customers)
    # The variant export: enough customers without an identifier to fix five of them.
    src = b.variant.cw_job if psa == "cw" else b.variant.ks_job
    copy = src.with_name(src.stem + "-replan.toml")  # its fixes must not reach the others
    shutil.copyfile(src, copy)
    job = load_job(copy)
    home = b.work / f"replan-{psa}"
    home.mkdir(exist_ok=True)
    svc = Runtime(Store(home / "runs.db"), SecretStore(home / "secrets"), environ=b.env,
                  transport=b.served.clock.transport(), lock_dir=home / "locks")
    b.served.clock.offset.value += HOUR
    # As the console does: the plan is built, and each fix re-planned, with the cyclic
    # collector paused and what was built frozen (`core/gc_pause`), so no full
    # collection walks the whole plan in the middle of a fix.
    with virtual_budget(b.served.clock), gc_pause.building():
        planned = await plan_job(svc, job)
    if planned.plan is None or planned.context is None:
        out.failed = f"plan ended: {planned.status}"
        return out
    current, ctx = planned.plan, planned.context
    task = Task.CONNECTWISE if psa == "cw" else Task.KASEYA
    before, _ = b.served.counts(psa)
    threshold = job.options.swing_threshold
    for fix in [f for f in review.fix_queue(current) if f.kind == "customer"][:5]:
        choice = review.Choice("account", identifier_for(fix.customer_code, task),
                               fix.customer_name)
        t0 = time.perf_counter()
        with gc_pause.building():
            current = review.apply_fix(ctx, current, fix, choice, threshold)
        out.ms.append((time.perf_counter() - t0) * 1000)
        now = sorted({i.code for i in current.items if i.customer_code == fix.customer_code})
        out.fixes.append(f"{fix.customer_code}: {fix.code} → {', '.join(now)}")
    after, _ = b.served.counts(psa)
    out.requests = sum(after.values()) - sum(before.values())
    if not out.ms:
        out.failed = "no customer without a Billing Identifier in this data"
    svc.store.close()
    return out


# --- once per run -----------------------------------------------------------------------


def help_runs(work: Path, env: dict[str, str], times: int
              ) -> tuple[list[Measured], list[float], Measured]:
    """`--help` timed `times` times (and a bare interpreter beside it), then once more
    under `-X importtime` for what it loads (untimed: the import log costs time)."""
    out: list[Measured] = []
    bare: list[float] = []
    home = {**env, "ATRIA_TUI_HOME": str(work / "home-help")}
    for n in range(times):
        c = spawn([*cli(), "--help"], home, work / f"help-{n}")
        out.append(Measured("atria-tui --help", wall=c.wall, rss_mb=c.rss_mb, cpu=c.cpu,
                            rc=c.rc))
        bare.append(spawn([sys.executable, "-c", "pass"], home, work / f"bare-{n}").wall)
    c = spawn([*cli(), "--help"], {**home, "PYTHONPROFILEIMPORTTIME": "1"}, work / "help-x")
    probe = Measured("atria-tui --help", wall=c.wall, rss_mb=c.rss_mb, rc=c.rc,
                     imports=loaded(c.stderr.read_text("utf-8", errors="replace")))
    return out, bare, probe


STREAM = re.compile(r"^\| (Stream: [^|]*?)(?: \([^|]*\))? \| (\d+) ms \|")


def console_runs(work: Path, rows: int, times: int, keep: Path | None = None,
                 command: str = "") -> list[dict[str, float]]:
    """`benchmarks.console_bench` as child processes, `times` in a row; its stream rows.
    The last run's full tables go to `keep` (RESULTS-console.md), saying which run made it."""
    out: list[dict[str, float]] = []
    for n in range(1, times + 1):
        log(f"console benchmark, run {n} of {times} ({rows:,} rows)")
        target = work / f"console-{n}.md"
        c = spawn([sys.executable, "-m", "benchmarks.console_bench", "--rows", str(rows),
                   "--out", str(target)], dict(os.environ), work / f"console-{n}")
        found: dict[str, float] = {}
        if c.rc == 0 and target.exists():
            for line in target.read_text("utf-8").splitlines():
                m = STREAM.match(line)
                if m:
                    found[m.group(1).strip()] = float(m.group(2))
            if keep is not None and n == times:
                text = target.read_text("utf-8").replace(
                    f"--out {target}`", f"--out {keep}` (run {n} of {times} of `{command}`)")
                keep.write_text(text, encoding="utf-8")
        out.append(found)
    return out


# --- the whole run ----------------------------------------------------------------------


def bench(args: argparse.Namespace, work: Path,
          partial: Callable[[Results], None] = lambda r: None) -> Results:
    """Every cell, then the console; `partial` gets the results after each cell (a long
    run that is stopped still leaves what it measured)."""
    started = time.perf_counter()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ATRIA_TUI_",
                                                                    "PYTHONPROFILE"))}
    env.update(_secrets_env())
    env.setdefault("COLUMNS", "160")
    results = Results(command="python -m benchmarks.run " + shlex.join(args.argv))
    results.help, results.bare_python, results.help_probe = help_runs(
        work, env, args.help_runs)
    if args.console_runs:  # first: a long run that is stopped early still has them
        results.console_rows = args.console_rows
        results.console = console_runs(work, args.console_rows, args.console_runs,
                                       args.console_out, results.command)
    data: dict[int, tuple[Generated, Variant]] = {}
    for customers in args.customers:
        gen = generate(work / f"data-{customers}", customers, args.seed)
        variant = missing_variant(gen)
        data[customers] = gen, variant
        results.data[customers] = (f"{gen.customers:,} customers, {gen.records:,} "
                                   f"current-period billing records, {gen.lines:,} contract "
                                   f"lines; the variant blanks {variant.blanked:,} more "
                                   f"identifiers")
        log(f"generated {results.data[customers]}")
    # The slowest cells first (the 5,000 × 100 ms leads), each latency for every
    # size before the next latency, so a stopped run has the apply comparison at one.
    for latency in sorted(args.latency_ms, reverse=True):
        for customers in sorted(args.customers, reverse=True):
            gen, variant = data[customers]
            cell = Cell(customers, latency)
            results.cells.append(cell)
            cell_work = work / f"cell-{customers}-{latency}"
            cell_data = cell_work / "data"
            cell_work.mkdir()
            shutil.copytree(gen.folder, cell_data)
            gen_c = generate_paths(gen, cell_data)
            var_c = variant_paths(variant, cell_data)
            served = start(gen_c.cw_seed, gen_c.ks_seed, latency_ms=latency,
                           clock_file=cell_work / "clock")
            try:
                point_jobs(cell_data, served.base)
                b = Bench(served, gen_c, var_c, cell_work, env)
                cell_commands(b, cell, "cw", table=True)
                cell_commands(b, cell, "ks", table=False)
                first = all(r.customers != customers for r in results.replans)
                if first and not args.no_replan:  # no request: once per size is enough
                    for psa in ("cw", "ks"):
                        log(f"{customers:,} customers: {psa} re-plan after a fix, in-process")
                        results.replans.append(asyncio.run(replan(b, psa, customers)))
            finally:
                served.stop()
            results.total_seconds = time.perf_counter() - started
            partial(results)
    results.total_seconds = time.perf_counter() - started
    return results


def generate_paths(gen: Generated, folder: Path) -> Generated:
    def moved(p: Path) -> Path:
        return folder / p.name

    return Generated(folder, moved(gen.cw_seed), moved(gen.ks_seed), moved(gen.cw_billing),
                     moved(gen.ks_billing), moved(gen.cw_job), moved(gen.ks_job),
                     gen.customers, gen.records, gen.lines)


def variant_paths(v: Variant, folder: Path) -> Variant:
    return Variant(folder / v.cw_billing.name, folder / v.ks_billing.name,
                   folder / v.cw_job.name, folder / v.ks_job.name, v.blanked)


def markdown(results: Results, args: argparse.Namespace) -> str:
    import importlib.metadata

    data = "; ".join(f"{d}" for d in results.data.values())
    return "\n".join([
        "# Benchmark results: what a user runs", "",
        f"Command: `{results.command}`  ",
        f"Recorded {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
        f"Python {platform.python_version()}, atria-tui "
        f"{importlib.metadata.version('atria-tui')}, {_cores()} cores shared with other "
        f"work (load average {_load()} when written). Whole command: "
        f"{report.hours(results.total_seconds)} real time.", "",
        f"Data: {data}.", "",
        "## Targets (issue 12)", "",
        "Every measured row: its target, what was measured, the requests the server answered "
        "÷ the API's minimum where requests are made, and whether it is met or by how much "
        "it misses.", "",
        report.table(results),
        report.why_section([r[0] for r in report.rows(results) if r[-1] != "met"]),
        "## Every command, the cells side by side", "",
        "Wall time (the child's CPU time: less sensitive to a busy machine), its own peak "
        "RSS, requests the server answered (÷ minimum).", "",
        report.side_by_side(results),
        "## How long a full Kaseya plan takes under the 1,500 calls/hour/route budget", "",
        report.kaseya_eta(results),
        "## Re-plan fixes", "",
        "\n".join(f"- {r.psa}, {r.customers:,} customers: " + "; ".join(r.fixes or
                                                                       [r.failed])
                  for r in results.replans) or "- not run", "",
        "## Console stalls, the benchmark run twice in a row", "",
        report.console_table(results) or "not run", "",
        report.NOTES]).rstrip() + "\n"


def _load() -> str:
    """The 1/5/15-minute load: wall times on a shared machine mean little without it."""
    return " / ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") \
        else "n/a"


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1


def _ints(text: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: a comma-separated list of numbers")\
            from None
    if not values or min(values) < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: numbers >= 0, at least one")
    return values


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description="What a user runs, measured (issue 12).")
    ap.add_argument("--customers", type=_ints, default=[2000, 5000],
                    help="sizes, comma-separated (default 2000,5000)")
    ap.add_argument("--latency-ms", type=_ints, default=[20, 100],
                    help="latencies per request, comma-separated (default 20,100)")
    ap.add_argument("--quick", action="store_true",
                    help="50 and 100 customers, 5 ms, a 200-row console run: proves the script "
                    "works end to end (its numbers mean little)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--console-rows", type=int, default=50_000)
    ap.add_argument("--console-runs", type=int, default=2,
                    help="console benchmark runs in a row (0: skip)")
    ap.add_argument("--console-out", type=Path,
                    help="write the last console run's full tables here "
                    "(benchmarks/RESULTS-console.md)")
    ap.add_argument("--help-runs", type=int, default=5)
    ap.add_argument("--no-replan", action="store_true", help="skip the in-process re-plan")
    ap.add_argument("--out", type=Path, help="write the Markdown here (also printed)")
    args = ap.parse_args(argv)
    args.argv = argv
    if args.quick:
        args.customers, args.latency_ms = QUICK_CUSTOMERS, [QUICK_LATENCY_MS]
        args.console_rows, args.help_runs = min(args.console_rows, QUICK_CONSOLE_ROWS), 2
    if min(args.customers) < 1:
        ap.error("--customers must be >= 1")
    def partial(results: Results) -> None:
        if args.out:
            args.out.write_text(markdown(results, args).replace(
                "Whole command:", "**Partial: the run is still going.** So far:"), "utf-8")

    with tempfile.TemporaryDirectory(prefix="atria-bench-") as tmp:
        results = bench(args, Path(tmp), partial)
    text = markdown(results, args)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
