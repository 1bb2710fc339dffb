"""The ConnectWise adapter against the emulator in-process (httpx ASGI transport)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from atria_tui.adapters.connectwise import (
    MAX_URL_CHARS,
    ConnectWiseAdapter,
    encoded_length,
    in_clauses,
    quote,
)
from atria_tui.adapters.http import ClientOptions
from atria_tui.psa.errors import RemoteError
from atria_tui.sandbox import connectwise
from atria_tui.sandbox.connectwise.state import DEMO_SECRETS, CwState

TYPE = "Hosting and Cloud Services"


def adapter(state: CwState, page_size: int = 1000, api_version: str = "",
            **secrets: str) -> ConnectWiseAdapter:
    sleeps: list[float] = []

    async def fake_sleep(s: float) -> None:
        sleeps.append(s)

    a = ConnectWiseAdapter("http://cw.test", {**DEMO_SECRETS, **secrets},
                           options=ClientOptions(concurrency=4, retries=3),
                           page_size=page_size, api_version=api_version,
                           transport=httpx.ASGITransport(app=connectwise.create_app(state)),
                           sleep=fake_sleep)
    a.sleeps = sleeps  # type: ignore[attr-defined]
    return a


def test_quote_escapes_quotes_and_backslashes() -> None:
    assert quote("O'Brien") == '"O\'Brien"'
    assert quote('Say "Hi" \\ Ltd') == '"Say \\"Hi\\" \\\\ Ltd"'
    assert quote(5) == "5"
    chunks = in_clauses("identifier", [f"C{n:04d}" for n in range(600)], room=200)
    assert len(chunks) > 1 and all(encoded_length(c) <= 200 for c in chunks)
    assert sum(c.count('"') // 2 for c in chunks) == 600


async def test_paging_at_25_loses_no_rows_and_snapshot_matches() -> None:
    state = CwState()
    small, big = adapter(state, page_size=25), adapter(state)
    try:
        s25 = await small.snapshot(["AcmeServices", "O'Brien", 'Say "Hi" Ltd'], ["M365-BP"],
                                   TYPE)
        s1k = await big.snapshot(["AcmeServices", "O'Brien", 'Say "Hi" Ltd'], ["M365-BP"],
                                 TYPE)
    finally:
        await small.aclose()
        await big.aclose()
    assert s25.accounts == s1k.accounts and len(s25.accounts) > 25
    assert {k: len(v) for k, v in s25.lines.items()} == {k: len(v) for k, v in s1k.lines.items()}
    small2 = adapter(state, page_size=25)
    try:
        s_big = await small2.snapshot(["BigCorp"], [], TYPE)
    finally:
        await small2.aclose()
    big_corp = s_big.accounts["bigcorp"]
    (contract,) = s_big.contracts[big_corp.id]
    assert len(s_big.lines[contract.id]) == 40                   # past one page of 25
    assert set(s_big.lines) == {contract.id}                     # only the billed account
    assert "o'brien" in s25.accounts and 'say "hi" ltd' in s25.accounts
    assert small.requests > big.requests


async def test_faulty_agreement_is_a_line_error_and_429_is_retried() -> None:
    state = CwState()
    state.configure(rate_limit_every=4)
    a = adapter(state)
    try:
        snap = await a.snapshot(["FaultyCo"], [], TYPE)
    finally:
        await a.aclose()
    faulty = snap.accounts["faultyco"]
    (k,) = snap.contracts[faulty.id]
    assert k.id in snap.line_errors and "500" in snap.line_errors[k.id]
    assert 1.0 in a.sleeps  # type: ignore[attr-defined]  # Retry-After honoured


async def test_bad_credentials_and_malformed_json_raise_typed_errors() -> None:
    state = CwState()
    a = adapter(state, PrivateKey="wrong")
    with pytest.raises(RemoteError) as err:
        await a.snapshot([], [], TYPE)
    await a.aclose()
    assert err.value.kind == "auth" and "wrong" not in str(err.value)
    state.add_faults([{"method": "GET", "path": "agreements/types", "malformed": True,
                       "times": None}])
    a = adapter(state)
    with pytest.raises(RemoteError) as err:
        await a.snapshot([], [], TYPE)
    await a.aclose()
    assert err.value.kind == "decode"


async def test_writes_patch_quantity_and_post_addition() -> None:
    state = CwState()
    a = adapter(state)
    try:
        snap = await a.snapshot(["AcmeServices"], ["AV-EDR"], TYPE)
        acme = snap.accounts["acmeservices"]
        (k,) = snap.contracts[acme.id]
        m365 = next(ln for ln in snap.lines[k.id] if ln.product_code == "M365-BP")
        await a.set_quantity(k.id, m365.id, Decimal(12))
        assert (await a.read_line(k.id, m365.id)).quantity == 12  # type: ignore[union-attr]
        av = next(i for i in snap.catalog if i.code == "AV-EDR")
        new_id = await a.add_line(k.id, av.id, Decimal(7), "Endpoint", date(2026, 10, 26))
        found = await a.find_lines(k.id, "AV-EDR")
        assert [(ln.id, ln.quantity) for ln in found] == [(new_id, 7)]
        assert await a.read_line(k.id, "999999") is None
    finally:
        await a.aclose()
    assert state.quantity_of("AcmeServices", "M365-BP") == [12]


# --- wire details (issue 10, point 6) ---------------------------------------------------

MEDIA = "application/vnd.connectwise.com+json"
ODD = 'é"\\ü"€漢"😀ñ"'  # quotes, a backslash, 2-, 3- and 4-byte UTF-8


def odd_codes(n: int, width: int = 40) -> list[str]:
    """`n` distinct `width`-character codes full of what percent-encoding makes long."""
    return [(f"S{i:03d}" + ODD * width)[:width] for i in range(n)]


def with_catalog(state: CwState, skus: list[str]) -> None:
    for n, sku in enumerate(skus, start=10_000):
        state.catalog[n] = {"id": n, "identifier": sku, "description": f"Item {n}",
                            "inactiveFlag": False, "productClass": "Agreement", "price": 1.0}


class Recording(httpx.AsyncBaseTransport):
    """Another transport, with every request URL it carried kept."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.urls: list[httpx.URL] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.urls.append(request.url)
        return await self.inner.handle_async_request(request)


