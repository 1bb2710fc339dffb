"""Headless scheduling: which jobs are due, and running them one at a time.

A job is due when its cron has a fire time t with `last < t <= now`. `last` is the newest
of: when this scheduler first saw the job, the slot it last claimed for it, and the start
of the newest run it started for it (as the store recorded it). Only the scheduler's own
runs count: a manual `apply` in the console must not swallow the month's scheduled run.
The store has no "started by" column, so the state file keeps the ids of the runs the
scheduler started. A job seen for the first time is not due: a job file copied in at
23:00 must not fire for the 22:00 slot that passed before anyone scheduled it.

Missed slots (machine off for three months) collapse into ONE run: the claimed slot is
the newest fire time <= now, so older ones can never become due again. Slots that pass
while a job is disabled are claimed without running, so re-enabling a job does not
replay them.

The slot is claimed in the state file BEFORE the run starts: if the scheduler dies
mid-run the slot is not run again (a billing writer should run at most once per slot);
the interrupted writes are finished by the job's next apply, which resumes them.

Two schedulers (a `schedule` daemon and a `schedule --once` from cron, say) may share a
data folder: a per-job `flock` lock keeps them from running the same job at once, and the
state file is read-modified-written under its own lock so neither loses the other's
update. Lock files are never deleted: unlinking a lock file that another process is
about to open is how such locks break.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cronsim import CronSim, CronSimError

from atria_tui.core.paths import atomic_write, data_dir
from atria_tui.engine import joblock
from atria_tui.engine.joblock import JobLocked, lock_path
from atria_tui.engine.store import Store
from atria_tui.job.file import JobConfig, load_job, validate_cron
from atria_tui.job.folder import job_files
from atria_tui.job.parameters import ConfigError
from atria_tui.services.engine import RunResult, apply_job
from atria_tui.services.notify import notify_run
from atria_tui.services.runtime import Runtime

__all__ = [
    "CRASHED", "DISABLED", "INVALID", "LOCKED", "NOT_DUE", "RAN", "STATE_FILE",
    "ScheduledResult", "due_slot", "job_lock", "latest_fire", "load_state",
    "local_now", "next_fire", "run_due", "serve", "wake_delay",
]

STATE_FILE = "schedule-state.json"
MAX_WAIT = 60.0          # wake at least this often: picks up edited and new job files
MIN_WAIT = 1.0           # never spin; also covers a sleep that wakes a hair early
KEPT_RUN_IDS = 20

# ScheduledResult.outcome
RAN, NOT_DUE, DISABLED, INVALID, LOCKED, CRASHED = (
    "ran", "not due", "disabled", "invalid", "locked", "crashed")

Runner = Callable[[Runtime, JobConfig], Awaitable[RunResult]]
Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]
Report = Callable[["ScheduledResult"], None]


@dataclass(frozen=True, slots=True)
class ScheduledResult:
    """What one pass did with one job file; `status`/`run_id` are set when it ran."""

    job_id: str
    label: str
    path: Path
    outcome: str
    status: str = ""
    run_id: int | None = None
    message: str = ""
    slot: datetime | None = None
    next_run: datetime | None = None
    exit_code: int = 0


def local_now() -> datetime:
    """The production clock: aware local time, so cron fields mean the user's wall clock."""
    return datetime.now().astimezone()


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.astimezone()


# --- cron --------------------------------------------------------------------------------


def latest_fire(cron: str, now: datetime) -> datetime | None:
    """The newest fire time <= now (cronsim's iterators are exclusive of their start)."""
    if validate_cron(cron) is not None:
        return None
    now = _aware(now)
    try:
        # Fires are whole minutes, so at most one lies in (now - 1 min, now].
        candidate = next(CronSim(cron.strip(), now - timedelta(minutes=1)))
        if candidate <= now:
            return candidate
        return next(CronSim(cron.strip(), now, reverse=True))
    except (CronSimError, StopIteration, ValueError):
        return None


def next_fire(cron: str, now: datetime) -> datetime | None:
    """The first fire time strictly after now, or None for an invalid expression."""
    if validate_cron(cron) is not None:
        return None
    try:
        return next(CronSim(cron.strip(), _aware(now)))
    except (CronSimError, StopIteration, ValueError):
        return None


