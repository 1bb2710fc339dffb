"""The ConnectWise demo data set: seed JSON, billing CSV and job TOML agree on the scenario.

Each demo customer exists to make one log code fire; if someone edits the seed or the CSV
and breaks that, these tests say which customer lost its purpose.
"""

from __future__ import annotations

import csv
import tomllib
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from atria_tui.sandbox.connectwise.state import CwState

ROOT = Path(__file__).resolve().parents[2]
CSV_PATH = ROOT / "sample_configs" / "demo-connectwise-billing.csv"
TOML_PATH = ROOT / "sample_configs" / "demo-connectwise.toml"
CUR, PREV = "2026-11-25", "2026-10-25"
HOSTING = "Hosting and Cloud Services"
Key = tuple[str, str, str]  # (period end, customer code, sku)


@pytest.fixture(scope="module")
def state() -> CwState:
    return CwState()


@pytest.fixture(scope="module")
def billed() -> dict[Key, Decimal]:
    """Billable quantity per (period, customer, SKU), as the reconcile rules sum it."""
    with CSV_PATH.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    out: dict[Key, Decimal] = defaultdict(Decimal)
    for row in rows:
        if row["Billable"] == "true":
            out[(row["PeriodEnd"], row["CustomerCode"], row["Sku"])] += Decimal(row["Quantity"])
    return dict(out)


def live_agreements(state: CwState, identifier: str) -> list[dict[str, object]]:
    return [
        a
        for a in state.agreements.values()
        if a["company"]["identifier"] == identifier
        and a["type"]["name"] == HOSTING
        and a["agreementStatus"] == "Active"
        and not a["cancelledFlag"]
    ]


def test_csv_header_and_quoting() -> None:
    text = CSV_PATH.read_text("utf-8")
    header = text.splitlines()[0]
    assert header == (
        "CustomerCode,CustomerName,BillingIdentifier,Sku,LineDescription,"
        "SummaryDescription,Quantity,Billable,PeriodEnd"
    )
    assert '"Say ""Hi"" Ltd"' in text  # quotes doubled per RFC 4180
    assert '"Microsoft 365 Business Premium - Smith, John"' in text
    with CSV_PATH.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["PeriodEnd"] for r in rows} == {CUR, PREV}
    assert all(len(r) == 9 and None not in r for r in rows)


def test_demo_job_toml() -> None:
    job = tomllib.loads(TOML_PATH.read_text("utf-8"))
    assert job["task"] == "connectwise-manage" and job["period_start_day"] == 26
    assert job["source"] == {"kind": "file", "path": "demo-connectwise-billing.csv"}
    params = job["parameters"]
    assert params["AgreementType"] == HOSTING
    assert params["AllowAtriaCreateAdditions"] is True
    assert params["BillingPeriod"] == "2026-11-20" and params["CustomersFilter"] == []


def test_acme_quantities_drive_cw07_cw09_cw20_cw08_cw22_cw12(
    state: CwState, billed: dict[Key, Decimal]
) -> None:
    assert state.quantity_of("AcmeServices", "M365-BP") == [10.0]
    assert billed[(CUR, "ASP", "M365-BP")] == 12
    assert state.quantity_of("AcmeServices", "EXO-50") == [5.0]
    assert billed[(CUR, "ASP", "EXO-50")] == 5  # the non-billable shared mailbox is excluded
    assert billed[(PREV, "ASP", "BACKUP-1TB")] == 3 and (CUR, "ASP", "BACKUP-1TB") not in billed
    assert state.quantity_of("AcmeServices", "ONSITE-HR") == [4.0]
    assert not any(k[2] == "ONSITE-HR" for k in billed)
    assert billed[(CUR, "ASP", "AV-EDR")] == 7
    assert state.quantity_of("AcmeServices", "AV-EDR") == []
    teams, bundle = (
        state.catalog_by_identifier("TEAMS-PHONE"),
        state.catalog_by_identifier("SEC-BUNDLE"),
    )
    assert teams is not None and teams["inactiveFlag"] is True
    assert bundle is not None and bundle["productClass"] == "Bundle"
    assert billed[(CUR, "ASP", "TEAMS-PHONE")] == 2 and billed[(CUR, "ASP", "SEC-BUNDLE")] == 1


