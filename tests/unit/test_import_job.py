"""`atria-tui import-job`: the guides' JSON blocks, pasted as printed, become a job.

The blocks below are the seeds' (`kaseya-bms-integration.txt`, `connectwise-manage-
integration.txt`) character for character: line numbers, trailing commas, the leading
space in ConnectWise's apiUrl, the non-breaking space after Kaseya's XXXX. Only the XXXX
placeholders are replaced with values, as the guide tells the user to do.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from atria_tui.cli import main as cli
from atria_tui.core.model import Task
from atria_tui.engine.secret_store import STORE_FILE, SecretStore
from atria_tui.job.file import load_job
from atria_tui.sandbox.kaseya.state import DEMO_SECRETS

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"

KS_PARAMS = """\
  1. {
  2. "ApiUrl":"https://na1bmspreview.kaseya.com",
  3. "CustomersFilter":["ASP", "FR1", "UJA", "CustomerShortCodeName"],
  4. "BillingPeriod": "Current",
  5. }
"""
KS_SECRETS = """\
  1. {{
  2. "UserName":"{user}\u00a0 ",
  3. "Password":"{password}\u00a0 ",
  4. "Tenant":"{tenant}\u00a0 "
  5. }}
"""
CW_PARAMS = """\
  1. {
  2. "apiUrl":" https://api-staging.connectwisedev.com/v4_6_release/apis/3.0/",
  3. "CustomersFilter":["ASP", "SampleCustomerShortCodeName"],
  4. "BillingPeriod": "Current",
  5. "AgreementType": "Hosting and Cloud Services",
  6. }
"""
CW_SECRETS = """\
  1. {{
  2. "CompanyName":"{company}",
  3. "PublicKey":"{public}",
  4. "PrivateKey":"{private}",
  5. "ClientId":"{client}"
  6. }}
