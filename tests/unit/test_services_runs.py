"""Each run-ending failure maps to its seed code, in-process on the embedded sandbox."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from atria_tui.core.paths import data_dir
from atria_tui.job.file import load_job
from atria_tui.sandbox.server import shared
from atria_tui.services.engine import apply_job, plan_job
from atria_tui.services.runtime import Runtime
from tests.support import runtime

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"


def demo_job(tmp_path: Path, extra: str = "", **params: str) -> Path:
    text = (SAMPLES / "demo-connectwise.toml").read_text()
    text = text.replace('path = "demo-connectwise-billing.csv"',
                        f'path = "{SAMPLES / "demo-connectwise-billing.csv"}"')
    for key, value in params.items():
        text = "\n".join(f'{key} = "{value}"' if ln.startswith(f"{key} =") else ln
                         for ln in text.splitlines()) + "\n"
    path = tmp_path / "job.toml"
    path.write_text(text + extra)
    return path


def svc() -> Runtime:
    return runtime(db="t.db")


def codes(res: object) -> list[str]:
    return [e.code for e in res.entries]  # type: ignore[attr-defined]


async def test_demo_plan_in_process_and_apply_failure_is_cw12(tmp_path: Path) -> None:
    job = load_job(demo_job(tmp_path))
    shared().connectwise.add_faults([{"method": "POST", "path": "additions$", "status": 400,
                                      "times": None}])
    res = await apply_job(svc(), job)
    assert "CW12" in codes(res) and res.exit_code == 2
    assert res.status == "Completed with errors"
    assert shared().connectwise.quantity_of("AcmeServices", "M365-BP") == [12]
    assert shared().connectwise.quantity_of("AcmeServices", "AV-EDR") == []


@pytest.mark.parametrize("fault,expected", [
    ({"method": "GET", "path": "agreements$", "malformed": True, "times": None}, "CW13"),
    ({"method": "GET", "path": "agreements$", "status": 503, "times": None}, "CW02"),
])
async def test_psa_failures_end_the_run(tmp_path: Path, fault: dict[str, object],
                                        expected: str) -> None:
    shared().connectwise.add_faults([fault])
    res = await plan_job(svc(), load_job(demo_job(tmp_path, "")))
    assert codes(res)[-2:] == [expected, "CW23"] and res.exit_code == 2
    assert res.status == "Failed"


async def test_corrupt_secret_store_is_cw16(tmp_path: Path) -> None:
    job = load_job(demo_job(tmp_path, ApiUrl="https://psa.invalid/v4_6_release/apis/3.0"))
    (data_dir()).mkdir(parents=True, exist_ok=True)
    (data_dir() / "secrets.enc.json").write_text("{ not json")
    res = await plan_job(svc(), job)
    assert "CW16" in codes(res) and res.exit_code == 2


async def test_missing_billing_file_is_cw03_and_empty_period_cw15(tmp_path: Path) -> None:
    path = demo_job(tmp_path)
    shutil.copy(path, tmp_path / "other.toml")
    job = load_job(path)
    job.source.path = tmp_path / "nowhere.csv"
    res = await plan_job(svc(), job)
    assert "CW03" in codes(res) and "nowhere.csv" in res.entries[-2].message
    job = load_job(demo_job(tmp_path, BillingPeriod="2025-01-10"))
    res = await plan_job(svc(), job)
    assert "CW15" in codes(res) and res.exit_code == 0


async def test_replan_after_fix_makes_no_request(tmp_path: Path) -> None:
    from atria_tui.core.model import Mappings

    res = await plan_job(svc(), load_job(demo_job(tmp_path)))
    assert res.context is not None
    before = shared().connectwise.stats()["total"]
    fixed = res.context.replan(Mappings(customers={"uja": "UjalaTraders"}))
    assert shared().connectwise.stats()["total"] == before
    uja = [i for i in fixed.items if i.customer_code == "UJA"]
    assert uja and all(i.code != "CW04" for i in uja)


HOLDER = """
import sys
from pathlib import Path
from atria_tui.engine.joblock import job_lock
with job_lock(Path(sys.argv[1]), sys.argv[2], "atria-tui schedule"):
    print("held", flush=True)
    sys.stdin.read()
"""


async def test_apply_and_revert_refuse_while_another_process_holds_the_job(
        tmp_path: Path) -> None:
    """The scheduler, the console and the CLI take one lock per job; a second writer is
    refused with the holder's pid, host and command, and writes nothing."""
    import subprocess
    import sys

    from atria_tui.engine.joblock import JobLocked
    from atria_tui.services.engine import revert_run

    job = load_job(demo_job(tmp_path))
    s = svc()
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(s.locks()), job.key],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(JobLocked) as err:
            await apply_job(s, job)
        assert f"process {holder.pid}" in str(err.value)
        assert "atria-tui schedule" in str(err.value)
        with pytest.raises(JobLocked):
            await revert_run(s, job, 1)
        assert s.store.runs() == []                                # no run was started
        assert shared().connectwise.quantity_of("AcmeServices", "M365-BP") == [10]
    finally:
        holder.communicate("")
    res = await apply_job(s, job)                                  # free again
    assert shared().connectwise.quantity_of("AcmeServices", "M365-BP") == [12]
    assert res.run_id == 1


async def test_a_run_is_marked_interrupted_only_when_nobody_holds_its_lock(
        tmp_path: Path) -> None:
    from atria_tui.engine.joblock import job_lock
    from atria_tui.engine.store import INTERRUPTED, RUNNING

    s = svc()
    live = s.store.start_run("live", "Live", "connectwise-manage", "apply")
    dead = s.store.start_run("dead", "Dead", "connectwise-manage", "apply")
    with job_lock(s.locks(), "live"):
        s.reap()
    assert s.store.run(live).status == RUNNING                     # type: ignore[union-attr]
    assert s.store.run(dead).status == INTERRUPTED                 # type: ignore[union-attr]


async def test_a_damaged_stored_plan_is_one_clear_error_not_a_crash(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from atria_tui.cli.main import main
    from atria_tui.services.engine import StoredPlanError, stored_plan

    job_path = demo_job(tmp_path)
    job = load_job(job_path)
    s = runtime()   # the CLI's database
    plan = await plan_job(s, job)
    end = plan.plan.period.end.isoformat() if plan.plan else ""
    # An apply that stopped with a write pending, whose stored plan the disk damaged.
    stopped = s.store.start_run(job.key, job.label, job.task.value, "apply", end)
    s.store.journal_add(stopped, [("k", "update", "ASP", "M365-BP", "d", "600", "1", "1",
                                   "M365-BP", "10", "12")])
    s.store.set_plan(stopped, '{"task": "connectwise-manage", "items": [{', end)
    s.store.finish_run(stopped, "Failed")
    with pytest.raises(StoredPlanError):
        stored_plan(s, stopped)
    again = await apply_job(s, job)                           # the resume cannot read it
    assert again.fatal is not None and again.fatal.code == "CW13"
    assert "stored plan cannot be read back" in again.fatal.message
    assert s.store.run(again.run_id).status == "Failed"       # type: ignore[union-attr]
    assert shared().connectwise.quantity_of("AcmeServices", "M365-BP") == [10]
    s.store.set_plan(plan.run_id, "not json", end)
    capsys.readouterr()
    assert main(["apply", str(job_path), "--yes", "--plan", str(plan.run_id)]) == 1
    err = capsys.readouterr().err
    assert "its stored plan cannot be read back" in err and "Traceback" not in err
