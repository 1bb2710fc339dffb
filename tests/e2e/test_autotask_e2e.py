"""The Autotask PSA job end to end: the CLI as a subprocess against the sandbox on 127.0.0.1.

The units are read back from the sandbox's ContractServiceUnits (the units in force on the
date a change takes effect), and every adjustment that reached it is counted from its state:
adjustments are deltas, so one sent twice bills a customer twice.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import SAMPLES, Cli, Server, edit_job
from tests.fault_proxy import FaultProxy, Rule, wait_for

AT = "/autotask"
ZONE = AT + "/zone/ATServicesRest/V1.0/zoneInformation"
DEC, JAN = date(2026, 12, 1), date(2027, 1, 1)
ADJUST = r"/Contracts/\d+/ServiceAdjustments$"


def _at_env() -> dict[str, str]:
    from atria_tui.engine.secret_store import env_name
    from atria_tui.sandbox.autotask.state import DEMO_SECRETS

    return {env_name(k): v for k, v in DEMO_SECRETS.items()}


@pytest.fixture
def at_server(sandbox: Server) -> Iterator[Server]:
    """The served sandbox with the Autotask tenant reseeded and its knobs at their defaults,
    before and after (a test that turns a knob must not leak it)."""
    from dataclasses import asdict

    from atria_tui.sandbox.autotask.types import AtConfig

    defaults = asdict(AtConfig())
    sandbox.post(AT + "/_sandbox/config", defaults)
    sandbox.post(AT + "/_sandbox/seed")
    yield sandbox
    sandbox.post(AT + "/_sandbox/config", defaults)
    sandbox.post(AT + "/_sandbox/seed")


@pytest.fixture
def at_cli(cli: Cli) -> Cli:
    """The CLI with the Autotask demo credentials in the environment (as cron would have)."""
    return Cli(cli.home, {**cli.env, **_at_env()})


def at_job(tmp_path: Path, server: Server, name: str = "at", *, base: str = "",
           options: dict[str, Any] | None = None) -> str:
    """The Autotask demo job against the served sandbox: the zone looked up for ZoneUser
    (BaseUrl blank), or `base` as BaseUrl."""
    return str(edit_job(SAMPLES / "demo-autotask.toml", tmp_path / f"{name}.toml",
                        parameters={"BaseUrl": base},
                        options={"zone_url": server.base + ZONE, "timeout_seconds": 5,
                                 **(options or {})}))


def state(server: Server) -> dict[str, Any]:
    found: dict[str, Any] = server.get(AT + "/_sandbox/state")
    return found


def units(server: Server) -> dict[tuple[str, str], int]:
    """(companyNumber, service name) → units in force on the date its change takes effect
    (December; January for POST01, posted through December), from ContractServiceUnits."""
    data = state(server)["data"]
    company = {c["id"]: c["companyNumber"] for c in data["Companies"]}
    contract = {k["id"]: company[k["companyID"]] for k in data["Contracts"]
                if k["status"] == 1 and k["contractType"] == 7}
    service = {s["id"]: s["name"] for s in data["Services"]}
    best: dict[tuple[str, str], tuple[str, int]] = {}
    for row in data["ContractServiceUnits"]:
        if row["contractID"] not in contract:
            continue
        owner = contract[row["contractID"]]
        day = (JAN if owner == "POST01" else DEC).isoformat()
        if not row["startDate"][:10] <= day <= row["endDate"][:10]:
            continue
        key = (owner, service[row["serviceID"]])
        if key not in best or row["startDate"] >= best[key][0]:
            best[key] = (row["startDate"], row["units"])
    return {k: v for k, (_, v) in best.items() if not k[0].startswith("FILL")}


def adjustments_per_line(server: Server) -> dict[int, int]:
    out: dict[int, int] = {}
    for a in state(server)["adjustments"]:
        out[a["contractServiceID"]] = out.get(a["contractServiceID"], 0) + 1
    return out


def codes_of(out: dict[str, Any]) -> list[str]:
    return [e["code"] for e in out["log"]]


def only_dns_zone_failed(code: int, out: dict[str, Any]) -> None:
    """The demo apply's one failed write: DNS-ZONE to 0, refused by the tenant (AP34),
    which makes the exit status 2; everything else applied or left as planned."""
    failed = [(i["customer_code"], i["sku"]) for i in out["items"] if i["status"] == "failed"]
    assert code == 2 and failed == [("ASP", "DNS-ZONE")], out["log"][-3:]


EXPECTED_CHANGES = {("ACME01", "M365-BP"): 12, ("ACME01", "EXO-50"): 3,
                    ("ACME01", "AV-EDR"): 7, ("POST01", "M365-BP"): 6}


def test_plan_fires_the_autotask_codes_and_writes_nothing(
        tmp_path: Path, at_server: Server, at_cli: Cli) -> None:
    before = units(at_server)
    code, out = at_cli.json("plan", at_job(tmp_path, at_server))
    assert code in (0, 1), out["log"][-3:]
    fired = set(codes_of(out)) | {i["code"] for i in out["items"]}
    assert {"AP01", "AP04", "AP05", "AP06", "AP07", "AP08", "AP09", "AP14", "AP15", "AP21",
            "AP24", "AP26", "AP29", "AP31", "AP33", "AP35", "AP37"} <= fired
    assert units(at_server) == before and state(at_server)["adjustments"] == []
    stats = at_server.get(AT + "/_sandbox/stats")
    assert not any("ServiceAdjustments" in k for k in stats["byEndpoint"])
    # The zone was looked up once, without credentials (the sandbox ignores them there),
    # and the run says which base it found.
    assert stats["byEndpoint"]["GET zoneInformation"] == 1
    assert any(e["code"] == "TU14" and "zone of ZoneUser" in e["message"] for e in out["log"])


def test_apply_leaves_the_right_units(tmp_path: Path, at_server: Server, at_cli: Cli) -> None:
    before = units(at_server)
    code, out = at_cli.json("apply", at_job(tmp_path, at_server), "--yes", "--approve-all")
    only_dns_zone_failed(code, out)
    after = units(at_server)
    assert {k: after[k] for k in EXPECTED_CHANGES} == EXPECTED_CHANGES   # +, −, new line
    assert after[("ACME01", "DNS-ZONE")] == 4          # removed in Atria: 0 refused, left
    assert "AP34" in codes_of(out)
    untouched = {k: v for k, v in before.items() if k not in EXPECTED_CHANGES}
    assert {k: after[k] for k in untouched} == untouched
    assert sorted(adjustments_per_line(at_server).values()) == [1, 1, 1, 1]
    assert all(a["sent"].endswith("T12:00:00") for a in state(at_server)["adjustments"])
    # A second apply finds nothing left to write.
    code, out = at_cli.json("apply", at_job(tmp_path, at_server), "--yes", "--approve-all")
    assert sorted(adjustments_per_line(at_server).values()) == [1, 1, 1, 1]


def test_a_line_removed_in_atria_goes_to_zero_where_the_tenant_takes_it(
        tmp_path: Path, at_server: Server, at_cli: Cli) -> None:
    at_server.post(AT + "/_sandbox/config", {"zero_units": "accept"})
    code, out = at_cli.json("apply", at_job(tmp_path, at_server), "--yes", "--approve-all")
    assert code in (0, 1), out["log"][-3:]
    assert units(at_server)[("ACME01", "DNS-ZONE")] == 0
    assert "AP21" in codes_of(out) and "AP34" not in codes_of(out)


def test_429_and_thread_threshold_are_waited_out(
        tmp_path: Path, at_server: Server, at_cli: Cli) -> None:
    at_server.post(AT + "/_sandbox/faults", {"path": "Companies/query", "status": 429,
                                             "retry_after": 1, "times": 1})
    at_server.post(AT + "/_sandbox/config", {"thread_limit": 1, "latency_ms": 30})
    code, out = at_cli.json("apply", at_job(tmp_path, at_server), "--yes", "--approve-all")
    only_dns_zone_failed(code, out)
    after = units(at_server)
    assert {k: after[k] for k in EXPECTED_CHANGES} == EXPECTED_CHANGES
    assert sorted(adjustments_per_line(at_server).values()) == [1, 1, 1, 1]
    stats = at_server.get(AT + "/_sandbox/stats")
    assert stats["byStatus"].get("429", 0) >= 1 and stats["threadRejections"] >= 1
    assert "AP30" in codes_of(out)


def test_too_little_of_the_hourly_threshold_ends_the_run(
        tmp_path: Path, at_server: Server, at_cli: Cli) -> None:
    at_server.post(AT + "/_sandbox/usage", {"count": 9990})
    code, out = at_cli.json("plan", at_job(tmp_path, at_server))
    assert code == 2 and "AP28" in codes_of(out)


def test_bad_credentials_end_the_run_with_ap25(
        tmp_path: Path, at_server: Server, at_cli: Cli) -> None:
    env = {**at_cli.env, "ATRIA_TUI_SECRET": "wrong"}
    code, out = Cli(at_cli.home, env).json("plan", at_job(tmp_path, at_server))
    assert code == 2 and "AP25" in codes_of(out)


def test_kill_9_mid_apply_then_resume_sends_no_adjustment_twice(
        tmp_path: Path, at_server: Server, at_cli: Cli) -> None:
    """An adjustment lands, its answer never comes, the apply is killed: the next apply
    re-reads the units, finds the landed one at its target (done, not sent again), sends
    the others once each, and the units are exactly the plan's."""
    with FaultProxy(at_server.base).running() as proxy:
        # The first adjustment is refused before it lands (an answered 5xx: re-read, found
        # at the old value, sent again with a fresh delta); the second lands and hangs.
        refused = Rule("POST", ADJUST, "error_before", times=1)
        proxy.rules += [refused, Rule("POST", ADJUST, "slow_after", delay=60)]
        job = at_job(tmp_path, at_server, base=proxy.base + AT + "/ATServicesRest/",
                     options={"timeout_seconds": 120, "retries": 1})
        proc = at_cli.popen("apply", job, "--yes", "--approve-all")
        try:
            wait_for(lambda: len(state(at_server)["adjustments"]) >= 1, timeout=60)
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait(10)
        landed = adjustments_per_line(at_server)
        assert sum(landed.values()) == 1 and set(landed.values()) == {1}
        proxy.clear()
        code, out = at_cli.json("apply", job, "--yes", "--approve-all")
        only_dns_zone_failed(code, out)
        assert "TU05" in codes_of(out)                    # the killed run was resumed
        assert refused.hits == 1
        # Reached the tenant: the 4 changes once each, and the refused DNS-ZONE to 0 once.
        assert proxy.count("POST", ADJUST) == 5
    after = units(at_server)
    assert {k: after[k] for k in EXPECTED_CHANGES} == EXPECTED_CHANGES
    assert sorted(adjustments_per_line(at_server).values()) == [1, 1, 1, 1]


