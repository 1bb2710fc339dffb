"""The Atria billing API sandbox: bearer auth, period filter, billable filter, strict file."""

from __future__ import annotations

import base64
import json
import os
from collections import defaultdict
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from atria_tui.sandbox.atria_api import DEMO_ATRIA_TOKEN, BillingFileError, create_app

DEMO_CSV = Path(__file__).resolve().parents[2] / "sample_configs" / "demo-kaseya-billing.csv"
AUTH = {"Authorization": f"Bearer {DEMO_ATRIA_TOKEN}"}
HEADER = (
    "CustomerCode,CustomerName,BillingIdentifier,Sku,LineDescription,SummaryDescription,"
    "Quantity,Billable,PeriodEnd\n"
)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(DEMO_CSV))
    async with httpx.AsyncClient(transport=transport, base_url="http://atria") as c:
        yield c


def totals(records: list[dict[str, Any]]) -> dict[tuple[str, str], Decimal]:
    out: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for r in records:
        out[r["customerCode"], r["sku"]] += Decimal(str(r["quantity"]))
    return dict(out)


def test_token_looks_like_a_jwt() -> None:
    parts = DEMO_ATRIA_TOKEN.split(".")
    assert len(parts) == 3 and all(parts)
    header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
    assert header == {"alg": "HS256", "typ": "JWT"}


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong.token.value"}, {"Authorization": DEMO_ATRIA_TOKEN}],
)
async def test_401_without_the_demo_token(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    r = await client.get("/api/billing/2026-11-25", headers=headers)
    assert r.status_code == 401 and r.json()["message"]
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("bad", ["2026-13-01", "20261125", "last-month", "2026-11-5"])
async def test_bad_period_end_is_400(client: httpx.AsyncClient, bad: str) -> None:
    r = await client.get(f"/api/billing/{bad}", headers=AUTH)
    assert r.status_code == 400 and bad in r.json()["message"]


async def test_serves_the_period_with_camel_case_fields(client: httpx.AsyncClient) -> None:
    records = (await client.get("/api/billing/2026-11-25", headers=AUTH)).json()
    assert set(records[0]) == {
        "customerCode",
        "customerName",
        "billingIdentifier",
        "sku",
        "lineDescription",
        "summaryDescription",
        "quantity",
        "billable",
        "periodEnd",
    }
    assert {r["periodEnd"] for r in records} == {"2026-11-25"}
    assert "OLD" not in {r["customerCode"] for r in records}  # deprovisioned: previous only
    every = totals(records)
    billable = totals(
        (await client.get("/api/billing/2026-11-25?billable=true", headers=AUTH)).json()
    )
    assert every["ASP", "M365-BP"] == 14 and billable["ASP", "M365-BP"] == 12
    assert billable["ASP", "EXO-50"] == 5 and billable["ASP", "AV-EDR"] == 7
    assert ("ASP", "BACKUP-1TB") not in billable and billable["FR1", ""] == 1
    assert {r["billingIdentifier"] for r in records if r["customerCode"] == "UJA"} == {""}
    previous = totals(
        (
            await client.get("/api/billing/2026-10-25", headers=AUTH, params={"billable": "true"})
        ).json()
    )
    assert previous["ASP", "BACKUP-1TB"] == 3 and previous["OLD", "M365-BP"] == 5
    only_not = (
        await client.get("/api/billing/2026-11-25?billable=false&aggregate=customer", headers=AUTH)
    ).json()
    assert [(r["customerCode"], r["quantity"]) for r in only_not] == [("ASP", 2)]
    assert (await client.get("/api/billing/2026-09-25", headers=AUTH)).json() == []
    bad = await client.get("/api/billing/2026-11-25?billable=maybe", headers=AUTH)
    assert bad.status_code == 400


def test_bad_file_is_a_clear_error_at_startup(tmp_path: Path) -> None:
    path = tmp_path / "billing.csv"
    path.write_text(HEADER + "ASP,Acme,ACME01,M365-BP,x,y,lots,true,2026-11-25\n")
    with pytest.raises(
        BillingFileError,
        match=r"billing\.csv:2: field Quantity: expected a "
        r"number, got 'lots'",
    ):
        create_app(path)
    path.write_text("CustomerCode,Sku\nASP,M365-BP\n")
    with pytest.raises(BillingFileError, match=r":1: missing column\(s\) CustomerName"):
        create_app(path)
    with pytest.raises(BillingFileError, match="cannot read"):
        create_app(tmp_path / "absent.csv")


async def test_file_changes_are_served(tmp_path: Path) -> None:
    path = tmp_path / "billing.csv"
    path.write_text(HEADER + "ASP,Acme,ACME01,M365-BP,x,y,1.5,yes,2026-11-25\n")
    transport = httpx.ASGITransport(app=create_app(path))
    async with httpx.AsyncClient(transport=transport, base_url="http://atria") as c:
        [first] = (await c.get("/api/billing/2026-11-25", headers=AUTH)).json()
        assert (first["quantity"], first["billable"]) == (1.5, True)
        path.write_text(HEADER + "ASP,Acme,ACME02,M365-BP,x,y,3,false,2026-11-25\n")
        os.utime(path, (1, 1))
        [second] = (await c.get("/api/billing/2026-11-25", headers=AUTH)).json()
        assert (second["billingIdentifier"], second["quantity"]) == ("ACME02", 3)
        path.write_text(HEADER + "ASP,Acme,ACME02,M365-BP,x,y,3,perhaps,2026-11-25\n")
        os.utime(path, (2, 2))
        broken = await c.get("/api/billing/2026-11-25", headers=AUTH)
        assert broken.status_code == 500 and "field Billable" in broken.json()["message"]
