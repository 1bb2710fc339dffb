"""Kaseya wire details through the CLI against the served emulator: whole Units, the
effective date of a unit change, the API base in the log, and a bad [endpoints] table."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import KS_API, Cli, Server, ks_job, ks_units
from tests.e2e.test_kaseya_matching_e2e import HEADER, SEED, seeded


def billing(tmp_path: Path, quantity: str) -> dict[str, str]:
    path = tmp_path / "billing.csv"
    path.write_text(HEADER + f"MTC,Match Co,MATCH01,M365-BP,M365,M365,{quantity},true,"
                    "2026-11-25\n", encoding="utf-8")
    return {"kind": "file", "path": str(path)}


def test_a_fractional_quantity_is_refused_unless_the_job_says_how_to_round(
        tmp_path: Path, ks_server: Server, ks_cli: Cli) -> None:
    seeded(ks_server)
    job = ks_job(tmp_path, ks_server, source=billing(tmp_path, "6.5"))
    code, out = ks_cli.json("apply", str(job), "--yes", "--approve-all")
    assert code == 0, out["log"][-3:]
    [item] = [i for i in out["items"] if i["customer_code"] == "MTC"]
    assert (item["code"], item["action"]) == ("TU16", "skip")
    assert "quantity 6.50 is not a whole number, and Kaseya takes whole units" in item["message"]
    assert ks_units(ks_server)[("MATCH01", "M365-BP")] == [5]            # nothing sent
    for rounding, expected in (("up", 7), ("down", 6)):
        job = ks_job(tmp_path, ks_server, name=rounding, source=billing(tmp_path, "6.5"),
                     options={"units_rounding": rounding})
        code, out = ks_cli.json("apply", str(job), "--yes", "--approve-all")
        assert code == 0, out["log"][-3:]
        assert ks_units(ks_server)[("MATCH01", "M365-BP")] == [expected]


def test_a_unit_change_carries_the_effective_date_the_job_asks_for(
        tmp_path: Path, ks_server: Server, ks_cli: Cli) -> None:
    seeded(ks_server)
    job = ks_job(tmp_path, ks_server, source=billing(tmp_path, "8"))
    assert ks_cli.json("apply", str(job), "--yes", "--approve-all")[0] == 0
    job = ks_job(tmp_path, ks_server, name="today", source=billing(tmp_path, "9"),
                 options={"unit_change_effective": "today"})
    code, out = ks_cli.json("apply", str(job), "--yes", "--approve-all")
    assert code == 0, out["log"][-3:]
    changes = ks_server.get(KS_API + "/_sandbox/state")["unit_changes"]
    assert [(c["units"], c["effectiveDate"][:10]) for c in changes][0] == (8, "2026-10-26")
    assert changes[1]["units"] == 9 and changes[1]["effectiveDate"][:10] != "2026-10-26"
    assert SEED["accounts"][0]["accountCode"] == "MATCH01"


def test_the_log_says_which_api_base_was_used(tmp_path: Path, ks_server: Server,
                                             ks_cli: Cli) -> None:
    code, out = ks_cli.json("plan", str(ks_job(tmp_path, ks_server)))
    [base] = [e for e in out["log"] if e["code"] == "TU14"]
    assert base["level"] == "Info"
    assert f"Kaseya API base {ks_server.base}{KS_API} (ApiUrl as given)" == base["message"]


def test_a_bad_endpoints_table_stops_the_run_before_anything_is_sent(
        tmp_path: Path, ks_server: Server, ks_cli: Cli) -> None:
    job = ks_job(tmp_path, ks_server)
    job.write_text(job.read_text() + '\n[endpoints.set_units]\nmethod = "DELETE"\n')
    before = ks_server.get(KS_API + "/_sandbox/stats")["total"]
    res = ks_cli.run("plan", str(job))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "KS13" in res.stdout
    assert "[endpoints.set_units] method: expected GET, POST, PUT or PATCH" in res.stdout
    assert str(job) in res.stdout
    assert ks_server.get(KS_API + "/_sandbox/stats")["total"] == before