def test_mapping_and_sku_problems(state: CwState, billed: dict[Key, Decimal]) -> None:
    assert billed[(CUR, "FR1", "")] == 1
    assert billed[(CUR, "FR1", "LEGACY-FAX")] == 1
    assert state.catalog_by_identifier("LEGACY-FAX") is None
    with CSV_PATH.open(newline="", encoding="utf-8") as fh:
        uja = [r for r in csv.DictReader(fh) if r["CustomerCode"] == "UJA"]
    assert uja and all(r["BillingIdentifier"] == "" for r in uja)
    assert len([r for r in uja if r["PeriodEnd"] == CUR]) == 2
    identifiers = {c["identifier"] for c in state.companies.values()}
    assert "GhostCo" not in identifiers
    assert {"O'Brien", 'Say "Hi" Ltd', "NoAgreement"} <= identifiers
    assert live_agreements(state, "NoAgreement") == []
    assert state.quantity_of("O'Brien", "M365-BP") == [2.0] and billed[(CUR, "OBR", "M365-BP")] == 4
    assert state.quantity_of('Say "Hi" Ltd', "EXO-50") == [1.0]
    assert billed[(CUR, "QTE", "EXO-50")] == 2


def test_ambiguity_cancellation_and_deprovisioning(
    state: CwState, billed: dict[Key, Decimal]
) -> None:
    assert len(live_agreements(state, "DupAgree")) == 2
    assert state.quantity_of("AmbLines", "M365-BP") == [2.0, 3.0]
    can = live_agreements(state, "CancelCo")
    assert len(can) == 1
    dns = [
        a
        for a in state.additions_of(int(str(can[0]["id"])))
        if a["product"]["identifier"] == "DNS-ZONE"
    ]
    assert len(dns) == 1 and dns[0]["cancelledDate"] < "2026-01-01"
    assert billed[(CUR, "CAN", "DNS-ZONE")] == 3
    assert any(
        a["cancelledFlag"] and a["company"]["identifier"] == "CancelCo"
        for a in state.agreements.values()
    )
    assert state.quantity_of("OldCustomer", "M365-BP") == [5.0]
    assert billed[(PREV, "OLD", "M365-BP")] == 5 and billed[(PREV, "OLD", "EXO-50")] == 5
    assert not any(k[1] == "OLD" and k[0] == CUR for k in billed)


def test_faulty_big_and_filler(state: CwState, billed: dict[Key, Decimal]) -> None:
    faulty = live_agreements(state, "FaultyCo")
    assert len(faulty) == 1 and state.agreement_faults == {faulty[0]["id"]: 500}
    big = live_agreements(state, "BigCorp")
    big_adds = state.additions_of(int(str(big[0]["id"])))
    assert len(big_adds) == 40
    current = {k[2]: q for k, q in billed.items() if k[:2] == (CUR, "BIG")}
    assert set(current) == {a["product"]["identifier"] for a in big_adds}
    changed = [a for a in big_adds if current[a["product"]["identifier"]] != a["quantity"]]
    assert len(changed) == 10
    billed_ids = {
        "AcmeServices",
        "FreshRoast",
        "O'Brien",
        'Say "Hi" Ltd',
        "NoAgreement",
        "DupAgree",
        "AmbLines",
        "CancelCo",
        "OldCustomer",
        "FaultyCo",
        "BigCorp",
        "UjalaTraders",
    }
    filler = [c for c in state.companies.values() if c["identifier"] not in billed_ids]
    assert len(filler) >= 30 and len(state.companies) > 25 and len(state.agreements) > 25
    assert len([c for c in filler if c["deletedFlag"]]) == 1
    assert len(state.catalog) > 50
    for item in state.catalog.values():
        assert item["price"] >= 0 and item["identifier"] and len(item["identifier"]) <= 60
    for add in state.additions.values():
        item = state.catalog[add["product"]["id"]]
        assert add["unitPrice"] == item["price"]
        assert add["product"]["identifier"] == item["identifier"]
        assert add["agreementId"] in state.agreements
