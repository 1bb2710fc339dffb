"""The ConnectWise Manage emulator: writes (PATCH/POST), faults, rate limits, admin."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from atria_tui.sandbox.connectwise.state import CwState

ACME_HOSTING = 600
FAULTY_HOSTING = 613
BIG_HOSTING = 614


def addition(state: CwState, agreement_id: int, sku: str) -> dict[str, Any]:
    return next(
        a
        for a in state.additions_of(agreement_id)
        if a["product"]["identifier"] == sku and not a.get("cancelledDate")
    )


# ---------------------------------------------------------------------------- writes


async def test_patch_quantity(client: httpx.AsyncClient, state: CwState) -> None:
    target = addition(state, ACME_HOSTING, "M365-BP")
    url = f"/finance/agreements/{ACME_HOSTING}/additions/{target['id']}"
    r = await client.patch(url, json=[{"op": "replace", "path": "quantity", "value": 12}])
    assert r.status_code == 200
    assert r.json()["quantity"] == 12.0 and r.json()["extPrice"] == 264.0
    assert r.json()["unitPrice"] == 22.0
    assert state.quantity_of("AcmeServices", "M365-BP") == [12.0]
    again = await client.get(url)
    assert again.json()["quantity"] == 12.0
    r = await client.patch(
        url, json=[{"op": "add", "path": "/cancelledDate", "value": "2026-11-25T00:00:00Z"}]
    )
    assert r.json()["cancelledDate"] == "2026-11-25T00:00:00Z"


@pytest.mark.parametrize(
    "body",
    [
        {"op": "replace", "path": "quantity", "value": 3},  # not a list
        [],
        [{"op": "move", "path": "quantity", "value": 3}],
        [{"op": "replace", "path": "quantity"}],
        [{"op": "replace", "path": "quantity", "value": "three"}],
        [{"op": "replace", "path": "id", "value": 1}],
        [{"op": "replace", "path": "noSuchField", "value": 1}],
        [{"op": "remove", "path": "quantity"}],
        [{"op": "replace", "path": "quantity", "value": 3}, {"op": "replace", "path": "x"}],
    ],
)
async def test_malformed_patch_is_400_and_changes_nothing(
    client: httpx.AsyncClient, state: CwState, body: Any
) -> None:
    target = addition(state, ACME_HOSTING, "M365-BP")
    url = f"/finance/agreements/{ACME_HOSTING}/additions/{target['id']}"
    r = await client.patch(url, json=body)
    assert r.status_code == 400
    assert r.json()["code"] == "InvalidObject"
    assert state.quantity_of("AcmeServices", "M365-BP") == [10.0]


async def test_patch_body_that_is_not_json_and_wrong_agreement(
    client: httpx.AsyncClient, state: CwState
) -> None:
    target = addition(state, ACME_HOSTING, "M365-BP")
    r = await client.patch(
        f"/finance/agreements/{ACME_HOSTING}/additions/{target['id']}", content=b"{nope"
    )
    assert r.status_code == 400
    r = await client.patch(
        f"/finance/agreements/{BIG_HOSTING}/additions/{target['id']}",
        json=[{"op": "replace", "path": "quantity", "value": 1}],
    )
    assert r.status_code == 404


async def test_patching_product_re_defaults_price(
    client: httpx.AsyncClient, state: CwState
) -> None:
    target = addition(state, ACME_HOSTING, "EXO-50")
    av = state.catalog_by_identifier("AV-EDR")
    assert av is not None
    r = await client.patch(
        f"/finance/agreements/{ACME_HOSTING}/additions/{target['id']}",
        json=[
            {"op": "replace", "path": "unitPrice", "value": 99.0},
            {"op": "replace", "path": "product", "value": {"id": av["id"]}},
        ],
    )
    assert r.status_code == 200
    body = r.json()
    assert body["product"]["identifier"] == "AV-EDR"
    assert body["unitPrice"] == 6.5 and body["description"] == "Endpoint Protection EDR"


async def test_post_addition_201_and_bundle_or_inactive_rejected(
    client: httpx.AsyncClient, state: CwState
) -> None:
    url = f"/finance/agreements/{ACME_HOSTING}/additions"
    av = state.catalog_by_identifier("AV-EDR")
    assert av is not None
    before = max(state.additions)
    r = await client.post(
        url,
        json={
            "product": {"id": av["id"]},
            "billCustomer": "Billable",
            "quantity": 7,
            "effectiveDate": "2026-10-26T00:00:00Z",
            "description": "Endpoint Protection EDR",
        },
    )
    assert r.status_code == 201
    created = r.json()
    assert created["id"] == before + 1 and created["agreementId"] == ACME_HOSTING
    assert created["quantity"] == 7.0 and created["unitPrice"] == 6.5
    assert created["extPrice"] == 45.5 and created["cancelledDate"] is None
    assert state.quantity_of("AcmeServices", "AV-EDR") == [7.0]
    listed = await client.get(url, params={"conditions": 'product/identifier="AV-EDR"'})
    assert [a["id"] for a in listed.json()] == [created["id"]]

    for sku, word in (("SEC-BUNDLE", "Bundle"), ("TEAMS-PHONE", "inactive")):
        item = state.catalog_by_identifier(sku)
        assert item is not None
        r = await client.post(
            url, json={"product": {"id": item["id"]}, "billCustomer": "Billable", "quantity": 1}
        )
        assert r.status_code == 400
        err = r.json()
        assert err["code"] == "InvalidObject"
        assert err["errors"][0]["field"] == "product" and word in err["errors"][0]["message"]
    assert state.quantity_of("AcmeServices", "SEC-BUNDLE") == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"billCustomer": "Billable"}, "product"),
        ({"product": {"id": 999999}, "billCustomer": "Billable"}, "product"),
        ({"product": {"id": 1}}, "billCustomer"),
        ({"product": {"id": 1}, "billCustomer": "Sometimes"}, "billCustomer"),
        ({"product": {"id": 1}, "billCustomer": "Billable", "quantity": "2"}, "quantity"),
    ],
)
async def test_post_validation_names_the_field(
    client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    r = await client.post(f"/finance/agreements/{ACME_HOSTING}/additions", json=body)
    assert r.status_code == 400
    assert r.json()["errors"][0]["field"] == field


async def test_post_to_unknown_agreement_is_404(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/finance/agreements/424242/additions",
        json={"product": {"id": 1}, "billCustomer": "Billable"},
    )
    assert r.status_code == 404 and r.json()["code"] == "NotFound"


# ---------------------------------------------------------------------------- faults & admin


async def test_seeded_fault_on_faulty_agreement(client: httpx.AsyncClient) -> None:
    for _ in range(2):
        r = await client.get(f"/finance/agreements/{FAULTY_HOSTING}/additions")
        assert r.status_code == 500 and r.json()["code"]
    r = await client.get(f"/finance/agreements/{FAULTY_HOSTING}")
    assert r.status_code == 200 and "_fault" not in r.json()


async def test_injected_faults_via_admin(client: httpx.AsyncClient) -> None:
    rules = [
        {"method": "GET", "path": r"/additions$", "status": 503, "times": 2, "retry_after": 1},
        {"method": "GET", "path": r"^/procurement/catalog$", "malformed": True},
    ]
    r = await client.post("/_sandbox/faults", json=rules)
    assert r.status_code == 200
    url = f"/finance/agreements/{ACME_HOSTING}/additions"
    for _ in range(2):
        r = await client.get(url)
        assert r.status_code == 503 and r.headers["retry-after"] == "1"
    assert (await client.get(url)).status_code == 200
    r = await client.get("/procurement/catalog")
    assert r.status_code == 200
    with pytest.raises(ValueError):
        r.json()
    assert (await client.delete("/_sandbox/faults")).status_code == 200
    assert (await client.get("/procurement/catalog")).json()[0]["id"] == 1
    bad = await client.post("/_sandbox/faults", json=[{"path": "(", "status": 500}])
    assert bad.status_code == 400 and "regex" in bad.json()["message"]
    bad = await client.post("/_sandbox/faults", json=[{"path": "x", "status": "oops"}])
    assert bad.status_code == 400


async def test_fault_with_custom_body_and_forever(
    state: CwState, client: httpx.AsyncClient
) -> None:
    state.add_faults([{"path": "companies", "status": 502, "body": {"oops": True}}])
    for _ in range(3):
        r = await client.get("/company/companies")
        assert r.status_code == 502 and r.json() == {"oops": True}


async def test_rate_limit_every_nth_request(client: httpx.AsyncClient) -> None:
    r = await client.post("/_sandbox/config", json={"rate_limit_every": 3})
    assert r.json() == {"latency_ms": 0, "rate_limit_every": 3, "ignore_conditions": False,
                        "link_omits": []}
    codes = [(await client.get("/company/companies/count")).status_code for _ in range(6)]
    assert codes == [200, 200, 429, 200, 200, 429]
    r = await client.get("/company/companies/count")
    r = await client.get("/company/companies/count")
    r = await client.get("/company/companies/count")
    assert r.status_code == 429 and r.headers["retry-after"] == "1"
    assert r.json()["code"] == "TooManyRequests"
    bad = await client.post("/_sandbox/config", json={"rate_limit_every": -1})
    assert bad.status_code == 400
    bad = await client.post("/_sandbox/config", json={"speed": 3})
    assert bad.status_code == 400


async def test_latency(state: CwState, client: httpx.AsyncClient,
                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The configured latency is slept before each answer (recorded, not timed)."""
    from atria_tui.sandbox.connectwise import app

    slept: list[float] = []

    async def record(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(app.asyncio, "sleep", record)
    state.configure(latency_ms=60)
    resp = await client.get("/company/companies/count")
    assert resp.status_code == 200 and slept == [0.06]


async def test_stats_state_and_reset(client: httpx.AsyncClient, state: CwState) -> None:
    await client.get("/company/companies")
    await client.get("/company/companies")
    await client.get(f"/finance/agreements/{ACME_HOSTING}/additions")
    stats = (await client.get("/_sandbox/stats")).json()
    assert stats["requests"]["GET /company/companies"] == 2
    assert stats["requests"]["GET /finance/agreements/{id}/additions"] == 1
    assert stats["total"] == 3

    target = addition(state, ACME_HOSTING, "M365-BP")
    await client.patch(
        f"/finance/agreements/{ACME_HOSTING}/additions/{target['id']}",
        json=[{"op": "replace", "path": "quantity", "value": 1}],
    )
    snap = (await client.get("/_sandbox/state")).json()
    acme = next(a for a in snap["agreements"] if a["id"] == ACME_HOSTING)
    assert {a["sku"]: a["quantity"] for a in acme["additions"]}["M365-BP"] == 1.0

    assert (await client.post("/_sandbox/reset")).status_code == 200
    assert state.quantity_of("AcmeServices", "M365-BP") == [10.0]
    assert (await client.get("/_sandbox/stats")).json()["total"] == 0
