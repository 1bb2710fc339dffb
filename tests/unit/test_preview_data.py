"""What the preview reads besides the plan: 'since last month' (the quantity each line
held after the job's newest apply of an earlier period, from the store; the swing flag;
nothing on a first run) and the plan's progress while the PSA is read."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from atria_tui.core.model import Action, Level, PlanItem
from atria_tui.job.file import load_job
from atria_tui.sandbox.server import reset_shared
from atria_tui.services import review as rv
from atria_tui.services.engine import apply_job, plan_job
from atria_tui.services.runtime import Runtime
from tests.support import runtime
from tests.unit.test_services_review import demo_job


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ATRIA_TUI_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ATRIA_TUI_KEYRING", "0")
    reset_shared()
    yield
    reset_shared()


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[Runtime]:
    svc = runtime(tmp_path / "home", db="atria.db", environ={})
    yield svc
    svc.store.close()


def test_first_run_has_no_last_month_and_an_apply_gives_what_was_written(
        svc: Runtime, tmp_path: Path) -> None:
    job = load_job(demo_job(tmp_path / "jobs"))
    planned = asyncio.run(plan_job(svc, job))
    assert planned.plan is not None
    end = str(planned.plan.period.end)
    assert rv.last_applied(svc, job, end) == {}  # a first run: empty, not an error
    applied = asyncio.run(apply_job(svc, job, reviewed=planned.plan))
    assert applied.plan is not None
    # The same period's apply is not "last month"; the next period sees it.
    assert rv.last_applied(svc, job, end) == {}
    last = rv.last_applied(svc, job, "2026-12-25")
    assert last
    written = {j.item_key: j for j in svc.store.journal(applied.run_id) if j.state == "done"}
    assert written
    for item in applied.plan.items:
        key = rv.month_key(item)
        if item.key in written:
            assert last[key] == written[item.key].after
        elif item.psa_quantity is not None and item.sku:
            assert last[key] >= item.psa_quantity


def _item(atria: str) -> PlanItem:
    return PlanItem("k", "BIG", "", "", "M365", "", Decimal(atria), Decimal(0), Action.UPDATE,
                    "CW07", Level.INFO, "")


def test_swing_since_last_month_uses_the_threshold() -> None:
    assert not rv.swing_since(_item("12"), Decimal(10), 0.25)   # +20 %
    assert rv.swing_since(_item("13"), Decimal(10), 0.25)       # +30 %
    assert rv.swing_since(_item("5"), Decimal(10), 0.25)        # −50 %
    assert rv.swing_since(_item("1"), Decimal(0), 0.25)         # new since last month
    assert not rv.swing_since(_item("1"), None, 0.25)           # no last month at all


def test_plan_progress_moves_while_the_psa_is_read(svc: Runtime, tmp_path: Path) -> None:
    """A slow PSA: the step reports pages read so far, more than once, counting up."""
    from atria_tui.sandbox.server import shared

    shared().connectwise.latency_ms = 120
    job = load_job(demo_job(tmp_path / "jobs"))
    steps: list[tuple[str, int, int]] = []
    result = asyncio.run(plan_job(svc, job, progress=lambda s, d, t: steps.append((s, d, t))))
    assert result.plan is not None
    reads = [d for s, d, _ in steps if "page(s) read so far" in s]
    assert len(set(reads)) >= 2, steps
    assert reads == sorted(reads) and reads[-1] > 0
