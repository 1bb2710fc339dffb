"""The audit trail says only what happened: the CLI against the served sandbox.

A dry run says "would be updated"; headless plan output carries the console's review
state; `apply --yes` holds decreases and swings back unless `--approve-all`; a second
revert writes nothing and says so; a SKU fix shows the product written in the log and in
the exports; CLI CSV output has the BOM and CRLF of the console's exports.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import Cli, Server, cw_job


def test_headless_plan_carries_the_review_state_and_says_would(tmp_path: Path, server: Server,
                                                               cli: Cli) -> None:
    job = str(cw_job(tmp_path, server))
    code, out = cli.json("plan", job)
    assert code == 0
    writes = [i for i in out["items"] if i["action"] in ("update", "add", "zero")]
    decreases = [i for i in writes if i["delta"] < 0]
    assert decreases and all(not i["approved"] for i in decreases)
    assert all(i["status"] == "held for review: decrease" for i in decreases)
    assert any(i["approved"] and "status" not in i for i in writes if i["delta"] > 0)
    messages = [e["message"] for e in out["log"]]
    assert any("would be updated from" in m for m in messages)
    assert not any("updated from" in m and "would be updated" not in m for m in messages)
    assert not any("New Line added" in m for m in messages)

    assert not any("is updated from" in i["message"] for i in writes)  # the items too
    raw = subprocess.run([sys.executable, "-m", "atria_tui.cli.main", "plan", job, "--format",
                          "csv"], env=cli.env, capture_output=True, timeout=60).stdout
    assert raw.startswith(b"\xef\xbb\xbfcustomer_code,") and b"\r\n" in raw
    assert raw.count(b"\n") == raw.count(b"\r\n")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    held = [r for r in rows if r["status"] == "held for review: decrease"]
    assert held and all(r["approved"] == "false" for r in held)
    assert {r["sku"] for r in held} == {i["sku"] for i in decreases}


def test_apply_yes_holds_decreases_unless_approve_all(tmp_path: Path, server: Server,
                                                      cli: Cli) -> None:
    job = str(cw_job(tmp_path, server))
    before = server.cw_additions()
    assert before[("OldCustomer", "EXO-50")] != [0]
    code, out = cli.json("apply", job, "--yes")
    assert code == 0
    after = server.cw_additions()
    assert after[("OldCustomer", "EXO-50")] == before[("OldCustomer", "EXO-50")]  # held
    assert after[("AcmeServices", "M365-BP")] == [12]                           # written
    assert any(e["code"] == "TU04" and e["customer"] == "OLD" for e in out["log"])
    code, out = cli.json("apply", job, "--yes", "--approve-all")
    assert code == 0
    assert server.cw_additions()[("OldCustomer", "EXO-50")] == [0]


def test_a_second_revert_writes_nothing_and_says_so(tmp_path: Path, server: Server,
                                                   cli: Cli) -> None:
    job = str(cw_job(tmp_path, server))
    before = server.cw_additions()
    code, applied = cli.json("apply", job, "--yes", "--approve-all")
    assert code == 0
    run = str(applied["run_id"])
    code, first = cli.json("revert", run, "--yes", "--job", job)
    assert code == 0
    restored = [e for e in first["log"] if e["code"] == "TU06"]
    assert restored and first["requests"] > len(restored)         # reads and writes counted
    reverted = server.cw_additions()
    res = cli.run("revert", run, "--yes", "--job", job, "--format", "json")
    assert res.returncode == 0, res.stderr
    assert f"run {run} was already reverted by run {first['run_id']}" in res.stderr
    second = json.loads(res.stdout)
    assert server.cw_additions() == reverted                      # nothing written
    assert not [e for e in second["log"] if e["code"] == "TU06"]
    (summary,) = [e["message"] for e in second["log"] if e["code"] == "TU12"]
    assert f"0 line(s) restored, {len(restored)} already as before" in summary
    assert second["requests"] > 0                                  # the re-reads are counted
    assert reverted.get(("AcmeServices", "M365-BP")) == before[("AcmeServices", "M365-BP")]
    runs = cli.run("runs")
    assert f"reverted by {first['run_id']}" in runs.stdout


def test_a_sku_fix_names_the_product_written_in_the_log_and_exports(
        tmp_path: Path, server: Server, cli: Cli) -> None:
    job = cw_job(tmp_path, server)
    (tmp_path / "cw.mappings.toml").write_text('[skus]\n"legacy-fax" = "VOIP-DID"\n')
    code, out = cli.json("apply", str(job), "--yes")
    assert code == 0
    (added,) = [e for e in out["log"] if e["code"] == "CW08" and e["sku"] == "LEGACY-FAX"]
    assert "Product ID VOIP-DID (Atria SKU LEGACY-FAX) on " in added["message"]
    assert server.cw_additions().get(("FreshRoast", "VOIP-DID")) is not None
    target = tmp_path / "log.csv"
    assert cli.run("log", str(out["run_id"]), "--csv", str(target)).returncode == 0
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and data.count(b"\n") == data.count(b"\r\n")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    (row,) = [r for r in rows if r["code"] == "CW08" and r["sku"] == "LEGACY-FAX"]
    assert row["psa_product"] == "VOIP-DID" and row["agreement"]
