"""The `atria-tui plan` command measured from outside, as a user runs it (issue 12).

Generates a workload (`generate.py`), optionally blanks the Billing Identifier of a share of
the customers, serves it (`server.py`, with Kaseya's budget raised so nothing waits), and
runs the CLI as a child process once per format: its peak RSS (`RUSAGE_CHILDREN`), wall and
CPU time, and the requests the server counted against the minimum the data needs
(`report.py`). Then the re-plan after console fixes, in-process, on what the plan read.

    python -m benchmarks.cli_probe --customers 2000 --missing 0.05 --out benchmarks/RESULTS-cli.md
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import tomli_w

from atria_tui.core.model import Mappings, Task, norm
from atria_tui.core.records import iter_records, sum_records
from atria_tui.engine.reconcile import PlanBuilder, scope
from atria_tui.job.file import load_job
from atria_tui.services.run_checks import prepare
from atria_tui.services.runtime import Runtime
from benchmarks import report
from benchmarks.generate import Generated, generate, identifier_for
from benchmarks.run import ENVIRON
from benchmarks.server import Served, start

BUDGET = 1_000_000  # Kaseya's hourly budget is `run.py`'s subject; here nothing waits


def blank_identifiers(gen: Generated, share: float, seed: int) -> int:
    rng = random.Random(seed)
    dropped = 0
    for path in (gen.cw_billing, gen.ks_billing):
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        codes = sorted({r[0] for r in rows[1:]})
        drop = set(rng.sample(codes, int(len(codes) * share)))
        for r in rows[1:]:
            if r[0] in drop:
                r[2] = ""
        with open(path, "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows(rows)
        dropped = len(drop)
    return dropped


def point_jobs(gen: Generated, served: Served) -> None:
    for path, url in ((gen.cw_job, served.cw_url), (gen.ks_job, served.ks_url)):
        d = tomllib.loads(path.read_text("utf-8"))
        d["parameters"]["ApiUrl"] = url
        d["options"]["call_budget_per_hour"] = BUDGET
        path.write_text(tomli_w.dumps(d), encoding="utf-8")


def served_total(url: str) -> int:
    return int(httpx.get(url + "/_sandbox/stats", timeout=30).json().get("total", 0))


def run_cli(job: Path, fmt: str, url: str, home: Path) -> dict[str, Any]:
    """One `atria-tui plan` child; RUSAGE_CHILDREN's maxrss is the largest child so far, so
    every run is its own short-lived parent (`-c`), whose child maxrss it prints."""
    env = {**os.environ, **ENVIRON, "ATRIA_TUI_HOME": str(home)}
    exe = str(Path(sys.executable).with_name("atria-tui"))
    probe = ("import resource,subprocess,sys,time;t=time.perf_counter();"
             "r=subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL).returncode;"
             "u=resource.getrusage(resource.RUSAGE_CHILDREN);"
             "print(r,u.ru_maxrss,time.perf_counter()-t,u.ru_utime+u.ru_stime)")
    before = served_total(url)
    out = subprocess.run([sys.executable, "-c", probe, exe, "plan", str(job), "--format", fmt],
                         env=env, capture_output=True, text=True, check=True).stdout.split()
    return {"format": fmt, "exit": int(out[0]), "rss_mb": int(out[1]) / 1024,
            "wall": float(out[2]), "cpu": float(out[3]),
            "requests": served_total(url) - before}


def minimum(gen: Generated, task: Task) -> tuple[int, Any]:
    job = load_job(gen.cw_job if task is Task.CONNECTWISE else gen.ks_job)
    params, _ = prepare(_runtime(), job)
    assert job.source.path is not None
    records = sum_records(iter_records(job.source.path, period_end=params.period.end,
                                       previous_end=params.previous.end))
    sc = scope(records, params, Mappings())
    if task is Task.CONNECTWISE:
        seed = json.loads(gen.cw_seed.read_text("utf-8"))
        parts = report.cw_plan_minimum(seed, sc.identifiers, sc.skus, params.contract_type)
    else:
        seed = json.loads(gen.ks_seed.read_text("utf-8"))
        parts = report.ks_plan_minimum(seed, sc.identifiers, params.contract_type)
    return sum(parts.values()), (records, params)


def _runtime(home: Path | None = None) -> Runtime:
    from atria_tui.engine.secret_store import SecretStore
    from atria_tui.engine.store import Store

    folder = home or Path(tempfile.mkdtemp())
    folder.mkdir(parents=True, exist_ok=True)
    return Runtime(Store(folder / "runs.db"), SecretStore(folder / "secrets"), environ=ENVIRON)


def replans(job_path: Path, home: Path, task: Task) -> dict[str, list[float]]:
    """Re-plan after fixes as the console makes them (a customer's Billing Identifier, a
    SKU mapped to another product, each made and removed again), on what a plan read."""
    import asyncio

    from atria_tui.services.engine import plan_job

    res = asyncio.run(plan_job(_runtime(home), load_job(job_path)))
    assert res.context is not None
    c = res.context
    builder = PlanBuilder(c.records, c.snapshot, c.params)
    first = builder.plan(Mappings())
    missing = [i.customer_code for i in first.items if i.code in ("CW04", "KS09")][:5]
    skus = sorted({i.sku for i in first.items if i.sku})
    out: dict[str, list[float]] = {"customer": [], "sku": []}
    for kind, fixes in (("customer", [Mappings({norm(c): identifier_for(c, task)})
                                      for c in missing]),
                        ("sku", [Mappings(skus={norm(s): skus[-1]}) for s in skus[:5]])):
        for m in fixes:
            for mappings in (m, Mappings()):
                t = time.perf_counter()
                builder.plan(mappings)
                out[kind].append((time.perf_counter() - t) * 1000)
    return out


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=2000)
    ap.add_argument("--missing", type=float, default=0.05,
                    help="share of customers with no Billing Identifier")
    ap.add_argument("--latency-ms", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    lines = ["# `atria-tui plan` measured from outside", "",
             f"Command: `python -m benchmarks.cli_probe {shlex.join(argv)}`  ",
             f"Recorded {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; the CLI is a child process, "
             "its peak RSS from `RUSAGE_CHILDREN`, requests counted by the server.", ""]
    with tempfile.TemporaryDirectory(prefix="atria-cli-probe-") as tmp:
        work = Path(tmp)
        gen = generate(work / "data", args.customers, args.seed)
        blanked = blank_identifiers(gen, args.missing, args.seed) if args.missing else 0
        served = start(gen.cw_seed, gen.ks_seed, latency_ms=args.latency_ms,
                       budget_per_hour=BUDGET)
        try:
            point_jobs(gen, served)
            lines += [f"{gen.customers:,} customers ({blanked} without a Billing Identifier), "
                      f"{gen.records:,} billing records, {gen.lines:,} contract lines, "
                      f"{args.latency_ms} ms latency.", "",
                      "| PSA | format | peak RSS | wall | CPU | requests | minimum | ratio |",
                      "|---|---|---|---|---|---|---|---|"]
            for task, job, url in ((Task.CONNECTWISE, gen.cw_job, served.cw_url),
                                   (Task.KASEYA, gen.ks_job, served.ks_url)):
                least, _ = minimum(gen, task)
                for fmt in ("json", "table"):
                    r = run_cli(job, fmt, url, work / f"home-{task.value}-{fmt}")
                    lines.append(f"| {task.psa_name} | {fmt} | {r['rss_mb']:.0f} MB | "
                                 f"{r['wall']:.1f} s | {r['cpu']:.1f} s | {r['requests']:,} | "
                                 f"{least:,} | {r['requests'] / least:.3f} |")
                    print(lines[-1], file=sys.stderr, flush=True)
            times = replans(gen.cw_job, work / "home-replan", Task.CONNECTWISE)
            lines += ["", "Re-plan after a console fix (ConnectWise, in-process, 10 each):", "",
                      "| fix | median | worst |", "|---|---|---|"]
            for kind, ms in times.items():
                if ms:
                    lines.append(f"| {kind} | {statistics.median(ms):.1f} ms | "
                                 f"{max(ms):.1f} ms |")
        finally:
            served.stop()
    text = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
