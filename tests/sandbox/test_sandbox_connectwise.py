"""The ConnectWise Manage emulator over HTTP: auth, paging, queries, writes, faults."""

from __future__ import annotations

import base64
import re

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from atria_tui.sandbox.connectwise import create_app
from atria_tui.sandbox.connectwise.state import DEMO_SECRETS, CwState
from tests.sandbox_helpers import CW_AUTH as AUTH
from tests.sandbox_helpers import CW_HEADERS as HEADERS

PREFIX = "/v4_6_release/apis/3.0"
ACME_HOSTING = 600
BIG_HOSTING = 614


def links(response: httpx.Response) -> dict[str, str]:
    header = response.headers.get("link", "")
    return {rel: url for url, rel in re.findall(r'<([^>]+)>;\s*rel="(\w+)"', header)}


# ---------------------------------------------------------------------------- auth


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"clientId": DEMO_SECRETS["ClientId"]},
        {"Authorization": f"Basic {AUTH}"},
        {"Authorization": f"Basic {AUTH}", "clientId": "00000000-0000-0000-0000-000000000000"},
        {
            "Authorization": "Basic "
            + base64.b64encode(b"atria_demo+demo-public-key:wrong").decode(),
            "clientId": DEMO_SECRETS["ClientId"],
        },
        {"Authorization": "Bearer abc", "clientId": DEMO_SECRETS["ClientId"]},
        {"Authorization": "Basic !!notbase64", "clientId": DEMO_SECRETS["ClientId"]},
    ],
)
async def test_missing_or_wrong_credentials_are_401(
    state: CwState, headers: dict[str, str]
) -> None:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as c:
        r = await c.get("/company/companies", headers=headers)
    assert r.status_code == 401
    assert r.json()["code"] == "Unauthorized"
    assert r.json()["message"]
    assert r.headers["api-current-version"] == "2025.8"