def test_revert_puts_back_what_the_apply_changed(
        tmp_path: Path, at_server: Server, at_cli: Cli) -> None:
    before = units(at_server)
    job = at_job(tmp_path, at_server)
    code, out = at_cli.json("apply", job, "--yes", "--approve-all")
    only_dns_zone_failed(code, out)
    run = out["run_id"]
    res = at_cli.run("revert", str(run), "--yes", "--job", job, "--format", "json")
    after = units(at_server)
    # The changed lines are back (each by one more adjustment of the opposite delta); the
    # added service cannot go to 0 on this tenant (0 refused), so it is reported, not hidden.
    assert {k: after[k] for k in before} == before, res.stdout[-2000:]
    assert after[("ACME01", "AV-EDR")] == 7
    changes = [a["unitChange"] for a in state(at_server)["adjustments"]]
    assert sorted(changes) == sorted([2, -2, 7, 2, -2, 2, -2])


def test_doctor_checks_the_zone_the_user_and_the_fields(
        tmp_path: Path, at_server: Server, at_cli: Cli) -> None:
    code, out = at_cli.json("doctor", at_job(tmp_path, at_server))
    assert code == 0, out
    steps = {p["step"]: p["verdict"] for p in out["probes"]}
    assert steps["zone"] == "works" and steps["threshold"] == "works"
    assert steps["contract type"] == "works" and steps["adjustments"] == "exists"
    assert state(at_server)["adjustments"] == []                   # nothing written


