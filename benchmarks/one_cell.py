"""One command of one cell of `benchmarks.run`, measured the same way, to work on a miss.

The full matrix takes ~24 min; fixing one row needs that row alone, run again and again:
this serves one size × latency (`server.py`), runs one CLI command as a child process
through `run.spawn` (its own wall, CPU and peak RSS from `wait4`), and prints those with
the requests the server answered and the server process's own CPU over the command (on 2
shared cores the server competes with the client, so CPU seconds compare better than wall).

    python -m benchmarks.one_cell --customers 5000 --latency-ms 20 --psa cw plan-json
    python -m benchmarks.one_cell --customers 5000 --latency-ms 20 --psa cw apply
    python -m benchmarks.one_cell ... --wrap "python -m cProfile -o /tmp/plan.prof" plan-json

`--data DIR` keeps the generated data between runs (generated once per size and seed).
`apply` plans first (json), approves the first 1,000 changes as `run.approve_first` does,
then measures `apply --yes --plan N`, as the full run does.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

from benchmarks.generate import Generated, generate, point_jobs
from benchmarks.generate import with_missing_identifiers as missing_variant
from benchmarks.run import (
    APPLY_CHANGES,
    HOUR,
    _secrets_env,
    approve_first,
    cli,
    generate_paths,
    spawn,
)
from benchmarks.server import start


def _cpu_of(pid: int) -> float:
    """User + system CPU seconds of a live process (Linux /proc), 0 when unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="One command of one benchmark cell.")
    ap.add_argument("command", choices=["plan-json", "plan-table", "plan-missing", "apply",
                                        "help"])
    ap.add_argument("--customers", type=int, default=5000)
    ap.add_argument("--latency-ms", type=int, default=20)
    ap.add_argument("--psa", choices=["cw", "ks"], default="cw")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--data", type=Path, help="keep generated data here between runs")
    ap.add_argument("--wrap", default="", help="argv prefix instead of the atria-tui script, "
                    "e.g. 'python -m cProfile -o /tmp/x.prof' (the script path follows)")
    ap.add_argument("--times", type=int, default=1, help="measure the command this often")
    ap.add_argument("--profile-server", type=Path, metavar="FILE",
                    help="py-spy (if installed) samples the server during the measured "
                    "command, raw stacks written here")
    ap.add_argument("--keep", type=Path, help="copy the work folder here at the end")
    args = ap.parse_args(argv)

    data = args.data or Path(tempfile.mkdtemp(prefix="atria-cell-data-"))
    folder = data / f"data-{args.customers}-{args.seed}"
    if not (folder / "cw-missing.toml").exists():
        gen = generate(folder, args.customers, args.seed)
        missing_variant(gen)
    work = Path(tempfile.mkdtemp(prefix="atria-cell-"))
    cell = work / "data"
    shutil.copytree(folder, cell)
    gen = generate_paths(_paths(folder, args.customers), cell)
    served = start(gen.cw_seed, gen.ks_seed, latency_ms=args.latency_ms,
                   clock_file=work / "clock")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ATRIA_TUI_", "PYTHONPROFILE"))}
    env.update(_secrets_env())
    env.setdefault("COLUMNS", "160")
    env["ATRIA_TUI_HOME"] = str(work / f"home-{args.psa}")
    try:
        point_jobs(cell, served.base)
        job = gen.cw_job if args.psa == "cw" else gen.ks_job
        if args.command == "plan-missing":
            job = cell / f"{args.psa}-missing.toml"
        plan_args = ["plan", str(job), "--format", "json"]
        if args.command == "plan-table":
            plan_args = ["plan", str(job)]
        if args.command == "help":
            plan_args = ["--help"]

        def base_argv() -> list[str]:
            if args.psa == "ks":
                served.clock.offset.value += HOUR
                return [sys.executable, "-m", "benchmarks.virtual_cli",
                        str(served.clock.offset.path)]
            if args.wrap:
                return [*shlex.split(args.wrap), cli()[-1]]
            return cli()

        if args.command == "apply":
            c = spawn([*(cli() if args.psa == "cw" else base_argv()), *plan_args], env,
                      work / "plan")
            result = json.loads(c.stdout.read_text("utf-8"))
            run_id = int(result["run_id"])
            approved, contracts = approve_first(work / f"home-{args.psa}", run_id,
                                                APPLY_CHANGES)
            print(f"planned run {run_id} in {c.wall:.1f} s; approved {approved} changes "
                  f"on {contracts} contracts", file=sys.stderr)
            cmd = ["apply", str(job), "--yes", "--plan", str(run_id), "--format", "json"]
        else:
            cmd = plan_args
        for n in range(args.times):
            before, _ = served.counts(args.psa)
            server_cpu = _cpu_of(served.process.pid or 0)
            spy = None
            if args.profile_server:
                import subprocess

                spy = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record",
                                        "-f", "raw", "-r", "100", "--nonblocking", "-o",
                                        str(args.profile_server), "--pid",
                                        str(served.process.pid)])
            c = spawn([*base_argv(), *cmd], env, work / f"measured-{n}")
            server_cpu = _cpu_of(served.process.pid or 0) - server_cpu
            if spy is not None:
                import signal

                spy.send_signal(signal.SIGINT)
                spy.wait(60)
            after, _ = served.counts(args.psa)
            delta = Counter(after)
            delta.subtract(before)
            tail = c.stderr.read_text("utf-8", errors="replace").strip().splitlines()[-2:]
            print(f"{args.psa} {args.command} {args.customers}x{args.latency_ms}ms: "
                  f"wall {c.wall:.2f} s, CPU {c.cpu:.2f} s, peak RSS {c.rss_mb:.0f} MB, "
                  f"rc {c.rc}, {sum(delta.values()):,} requests, server CPU "
                  f"{server_cpu:.2f} s" + (f" | {' / '.join(tail)[:200]}" if c.rc else ""))
    finally:
        served.stop()
        if args.keep:
            shutil.copytree(work, args.keep, dirs_exist_ok=True)
        shutil.rmtree(work, ignore_errors=True)
        if args.data is None:
            shutil.rmtree(data, ignore_errors=True)
    return 0


def _paths(folder: Path, customers: int) -> Generated:
    """The paths `generate` wrote into `folder` (its counts are not needed here)."""
    return Generated(folder, folder / "cw-seed.json", folder / "ks-seed.json",
                     folder / "cw-billing.csv", folder / "ks-billing.csv",
                     folder / "cw-job.toml", folder / "ks-job.toml", customers, 0, 0)


if __name__ == "__main__":
    raise SystemExit(main())