"""
KS_PASSWORD = "Kaseya-Pa55-7f3e9c"
CW_PRIVATE = "cw-private-4d1b88e0"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in [k for k in os.environ if k.startswith("ATRIA_TUI_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("ATRIA_TUI_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ATRIA_TUI_KEYRING", "0")
    return tmp_path / "home"


def import_job(tmp_path: Path, task: Task, params: str, secrets: str, *extra: str
               ) -> tuple[int, Path]:
    (tmp_path / "P.json").write_text(params, encoding="utf-8")
    (tmp_path / "S.json").write_text(secrets, encoding="utf-8")
    out = tmp_path / "job.toml"
    code = cli.main(["import-job", "--task", task.value, "--params", str(tmp_path / "P.json"),
                     "--secrets", str(tmp_path / "S.json"), "--out", str(out), *extra])
    return code, out


def assert_not_on_disk(value: str, *files: Path) -> None:
    for f in files:
        assert value not in f.read_text(encoding="utf-8", errors="replace"), f


def test_kaseya_guide_blocks_make_a_loadable_job_with_stored_secrets(
        tmp_path: Path, home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secrets = KS_SECRETS.format(user="api.user@msp.example", password=KS_PASSWORD,
                                tenant="MspTenant")
    code, out = import_job(tmp_path, Task.KASEYA, KS_PARAMS, secrets)
    assert code == 0, capsys.readouterr().err
    job = load_job(out)
    assert job.task is Task.KASEYA and job.id == "job"
    assert job.param("ApiUrl") == "https://na1bmspreview.kaseya.com"
    assert job.param("CustomersFilter") == ["ASP", "FR1", "UJA", "CustomerShortCodeName"]
    assert job.param("BillingPeriod") == "Current"
    store = SecretStore()
    assert store.names_set(job.id) == {"UserName", "Password", "Tenant"}
    resolved = store.resolve(job.id, ("UserName", "Password", "Tenant"))
    assert resolved["Password"] == KS_PASSWORD              # NBSP and space trimmed
    assert resolved["Tenant"] == "MspTenant"
    assert_not_on_disk(KS_PASSWORD, out, home / STORE_FILE)
    printed = capsys.readouterr()
    assert KS_PASSWORD not in printed.out + printed.err


def test_connectwise_guide_blocks_make_a_loadable_job_with_stored_secrets(
        tmp_path: Path, home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secrets = CW_SECRETS.format(company="acme_msp", public="pub-1234", private=CW_PRIVATE,
                                client="5a8c3a0e-0000-4000-8000-000000000009")
    code, out = import_job(tmp_path, Task.CONNECTWISE, CW_PARAMS, secrets)
    assert code == 0, capsys.readouterr().err
    job = load_job(out)
    assert job.task is Task.CONNECTWISE
    # The guide's leading space is gone and `apiUrl` is stored under the job's spelling.
    assert job.parameters["ApiUrl"] == \
        "https://api-staging.connectwisedev.com/v4_6_release/apis/3.0/"
    assert job.param("AgreementType") == "Hosting and Cloud Services"
    assert job.param("CustomersFilter") == ["ASP", "SampleCustomerShortCodeName"]
    assert SecretStore().names_set(job.id) == {"CompanyName", "PublicKey", "PrivateKey",
                                               "ClientId"}
    assert_not_on_disk(CW_PRIVATE, out, home / STORE_FILE)
    printed = capsys.readouterr()
    assert CW_PRIVATE not in printed.out + printed.err


@pytest.mark.parametrize("task,params,secrets,line,field", [
    (Task.KASEYA, KS_PARAMS, KS_SECRETS.format(user="XXXX", password="XXXX", tenant="XXXX"),
     2, "UserName"),
    (Task.CONNECTWISE, CW_PARAMS, CW_SECRETS.format(company="acme", public="XXXXXXXXX",
                                                     private="p", client="c"),
     3, "PublicKey"),
])
def test_unreplaced_placeholders_are_refused_with_line_and_field(
        tmp_path: Path, home: Path, capsys: pytest.CaptureFixture[str], task: Task,
        params: str, secrets: str, line: int, field: str) -> None:
    code, out = import_job(tmp_path, task, params, secrets)
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert "secrets block" in err and f"line {line}" in err and field in err
    assert "XXXX" in err                                    # says what to do
    assert not out.exists() and not (home / STORE_FILE).exists()


def run_plan(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = cli.main(["plan", str(path), "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def test_the_imported_job_runs_on_its_stored_secrets(tmp_path: Path, home: Path,
                                                     capsys: pytest.CaptureFixture[str]
                                                     ) -> None:
    """The embedded Kaseya sandbox, no secrets in the environment: only the store has them."""
    params = KS_PARAMS.replace("https://na1bmspreview.kaseya.com", "sandbox://kaseya") \
        .replace('"Current"', '"2026-11-20"')
    source = str(SAMPLES / "demo-kaseya-billing.csv")
    good = KS_SECRETS.format(user=DEMO_SECRETS["UserName"], password=DEMO_SECRETS["Password"],
                             tenant=DEMO_SECRETS["Tenant"])
    code, out = import_job(tmp_path, Task.KASEYA, params, good, "--source", source)
    assert code == 0
    code, result = run_plan(out, capsys)
    assert code == 0, result["log"][-3:]
    asp = {i["sku"]: i for i in result["items"] if i["customer_code"] == "ASP"}
    assert (asp["M365-BP"]["atria_quantity"], asp["M365-BP"]["psa_quantity"]) == (12, 10)
    assert {i["customer_code"] for i in result["items"]} <= {"ASP", "FR1", "UJA"}  # filter

    # A wrong stored password is used as stored (not replaced by the demo's): KS17.
    bad = KS_SECRETS.format(user=DEMO_SECRETS["UserName"], password="not-the-password",
                            tenant=DEMO_SECRETS["Tenant"])
    code, out = import_job(tmp_path, Task.KASEYA, params, bad, "--source", source)
    assert code == 0
    code, result = run_plan(out, capsys)
    assert code == 2 and [e["code"] for e in result["log"]][-2:] == ["KS17", "KS24"]
