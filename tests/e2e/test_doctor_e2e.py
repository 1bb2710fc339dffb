"""`atria-tui doctor` against the served Kaseya emulator, in each of its route modes.

The emulator follows the vendor's swagger unless told otherwise (`lines_routes = "none"`:
GET on the POST-only services route is 405, the Units route is missing); the other modes
serve the guessed routes as v2 on the API host, under the UI host's /api2, or as V1. The
doctor must find out which, read-only: every test checks no write reached the emulator.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import CW_API, KS_API, Cli, Server, cw_job, ks_job, ks_units

WRITES = ("PUT", "PATCH", "DELETE")


def lines_routes(server: Server, mode: str) -> None:
    server.post(KS_API + "/_sandbox/config", {"lines_routes": mode})


def writes(server: Server) -> dict[str, int]:
    stats = server.get(KS_API + "/_sandbox/stats")
    return {k: v for k, v in stats["byEndpoint"].items()
            if k.split()[0] in WRITES or (k.startswith("POST") and k.endswith("/services"))}


def doctor(cli: Cli, job: Path) -> tuple[int, dict[str, Any], str]:
    table = cli.run("doctor", str(job))
    assert "Traceback" not in table.stderr, table.stderr
    res = cli.run("doctor", str(job), "--format", "json")
    assert res.returncode == table.returncode
    return res.returncode, json.loads(res.stdout), table.stdout


def needed(report: dict[str, Any]) -> dict[str, str]:
    return {p["step"]: p["verdict"] for p in report["probes"] if p["needed"]}


def test_doctor_passes_when_the_guessed_routes_are_served(tmp_path: Path, ks_server: Server,
                                                          ks_cli: Cli) -> None:
    code, report, table = doctor(ks_cli, ks_job(tmp_path, ks_server))
    assert code == 0 and report["ok"], report
    assert needed(report) == {"host": "works", "login": "works", "accounts": "works",
                              "contracts": "works", "services": "works",
                              "list_lines": "works", "set_units": "exists"}
    assert "Every route this job needs answers." in table
    assert writes(ks_server) == {}
    assert ks_server.get(KS_API + "/_sandbox/state")["unit_changes"] == []


def test_doctor_names_the_routes_a_vendor_document_tenant_lacks(tmp_path: Path,
                                                                ks_server: Server,
                                                                ks_cli: Cli) -> None:
    lines_routes(ks_server, "none")
    before = ks_units(ks_server)
    code, report, table = doctor(ks_cli, ks_job(tmp_path, ks_server))
    assert code == 2 and not report["ok"]
    found = needed(report)
    assert (found["list_lines"], found["set_units"]) == ("not allowed", "not found")
    assert found["login"] == found["contracts"] == "works"
    lines = next(p for p in report["probes"] if p["step"] == "list_lines" and p["needed"])
    assert lines["status"] == 405 and "[endpoints]" in lines["advice"]
    assert "Not ready: list_lines, set_units." in table
    assert writes(ks_server) == {} and ks_units(ks_server) == before


@pytest.mark.parametrize("mode, route_set", [("ui-api2", "ui-api2"), ("v1", "v1-lines")])
def test_doctor_points_at_the_alternative_that_works_and_the_job_then_runs_on_it(
        tmp_path: Path, ks_server: Server, ks_cli: Cli, mode: str, route_set: str) -> None:
    lines_routes(ks_server, mode)
    code, report, table = doctor(ks_cli, ks_job(tmp_path, ks_server))
    assert code == 2
    alternatives = {p["candidate"]: p["verdict"] for p in report["probes"]
                    if p["step"] == "list_lines" and not p["needed"]}
    assert alternatives[route_set] == "works"
    assert f'[endpoints] routes = "{route_set}"' in table
    assert writes(ks_server) == {}
    # The job follows the advice: the same routes, now through the alternative.
    job = ks_job(tmp_path, ks_server, name="fixed")
    job.write_text(job.read_text() + f'\n[endpoints]\nroutes = "{route_set}"\n')
    code, report, _ = doctor(ks_cli, job)
    assert code == 0, report
    code, out = ks_cli.json("apply", str(job), "--yes", "--approve-all")
    assert code == 2, out["log"][-3:]                     # the demo's one faulty line
    assert ks_units(ks_server)[("ACME01", "M365-BP")] == [12]
    changes = ks_server.get(KS_API + "/_sandbox/state")["unit_changes"]
    assert changes and all(c["effectiveDate"] == "2026-10-26T00:00:00" for c in changes)


def test_a_plan_on_a_tenant_without_the_lines_route_says_so_per_customer_and_stops_asking(
        tmp_path: Path, ks_server: Server, ks_cli: Cli) -> None:
    lines_routes(ks_server, "none")
    code, out = ks_cli.json("plan", str(ks_job(tmp_path, ks_server)))
    at15 = [e for e in out["log"] if e["code"] == "TU15"]
    assert at15 and all("405" in e["message"] and "doctor" in e["message"] for e in at15)
    assert {e["code"] for e in out["log"]} & {"KS07", "KS04", "KS11"} == set()
    stats = ks_server.get(KS_API + "/_sandbox/stats")["byEndpoint"]
    lines = "GET /v2/finance/contracts/recurringservices/{contractId}/services"
    assert stats[lines] <= 6  # the client's bound: those already sent when the first failed
    assert writes(ks_server) == {}


# --- ConnectWise: every route is documented; doctor still checks each one --------------


def cw_writes(server: Server) -> list[str]:
    return [k for k, v in server.get(CW_API + "/_sandbox/stats")["requests"].items()
            if k.startswith(("PATCH", "POST", "PUT", "DELETE")) and v]


def test_connectwise_doctor_checks_each_route_and_writes_nothing(tmp_path: Path,
                                                                server: Server,
                                                                cli: Cli) -> None:
    code, report, table = doctor(cli, cw_job(tmp_path, server))
    assert code == 0 and report["ok"], report
    assert needed(report) == {"host": "works", "login": "works", "agreement_types": "works",
                              "agreements": "works", "companies": "works", "catalog": "works",
                              "additions": "works", "set_quantity": "exists",
                              "add_addition": "exists"}
    assert cw_writes(server) == []


def test_connectwise_doctor_says_what_is_wrong(tmp_path: Path, server: Server,
                                               cli: Cli) -> None:
    code, report, _ = doctor(cli, cw_job(tmp_path, server, AgreementType="No Such Type"))
    assert code == 2
    types = next(p for p in report["probes"] if p["step"] == "agreement_types")
    assert types["verdict"] == "failed" and "CW21" in types["advice"]
    wrong = Cli(cli.home, {**cli.env, "ATRIA_TUI_PRIVATEKEY": "wrong"})
    code, report, table = doctor(wrong, cw_job(tmp_path, server, name="wrong"))
    assert code == 2 and needed(report)["login"] == "refused"
    assert "PrivateKey" in table and "wrong" not in json.dumps(report)
    moved = cw_job(tmp_path, server, name="moved")
    moved.write_text(moved.read_text() + '\n[endpoints.additions]\npath = '
                     '"/finance/agreements/{agreementId}/lines"\n')
    code, report, _ = doctor(cli, moved)
    assert code == 2 and needed(report)["additions"] == "not found"
    assert cw_writes(server) == []
