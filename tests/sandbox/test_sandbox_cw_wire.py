"""The ConnectWise emulator's wire rules and faulty-server knobs: the 2,000-character URL
limit, `Link` URLs that lose a parameter, a server that ignores `conditions`, the `Accept`
header it was sent, and replacing its data for a test."""

from __future__ import annotations

import re

import httpx
from starlette.applications import Starlette
from starlette.routing import Mount

from atria_tui.sandbox.connectwise import create_app
from atria_tui.sandbox.connectwise.state import MAX_URL_CHARS, CwState
from tests.sandbox_helpers import CW_HEADERS

PREFIX = "/v4_6_release/apis/3.0"
TYPE = "Hosting and Cloud Services"


def next_link(response: httpx.Response) -> str | None:
    found = re.search(r'<([^>]+)>;\s*rel="next"', response.headers.get("link", ""))
    return found.group(1) if found else None


async def test_a_url_past_2000_characters_is_refused_with_414(state: CwState) -> None:
    outer = Starlette(routes=[Mount(PREFIX, app=create_app(state))])
    base = f"http://sandbox{PREFIX}"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=outer), base_url=base,
                                 headers=CW_HEADERS) as c:
        def url(pad: int) -> httpx.URL:
            # A `"` and an é in the padding: the limit counts the percent-encoded URL.
            value = 'identifier="' + 'é\\"' * pad + '"'
            return httpx.URL(f"{base}/company/companies", params={"conditions": value})

        fits = max(n for n in range(400) if len(str(url(n))) <= MAX_URL_CHARS)
        ok = await c.get(url(fits))
        assert len(str(ok.request.url)) <= MAX_URL_CHARS
        assert ok.status_code == 200 and ok.json() == []
        too_long = await c.get(url(fits + 1))
        assert len(str(too_long.request.url)) > MAX_URL_CHARS
        assert too_long.status_code == 414
        assert too_long.json()["code"] == "RequestUriTooLong"
        assert str(MAX_URL_CHARS) in too_long.json()["message"]
    stats = state.stats()
    assert stats["total"] == 2 and stats["longest_url"] == len(str(url(fits + 1)))


async def test_the_link_knob_drops_a_parameter_from_next_urls(
        client: httpx.AsyncClient, state: CwState) -> None:
    query = {"conditions": f'type/name="{TYPE}"', "pageSize": 5}
    first = await client.get("/finance/agreements", params=query)
    assert "conditions=" in (next_link(first) or "")
    state.configure(link_omits=["conditions"])
    first = await client.get("/finance/agreements", params=query)
    assert all(a["type"]["name"] == TYPE for a in first.json())  # the page itself filtered
    nxt = next_link(first)
    assert nxt is not None and "conditions" not in nxt and "page=2" in nxt
    second = await client.get(nxt)
    assert {a["type"]["name"] for a in second.json()} != {TYPE}  # followed: unfiltered rows
    config = (await client.post("/_sandbox/config", json={"link_omits": []})).json()
    assert config["link_omits"] == []
    bad = await client.post("/_sandbox/config", json={"link_omits": "conditions"})
    assert bad.status_code == 400


async def test_the_ignore_conditions_knob_answers_every_row(
        client: httpx.AsyncClient, state: CwState) -> None:
    ask = {"conditions": 'identifier="AcmeServices"', "pageSize": 1000}
    assert len((await client.get("/company/companies", params=ask)).json()) == 1
    r = await client.post("/_sandbox/config", json={"ignore_conditions": True})
    assert r.json()["ignore_conditions"] is True
    assert len((await client.get("/company/companies", params=ask)).json()) \
        == len(state.companies)
    count = await client.get("/company/companies/count", params=ask)
    assert count.json() == {"count": len(state.companies)}
    assert (await client.post("/_sandbox/config", json={"ignore_conditions": 1})).status_code \
        == 400
    await client.post("/_sandbox/reset")
    assert state.ignore_conditions is False and state.link_omits == ()


async def test_accept_headers_are_counted(client: httpx.AsyncClient) -> None:
    await client.get("/company/companies/count")
    versioned = {"Accept": "application/vnd.connectwise.com+json; version=2025.1"}
    await client.get("/company/companies/count", headers=versioned)
    await client.get("/company/companies/count", headers=versioned)
    stats = (await client.get("/_sandbox/stats")).json()
    assert stats["accept"] == {"*/*": 1, versioned["Accept"]: 2}   # httpx's default: */*


async def test_seed_replaces_the_data_until_reset(client: httpx.AsyncClient,
                                                  state: CwState) -> None:
    demo = len(state.companies)
    one = {"companies": [{"id": 1, "identifier": 'Zé"1', "name": "Z", "deletedFlag": False}]}
    r = await client.post("/_sandbox/seed", json=one)
    assert r.status_code == 200 and r.json()["companies"] == 1
    rows = (await client.get("/company/companies",
                             params={"conditions": 'identifier="zé\\"1"'})).json()
    assert [c["id"] for c in rows] == [1]
    assert (await client.post("/_sandbox/seed", json=[1])).status_code == 400
    await client.post("/_sandbox/reset")
    assert len(state.companies) == demo
    await client.post("/_sandbox/seed", json=one)
    assert (await client.post("/_sandbox/seed")).status_code == 200   # empty: the demo seed
    assert len(state.companies) == demo