def due_slot(cron: str, last: datetime, now: datetime) -> datetime | None:
    """The slot to run now (newest fire in (last, now]), or None when not due."""
    fire = latest_fire(cron, now)
    return fire if fire is not None and fire > _aware(last) else None


# --- job files ---------------------------------------------------------------------------


# --- state file --------------------------------------------------------------------------


def _stamp(when: datetime) -> str:
    return _aware(when).isoformat()


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def load_state(path: Path) -> dict[str, dict[str, Any]]:
    """Per-job state; a missing or unreadable file is an empty state.

    Losing the state is safe: every job counts as first seen now, so nothing runs until
    its next slot (rather than everything running at once).
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    jobs = data.get("jobs") if isinstance(data, dict) else None
    if not isinstance(jobs, dict):
        return {}
    return {str(k): v for k, v in jobs.items() if isinstance(v, dict)}


@contextlib.contextmanager
def _flocked(path: Path, blocking: bool) -> Iterator[int | None]:
    """The open, locked file descriptor, or None when another process holds the lock.

    fcntl is imported here, not at the top, so the CLI and console still import where it
    does not exist (Windows); only scheduling needs it.
    """
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield None
            return
        try:
            yield fd
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _state(folder: Path) -> Iterator[dict[str, dict[str, Any]]]:
    """Read-modify-write of the state file under its lock; written only if changed."""
    path = folder / STATE_FILE
    with _flocked(folder / "schedule-state.lock", blocking=True):
        jobs = load_state(path)
        before = json.dumps(jobs, sort_keys=True)
        yield jobs
        text = json.dumps({"version": 1, "jobs": jobs}, indent=2, sort_keys=True)
        if json.dumps(jobs, sort_keys=True) != before:
            atomic_write(path, (text + "\n").encode("utf-8"))


def _entry(jobs: dict[str, dict[str, Any]], key: str, now: datetime) -> dict[str, Any]:
    entry = jobs.setdefault(key, {})
    if _parse(entry.get("first_seen")) is None:
        entry["first_seen"] = _stamp(now)
    return entry


def _last(entry: dict[str, Any], store: Store, key: str) -> datetime:
    """Newest of first sight, last claimed slot, and the start of our newest run."""
    times = [t for t in (_parse(entry.get("first_seen")), _parse(entry.get("last_fire")))
             if t is not None]
    ours = {i for i in entry.get("run_ids", []) if isinstance(i, int)}
    if ours:
        for run in store.runs(key, 50):
            started = _parse(run.started_at)
            if run.id in ours and run.kind == "apply" and started is not None:
                times.append(started)
    return max(times)


# --- locks -------------------------------------------------------------------------------


def _lock_path(folder: Path, key: str) -> Path:
    return lock_path(folder / "locks", key)


@contextlib.contextmanager
def job_lock(folder: Path, key: str) -> Iterator[str | None]:
    """Hold the job's write lock for a run. Yields None when held, else who holds it.

    The same lock apply and revert take (`atria_tui.engine.joblock`), so a CLI apply, the
    console and the scheduler never write one job at once.
    """
    try:
        with joblock.job_lock(folder / "locks", key, "atria-tui schedule"):
            yield None
    except JobLocked as exc:
        yield exc.holder.describe() if exc.holder else "another process"


# --- one pass ----------------------------------------------------------------------------


async def run_due(svc: Runtime, jobs_dir: Path, now: datetime, *, runner: Runner = apply_job,
                  data: Path | None = None, stop: asyncio.Event | None = None
                  ) -> list[ScheduledResult]:
    """Run every enabled job that is due at `now`, one at a time; one result per job file.

    Never raises for a bad job file or a failing run: each becomes its result. Jobs not
    yet reached when `stop` is set are left for the next pass.
    """
    folder = data if data is not None else data_dir()
    now = _aware(now)
    results: list[ScheduledResult] = []
    for path in job_files(Path(jobs_dir)):
        if stop is not None and stop.is_set():
            break
        results.append(await _one(svc, path, now, runner, folder))
    return results


async def _one(svc: Runtime, path: Path, now: datetime, runner: Runner,
               folder: Path) -> ScheduledResult:
    try:
        job = load_job(path)
    except ConfigError as exc:
        return ScheduledResult(path.stem, path.name, path, INVALID,
                               message=f"{exc}; job skipped")
    key, label = job.key, job.label or path.stem
    problem = validate_cron(job.cron)
    if problem is not None:
        return ScheduledResult(key, label, path, INVALID,
                               message=f"{path}: cron: {problem}; job skipped")
    upcoming = next_fire(job.cron, now)

    def result(outcome: str, **kw: Any) -> ScheduledResult:
        return ScheduledResult(key, label, path, outcome, next_run=upcoming, **kw)

    with _state(folder) as jobs:
        entry = _entry(jobs, key, now)
        slot = due_slot(job.cron, _last(entry, svc.store, key), now)
        if not job.enabled:
            if slot is not None:  # passes unrun: re-enabling must not replay it
                entry["last_fire"] = _stamp(slot)
            return result(DISABLED, message="enabled = false: the scheduler does not run it")
    if slot is None:
        return result(NOT_DUE)
    with job_lock(folder, key) as holder:
        if holder is not None:
            return result(LOCKED, slot=slot, message=f"being run by another scheduler "
                          f"({holder}, lock {_lock_path(folder, key)}); skipped")
        with _state(folder) as jobs:  # re-check: another scheduler may have just run it
            entry = _entry(jobs, key, now)
            slot = due_slot(job.cron, _last(entry, svc.store, key), now)
            if slot is None:
                return result(NOT_DUE, message="already run by another scheduler")
            entry["last_fire"] = _stamp(slot)
        try:
            res = await runner(svc, job)
        except Exception as exc:  # a bug in one job must not stop the scheduler
            return result(CRASHED, slot=slot, exit_code=2,
                          message=f"run stopped unexpectedly: {type(exc).__name__}: {exc}")
        with contextlib.suppress(Exception):  # a summary that cannot go never fails a run
            await asyncio.to_thread(notify_run, svc, res, "scheduled apply")
        with _state(folder) as jobs:
            entry = _entry(jobs, key, now)
            ids = [i for i in entry.get("run_ids", []) if isinstance(i, int)]
            entry["run_ids"] = [*(i for i in ids if i != res.run_id), res.run_id][-KEPT_RUN_IDS:]
        return result(RAN, status=res.status, run_id=res.run_id, slot=slot,
                      exit_code=res.exit_code)


# --- the loop ----------------------------------------------------------------------------


def wake_delay(results: list[ScheduledResult], now: datetime) -> float:
    """Seconds until the next fire time of a runnable job, between MIN_WAIT and MAX_WAIT."""
    upcoming = [r.next_run for r in results
                if r.next_run is not None and r.outcome not in (DISABLED, INVALID)]
    if not upcoming:
        return MAX_WAIT
    seconds = (min(upcoming) - _aware(now)).total_seconds()
    return min(MAX_WAIT, max(MIN_WAIT, seconds))


async def _sleep_or_stop(sleep: Sleep, seconds: float, stop: asyncio.Event) -> None:
    sleeper = asyncio.ensure_future(sleep(seconds))
    stopper = asyncio.ensure_future(stop.wait())
    _, pending = await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


def _worth_reporting(r: ScheduledResult, shown: dict[Path, str]) -> bool:
    """Runs and lock skips always; a broken job file once per distinct problem."""
    if r.outcome == INVALID:
        if shown.get(r.path) == r.message:
            return False
        shown[r.path] = r.message
        return True
    shown.pop(r.path, None)
    return r.outcome in (RAN, LOCKED, CRASHED)


async def serve(svc: Runtime, jobs_dir: Path, clock: Clock, sleep: Sleep,
                stop: asyncio.Event, *, runner: Runner = apply_job, data: Path | None = None,
                report: Report | None = None) -> None:
    """Run due jobs until `stop` is set, waking at the next fire time (at most every 60 s).

    A run in progress when `stop` is set is finished first; cancelling the task instead
    interrupts it (its pending writes are resumed by the job's next apply).
    """
    shown: dict[Path, str] = {}
    while not stop.is_set():
        results = await run_due(svc, jobs_dir, clock(), runner=runner, data=data, stop=stop)
        if report is not None:
            for r in results:
                if _worth_reporting(r, shown):
                    report(r)
        if stop.is_set():
            break
        await _sleep_or_stop(sleep, wake_delay(results, clock()), stop)
