"""The Kaseya demo job run by the real CLI against the Kaseya emulator served on 127.0.0.1.

The scenario (which customer yields which code) is the table at the top of
`atria_tui/sandbox/kaseya/state.py`; these tests hold the CLI to it over real HTTP.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from atria_tui.engine.store import DONE, ERROR
from tests.e2e.conftest import (
    KS_API,
    KS_SECRETS,
    SAMPLES,
    Cli,
    Server,
    edit_job,
    ks_job,
    ks_units,
)
from tests.sandbox_helpers import ks_state
from tests.support import fixed, runtime

PLAN_CODES = {"KS01", "KS04", "KS05", "KS06", "KS07", "KS09", "KS11", "KS14", "KS18", "KS19",
              "KS22", "KS23", "KS24"}
WRITES = ("update", "zero", "add")


def codes_of(out: dict[str, Any]) -> list[str]:
    return [e["code"] for e in out["log"]]


def by_item(out: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(i["customer_code"], i["sku"]): i for i in out["items"]}


def run_json(cli: Cli, *args: str) -> tuple[int, dict[str, Any], str]:
    """(exit status, JSON result, stdout+stderr) of one CLI run that must not crash."""
    res = cli.run(*args, "--format", "json")
    assert "Traceback" not in res.stderr, res.stderr
    return res.returncode, json.loads(res.stdout), res.stdout + res.stderr


def assert_failed_cleanly(res_code: int, out: dict[str, Any], expected: str) -> None:
    assert res_code == 2, (expected, out["log"])
    assert expected in codes_of(out), (expected, out["log"])
    assert out["log"][-1]["code"] == "KS24", out["log"]
    assert "Failed" in out["log"][-1]["message"]


def test_plan_reports_the_scenario_and_writes_nothing(tmp_path: Path, ks_server: Server,
                                                      ks_cli: Cli) -> None:
    before = ks_server.get(KS_API + "/_sandbox/state")["data"]
    code, out = ks_cli.json("plan", str(ks_job(tmp_path, ks_server)))
    assert code == 0, out["log"][-3:]
    assert out["task"] == "kaseya-bms" and out["period_end"] == "2026-11-25"
    log = codes_of(out)
    assert set(log) >= PLAN_CODES, PLAN_CODES - set(log)
    assert log[0] == "KS01" and log[-1] == "KS24"
    items = by_item(out)
    m365 = items[("ASP", "M365-BP")]
    assert (m365["action"], m365["atria_quantity"], m365["psa_quantity"], m365["code"]) == \
        ("update", 12, 10, "KS07")
    assert (items[("ASP", "EXO-50")]["action"], items[("ASP", "EXO-50")]["code"]) == \
        ("none", "KS04")
    assert (items[("ASP", "BACKUP-1TB")]["action"], items[("ASP", "BACKUP-1TB")]["code"]) == \
        ("zero", "KS11")
    assert items[("ASP", "AV-EDR")]["code"] == "KS06"
    assert ("ASP", "ONSITE-HR") not in items                    # never billed: not managed
    assert items[("FR1", "")]["code"] == "KS23"
    assert items[("FR1", "LEGACY-FAX")]["code"] == "KS14"
    assert items[("FLT", "M365-BP")]["action"] == "update"
    assert items[("AMB", "M365-BP")]["action"] == "skip"
    assert {(c, items[(c, "")]["code"]) for c in ("UJA", "NOC", "GHO")} == \
        {("UJA", "KS09"), ("NOC", "KS05"), ("GHO", "KS22")}
    assert [items[("OLD", s)]["code"] for s in ("EXO-50", "M365-BP")] == ["KS11", "KS11"]
    messages = {e["code"]: e["message"] for e in out["log"]}
    assert "'ServiceName': 'LEGACY-FAX'" in messages["KS14"]
    assert "No Contract Co - NOCON01 (Recurring Services)" in messages["KS05"]
    assert "'GHOST01'" in messages["KS22"]
    assert ks_server.get(KS_API + "/_sandbox/state")["data"] == before


def test_apply_writes_the_scenario_and_reports_the_faulty_line(tmp_path: Path,
                                                               ks_server: Server,
                                                               ks_cli: Cli) -> None:
    before = ks_units(ks_server)
    inactive_before = ks_units(ks_server, live_only=False)
    job = str(ks_job(tmp_path, ks_server, options={"retries": 1}))
    code, out = ks_cli.json("apply", job, "--yes", "--approve-all")
    assert code == 2, out["log"][-3:]                           # one write failed
    after = ks_units(ks_server)
    assert after[("ACME01", "M365-BP")] == [12]
    assert after[("ACME01", "EXO-50")] == [5]
    assert after[("ACME01", "BACKUP-1TB")] == [0]
    assert after[("ACME01", "ONSITE-HR")] == [4]                # never billed: untouched
    assert ("ACME01", "AV-EDR") not in after                    # KS06: no line, none added
    assert after[("OLD01", "M365-BP")] == [0] and after[("OLD01", "EXO-50")] == [0]
    assert after[("FAULT01", "M365-BP")] == [4]                 # the write failed
    assert after[("AMB01", "M365-BP")] == [2, 3]                # ambiguous: left alone
    assert after[("FRESH01", "M365-BP")] == [3]
    big = [i for i in out["items"] if i["customer_code"] == "BIG"]
    assert len(big) == 40 and {i["action"] for i in big} == {"update", "none"}
    assert all(after[("BIG01", i["sku"])] == [i["atria_quantity"]] for i in big)
    assert after[("BIG01", "NET-101")] == [3] and after[("BIG01", "BKP-101")] == [4]
    untouched = {k: v for k, v in before.items() if k[0].startswith("FILL")}
    assert untouched and all(after[k] == v for k, v in untouched.items())
    # The ended 2025 contract keeps its quantities.
    ended = {k: v for k, v in ks_units(ks_server, live_only=False).items() if k not in after}
    assert ended == {k: v for k, v in inactive_before.items() if k not in before}

    log = out["log"]
    failed = [e for e in log if e["code"] == "KS08"]
    assert len(failed) == 1 and failed[0]["customer"] == "FLT"
    assert "Faulty Line Co" in failed[0]["message"] and "500" in failed[0]["message"]
    assert log[0]["code"] == "KS01" and log[-1]["code"] == "KS24"
    assert "errors" in log[-1]["message"]
    codes = codes_of(out)
    start, end = codes.index("KS18"), codes.index("KS19")
    old = [n for n, e in enumerate(log) if e["code"] == "KS11" and e["customer"] == "OLD"]
    assert len(old) == 2 and all(start < n < end for n in old)
    asp_zero = next(n for n, e in enumerate(log) if e["code"] == "KS11" and e["customer"] == "ASP")
    assert asp_zero < start                                     # not a deprovisioned customer
    status = {(i["customer_code"], i["sku"]): i["status"] for i in out["items"]
              if i["action"] in WRITES}
    assert status.pop(("FLT", "M365-BP")) == "failed"
    assert set(status.values()) == {"applied"}

    code, again = ks_cli.json("plan", job)
    left = [(i["customer_code"], i["sku"]) for i in again["items"] if i["action"] in WRITES]
    assert left == [("FLT", "M365-BP")]                         # only the failed write remains


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_run_ending_codes_end_the_run_cleanly(tmp_path: Path, ks_server: Server,
                                              ks_cli: Cli) -> None:
    fast = {"retries": 0}
    jobs = {
        "KS02": ks_job(tmp_path, ks_server, "ks02", options=fast,
                       ApiUrl=f"http://127.0.0.1:{_free_port()}/kaseya"),
        "KS03": ks_job(tmp_path, ks_server, "ks03",
                       source={"kind": "file", "path": str(tmp_path / "no-such-billing.csv")}),
        "KS10": ks_job(tmp_path, ks_server, "ks10", BillingPeriod="2026-02-30"),
        "KS12": ks_job(tmp_path, ks_server, "ks12", ContractType="No Such Type"),
        "KS20": ks_job(tmp_path, ks_server, "ks20", ApiUrl=""),
    }
    outs: dict[str, dict[str, Any]] = {}
    for expected, job in jobs.items():
        code, outs[expected], _ = run_json(ks_cli, "plan", str(job))
        assert_failed_cleanly(code, outs[expected], expected)
    assert "no-such-billing.csv" in outs["KS03"]["log"][-2]["message"]
    assert "onnect" in outs["KS02"]["log"][-2]["message"]
    ks20 = next(e for e in outs["KS20"]["log"] if e["code"] == "KS20")
    assert ks20["level"] == "Info"                              # as the seed prints it

    ok_job = str(ks_job(tmp_path, ks_server, "ok"))
    ks_server.post(KS_API + "/_sandbox/faults", {"path": "contracts/summary",
                                                 "malformed": True, "times": 0})
    code, out, _ = run_json(ks_cli, "plan", ok_job)
    ks_server.post(KS_API + "/_sandbox/reset")                  # drops the fault rule
    assert_failed_cleanly(code, out, "KS13")

    wrong = Cli(ks_cli.home, {**ks_cli.env, "ATRIA_TUI_PASSWORD": "Wr0ng-Pa55"})
    code, out, text = run_json(wrong, "plan", ok_job)
    assert_failed_cleanly(code, out, "KS17")
    assert "Wr0ng-Pa55" not in text
    no_tenant = Cli(ks_cli.home, {k: v for k, v in ks_cli.env.items()
                                  if k != "ATRIA_TUI_TENANT"})
    code, out, _ = run_json(no_tenant, "plan", ok_job)
    assert_failed_cleanly(code, out, "KS21")

    # A damaged secret store, and no environment override to fall back on.
    home = tmp_path / "damaged-home"
    home.mkdir()
    (home / "secrets.enc.json").write_text("{not json at all")
    env = {k: v for k, v in ks_cli.env.items() if k not in KS_SECRETS}
    code, out, _ = run_json(Cli(home, {**env, "ATRIA_TUI_HOME": str(home)}), "plan",
                            ok_job)
    assert_failed_cleanly(code, out, "KS16")
    message = out["log"][-2]["message"]
    assert "secrets.enc.json" in message and "damaged" in message

    db = (ks_cli.home / "atria-tui.db").read_bytes().decode("latin-1")
    assert "Wr0ng-Pa55" not in db and KS_SECRETS["ATRIA_TUI_PASSWORD"] not in db

    code, out, _ = run_json(ks_cli, "plan", str(ks_job(tmp_path, ks_server, "ks15",
                                                       BillingPeriod="2025-01-10")))
    assert code == 0 and codes_of(out)[-2:] == ["KS15", "KS24"]
    assert out["log"][-2]["level"] == "Warning" and "2025-01-25" in out["log"][-2]["message"]
    assert "Failed" not in out["log"][-1]["message"]


def test_token_lifetime_shorter_than_the_run(tmp_path: Path, ks_server: Server,
                                             ks_cli: Cli) -> None:
    # Expiry is served to the second, so a 1 s token lives at most 1 s: the apply's writes
    # (about 4 rounds of read + PUT at 200 ms each) cannot finish on one token.
    ks_server.post(KS_API + "/_sandbox/config", {"token_ttl_seconds": 1, "latency_ms": 200})
    job = str(ks_job(tmp_path, ks_server, options={"retries": 1}))
    code, out = ks_cli.json("apply", job, "--yes", "--approve-all")
    assert code == 2 and "KS17" not in codes_of(out)            # only FLT's KS08 fails it
    calls = ks_server.get(KS_API + "/_sandbox/stats")["byEndpoint"]
    renewals = (calls.get("POST /v2/security/refreshtoken", 0)
                + calls.get("POST /v2/security/authenticate", 0) - 2)  # 2: one per session
    assert renewals >= 1, calls
    after = ks_units(ks_server)
    assert after[("ACME01", "M365-BP")] == [12] and after[("OLD01", "EXO-50")] == [0]


def test_tokens_revoked_mid_apply_are_renewed(tmp_path: Path, ks_server: Server,
                                              ks_cli: Cli) -> None:
    job = str(ks_job(tmp_path, ks_server, options={"retries": 1}))
    ks_server.post(KS_API + "/_sandbox/config", {"latency_ms": 120})
    proc = ks_cli.popen("apply", job, "--yes", "--approve-all", "--format", "json")
    put = "PUT /v2/finance/contracts/recurringservices/{contractId}/services/{lineId}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        if ks_server.get(KS_API + "/_sandbox/stats")["byEndpoint"].get(put):
            break
        time.sleep(0.02)
    expired = ks_server.post(KS_API + "/_sandbox/expire-tokens")["expired"]
    stdout, stderr = proc.communicate(timeout=60)
    assert expired >= 1 and "Traceback" not in stderr
    out = json.loads(stdout)
    assert proc.returncode == 2 and "KS17" not in codes_of(out), out["log"][-3:]
    stats = ks_server.get(KS_API + "/_sandbox/stats")
    assert stats["byStatus"].get("401", 0) >= 1, stats          # the expiry was really hit
    after = ks_units(ks_server)
    assert after[("ACME01", "M365-BP")] == [12] and after[("ACME01", "BACKUP-1TB")] == [0]
    assert after[("OLD01", "M365-BP")] == [0] and after[("BIG01", "NET-108")] == [11]
    with sqlite3.connect(ks_cli.home / "atria-tui.db") as con:
        states = sorted({r[0] for r in con.execute("SELECT state FROM journal")})
    assert states == sorted({DONE, ERROR})                      # ERROR: FLT's seeded fault


def test_sandbox_budget_below_the_jobs_ends_the_run_with_ks02(tmp_path: Path,
                                                               ks_server: Server,
                                                               ks_cli: Cli) -> None:
    # A short Retry-After is waited out and the call retried.
    ks_server.post(KS_API + "/_sandbox/faults", {"path": "contracts/summary", "status": 429,
                                                 "retry_after": 1, "times": 1})
    job = str(ks_job(tmp_path, ks_server, options={"retries": 1}))
    code, out = ks_cli.json("plan", job)
    assert code == 0                                  # the 429 was waited out, then retried
    assert ks_server.get(KS_API + "/_sandbox/stats")["faults"] == 1
    # The tenant allows 8 calls an hour per endpoint; the job thinks 1,500: the sandbox
    # answers 429 with Retry-After ≈ 3600 s, and the run must say so promptly.
    ks_server.post(KS_API + "/_sandbox/reset")
    ks_server.post(KS_API + "/_sandbox/config", {"budget_per_hour": 8})
    # No hour-long sleep: it stops.
    code, out, _ = run_json(ks_cli, "apply", job, "--yes", "--approve-all")
    assert_failed_cleanly(code, out, "KS02")
    message = out["log"][-2]["message"]
    assert out["log"][-2]["code"] == "KS02"
    assert "429" in message and "call budget" in message and "call_budget_per_hour" in message
    assert "KS08" not in codes_of(out)                          # one clear stop, not N failures
    assert ks_server.get(KS_API + "/_sandbox/stats")["throttled"] >= 1


class VirtualTime:
    """One clock for the client's budget, its token expiry and the emulator: an hour of
    pacing passes in no real time. Concurrent sleepers wake at their own deadline (the
    clock moves to the latest one), as they would in real time."""

    def __init__(self) -> None:
        self.t = 0.0

    def mono(self) -> float:
        return self.t

    def now(self) -> datetime:
        return datetime(2026, 11, 22, tzinfo=UTC) + timedelta(seconds=self.t)

    async def sleep(self, seconds: float) -> None:
        target = self.t + seconds
        await asyncio.sleep(0)
        self.t = max(self.t, target)


async def test_job_budget_paces_the_run_to_the_tenants_budget(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tenant and job both allow 8 calls per endpoint an hour: the whole demo apply takes
    hours of (virtual) time, tokens lapse while calls wait, yet no call is refused."""
    from atria_tui.adapters import kaseya as adapter
    from atria_tui.adapters.http import CallBudget
    from atria_tui.job.file import load_job
    from atria_tui.sandbox.kaseya import create_app
    from atria_tui.services.engine import apply_job

    clock = VirtualTime()
    budget = CallBudget(8, clock=clock.mono, sleep=clock.sleep)
    real = adapter.KaseyaAdapter

    class Paced(real):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kw: Any) -> None:
            super().__init__(*args, budget=budget, clock=clock.now, sleep=clock.sleep, **kw)

    monkeypatch.setattr(adapter, "KaseyaAdapter", Paced)
    state = ks_state(now=clock.now)
    state.config.budget_per_hour = 8
    job = load_job(edit_job(SAMPLES / "demo-kaseya.toml", tmp_path / "paced.toml",
                            parameters={"ApiUrl": "http://kaseya.test"},
                            options={"call_budget_per_hour": 8, "retries": 0}))
    env = {k: v for k, v in KS_SECRETS.items()}
    svc = runtime(tmp_path, db="db.sqlite", environ=env,
                  now=fixed(datetime(2026, 11, 22, 12, 0, tzinfo=UTC)),
                  transport=httpx.ASGITransport(app=create_app(state)))
    res = await apply_job(svc, job, approve_all=True)  # pacing, not review, is tested
    codes = [e.code for e in res.entries]
    assert state.stats.throttled == 0                            # paced, never refused
    assert "KS17" not in codes and "KS02" not in codes, res.entries[-3:]
    assert [e.customer for e in res.entries if e.code == "KS08"] == ["FLT"]
    assert budget.waited >= 3600 and clock.t >= 2 * 3600         # it really waited, hours
    assert state.stats.by_status.get("401", 0) == 0              # no token sent stale
    lines = {(state.accounts[state.contracts[ln.contract_id].account_id].code,
              ln.service_name): ln.units for ln in state.lines.values()
             if state.contracts[ln.contract_id].status == "Active"}
    assert lines[("ACME01", "M365-BP")] == 12 and lines[("OLD01", "EXO-50")] == 0
    assert lines[("BIG01", "NET-108")] == 11
