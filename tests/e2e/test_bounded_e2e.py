"""Safe and bounded: what the CLI prints and stores when a PSA or a file misbehaves."""

from __future__ import annotations

import base64
import signal
import sqlite3
import time
from pathlib import Path

from tests.e2e.conftest import CW_API, CW_SECRETS, Cli, Server, cw_job

BASIC = base64.b64encode(
    f"{CW_SECRETS['ATRIA_TUI_COMPANYNAME']}+{CW_SECRETS['ATRIA_TUI_PUBLICKEY']}:"
    f"{CW_SECRETS['ATRIA_TUI_PRIVATEKEY']}".encode()).decode()
ECHO = {"code": "BadRequest",
        "message": f"rejected; request headers were Authorization: Basic {BASIC}, "
                   f"authorization={BASIC}, X-Session: Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0"}


def db_bytes(home: Path) -> str:
    """The database and its WAL: an entry not yet checkpointed lives in the -wal file."""
    parts = [home / "atria-tui.db", home / "atria-tui.db-wal"]
    return "".join(p.read_bytes().decode("latin-1") for p in parts if p.exists())


def test_a_gateway_echoing_the_authorization_header_leaks_no_token(
        tmp_path: Path, server: Server, cli: Cli) -> None:
    job = str(cw_job(tmp_path, server))
    server.post(CW_API + "/_sandbox/faults", [
        {"method": "PATCH", "path": "additions/[0-9]+$", "status": 400, "body": ECHO,
         "times": None}])
    applied = cli.run("apply", job, "--yes", "--approve-all")
    assert applied.returncode == 2 and "TU08" in applied.stdout, applied.stderr
    server.post(CW_API + "/_sandbox/faults", [
        {"method": "GET", "path": "agreements$", "status": 400, "body": ECHO, "times": None}])
    planned = cli.run("plan", job)
    assert planned.returncode == 2 and "CW02" in planned.stdout and "***" in planned.stdout
    as_json = cli.run("plan", job, "--format", "json")
    target = tmp_path / "log.csv"
    outputs = [applied, planned, as_json]
    for run_id in (1, 2):
        res = cli.run("log", str(run_id), "--csv", str(target.with_suffix(f".{run_id}.csv")))
        assert res.returncode == 0, res.stderr
        outputs.append(res)
    with sqlite3.connect(cli.home / "atria-tui.db") as con:
        journal = " ".join(r[0] for r in con.execute("SELECT error FROM journal"))
    assert "HTTP 400" in journal
    blobs = [journal, db_bytes(cli.home)]
    blobs += [r.stdout + r.stderr for r in outputs]
    blobs += [p.read_text(encoding="utf-8-sig") for p in tmp_path.glob("log.*.csv")]
    for blob in blobs:
        assert BASIC not in blob
        assert "eyJhbGciOiJIUzI1NiJ9" not in blob
        assert CW_SECRETS["ATRIA_TUI_PRIVATEKEY"] not in blob


def wait_for_requests(server: Server, prefixes: tuple[str, ...]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        stats = server.get(CW_API + "/_sandbox/stats")["requests"]
        if any(k.startswith(prefixes) and v for k, v in stats.items()):
            return
        time.sleep(0.02)
    raise AssertionError(f"no {prefixes} request reached the sandbox")


def test_sigterm_during_plan_and_apply_prints_the_rerun_hint_and_exits_143(
        tmp_path: Path, server: Server, cli: Cli) -> None:
    job = str(cw_job(tmp_path, server))
    server.post(CW_API + "/_sandbox/config", {"latency_ms": 150})
    try:
        for args, prefixes in ((("plan", job), ("GET",)),
                               (("apply", job, "--yes", "--approve-all"), ("PATCH", "POST"))):
            server.post(CW_API + "/_sandbox/reset")
            server.post(CW_API + "/_sandbox/config", {"latency_ms": 150})
            proc = cli.popen(*args)
            wait_for_requests(server, prefixes)
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=30)
            assert proc.returncode == 143, err
            assert ("atria-tui: interrupted; run `atria-tui apply` again to finish pending "
                    "writes") in err
            assert "Traceback" not in err, err
    finally:
        server.post(CW_API + "/_sandbox/config", {"latency_ms": 0})
    code, out = cli.json("apply", job, "--yes", "--approve-all")
    assert code == 0 and out["log"][0]["code"] == "TU05"
    after = server.cw_additions()
    assert after[("AcmeServices", "AV-EDR")] == [7]  # added once, not twice
    assert after[("AcmeServices", "M365-BP")] == [12]
