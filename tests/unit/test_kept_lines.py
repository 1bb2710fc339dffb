"""A Kaseya plan keeps each contract's lines as it reads them: a plan stopped part-way
(the hourly budget makes a big tenant's read take hours) resumes without reading again
what it read, and comes out as a fresh plan would."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from atria_tui.adapters.http import CallBudget
from atria_tui.adapters.kaseya import KaseyaAdapter
from atria_tui.core.model import PsaLine
from atria_tui.core.serialize import plan_to_json
from atria_tui.job.file import load_job
from atria_tui.psa.errors import RemoteError
from atria_tui.sandbox.server import shared
from atria_tui.services.engine import RunResult, apply_job, plan_job
from tests.support import runtime

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"
LINES = "GET /v2/finance/contracts/recurringservices/{contractId}/services"


def kaseya_job(tmp_path: Path, options: str = "") -> Path:
    text = (SAMPLES / "demo-kaseya.toml").read_text()
    text = text.replace('path = "demo-kaseya-billing.csv"',
                        f'path = "{SAMPLES / "demo-kaseya-billing.csv"}"')
    path = tmp_path / "ks.toml"
    path.write_text(text + options)
    return path


def line_reads() -> int:
    return int(shared().kaseya.stats.by_endpoint[LINES])


def as_planned(res: RunResult) -> list[Any]:
    """The plan as stored (a header and one JSON line per item), in a fixed order."""
    assert res.plan is not None
    return sorted("\n".join(plan_to_json(res.plan)).splitlines())


def stop_after(monkeypatch: pytest.MonkeyPatch, reads: int) -> None:
    """The session's lines read ends the run (as a budget used up would) after `reads`."""
    real = KaseyaAdapter.lines
    done = [0]

    async def lines(self: KaseyaAdapter, contract_id: str) -> list[PsaLine]:
        if done[0] >= reads:
            raise RemoteError("budget", "HTTP 429: call budget used up (test)")
        done[0] += 1
        return await real(self, contract_id)

    monkeypatch.setattr(KaseyaAdapter, "lines", lines)


async def test_an_interrupted_plan_resumes_without_reading_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    job = load_job(kaseya_job(tmp_path))
    before = line_reads()
    fresh = await plan_job(runtime(db="fresh.db"), job)
    total = line_reads() - before
    assert fresh.plan is not None and total >= 5

    svc = runtime(db="resumed.db")
    with monkeypatch.context() as m:
        stop_after(m, 3)
        stopped = await plan_job(svc, job)
    assert stopped.fatal is not None and stopped.plan is None

    before = line_reads()
    resumed = await plan_job(svc, job)
    assert line_reads() - before == total - 3       # only what the first one did not read
    (note,) = [e for e in resumed.entries if e.code == "TU18"]
    assert note.message.startswith("3 contract(s) not read again")
    assert note.message.endswith(" UTC, within the last 6 hour(s)")
    assert as_planned(resumed) == as_planned(fresh)

    before = line_reads()
    await plan_job(svc, job)        # all kept now: only a contract that failed is read
    assert fresh.context is not None
    assert line_reads() - before == len(fresh.context.snapshot.line_errors)


async def test_a_write_run_forgets_what_plans_kept_and_apply_reads_afresh(
        tmp_path: Path) -> None:
    job = load_job(kaseya_job(tmp_path))
    svc = runtime(db="t.db")
    await plan_job(svc, job)
    assert svc.store.kept_lines(job.key, "sandbox://kaseya", "2026-11-25", _long_ago())
    before = line_reads()
    applied = await apply_job(svc, job)
    assert line_reads() > before                      # its own plan read every contract
    assert not [e for e in applied.entries if e.code == "TU18"]
    assert not svc.store.kept_lines(job.key, "sandbox://kaseya", "2026-11-25", _long_ago())


async def test_line_cache_hours_0_reads_everything_every_time(tmp_path: Path) -> None:
    job = load_job(kaseya_job(tmp_path, "line_cache_hours = 0\n"))
    svc = runtime(db="t.db")
    await plan_job(svc, job)
    before = line_reads()
    again = await plan_job(svc, job)
    assert line_reads() - before >= 5
    assert not [e for e in again.entries if e.code == "TU18"]


def test_the_budget_eta_follows_the_rolling_hour() -> None:
    now = [0.0]
    budget = CallBudget(1500, clock=lambda: now[0])
    assert budget.time_for(LINES, 1500) == 0          # a fresh hour: all at once
    for _ in range(1500):
        budget.sent(LINES, -1.0)                      # an hour's worth, just sent
    assert budget.left(LINES) == 0
    # 3,600 more: 1,500 when the first hour ages out, 1,500 an hour later, the rest then.
    assert budget.time_for(LINES, 3600) / 3600 == pytest.approx(3.0, abs=0.01)
    now[0] = 1800.0
    assert budget.time_for(LINES, 1) / 60 == pytest.approx(30.0, abs=0.1)


def _long_ago() -> Any:
    from datetime import UTC, datetime

    return datetime(2000, 1, 1, tzinfo=UTC)


async def test_lines_kept_from_another_tenant_are_not_reused(tmp_path: Path) -> None:
    job = load_job(kaseya_job(tmp_path))
    svc = runtime(db="t.db")
    await plan_job(svc, job)
    job.parameters["ApiUrl"] = "sandbox://kaseya/"    # another URL: maybe another tenant
    before = line_reads()
    again = await plan_job(svc, job)
    assert line_reads() - before >= 5
    assert not [e for e in again.entries if e.code == "TU18"]