def test_the_log_of_an_autotask_apply_exports_to_csv_with_what_was_written_and_no_secret(
        tmp_path: Path, at_server: Server, at_cli: Cli) -> None:
    """The export is the shared one: the Autotask run's rows, the service written and its
    contract, BOM and CRLF, and none of the three secrets anywhere in it."""
    import csv
    import io

    from atria_tui.sandbox.autotask.state import DEMO_SECRETS

    code, out = at_cli.json("apply", at_job(tmp_path, at_server), "--yes", "--approve-all")
    only_dns_zone_failed(code, out)
    target = tmp_path / "log.csv"
    res = at_cli.run("log", str(out["run_id"]), "--csv", str(target))
    assert res.returncode == 0, res.stderr
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and data.count(b"\n") == data.count(b"\r\n")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    (m365,) = [r for r in rows if r["code"] == "AP07" and r["customer"] == "ASP"
               and r["sku"] == "M365-BP"]
    assert "updated from 10" in m365["message"] and "to 12" in m365["message"]
    assert m365["psa_product"] == "M365-BP" and "Acme" in m365["agreement"]
    assert {r["code"] for r in rows} >= {"AP01", "AP08", "AP34", "AP24"}
    text = data.decode("utf-8-sig") + res.stdout + res.stderr
    for secret in DEMO_SECRETS.values():
        assert secret not in text
