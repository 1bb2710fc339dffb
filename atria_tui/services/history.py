"""The run history as the console reads it: runs, one run, its log, and the status words.

The console shows what the engine recorded (the Jobs table's last result, the Runs
screen, a run's log, the palette's recent runs) but must not know how it is stored, so
it reads the store through these functions and takes the status words from here. The
one write is the preview's: a plan cancelled from the keyboard stops its asyncio task,
which the engine sees as no error at all, so the run it started would stay `Running`
until the next start-up reaped it.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from atria_tui.core import numbers
from atria_tui.core.model import LogEntry
from atria_tui.engine.store import ERRORS, FAILED, INTERRUPTED, RUNNING, SUCCESS, WARNINGS, RunRow
from atria_tui.services.runtime import Runtime

__all__ = ["ERRORS", "FAILED", "INTERRUPTED", "RUNNING", "SUCCESS", "WARNINGS", "RunRow",
           "interrupt_cancelled_plan", "last_result_run", "last_run", "last_run_id",
           "related_text", "reverted_by", "run", "run_log", "runs", "totals_text"]


def runs(svc: Runtime, job_key: str | None = None, limit: int = 200) -> list[RunRow]:
    """The newest runs first: of one job, or of every job when `job_key` is None."""
    return svc.store.runs(job_key, limit)


def run(svc: Runtime, run_id: int) -> RunRow | None:
    return svc.store.run(run_id)


def last_run(svc: Runtime, job_key: str) -> RunRow | None:
    """The job's newest run (the Jobs table's "last result"), None if it never ran."""
    newest = svc.store.runs(job_key, 1)
    return newest[0] if newest else None


def last_result_run(svc: Runtime, job_key: str) -> RunRow | None:
    """The run that says where the job's billing stands: its newest apply or revert (a
    preview changes nothing), else its newest preview; None if it never ran."""
    recent = svc.store.runs(job_key, 200)
    writes = [r for r in recent if r.kind in ("apply", "revert")]
    return writes[0] if writes else (recent[0] if recent else None)


def last_run_id(svc: Runtime, job_key: str) -> int:
    """The id of the job's newest run, 0 if none: what a run started later is newer than."""
    newest = last_run(svc, job_key)
    return newest.id if newest else 0


def reverted_by(svc: Runtime, run_id: int) -> int | None:
    """The revert run that put back what apply run `run_id` wrote (the first that finished
    its pass over the lines), None if it was never reverted: the Runs screen and the
    revert question say so, so nobody reverts twice believing the first did nothing."""
    done = [r.id for r in svc.store.reverts_of(run_id) if r.status in (SUCCESS, WARNINGS)]
    return done[0] if done else None


def totals_text(row: RunRow) -> tuple[str, str]:
    """(lines written, Δ money) as the run history shows them: empty for a preview (it
    writes nothing) and for a run from before runs kept their totals."""
    if row.written is None or row.kind == "plan":
        return "", ""
    try:
        money = numbers.signed_money(Decimal(row.money or "0"))
    except InvalidOperation:
        money = ""
    return str(row.written), money


def related_text(row: RunRow) -> str:
    """Which run this one belongs to: the preview an apply wrote, the apply a revert
    took back."""
    if not row.of_run:
        return ""
    return f"of preview {row.of_run}" if row.kind == "apply" else f"of run {row.of_run}"


def run_log(svc: Runtime, run_id: int) -> list[LogEntry]:
    """Every log entry of the run, in the order it was written."""
    return svc.store.log(run_id)


def interrupt_cancelled_plan(svc: Runtime, job_key: str, after_id: int) -> None:
    """Mark `Interrupted` the plan run a cancelled preview left `Running` (the job's plan
    runs newer than `after_id`; an apply or revert is the write lock's business)."""
    for row in svc.store.runs(job_key, limit=5):
        if row.id > after_id and row.kind == "plan" and row.status == RUNNING:
            svc.store.finish_run(row.id, INTERRUPTED)
