"""What an apply costs as its plan grows: N unchanged lines beside 1,000 changes.

An apply's cost should follow its writes. This drives the real applier and the real run
bookkeeping (`services.engine._Run.log`: redaction, time stamps, the store on disk, in a
temp folder) against a fake PSA session in memory that answers at once, so what is left is
the tool's own cost per plan row and per write: the wall time should barely move from
N = 5,000 to N = 44,000 (a big MSP's contract lines).

    python -m benchmarks.apply_cost --unchanged 5000 44000 --out benchmarks/RESULTS-apply.md

It uses only what the applier had before its log followed the writes (`Applier(plan,
session, store, run_id, sink=...)`), so the same script measures an older checkout.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import shlex
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from atria_tui.core.model import Action, Level, Period, Plan, PlanItem, PsaLine, Task
from atria_tui.engine.apply import Applier
from atria_tui.engine.secret_store import SecretStore
from atria_tui.engine.store import Store
from atria_tui.job.file import new_job
from atria_tui.services.engine import _Run
from atria_tui.services.runtime import Runtime

PERIOD = Period(date(2026, 10, 26), date(2026, 11, 25))
LINES_PER_CONTRACT = 9  # ~44k lines over ~5k customers


class MemoryPsa:
    """A PSA session in memory: contract lines by contract, writes applied at once."""

    def __init__(self, lines: dict[str, dict[str, Decimal]]) -> None:
        self.lines = lines
        self.requests = 0

    async def contract_lines(self, contract_id: str) -> list[PsaLine]:
        self.requests += 1
        return [PsaLine(k, contract_id, "p", k, "", q)
                for k, q in self.lines.get(contract_id, {}).items()]

    async def set_quantity(self, contract_id: str, line_id: str, quantity: Decimal) -> None:
        self.requests += 1
        self.lines[contract_id][line_id] = quantity

    async def add_line(self, contract_id: str, product_id: str, quantity: Decimal,
                       description: str, effective: date) -> str:
        raise AssertionError("the benchmark plan adds no line")


def workload(unchanged: int, changes: int) -> tuple[Plan, MemoryPsa]:
    """A ConnectWise plan of `changes` updates spread evenly among `unchanged` CW09 rows,
    contract by contract as reconcile orders them."""
    items: list[PlanItem] = []
    lines: dict[str, dict[str, Decimal]] = {}
    step = max(1, (unchanged + changes) // changes) if changes else 0
    for n in range(unchanged + changes):
        contract = f"c{n // LINES_PER_CONTRACT}"
        line = f"L{n}"
        writes = bool(step) and n % step == 0 and n // step < changes
        before, after = Decimal(5), Decimal(7 if writes else 5)
        lines.setdefault(contract, {})[line] = before
        items.append(PlanItem(
            key=f"k{n}", customer_code=f"C{n // LINES_PER_CONTRACT:05d}",
            customer_name="Customer", sku=line, billing_identifier="B", description=line,
            atria_quantity=after, psa_quantity=before,
            action=Action.UPDATE if writes else Action.NONE, code="CW07" if writes else "CW09",
            level=Level.INFO if writes else Level.VERBOSE,
            message=f"{line} {'updated' if writes else 'located – quantity is unchanged'}",
            contract_id=contract, line_id=line, product_id=line, product_code=line,
            approved=True))
    return Plan(Task.CONNECTWISE, PERIOD, items), MemoryPsa(lines)


async def one(unchanged: int, changes: int) -> tuple[float, int, int]:
    """(wall seconds, log entries stored, journal rows) of one apply."""
    plan, psa = workload(unchanged, changes)
    with tempfile.TemporaryDirectory(prefix="apply-cost-") as folder:
        store = Store(Path(folder) / "atria-tui.db")
        svc = Runtime(store=store, secrets=SecretStore(Path(folder)))
        job = new_job(Task.CONNECTWISE, "apply cost")
        job.id = "apply-cost"
        started = time.perf_counter()
        run = _Run(svc, job, "apply", None)
        applier = Applier(plan, psa, store, run.run_id, sink=run.log)  # type: ignore[arg-type]
        outcome = await applier.run()
        await run.finish(None)
        wall = time.perf_counter() - started
        assert outcome.applied == changes, outcome
        logged = len(store.log(run.run_id))
        journal = len(store.journal(run.run_id))
        store.close()
    return wall, logged, journal


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--unchanged", type=int, nargs="+", default=[5000, 44000])
    ap.add_argument("--changes", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    ap.add_argument("--out", type=Path, help="also write the table here (Markdown)")
    args = ap.parse_args()
    command = "python -m benchmarks.apply_cost " + shlex.join(sys.argv[1:])
    lines = ["# Apply cost against plan size", "",
             f"Command: `{command}`  ",
             f"Recorded {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
             f"Python {platform.python_version()}. A fake PSA in memory answers at once: "
             "what is measured is the tool's own cost (applier, run log, store on disk).", "",
             "| unchanged lines | changes | apply wall time (best of "
             f"{args.repeat}) | log entries | journal rows |", "|---|---|---|---|---|"]
    print("\n".join(lines), flush=True)
    for n in args.unchanged:
        runs = [asyncio.run(one(n, args.changes)) for _ in range(args.repeat)]
        wall = min(r[0] for r in runs)
        _, logged, journal = runs[0]
        lines.append(f"| {n:,} | {args.changes:,} | {wall:.2f} s | {logged:,} | {journal:,} |")
        print(lines[-1], flush=True)
    if args.out:
        args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