async def test_company_name_is_case_insensitive(client: httpx.AsyncClient) -> None:
    token = base64.b64encode(b"ATRIA_DEMO+demo-public-key:demo-private-key").decode()
    r = await client.get("/company/companies/count", headers={"Authorization": f"Basic {token}"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")


async def test_unknown_path_and_unknown_record_are_vendor_404s(client: httpx.AsyncClient) -> None:
    r = await client.get("/company/nothing-here")
    assert r.status_code == 404 and r.json()["code"] == "NotFound"
    r = await client.get("/finance/agreements/99999/additions")
    assert r.status_code == 404 and r.json()["code"] == "NotFound"
    assert "99999" in r.json()["message"]
    r = await client.get(f"/finance/agreements/{ACME_HOSTING}/additions/99999")
    assert r.status_code == 404 and r.json()["code"] == "NotFound"
    r = await client.delete("/company/companies")
    assert r.status_code == 405 and r.json()["code"] == "MethodNotAllowed"


# ---------------------------------------------------------------------------- paging


async def test_navigable_paging_defaults_to_25_with_next_and_last(
    client: httpx.AsyncClient, state: CwState
) -> None:
    total = len(state.companies)
    assert total > 25
    r = await client.get("/company/companies", params={"conditions": 'name like "*"'})
    assert r.status_code == 200
    assert len(r.json()) == 25
    rel = links(r)
    assert set(rel) == {"next", "last"}
    assert "page=2" in rel["next"] and "conditions=" in rel["next"]
    seen = [c["id"] for c in r.json()]
    while "next" in links(r):
        r = await client.get(links(r)["next"])
        assert r.status_code == 200
        seen += [c["id"] for c in r.json()]
    assert sorted(seen) == seen and len(set(seen)) == total
    assert "next" not in links(r) and "last" in links(r)


async def test_page_size_limits(client: httpx.AsyncClient, state: CwState) -> None:
    r = await client.get("/company/companies", params={"pageSize": 1000})
    assert len(r.json()) == len(state.companies) and "next" not in links(r)
    for bad in ({"pageSize": 1001}, {"pageSize": 0}, {"page": 0}, {"pageSize": "ten"}):
        r = await client.get("/company/companies", params=bad)
        assert r.status_code == 400, bad
        assert r.json()["code"] == "InvalidObject"


async def test_link_urls_carry_the_mount_prefix(state: CwState) -> None:
    outer = Starlette(routes=[Mount(PREFIX, app=create_app(state))])
    transport = httpx.ASGITransport(app=outer)
    async with httpx.AsyncClient(
        transport=transport, base_url=f"http://sandbox{PREFIX}/", headers=HEADERS
    ) as c:
        r = await c.get("finance/agreements", params={"pageSize": 10})
        nxt = links(r)["next"]
        assert nxt.startswith(f"http://sandbox{PREFIX}/finance/agreements?")
        r2 = await c.get(nxt)
        assert r2.status_code == 200 and r2.json()[0]["id"] > r.json()[-1]["id"]
        bad = await c.get("no/such/thing")
        assert bad.status_code == 404 and bad.json()["code"] == "NotFound"
        # fault paths are matched relative to the API root, wherever it is mounted
        state.add_faults([{"path": "^/finance/agreements/types$", "status": 500, "times": 1}])
        assert (await c.get("finance/agreements/types")).status_code == 500
        assert (await c.get("finance/agreements/types")).status_code == 200


async def test_forward_only_paging_uses_page_id(client: httpx.AsyncClient, state: CwState) -> None:
    fwd = {"pagination-type": "forward-only"}
    r = await client.get("/finance/agreements", headers=fwd, params={"orderBy": "name desc"})
    assert len(r.json()) == 25
    rel = links(r)
    assert set(rel) == {"next"}
    assert f"pageId={r.json()[-1]['id']}" in rel["next"]
    seen = [a["id"] for a in r.json()]
    while "next" in links(r):
        r = await client.get(links(r)["next"], headers=fwd)
        seen += [a["id"] for a in r.json()]
    assert seen == sorted(state.agreements)


async def test_additions_of_a_big_agreement_need_two_pages(client: httpx.AsyncClient) -> None:
    url = f"/finance/agreements/{BIG_HOSTING}/additions"
    first = await client.get(url)
    assert len(first.json()) == 25 and "next" in links(first)
    second = await client.get(links(first)["next"])
    assert len(second.json()) == 15 and "next" not in links(second)
    count = await client.get(url + "/count")
    assert count.json() == {"count": 40}


# ---------------------------------------------------------------------------- queries


async def test_conditions_with_apostrophe_and_escaped_quote(client: httpx.AsyncClient) -> None:
    r = await client.get("/company/companies", params={"conditions": 'identifier="O\'Brien"'})
    assert [c["name"] for c in r.json()] == ["O'Brien & Sons"]
    r = await client.get(
        "/company/companies", params={"conditions": 'identifier="Say \\"Hi\\" Ltd"'}
    )
    assert [c["name"] for c in r.json()] == ["Quote Test Ltd"]
    # the unescaped form is malformed: a 400 naming conditions, not a silent empty list
    r = await client.get("/company/companies", params={"conditions": 'identifier="Say "Hi" Ltd"'})
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == "InvalidObject" and "conditions" in body["message"]
    assert body["errors"][0]["field"] == "conditions"


async def test_bulk_in_and_nested_paths(client: httpx.AsyncClient) -> None:
    r = await client.get(
        "/company/companies",
        params={"conditions": 'identifier in ("AcmeServices","dupagree","GhostCo")'},
    )
    assert sorted(c["identifier"] for c in r.json()) == ["AcmeServices", "DupAgree"]
    ids = ",".join(str(c["id"]) for c in r.json())
    cond = f'type/name="Hosting and Cloud Services" and company/id in ({ids})'
    r = await client.get("/finance/agreements", params={"conditions": cond})
    assert sorted(a["name"] for a in r.json()) == [
        "Acme Hosting",
        "DupAgree Hosting 2024",
        "DupAgree Hosting 2025",
    ]
    r = await client.get(
        "/procurement/catalog",
        params={"conditions": 'identifier in ("M365-BP","SEC-BUNDLE","TEAMS-PHONE")'},
    )
    got = {c["identifier"]: (c["price"], c["productClass"], c["inactiveFlag"]) for c in r.json()}
    assert got == {
        "M365-BP": (22.0, "Agreement", False),
        "SEC-BUNDLE": (15.0, "Bundle", False),
        "TEAMS-PHONE": (8.0, "Agreement", True),
    }
    r = await client.get(
        "/finance/agreements/types", params={"conditions": 'name="hosting and cloud services"'}
    )
    assert [t["name"] for t in r.json()] == ["Hosting and Cloud Services"]


async def test_unknown_condition_or_order_field_is_400(client: httpx.AsyncClient) -> None:
    r = await client.get("/company/companies", params={"conditions": 'nosuchfield="x"'})
    assert r.status_code == 400 and "nosuchfield" in r.json()["message"]
    r = await client.get("/finance/agreements", params={"conditions": 'type/nope="x"'})
    assert r.status_code == 400
    r = await client.get("/company/companies", params={"orderBy": "bogus asc"})
    assert r.status_code == 400
    r = await client.get("/company/companies", params={"orderBy": "name sideways"})
    assert r.status_code == 400


async def test_fields_order_and_count(client: httpx.AsyncClient) -> None:
    r = await client.get(
        f"/finance/agreements/{ACME_HOSTING}/additions",
        params={"fields": "id,quantity,product/identifier", "orderBy": "quantity desc"},
    )
    rows = r.json()
    assert rows[0] == {"id": rows[0]["id"], "quantity": 10.0, "product": {"identifier": "M365-BP"}}
    assert [a["quantity"] for a in rows] == [10.0, 5.0, 4.0, 3.0]
    r = await client.get("/company/companies/count", params={"conditions": "deletedFlag = true"})
    assert r.json() == {"count": 1}
    r = await client.get("/company/companies", params={"PageSize": 5, "ORDERBY": "id desc"})
    assert len(r.json()) == 5 and r.json()[0]["id"] > r.json()[-1]["id"]
