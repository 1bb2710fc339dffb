"""Kaseya matching by the guide's letter, through the CLI against the served emulator.

KS14's message says it: "check … to see if a Service with '{SkuFieldMatch}': '{Sku}'
exists and is active". So the SKU is looked up among *active catalog services* first (an
inactive one is KS14 even when a contract line carries it), a contract line matches through
the service it carries (a description edited on the line does not matter), and a SKU that
names two active services is ambiguous: reported, and no line of it is written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.e2e.conftest import KS_API, Cli, Server, ks_job, ks_units

SEED: dict[str, Any] = {
    "users": [{"userName": "api.demo@atria.example", "password": "demo-password",
               "tenant": "AtriaDemo"}],
    "services": [
        {"id": 201, "name": "PHONE-OLD", "description": "PHONE-OLD: Legacy phone line",
         "unitPrice": 9.0, "unitCost": 5.0, "isActive": False},
        {"id": 202, "name": "M365-BP", "description": "Microsoft 365 Business Premium",
         "unitPrice": 22.0, "unitCost": 18.7, "isActive": True},
        {"id": 203, "name": "DUP", "description": "DUP: backup, old plan",
         "unitPrice": 3.0, "unitCost": 1.0, "isActive": True},
        {"id": 204, "name": "DUP", "description": "DUP: backup, new plan",
         "unitPrice": 4.0, "unitCost": 1.0, "isActive": True},
        {"id": 205, "name": "EXO-50", "description": "Exchange Online 50GB",
         "unitPrice": 4.0, "unitCost": 3.2, "isActive": True},
    ],
    "accounts": [{
        "id": 1101, "accountCode": "MATCH01", "accountName": "Match Co", "isActive": True,
        "contracts": [{
            "id": 2101, "contractName": "Match Recurring", "contractType": "Recurring Services",
            "status": "Active", "startDate": "2025-01-01T00:00:00",
            "endDate": "2099-12-31T00:00:00",
            "lines": [
                {"id": 3101, "serviceId": 201, "units": 2},
                {"id": 3102, "serviceId": 202, "units": 5,
                 "description": "Edited on the contract: M365 for the Match office"},
                {"id": 3103, "serviceId": 203, "units": 1},
            ],
        }],
    }],
}

HEADER = ("CustomerCode,CustomerName,BillingIdentifier,Sku,LineDescription,SummaryDescription,"
          "Quantity,Billable,PeriodEnd\n")


def billing(tmp_path: Path, rows: list[tuple[str, int]]) -> Path:
    path = tmp_path / "billing.csv"
    path.write_text(HEADER + "".join(f'MTC,Match Co,MATCH01,"{sku}",{sku},{sku},{q},true,'
                                     "2026-11-25\n" for sku, q in rows), encoding="utf-8")
    return path


def seeded(server: Server) -> None:
    assert server.post(KS_API + "/_sandbox/seed", SEED) == {"seeded": True}


def items(out: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["sku"]: i for i in out["items"] if i["customer_code"] == "MTC"}


def test_service_name_mode_inactive_is_ks14_and_two_active_services_are_ambiguous(
        tmp_path: Path, ks_server: Server, ks_cli: Cli) -> None:
    seeded(ks_server)
    source = {"kind": "file", "path": str(billing(tmp_path, [("PHONE-OLD", 3), ("M365-BP", 7),
                                                             ("DUP", 4)]))}
    job = str(ks_job(tmp_path, ks_server, source=source, SKUFieldMatch="ServiceName"))
    code, out = ks_cli.json("apply", job, "--yes", "--approve-all")
    assert code == 0, out["log"][-3:]
    found = items(out)
    assert (found["PHONE-OLD"]["code"], found["PHONE-OLD"]["action"]) == ("KS14", "skip")
    assert "'ServiceName': 'PHONE-OLD' exists and is active" in found["PHONE-OLD"]["message"]
    assert (found["M365-BP"]["code"], found["M365-BP"]["action"]) == ("KS07", "update")
    dup = found["DUP"]
    assert (dup["code"], dup["action"], dup["level"]) == ("TU13", "skip", "Warning")
    assert "DUP (id 203)" in dup["message"] and "DUP (id 204)" in dup["message"]
    assert "no line of this SKU was written" in dup["message"]
    units = ks_units(ks_server)
    assert units[("MATCH01", "PHONE-OLD")] == [2]       # inactive service: never written
    assert units[("MATCH01", "DUP")] == [1]             # ambiguous: never written
    assert units[("MATCH01", "M365-BP")] == [7]


def test_description_mode_compares_the_catalog_service_not_the_edited_line(
        tmp_path: Path, ks_server: Server, ks_cli: Cli) -> None:
    seeded(ks_server)
    source = {"kind": "file", "path": str(billing(
        tmp_path, [("Microsoft 365 Business Premium", 7), ("Exchange Online 50GB", 1),
                   ("Edited on the contract: M365 for the Match office", 9)]))}
    job = str(ks_job(tmp_path, ks_server, source=source, SKUFieldMatch="Description"))
    code, out = ks_cli.json("plan", job)
    assert code == 0, out["log"][-3:]
    found = items(out)
    m365 = found["Microsoft 365 Business Premium"]
    assert (m365["code"], m365["psa_quantity"], m365["atria_quantity"]) == ("KS07", 5, 7)
    assert found["Exchange Online 50GB"]["code"] == "KS06"     # active service, no line
    # The text typed on the contract line names no catalog service.
    assert found["Edited on the contract: M365 for the Match office"]["code"] == "KS14"
    state = json.dumps(ks_server.get(KS_API + "/_sandbox/state"))
    assert '"units": 5' in state.replace('"units": 5.0', '"units": 5')