def mounted(state: CwState, prefix: str, **kw: Any) -> tuple[ConnectWiseAdapter, Recording]:
    """The adapter on the emulator served under `prefix` (an ApiUrl of any length)."""
    outer = Starlette(routes=[Mount(prefix, app=connectwise.create_app(state))])
    rec = Recording(httpx.ASGITransport(app=outer))
    return ConnectWiseAdapter(f"http://cw.test{prefix}", DEMO_SECRETS, transport=rec,
                              options=ClientOptions(retries=0), **kw), rec


@pytest.mark.parametrize("prefix_chars", [1, 300, 1500])
async def test_in_lists_fit_2000_encoded_characters_whatever_the_api_url(
        prefix_chars: int) -> None:
    state = CwState()
    skus = odd_codes(200)
    with_catalog(state, skus)
    ad, rec = mounted(state, "/" + "p" * (prefix_chars - 1) if prefix_chars > 1 else "/a")
    try:
        items = await ad.catalog(skus)
    finally:
        await ad.aclose()
    assert sorted(i.code for i in items) == sorted(skus)
    sent = [len(str(u)) for u in rec.urls]
    assert max(sent) <= MAX_URL_CHARS and max(sent) == state.longest_url  # measured alike
    widest = max(encoded_length(quote(s)) for s in skus) + encoded_length(",")
    assert max(sent) > MAX_URL_CHARS - widest - 5       # packed full, not merely short
    assert len(sent) == state.stats()["requests"]["GET /procurement/catalog"]
    assert len(sent) < len(skus) or prefix_chars == 1500


async def test_a_request_too_long_to_fit_is_refused_before_it_is_sent() -> None:
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=[])

    ad = ConnectWiseAdapter("http://cw.test/" + "p" * 1990, DEMO_SECRETS,
                            transport=httpx.MockTransport(answer))
    try:
        with pytest.raises(RemoteError) as err:
            await ad.catalog(["M365-BP"])
        assert err.value.kind == "http" and "2,000" in err.value.message
        assert "ApiUrl takes 2,005" in err.value.message
        with pytest.raises(RemoteError, match="not sent"):
            await ad.set_quantity("600", "3000", Decimal(1))
    finally:
        await ad.aclose()
    assert sent == []


