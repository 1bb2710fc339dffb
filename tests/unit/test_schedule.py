"""The scheduler: due / not due, missed slots, disabled jobs, bad cron, locks, the loop,
a real scheduled apply on the in-process sandbox, and the `jobs` / `schedule` commands."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from atria_tui.engine.store import SUCCESS
from atria_tui.job.file import JobConfig
from atria_tui.services.engine import RunResult
from atria_tui.services.runtime import Runtime
from atria_tui.services.schedule import (
    CRASHED,
    DISABLED,
    INVALID,
    LOCKED,
    MAX_WAIT,
    NOT_DUE,
    RAN,
    STATE_FILE,
    due_slot,
    latest_fire,
    load_state,
    run_due,
    serve,
)
from tests.support import runtime

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_configs"
MONTHLY = "0 22 26 * *"


def t(month: int, day: int, hour: int = 0, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def write_job(folder: Path, name: str = "demo", cron: str = MONTHLY,
              enabled: bool = True) -> Path:
    """The ConnectWise demo job with its billing file made absolute."""
    text = (SAMPLES / "demo-connectwise.toml").read_text()
    text = text.replace('path = "demo-connectwise-billing.csv"',
                        f"path = {json.dumps(str(SAMPLES / 'demo-connectwise-billing.csv'))}")
    text = text.replace(f'cron = "{MONTHLY}"', f"cron = {json.dumps(cron)}")
    text = text.replace("enabled = true", f"enabled = {str(enabled).lower()}")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(text)
    return path


class FakeRunner:
    """Stands in for apply_job: records which jobs ran, in order."""

    def __init__(self, fail: str = "") -> None:
        self.ran: list[str] = []
        self.fail = fail

    async def __call__(self, svc: Runtime, job: JobConfig) -> RunResult:
        self.ran.append(job.id)
        if job.id == self.fail:
            raise RuntimeError("boom")
        return RunResult(len(self.ran), job, SUCCESS, [])


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[Runtime]:
    s = runtime(tmp_path / "secrets", db="t.db")
    yield s
    s.store.close()


@pytest.fixture
def jobs(tmp_path: Path) -> Path:
    return tmp_path / "jobs"


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


# --- cron arithmetic ---------------------------------------------------------------------


def test_due_slot_is_the_newest_fire_in_the_window() -> None:
    assert due_slot(MONTHLY, t(11, 1), t(11, 26, 21, 59)) is None
    assert due_slot(MONTHLY, t(11, 1), t(11, 26, 22, 0)) == t(11, 26, 22)  # on the minute
    assert due_slot(MONTHLY, t(11, 26, 22), t(11, 27)) is None  # that slot already taken
    # three missed slots: one slot, the newest
    assert due_slot(MONTHLY, t(7, 1), t(10, 30)) == t(10, 26, 22)
    assert latest_fire("61 * * * *", t(11, 1)) is None


# --- run_due with a fake runner ----------------------------------------------------------


async def test_first_sight_is_not_due_then_the_next_slot_runs_once(
        svc: Runtime, jobs: Path, data: Path) -> None:
    write_job(jobs)
    run = FakeRunner()
    [first] = await run_due(svc, jobs, t(11, 27), runner=run, data=data)
    assert first.outcome == NOT_DUE and run.ran == []  # the 26th's slot predates first sight
    assert first.next_run == t(12, 26, 22)
    [before] = await run_due(svc, jobs, t(12, 26, 21, 59), runner=run, data=data)
    assert before.outcome == NOT_DUE and run.ran == []
    [due] = await run_due(svc, jobs, t(12, 26, 22, 0, ), runner=run, data=data)
    assert (due.outcome, due.status, due.run_id, due.slot) == (RAN, SUCCESS, 1, t(12, 26, 22))
    [again] = await run_due(svc, jobs, t(12, 26, 22, 1), runner=run, data=data)
    assert again.outcome == NOT_DUE and run.ran == ["demo"]
    state = load_state(data / STATE_FILE)["demo"]
    assert state["run_ids"] == [1] and state["last_fire"].startswith("2026-12-26T22:00")


async def test_missed_slots_run_once(svc: Runtime, jobs: Path, data: Path) -> None:
    write_job(jobs, cron="0 * * * *")  # hourly
    run = FakeRunner()
    await run_due(svc, jobs, t(3, 1, 0, 30), runner=run, data=data)
    # the machine was off for three hourly slots (1:00, 2:00, 3:00)
    [late] = await run_due(svc, jobs, t(3, 1, 3, 20), runner=run, data=data)
    assert late.outcome == RAN and late.slot == t(3, 1, 3)
    [after] = await run_due(svc, jobs, t(3, 1, 3, 40), runner=run, data=data)
    assert after.outcome == NOT_DUE
    assert run.ran == ["demo"]


async def test_disabled_jobs_never_run_nor_replay_when_enabled(
        svc: Runtime, jobs: Path, data: Path) -> None:
    write_job(jobs, enabled=False)
    run = FakeRunner()
    await run_due(svc, jobs, t(9, 1), runner=run, data=data)
    [off] = await run_due(svc, jobs, t(11, 27), runner=run, data=data)
    assert off.outcome == DISABLED and run.ran == []
    write_job(jobs, enabled=True)
    [on] = await run_due(svc, jobs, t(11, 28), runner=run, data=data)
    assert on.outcome == NOT_DUE and run.ran == []  # the slot that passed disabled is gone
    [nxt] = await run_due(svc, jobs, t(12, 27), runner=run, data=data)
    assert nxt.outcome == RAN and run.ran == ["demo"]


async def test_invalid_cron_is_reported_and_other_jobs_still_run(
        svc: Runtime, jobs: Path, data: Path) -> None:
    bad = write_job(jobs, name="a-bad", cron="61 25 * * *")
    write_job(jobs, name="b-good")
    run = FakeRunner()
    await run_due(svc, jobs, t(11, 1), runner=run, data=data)
    results = await run_due(svc, jobs, t(11, 27), runner=run, data=data)
    assert [r.outcome for r in results] == [INVALID, RAN]
    assert str(bad) in results[0].message and "cron" in results[0].message
    assert "skipped" in results[0].message and "Traceback" not in results[0].message
    assert run.ran == ["b-good"]


async def test_a_crashing_run_is_reported_and_the_next_job_runs(
        svc: Runtime, jobs: Path, data: Path) -> None:
    write_job(jobs, name="a")
    write_job(jobs, name="b")
    run = FakeRunner(fail="a")
    await run_due(svc, jobs, t(11, 1), runner=run, data=data)
    results = await run_due(svc, jobs, t(11, 27), runner=run, data=data)
    assert [(r.outcome, r.exit_code) for r in results] == [(CRASHED, 2), (RAN, 0)]
    assert "RuntimeError: boom" in results[0].message


HOLDER = """
import fcntl, os, sys
path = sys.argv[1]
os.makedirs(os.path.dirname(path), exist_ok=True)
fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
os.ftruncate(fd, 0); os.write(fd, str(os.getpid()).encode())
print("held", flush=True)
sys.stdin.read()
"""


async def test_a_job_locked_by_another_scheduler_is_skipped(
        svc: Runtime, jobs: Path, data: Path) -> None:
    write_job(jobs)
    run = FakeRunner()
    await run_due(svc, jobs, t(11, 1), runner=run, data=data)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(data / "locks" / "demo.lock")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        [locked] = await run_due(svc, jobs, t(11, 27), runner=run, data=data)
        assert locked.outcome == LOCKED and run.ran == []
        assert "another scheduler" in locked.message and f"process {holder.pid}" in \
            locked.message
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=10)
    # the slot was not consumed by the skip: it runs on the next pass
    [ran] = await run_due(svc, jobs, t(11, 27, 0, 1), runner=run, data=data)
    assert ran.outcome == RAN and run.ran == ["demo"]


# --- the loop ----------------------------------------------------------------------------


async def test_serve_wakes_at_the_next_fire_and_stops(
        svc: Runtime, jobs: Path, data: Path) -> None:
    write_job(jobs, cron="*/5 * * * *")
    run = FakeRunner()
    now = [t(5, 1, 10, 3, )]
    delays: list[float] = []
    stop = asyncio.Event()
    reported: list[str] = []

    def clock() -> datetime:
        return now[0]

    async def sleep(seconds: float) -> None:
        delays.append(seconds)
        now[0] += timedelta(seconds=seconds)
        if len(delays) == 6:
            stop.set()

    await asyncio.wait_for(serve(svc, jobs, clock, sleep, stop, runner=run, data=data,
                                 report=lambda r: reported.append(r.outcome)), 10)
    # 10:03 seen → sleep 60 (capped), 10:04 → 60, 10:05 runs …
    assert delays[0] == MAX_WAIT and all(1 <= d <= MAX_WAIT for d in delays)
    assert run.ran == ["demo"] and reported == [RAN]
    assert now[0] <= t(5, 1, 10, 10)


async def test_serve_stops_promptly_while_sleeping(
        svc: Runtime, jobs: Path, data: Path) -> None:
    write_job(jobs)
    stop = asyncio.Event()

    async def slow_sleep(seconds: float) -> None:
        await asyncio.sleep(3600)

    task = asyncio.create_task(serve(svc, jobs, lambda: t(1, 1), slow_sleep, stop,
                                     runner=FakeRunner(), data=data))
    await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, 2)


# --- end to end on the in-process sandbox ------------------------------------------------


async def test_run_due_applies_the_demo_job_on_the_sandbox(jobs: Path) -> None:
    from atria_tui.core.paths import data_dir
    from atria_tui.sandbox.server import shared

    svc = runtime()
    write_job(jobs, name="demo-connectwise")
    cw = shared().connectwise
    assert cw.quantity_of("AcmeServices", "M365-BP") == [10]
    now = datetime.now(UTC)
    [seen] = await run_due(svc, jobs, now - timedelta(days=40))
    assert seen.outcome == NOT_DUE and svc.store.runs() == []
    [res] = await run_due(svc, jobs, now)
    assert res.outcome == RAN and res.run_id is not None
    stored = svc.store.run(res.run_id)
    assert stored is not None and stored.kind == "apply" and stored.job_id == "demo-connectwise"
    assert stored.status == res.status and stored.finished_at
    assert cw.quantity_of("AcmeServices", "M365-BP") == [12]
    assert (data_dir() / "locks" / "demo-connectwise.lock").exists()
    [later] = await run_due(svc, jobs, now + timedelta(minutes=1))
    assert later.outcome == NOT_DUE and len(svc.store.runs()) == 1
    svc.store.close()


# --- the CLI -----------------------------------------------------------------------------


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "atria_tui.cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=60, cwd=ROOT)


def test_cli_jobs_and_schedule_once(tmp_path: Path) -> None:
    home, jobs = tmp_path / "home", tmp_path / "jobs"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATRIA_TUI_")}
    env.update(ATRIA_TUI_HOME=str(home), ATRIA_TUI_KEYRING="0", COLUMNS="220")
    write_job(jobs, name="demo-connectwise")
    (jobs / "broken.toml").write_text('label = "x"\ntask = "connectwise-manage"\n'
                                      'cron = "every day"\n')
    listed = _cli(env, "jobs", "--jobs", str(jobs))
    assert listed.returncode == 0, listed.stderr
    assert "Demo: Transfer Billing Data to ConnectWise" in listed.stdout
    assert MONTHLY in listed.stdout and "never run" in listed.stdout
    assert "broken.toml: line 3: cron" in listed.stdout and "Traceback" not in listed.stderr
    # first sight: watched from now on, nothing runs
    first = _cli(env, "schedule", "--once", "--jobs", str(jobs))
    assert first.returncode == 0, first.stderr
    assert "[demo-connectwise]: not due (next run" in first.stdout
    assert "invalid job file:" in first.stdout and "Traceback" not in first.stderr
    # as if first seen long ago: the newest slot since then runs, once
    state_file = home / STATE_FILE
    state = json.loads(state_file.read_text())
    state["jobs"]["demo-connectwise"]["first_seen"] = "2020-01-01T00:00:00+00:00"
    state_file.write_text(json.dumps(state))
    ran = _cli(env, "schedule", "--once", "--jobs", str(jobs))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    line = next(ln for ln in ran.stdout.splitlines() if "[demo-connectwise]" in ln)
    assert line.startswith("Demo: Transfer Billing Data to ConnectWise (sandbox) "
                           "[demo-connectwise]: run 1 ")
    again = _cli(env, "schedule", "--once", "--jobs", str(jobs))
    assert "[demo-connectwise]: not due" in again.stdout
    status = line.split(": run 1 ", 1)[1].split(" (slot", 1)[0]
    listed = _cli(env, "jobs", "--jobs", str(jobs))
    assert f"{status} (apply #1)" in listed.stdout
    missing = _cli(env, "schedule", "--once", "--jobs", str(tmp_path / "nope"))
    assert missing.returncode == 1 and "no such folder" in missing.stderr


def test_cli_schedule_stays_up_until_ctrl_c(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    write_job(jobs)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATRIA_TUI_")}
    env.update(ATRIA_TUI_HOME=str(tmp_path / "home"), ATRIA_TUI_KEYRING="0")
    proc = subprocess.Popen([sys.executable, "-m", "atria_tui.cli.main", "schedule", "--jobs",
                             str(jobs)], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("Scheduler watching")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Scheduler stopped" in out and "Traceback" not in err
