"""The console benchmark's workload, and the runs its screens start without a PSA.

One seed number describes ~2,500 customers' billing records and their ConnectWise
agreements, built in memory so that the real `reconcile.plan` turns them into exactly the
requested number of plan rows with a real month's mix: mostly unchanged lines (CW09), some
quantity changes (CW07, decreases among them, which start unapproved), removed lines
(CW20), new lines (CW08), unknown and missing SKUs (CW06, CW05), ambiguous lines (TU03),
and a few customers without a Billing Identifier or unknown to the PSA (CW04, CW14).

`Fakes` stands in for `plan_job`/`apply_job` while the benchmark runs: they do the local
work a real run does once the PSA has answered (reconcile, the plan's JSON in the store,
one stored log entry per row, the sink and progress calls), so the UI competes with the
same worker-thread load as in production, minus the network.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from atria_tui.core.model import (
    BillingRecord,
    CatalogItem,
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
from atria_tui.core.serialize import plan_to_json
from atria_tui.engine.apply import ApplyOutcome, journal_rows
from atria_tui.engine.reconcile import ReconcileParams, plan_entries
from atria_tui.engine.store import SUCCESS
from atria_tui.job.file import JobConfig, new_job
from atria_tui.services.engine import PlanContext, RunResult
from atria_tui.services.runtime import Runtime

__all__ = ["Fakes", "Workload", "build_workload", "swapped"]

PERIOD = Period(date(2026, 10, 26), date(2026, 11, 25))
PREVIOUS = Period(date(2026, 9, 26), date(2026, 10, 25))
AGREEMENT = "Hosting and Cloud Services"
FAMILIES = [("M365-BP", "Microsoft 365 Business Premium"), ("M365-E3", "Microsoft 365 E3"),
            ("EXO-P1", "Exchange Online Plan 1"), ("AZ-VM", "Azure virtual machine"),
            ("BKP-M365", "Cloud backup for Microsoft 365"), ("DEF-EP", "Defender for Endpoint"),
            ("TEAMS-PH", "Teams Phone"), ("SQL-STD", "SQL Server Standard"),
            ("VEEAM-VBR", "Veeam Backup & Replication"), ("CTX-VD", "Citrix virtual desktop")]
# What happened to a billed line this month, with weights: mostly nothing, as in real life.
KINDS = [("same", 840), ("change", 90), ("removed", 25), ("add", 15), ("unknown", 10),
         ("nosku", 10), ("ambiguous", 5)]
WORDS = ["Northwind", "Contoso", "Fabrikam", "Tailspin", "Litware", "Adatum", "Proseware",
         "Wingtip", "Coho", "Alpine", "Lucerne", "Margie", "Trey", "Humongous", "Fourth"]
SUFFIX = ["Ltd", "Group", "Partners", "Dental", "Legal", "Logistics", "Clinic", "Studio"]

Mark = Callable[[str], AbstractContextManager[None]]


@dataclass
class Workload:
    job: JobConfig
    params: ReconcileParams
    records: list[BillingRecord]
    snapshot: PsaSnapshot
    customers: int
    sample_customer: str

    def context(self) -> PlanContext:
        return PlanContext(self.job, self.params, self.records, self.snapshot, Mappings())

    def plan(self) -> tuple[Plan, PlanContext]:
        """A fresh plan (reviews mutate approvals, so every scenario gets its own)."""
        ctx = self.context()
        return ctx.replan(), ctx


class _Builder:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        rng = self.rng
        self.catalog = [CatalogItem(str(100 + n), f"{fam}-{size:02d}", f"{name} tier {size}",
                                    f"{name} tier {size}", Decimal(rng.randrange(200, 9000)) / 100)
                        for n, (fam, name, size) in enumerate(
                            (f, nm, s) for f, nm in FAMILIES for s in range(1, 41))]
        self.snap = PsaSnapshot(catalog=list(self.catalog))
        self.records: list[BillingRecord] = []
        self.line_id = 1000

    def record(self, who: tuple[str, str, str], sku: str, desc: str, qty: int,
               end: date) -> None:
        """Quantities arrive split over a few billing lines, as Atria exports them."""
        parts = 1 if qty < 4 or self.rng.random() < 0.6 else 2
        for p in range(parts):
            share = qty // parts + (qty % parts if p == 0 else 0)
            self.records.append(BillingRecord(*who, sku, f"{desc} · user {p}", desc,
                                              Decimal(share), True, end,
                                              len(self.records) + 2))

    def problem_customer(self, who: tuple[str, str, str]) -> None:
        """No Billing Identifier (CW04) or one the PSA does not know (CW14): one row."""
        for item in self.rng.sample(self.catalog, 3):
            self.record(who, item.code, item.name, self.rng.randrange(1, 30), PERIOD.end)

    def customer(self, number: int, who: tuple[str, str, str], rows: int) -> None:
        """A customer whose plan has exactly `rows` rows (plus two lines Atria never bills)."""
        code, name, bi = who
        rng = self.rng
        account = PsaAccount(str(number), bi, name)
        contract = PsaContract(f"A{number}", account.id, f"{name} · {AGREEMENT}", AGREEMENT)
        self.snap.accounts[bi.casefold()] = account
        self.snap.contracts[account.id] = [contract]
        lines: list[PsaLine] = []
        kinds, weights = zip(*KINDS, strict=True)
        for j, item in enumerate(rng.sample(self.catalog, rows + 2)):
            kind = rng.choices(kinds, weights)[0] if j < rows else "untouched"
            qty = rng.randrange(1, 250)
            self.line_id += 1
            line = PsaLine(str(self.line_id), contract.id, item.id, item.code, item.name,
                           Decimal(qty), item.price)
            if kind in ("same", "change", "removed", "untouched"):
                lines.append(line)
            elif kind == "ambiguous":
                lines += [line, replace(line, id=f"{self.line_id}b")]
            if kind in ("same", "ambiguous", "add"):
                self.record(who, item.code, item.name, qty, PERIOD.end)
            elif kind == "change":
                now = qty + rng.choice((-1, 1)) * rng.randrange(1, max(2, qty // 2))
                self.record(who, item.code, item.name, max(1, now), PERIOD.end)
            elif kind == "removed":
                self.record(who, item.code, item.name, qty, PREVIOUS.end)
            elif kind == "unknown":
                self.record(who, f"LEGACY-{self.line_id}", f"Legacy service {self.line_id}",
                            qty, PERIOD.end)
            elif kind == "nosku":
                self.record(who, "", f"Custom work {self.line_id}", qty, PERIOD.end)
        self.snap.lines[contract.id] = lines


def build_workload(rows: int, seed: int = 11) -> Workload:
    """Records and a PSA snapshot whose plan has exactly `rows` rows (deterministic)."""
    b = _Builder(seed)
    job = new_job(Task.CONNECTWISE, "Transfer Billing Data to ConnectWise (console bench)")
    job.parameters.update(ApiUrl="https://bench.invalid/v4_6_release/apis/3.0",
                          AllowAtriaCreateAdditions=True)
    job.id = "console-bench"
    params = ReconcileParams(task=Task.CONNECTWISE, period=PERIOD, previous=PREVIOUS,
                             allow_create=True, contract_type=AGREEMENT)
    left, number = rows, 0
    while left > 0:
        number += 1
        code = f"C{number:04d}"
        name = f"{b.rng.choice(WORDS)} {b.rng.choice(WORDS)} {b.rng.choice(SUFFIX)}"
        problem = b.rng.random() if left > 1 else 1.0
        if problem < 0.012:
            b.problem_customer((code, name, "" if problem < 0.006 else f"{code}-BI"))
            left -= 1
            continue
        n = min(left, b.rng.randrange(8, 33))
        b.customer(number, (code, name, f"{code}-BI"), n)
        left -= n
    b.rng.shuffle(b.records)
    return Workload(job, params, b.records, b.snap, number, f"C{max(1, number // 2):04d}")


@dataclass
class Fakes:
    """`plan_job` and `apply_job` for the screens: a real run's local work, no HTTP."""

    svc: Runtime
    work: Workload
    mark: Mark = field(default=lambda label: nullcontext())
    ready: tuple[Plan, PlanContext] | None = None  # handed over at once (open timing)
    stamp: datetime = field(default_factory=lambda: datetime(2026, 11, 26, 22, 0, tzinfo=UTC))

    def entry(self, n: int, e: LogEntry) -> LogEntry:
        return replace(e, time=self.stamp + timedelta(milliseconds=20 * n))

    async def plan_job(self, svc: Runtime, job: JobConfig, *, sink: Any = None,
                       progress: Callable[[str, int, int], None] | None = None) -> RunResult:
        store = self.svc.store
        run_id = store.start_run(job.key, job.label, job.task.value, "plan")
        if self.ready is not None:
            p, ctx = self.ready
        else:  # what plan_job does once the PSA has answered: reconcile, store, log per row
            for step in range(0, self.work.customers + 1, 250):
                if progress:
                    progress(f"Reading {job.task.psa_name}", step, self.work.customers)
            ctx = self.work.context()
            p = ctx.replan()
            with self.mark("plan_to_json (worker)"):
                text = plan_to_json(p)
            store.set_plan(run_id, text, p.period.end.isoformat())
            for n, e in enumerate(plan_entries(p)):
                store.add_log(run_id, [self.entry(n, e)])
        store.finish_run(run_id, SUCCESS)
        return RunResult(run_id, job, SUCCESS, [], p, ctx)

    async def apply_job(self, svc: Runtime, job: JobConfig, *, reviewed: Plan | None = None,
                        sink: Any = None, progress: Callable[[str, int, int], None] | None = None,
                        resume: bool = True, of_run: int | None = None) -> RunResult:
        """As apply_job: plan JSON and journal stored first, then one entry per row."""
        if reviewed is None:
            raise ValueError("the console benchmark applies a reviewed plan only")
        store = self.svc.store
        run_id = store.start_run(job.key, job.label, job.task.value, "apply")
        with self.mark("plan_to_json (worker)"):
            text = plan_to_json(reviewed)
        store.set_plan(run_id, text, reviewed.period.end.isoformat())
        store.journal_add(run_id, journal_rows(reviewed))
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
        """Replace the runs where the app and screens look them up; put them back after.

        The log screen's `stored_notes` is only wrapped, to time it (it runs as it is).
        """
        import atria_tui.console.app
        import atria_tui.console.screens.apply
        import atria_tui.console.screens.log
        import atria_tui.console.screens.preview
        import atria_tui.services.engine

        def stored_notes(svc: Runtime, run_id: int) -> dict[tuple[str, str], str]:
            with self.mark("notes_from_json (worker)"):
                return real_stored_notes(svc, run_id)

        real_stored_notes = atria_tui.console.screens.log.stored_notes
        swaps: list[tuple[object, str, object]] = [
            (atria_tui.console.screens.log, "stored_notes", stored_notes),
            (atria_tui.console.app, "plan_job", self.plan_job),
            (atria_tui.console.screens.preview, "plan_job", self.plan_job),
            (atria_tui.services.engine, "plan_job", self.plan_job),
            (atria_tui.console.screens.apply, "apply_job", self.apply_job)]
        with swapped(swaps):
            yield


@contextmanager
def swapped(swaps: list[tuple[object, str, object]]) -> Iterator[None]:
    """Set attributes for the duration of a `with`, and put the originals back."""
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in swaps]
    for owner, name, value in swaps:
        setattr(owner, name, value)
    try:
        yield
    finally:
        for owner, name, value in reversed(saved):
            setattr(owner, name, value)
