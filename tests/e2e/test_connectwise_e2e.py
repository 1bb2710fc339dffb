"""`atria-tui plan/apply/revert` as a subprocess against the sandbox on 127.0.0.1."""

from __future__ import annotations

import csv
import signal
import sqlite3
import time
from pathlib import Path

from tests.e2e.conftest import CW_API, CW_SECRETS, Cli, Server, cw_job

PER_LINE_CODES = {"CW04", "CW05", "CW06", "CW07", "CW08", "CW09", "CW10", "CW14", "CW20",
                  "CW22"}


def test_plan_reports_every_line_code_and_writes_nothing(tmp_path: Path, server: Server,
                                                         cli: Cli) -> None:
    before = server.cw_additions()
    code, out = cli.json("plan", str(cw_job(tmp_path, server)))
    assert code == 0
    assert out["task"] == "connectwise-manage" and out["period_end"] == "2026-11-25"
    assert {i["code"] for i in out["items"]} >= PER_LINE_CODES
    log = [e["code"] for e in out["log"]]
    assert log[0] == "CW01" and log[-1] == "CW23"
    asp = {i["sku"]: i for i in out["items"] if i["customer_code"] == "ASP"}
    assert (asp["M365-BP"]["action"], asp["M365-BP"]["atria_quantity"],
            asp["M365-BP"]["psa_quantity"]) == ("update", 12, 10)
    assert asp["BACKUP-1TB"]["action"] == "zero" and "ONSITE-HR" not in asp
    for key in ("customer_code", "customer_name", "billing_identifier", "sku", "description",
                "atria_quantity", "psa_quantity", "action", "code", "level", "message"):
        assert key in asp["M365-BP"]
    assert server.cw_additions() == before


def test_apply_writes_the_plan_then_nothing_is_left_to_do(tmp_path: Path, server: Server,
                                                          cli: Cli) -> None:
    job = str(cw_job(tmp_path, server))
    code, out = cli.json("apply", job, "--yes", "--approve-all")
    assert code == 0, out["log"][-1]
    after = server.cw_additions()
    assert after[("AcmeServices", "M365-BP")] == [12]
    assert after[("AcmeServices", "BACKUP-1TB")] == [0]
    assert after[("AcmeServices", "ONSITE-HR")] == [4]        # never billed: untouched
    assert after[("AcmeServices", "AV-EDR")] == [7]           # CW08 added
    assert after[("OldCustomer", "M365-BP")] == [0] and after[("OldCustomer", "EXO-50")] == [0]
    assert after[("O'Brien", "M365-BP")] == [4]
    assert after[('Say "Hi" Ltd', "EXO-50")] == [2]
    statuses = {i["status"] for i in out["items"] if i["action"] in ("update", "zero", "add")}
    assert statuses == {"applied"}
    code, again = cli.json("plan", job)
    assert code == 0
    assert not [i for i in again["items"] if i["action"] in ("update", "zero", "add")]


def test_stored_plan_apply_skips_a_line_edited_since_preview(tmp_path: Path, server: Server,
                                                             cli: Cli) -> None:
    job = str(cw_job(tmp_path, server))
    code, planned = cli.json("plan", job)
    # Someone edits ASP's M365-BP addition in ConnectWise after the preview.
    line = next(a for ag in server.get(CW_API + "/_sandbox/state")["agreements"]
                if ag["company"]["identifier"] == "AcmeServices" for a in ag["additions"]
                if a["sku"] == "M365-BP")
    import httpx

    auth = httpx.BasicAuth(f"{CW_SECRETS['ATRIA_TUI_COMPANYNAME']}+"
                           f"{CW_SECRETS['ATRIA_TUI_PUBLICKEY']}",
                           CW_SECRETS["ATRIA_TUI_PRIVATEKEY"])
    resp = httpx.patch(f"{server.base}{CW_API}/finance/agreements/600/additions/{line['id']}",
                       json=[{"op": "replace", "path": "quantity", "value": 11}], auth=auth,
                       headers={"clientId": CW_SECRETS["ATRIA_TUI_CLIENTID"]})
    assert resp.status_code == 200
    code, out = cli.json("apply", job, "--plan", str(planned["run_id"]), "--yes", "--approve-all")
    assert code == 0
    assert server.cw_additions()[("AcmeServices", "M365-BP")] == [11]   # not overwritten
    conflict = [e for e in out["log"] if e["code"] == "TU01"]
    assert len(conflict) == 1 and "M365-BP" in conflict[0]["message"]
    assert "11.00" in conflict[0]["message"] and "10.00" in conflict[0]["message"]
    assert server.cw_additions()[("AcmeServices", "BACKUP-1TB")] == [0]  # the rest applied


