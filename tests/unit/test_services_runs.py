"""Each run-ending failure maps to its seed code, in-process on the embedded sandbox."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from atria_tui.config import load_job
from atria_tui.paths import data_dir
from atria_tui.sandbox.server import shared
from atria_tui.secrets import SecretStore
from atria_tui.services.runs import Services, apply_job, plan_job
from atria_tui.store import Store

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


def svc() -> Services:
    return Services(store=Store(data_dir() / "t.db"), secrets=SecretStore())


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
    from atria_tui.model import Mappings

    res = await plan_job(svc(), load_job(demo_job(tmp_path)))
    assert res.context is not None
    before = shared().connectwise.stats()["total"]
    fixed = res.context.replan(Mappings(customers={"uja": "UjalaTraders"}))
    assert shared().connectwise.stats()["total"] == before
    uja = [i for i in fixed.items if i.customer_code == "UJA"]
    assert uja and all(i.code != "CW04" for i in uja)