async def test_paging_resends_our_parameters_and_never_follows_the_link() -> None:
    clean = adapter(CwState(), page_size=5)
    try:
        expected = await clean.agreements(TYPE)
    finally:
        await clean.aclose()
    state = CwState()
    state.configure(link_omits=["conditions"])  # a `next` URL that would lose the filter
    ad, rec = mounted(state, "/api", page_size=5)
    try:
        got = await ad.agreements(TYPE)
    finally:
        await ad.aclose()
    assert got == expected
    hosting = sum(1 for a in state.agreements.values() if a["type"]["name"] == TYPE)
    assert len(rec.urls) == -(-hosting // 5) > 2
    assert [u.params["page"] for u in rec.urls] == [str(n + 1) for n in range(len(rec.urls))]
    assert {u.params["conditions"] for u in rec.urls} == {f'type/name="{TYPE}"'}
    assert {(u.params["pageSize"], u.params["orderBy"]) for u in rec.urls} == {("5", "id asc")}


@pytest.mark.parametrize("rows, link, requests", [
    (12, None, 3),      # no Link header: 5, 5, then a short page of 2 ends it
    (10, None, 3),      # 5, 5, then an empty page
    (12, "last", 1),    # a Link header without rel="next": no other page, full or not
    (3, "next", 2),     # a short page whose Link says "next": asked for (then empty)
])
async def test_link_or_a_short_page_says_whether_another_page_exists(
        rows: int, link: str | None, requests: int) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        chunk = [{"id": n, "name": TYPE} for n in range(1, rows + 1)][(page - 1) * 5:page * 5]
        headers = {"Link": f'<http://elsewhere.test/x?page=99>; rel="{link}"'} if link else {}
        return httpx.Response(200, json=chunk, headers=headers)

    ad = ConnectWiseAdapter("http://cw.test", DEMO_SECRETS, page_size=5,
                            transport=httpx.MockTransport(answer))
    try:
        assert await ad.agreement_type_exists(TYPE)
    finally:
        await ad.aclose()
    assert ad.requests == requests


async def test_rows_the_server_should_have_filtered_out_are_dropped() -> None:
    async def read(state: CwState) -> tuple[Any, ...]:
        a = adapter(state, page_size=25)
        try:
            return (await a.agreements(TYPE),
                    await a.companies(["AcmeServices", "o'brien"]),
                    sorted(i.code for i in await a.catalog(["m365-bp", "EXO-50"])))
        finally:
            await a.aclose()

    expected = await read(CwState())
    faulty = CwState()
    faulty.configure(ignore_conditions=True)   # answers every row, whatever was asked
    got = await read(faulty)
    assert got == expected
    (accounts, contracts), companies, catalog = got
    assert {k.type_name for ks in contracts.values() for k in ks} == {TYPE}
    assert set(companies) == {"acmeservices", "o'brien"} and catalog == ["EXO-50", "M365-BP"]


async def test_agreement_type_and_identifiers_are_compared_trimmed_and_caseless() -> None:
    company = {"id": 7, "identifier": "ACME", "name": "Acme"}
    answers = {
        "/finance/agreements": [
            {"id": 1, "name": "a", "type": {"name": " hosting AND cloud services "},
             "company": company},
            {"id": 2, "name": "b", "type": {"name": "Managed Services"}, "company": company},
            {"id": 3, "name": "c", "company": company},          # no type: not shown to be X
        ],
        "/company/companies": [{"id": 7, "identifier": " acme "},
                               {"id": 8, "identifier": "Other"}],
        "/procurement/catalog": [{"id": 5, "identifier": "m365-bp ", "price": 1},
                                 {"id": 6, "identifier": "M365-BP-X", "price": 1}],
    }
    ad = ConnectWiseAdapter("http://cw.test", DEMO_SECRETS, transport=httpx.MockTransport(
        lambda request: httpx.Response(200, json=answers[request.url.path])))
    try:
        _, contracts = await ad.agreements(TYPE.upper())
        companies = await ad.companies(["ACME"])
        catalog = await ad.catalog(["M365-BP"])
    finally:
        await ad.aclose()
    assert [k.id for k in contracts["7"]] == ["1"]
    assert [a.id for a in companies.values()] == ["7"]
    assert [i.id for i in catalog] == ["5"]


@pytest.mark.parametrize("version, header", [("", MEDIA), ("2025.1", f"{MEDIA}; version=2025.1")])
async def test_accept_names_a_version_only_when_asked(version: str, header: str) -> None:
    state = CwState()
    a = adapter(state, api_version=version)
    try:
        assert await a.agreement_type_exists(TYPE)
    finally:
        await a.aclose()
    assert set(state.accept) == {header}


async def test_open_session_hands_the_job_api_version_to_connectwise_only() -> None:
    from atria_tui.core.model import Task
    from atria_tui.job.file import new_job
    from atria_tui.services.psa import open_session

    state = CwState()
    job = new_job(Task.CONNECTWISE)
    job.options.connectwise_api_version = "2025.16"
    cw = open_session(job, "http://cw.test", DEMO_SECRETS, today=date(2026, 11, 26),
                      transport=httpx.ASGITransport(app=connectwise.create_app(state)))
    try:
        await cw.snapshot([], [], TYPE)
    finally:
        await cw.aclose()
    assert set(state.accept) == {f"{MEDIA}; version=2025.16"}
    ks_job = new_job(Task.KASEYA)
    ks_job.options.connectwise_api_version = "2025.16"   # not Kaseya's: not handed to it
    ks = open_session(ks_job, "http://ks.test", {}, today=date(2026, 11, 26))
    await ks.aclose()


async def test_a_new_addition_keeps_its_whole_description() -> None:
    state = CwState()
    text = ("Endpoint Protection EDR — managed detection and response, 24/7 monitoring, "
            "incident handling and monthly reporting (Ünïcode ✓)")
    assert len(text) > 100
    a = adapter(state)
    try:
        new_id = await a.add_line("600", "4", Decimal(7), text, date(2026, 10, 26))
    finally:
        await a.aclose()
    assert state.additions[int(new_id)]["description"] == text