def test_interrupted_apply_resumes_without_writing_twice(tmp_path: Path, server: Server,
                                                         cli: Cli) -> None:
    job = str(cw_job(tmp_path, server))
    server.post(CW_API + "/_sandbox/config", {"latency_ms": 150})
    proc = cli.popen("apply", job, "--yes", "--approve-all")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        writes = [k for k, v in server.get(CW_API + "/_sandbox/stats")["requests"].items()
                  if k.startswith(("PATCH", "POST")) and v]
        if writes:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    server.post(CW_API + "/_sandbox/config", {"latency_ms": 0})
    db = cli.home / "atria-tui.db"
    with sqlite3.connect(db) as con:
        states = [r[0] for r in con.execute("SELECT state FROM journal")]
    assert states and {"pending", "sent"} & set(states), states   # really interrupted
    code, out = cli.json("apply", job, "--yes", "--approve-all")
    assert code == 0
    assert out["log"][0]["code"] == "TU05"
    with sqlite3.connect(db) as con:
        left = [r[0] for r in con.execute("SELECT state FROM journal") if r[0] != "done"]
    assert left == []
    after = server.cw_additions()
    assert after[("AcmeServices", "AV-EDR")] == [7]             # exactly one addition
    assert after[("CancelCo", "DNS-ZONE")] == [3]
    assert after[("AcmeServices", "M365-BP")] == [12]
    assert after[("OldCustomer", "EXO-50")] == [0]


def test_revert_restores_the_previous_quantities(tmp_path: Path, server: Server,
                                                 cli: Cli) -> None:
    job = str(cw_job(tmp_path, server))
    before = server.cw_additions()
    code, applied = cli.json("apply", job, "--yes", "--approve-all")
    assert code == 0
    assert server.cw_additions() != before
    res = cli.run("revert", str(applied["run_id"]), "--yes", "--job", job, "--format", "json")
    assert res.returncode == 0, res.stderr
    after = server.cw_additions()
    assert after.pop(("AcmeServices", "AV-EDR")) == [0]          # the added line is zeroed
    assert after.pop(("CancelCo", "DNS-ZONE")) == [0]
    assert after == before


def test_log_export_neutralises_formulas_and_secrets_never_leak(tmp_path: Path, server: Server,
                                                               cli: Cli) -> None:
    job = str(cw_job(tmp_path, server))
    code, out = cli.json("apply", job, "--yes", "--approve-all")
    target = tmp_path / "log.csv"
    res = cli.run("log", str(out["run_id"]), "--csv", str(target))
    assert res.returncode == 0, res.stderr
    rows = list(csv.DictReader(target.read_text(encoding="utf-8-sig").splitlines()))
    assert rows[0]["code"] == "CW01" and rows[-1]["code"] == "CW23"
    assert any(r["code"] == "CW07" and r["customer"] == "ASP" for r in rows)
    bad = cw_job(tmp_path, server, name="bad")
    env_bad = dict(cli.env, ATRIA_TUI_PRIVATEKEY="Sup3r-Secret-Value")
    failed = Cli(cli.home, env_bad).run("plan", str(bad), "--format", "json")
    assert failed.returncode == 2 and '"CW02"' in failed.stdout
    private = CW_SECRETS["ATRIA_TUI_PRIVATEKEY"]
    blobs = [failed.stdout, failed.stderr, target.read_text(encoding="utf-8-sig"),
             (cli.home / "atria-tui.db").read_bytes().decode("latin-1")]
    for blob in blobs:
        assert "Sup3r-Secret-Value" not in blob and private not in blob


def test_run_ending_codes_exit_2(tmp_path: Path, server: Server, cli: Cli) -> None:
    cases = {
        "CW17": cw_job(tmp_path, server, "a", ApiUrl=""),
        "CW19": cw_job(tmp_path, server, "b", BillingPeriod="2026-02-30"),
        "CW21": cw_job(tmp_path, server, "c", AgreementType="No Such Type"),
    }
    for expected, job in cases.items():
        code, out = cli.json("plan", str(job))
        assert code == 2 and expected in [e["code"] for e in out["log"]], (expected, out)
        assert out["log"][-1]["code"] == "CW23" and "Failed" in out["log"][-1]["message"]
    env = {k: v for k, v in cli.env.items() if k != "ATRIA_TUI_CLIENTID"}
    res = Cli(cli.home, env).run("plan", str(cw_job(tmp_path, server, "d")), "--format", "json")
    assert res.returncode == 2 and "ClientId must have a valid value" in res.stdout
    res = cli.run("plan", str(tmp_path / "missing.toml"))
    assert res.returncode == 1 and "missing.toml" in res.stderr and "Traceback" not in res.stderr
