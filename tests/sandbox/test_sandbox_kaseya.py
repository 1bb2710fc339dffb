"""The Kaseya BMS sandbox behaves like a strict tenant: auth, paging, filters, budget, writes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from atria_tui.sandbox.kaseya import create_app
from atria_tui.sandbox.kaseya.state import DEMO_SECRETS, KsState
from tests.sandbox_helpers import Clock, ks_state

T0 = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
LINES = "/v2/finance/contracts/recurringservices/{}/services"




@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def state(clock: Clock) -> KsState:
    return ks_state(now=clock)


@pytest.fixture
async def client(state: KsState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://ks") as c:
        yield c


async def login(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.post(
        "/v2/security/authenticate", data={"GrantType": "password", **DEMO_SECRETS}
    )
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()["result"]
    return result


@pytest.fixture
async def auth(client: httpx.AsyncClient) -> dict[str, str]:
    token = await login(client)
    return {"Authorization": f"Bearer {token['accessToken']}"}


# --- auth --------------------------------------------------------------------------------


async def test_login_is_form_only_and_answers_camel_case(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/v2/security/authenticate", json={"GrantType": "password", **DEMO_SECRETS}
    )
    assert r.status_code == 415
    assert r.json()["success"] is False and r.json()["error"]["code"] == 415
    body = (
        await client.post(
            "/v2/security/authenticate", data={"GrantType": "password", **DEMO_SECRETS}
        )
    ).json()
    assert body["success"] is True and body["error"] is None
    assert set(body["result"]) == {
        "accessToken",
        "refreshToken",
        "accessTokenExpireOn",
        "refreshTokenExpireOn",
    }
    assert body["result"]["accessTokenExpireOn"] == "2026-11-22T02:20:00Z"  # 20 min life
    multipart = await client.post(
        "/v2/security/authenticate",
        data={"grantType": "password", **DEMO_SECRETS},
        files={"unused": ("x.txt", b"x")},
    )
    assert multipart.status_code == 200 and multipart.json()["success"] is True


@pytest.mark.parametrize(
    "form",
    [
        {**DEMO_SECRETS, "Password": "wrong"},
        {**DEMO_SECRETS, "Tenant": "OtherTenant"},
        {"UserName": DEMO_SECRETS["UserName"], "Password": DEMO_SECRETS["Password"]},
    ],
)
async def test_bad_credentials_fail_with_envelope(
    client: httpx.AsyncClient, form: dict[str, str]
) -> None:
    r = await client.post("/v2/security/authenticate", data={"GrantType": "password", **form})
    assert r.status_code == 400
    assert r.json()["success"] is False and r.json()["result"] is None
    assert r.json()["error"]["message"]


async def test_401_without_unknown_or_expired_token(
    client: httpx.AsyncClient, clock: Clock, auth: dict[str, str]
) -> None:
    url = "/v2/crm/accounts/summary"
    assert (await client.get(url)).status_code == 401
    bogus = await client.get(url, headers={"Authorization": "Bearer nope"})
    assert bogus.status_code == 401 and bogus.json()["error"]["code"] == 401
    assert (await client.get(url, headers=auth)).status_code == 200
    clock.advance(minutes=20, seconds=1)
    expired = await client.get(url, headers=auth)
    assert expired.status_code == 401 and "expired" in expired.json()["error"]["details"]


async def test_refresh_issues_a_new_pair_once(client: httpx.AsyncClient) -> None:
    token = await login(client)
    assert (await client.post("/_sandbox/expire-tokens")).json() == {"expired": 1}
    old = {"Authorization": f"Bearer {token['accessToken']}"}
    assert (await client.get("/v2/crm/accounts/summary", headers=old)).status_code == 401
    form = {"AccessToken": token["accessToken"], "RefreshToken": token["refreshToken"]}
    assert (
        await client.post("/v2/security/refreshtoken", data={**form, "RefreshToken": "wrong"})
    ).status_code == 401
    r = await client.post("/v2/security/refreshtoken", data=form)
    assert r.status_code == 200 and r.json()["success"] is True
    new = {"Authorization": f"Bearer {r.json()['result']['accessToken']}"}
    assert (await client.get("/v2/crm/accounts/summary", headers=new)).status_code == 200
    assert (await client.post("/v2/security/refreshtoken", data=form)).status_code == 401


# --- reads -------------------------------------------------------------------------------


async def test_paging_covers_every_account_once(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    seen: list[int] = []
    for page in range(1, 10):
        r = await client.get(
            "/v2/crm/accounts/summary", params={"PageSize": 10, "PageNumber": page}, headers=auth
        )
        body = r.json()
        assert body["totalRecords"] == 42
        if not body["result"]:
            break
        seen += [a["id"] for a in body["result"]]
    assert len(seen) == 42 == len(set(seen))
    bad = await client.get("/v2/crm/accounts/summary", params={"PageNumber": 0}, headers=auth)
    assert bad.status_code == 400 and bad.json()["error"]["subErrors"]


async def test_page_size_is_capped(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    await client.post("/_sandbox/config", json={"max_page_size": 5})
    r = await client.get("/v2/finance/contracts/summary", params={"PageSize": 500}, headers=auth)
    assert len(r.json()["result"]) == 5 and r.json()["totalRecords"] > 5


async def test_filters(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    async def accounts(**params: str) -> list[dict[str, Any]]:
        r = await client.get("/v2/crm/accounts/summary", params=params, headers=auth)
        result: list[dict[str, Any]] = r.json()["result"]
        return result

    assert [a["accountName"] for a in await accounts(**{"Filter.AccountCode": " acme01"})] == [
        "Acme Services Pty"
    ]
    assert await accounts(**{"filter.accountcode": "ACME"}) == []
    assert await accounts(**{"Filter.AccountCode": "GHOST01"}) == []
    r = await client.get(
        "/v2/finance/contracts/summary",
        headers=auth,
        params={"Filter.ContractType": "block hours", "Filter.AccountName": "No Contract"},
    )
    [noc] = r.json()["result"]
    assert (noc["accountId"], noc["contractType"]) == (1004, "Block Hours")
    r = await client.get(
        "/v2/finance/contracts/summary",
        headers=auth,
        params={"Filter.ContractType": "Recurring Services", "Filter.AccountId": "1001"},
    )
    assert {c["status"] for c in r.json()["result"]} == {"Active", "Inactive"}
    look = await client.get(
        "/v2/finance/contracts/lookup",
        headers=auth,
        params={"AccountId": 1001, "ExcludeExpiredContracts": "true"},
    )
    assert [c["name"] for c in look.json()["result"]] == ["Acme Recurring", "Acme Block Hours"]
    s = await client.post(
        "/v2/admin/finance/services/search",
        headers=auth,
        json={"PageSize": 100, "PageNumber": 1, "Filter": {"IsActive": 0}},
    )
    assert [x["name"] for x in s.json()["result"]] == ["TEAMS-PHONE"]
    s = await client.post(
        "/v2/admin/finance/services/search", headers=auth, json={"filter": {"name": "m365-bp"}}
    )
    assert [x["description"] for x in s.json()["result"]] == [
        "M365-BP: Microsoft 365 Business Premium"
    ]
    s = await client.post(
        "/v2/admin/finance/services/search", headers=auth, json={"Filter": "M365-BP"}
    )
    assert s.status_code == 400 and s.json()["error"]["subErrors"] == [
        "Filter must be a JSON object."
    ]


# --- budget, faults, latency ----------------------------------------------------------


async def test_budget_gives_429_with_retry_after(client: httpx.AsyncClient, clock: Clock) -> None:
    await client.post("/_sandbox/config", json={"budget_per_hour": 3, "token_ttl_seconds": 7200})
    auth = {"Authorization": f"Bearer {(await login(client))['accessToken']}"}
    url = "/v2/crm/accounts/summary"
    for _ in range(3):
        assert (await client.get(url, headers=auth)).status_code == 200
        clock.advance(minutes=10)
    r = await client.get(url, headers=auth)
    assert r.status_code == 429 and r.json()["success"] is False
    assert r.headers["Retry-After"] == str(60 * 60 - 30 * 60)  # first call frees at 60 min
    other = await client.get("/v2/finance/contracts/summary", headers=auth)
    assert other.status_code == 200  # budgets are per endpoint
    clock.advance(minutes=30)
    assert (await client.get(url, headers=auth)).status_code == 200
    stats = (await client.get("/_sandbox/stats")).json()
    assert stats["throttled"] == 1 and stats["byStatus"]["429"] == 1
    assert stats["byEndpoint"][f"GET {url}"] == 5


async def test_budget_counts_per_path_template(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    await client.post("/_sandbox/config", json={"budget_per_hour": 2})
    assert (await client.get(LINES.format(2002), headers=auth)).status_code == 200
    assert (await client.get(LINES.format(2004), headers=auth)).status_code == 200
    assert (await client.get(LINES.format(2006), headers=auth)).status_code == 429


async def test_fault_rules(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    rules = [
        {"method": "GET", "path": "accounts/summary$", "status": 503, "times": 1, "retry_after": 7},
        {"path": "contracts/summary", "malformed": True},
    ]
    assert (await client.post("/_sandbox/faults", json=rules)).status_code == 200
    r = await client.get("/v2/crm/accounts/summary", headers=auth)
    assert r.status_code == 503 and r.headers["Retry-After"] == "7"
    assert (await client.get("/v2/crm/accounts/summary", headers=auth)).status_code == 200
    bad = await client.get("/v2/finance/contracts/summary", headers=auth)
    with pytest.raises(json.JSONDecodeError):
        bad.json()
    await client.delete("/_sandbox/faults")
    assert (await client.get("/v2/finance/contracts/summary", headers=auth)).status_code == 200
    r = await client.post("/_sandbox/faults", json={"path": "(", "status": 500})
    assert r.status_code == 400 and "regex" in r.json()["error"]
    r = await client.post("/_sandbox/config", json={"latency": 5})
    assert r.status_code == 400 and "latency_ms" in r.json()["error"]


async def test_latency(client: httpx.AsyncClient, auth: dict[str, str],
                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The configured latency is slept before each answer (recorded, not timed)."""
    from atria_tui.sandbox.kaseya import app

    slept: list[float] = []

    async def record(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(app.anyio, "sleep", record)
    await client.post("/_sandbox/config", json={"latency_ms": 60})
    resp = await client.get("/v2/crm/accounts/summary", headers=auth)
    assert resp.status_code == 200 and slept == [0.06]


# --- writes ------------------------------------------------------------------------------


async def test_put_units(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    r = await client.put(LINES.format(2002) + "/3003", json={"units": 12}, headers=auth)
    assert r.status_code == 200 and r.json()["result"]["units"] == 12
    lines = (await client.get(LINES.format(2002), headers=auth)).json()["result"]
    assert {ln["serviceName"]: ln["units"] for ln in lines}["M365-BP"] == 12
    wrong = await client.put(LINES.format(2004) + "/3003", json={"Units": 1}, headers=auth)
    assert wrong.status_code == 404
    neg = await client.put(LINES.format(2002) + "/3003", json={"Units": -1}, headers=auth)
    assert neg.status_code == 400 and "Units" in neg.json()["error"]["subErrors"][0]
    inf = await client.put(
        LINES.format(2002) + "/3003",
        content=b'{"Units": Infinity}',
        headers={**auth, "Content-Type": "application/json"},
    )
    assert inf.status_code == 400
    garbage = await client.put(LINES.format(2002) + "/3003", content=b"{units", headers=auth)
    assert garbage.status_code == 400 and "not valid JSON" in garbage.json()["error"]["message"]
    fault = (
        await client.get(
            "/v2/finance/contracts/summary", headers=auth, params={"Filter.AccountName": "Faulty"}
        )
    ).json()["result"][0]
    [line] = (await client.get(LINES.format(fault["id"]), headers=auth)).json()["result"]
    failed = await client.put(
        LINES.format(fault["id"]) + f"/{line['id']}", json={"Units": 6}, headers=auth
    )
    assert failed.status_code == 500 and failed.json()["success"] is False


async def test_post_lines_and_reset(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    body = [
        {
            "ServiceId": 104,
            "ServiceName": "AV-EDR",
            "ServiceDescription": "AV-EDR: EDR",
            "Units": 7,
            "UnitCost": 4.1,
            "UnitPrice": 6.5,
            "EffectiveDate": "2026-11-25T00:00:00",
        }
    ]
    r = await client.post(LINES.format(2002), json=body, headers=auth)
    assert r.status_code == 200, r.text
    created = r.json()["result"]
    assert (created["serviceName"], created["units"], created["contractId"]) == ("AV-EDR", 7, 2002)
    lines = (await client.get(LINES.format(2002), headers=auth)).json()["result"]
    assert [ln["serviceName"] for ln in lines][-1] == "AV-EDR" and len(lines) == 5
    inactive = await client.post(
        LINES.format(2002), json=[{"ServiceId": 107, "Units": 1}], headers=auth
    )
    assert inactive.status_code == 400 and "ServiceId" in inactive.json()["error"]["subErrors"][0]
    not_array = await client.post(LINES.format(2002), json=body[0], headers=auth)
    assert not_array.status_code == 400
    assert (await client.post(LINES.format(9999), json=body, headers=auth)).status_code == 404
    await client.post("/_sandbox/reset")
    assert (await client.get(LINES.format(2002), headers=auth)).status_code == 401
    auth2 = {"Authorization": f"Bearer {(await login(client))['accessToken']}"}
    assert len((await client.get(LINES.format(2002), headers=auth2)).json()["result"]) == 4


async def test_demo_seed_shapes_the_scenario(state: KsState) -> None:
    codes = {a.code for a in state.accounts.values()}
    assert {"ACME01", "FRESH01", "NOCON01", "OLD01", "FAULT01", "AMB01", "BIG01"} <= codes
    assert "GHOST01" not in codes and len(codes) == 42
    by_code = {a.code: a.id for a in state.accounts.values()}

    def recurring_lines(code: str) -> list[str]:
        [c] = [
            c
            for c in state.contracts.values()
            if c.account_id == by_code[code] and c.type == "Recurring Services" and c.live(T0)
        ]
        return [ln.service_name for ln in state.lines_of(c.id)]

    assert recurring_lines("AMB01") == ["M365-BP", "M365-BP"]
    assert len(recurring_lines("BIG01")) == 40
    assert not [
        c
        for c in state.contracts.values()
        if c.account_id == by_code["NOCON01"] and c.type == "Recurring Services"
    ]
    assert [ln.fault_put for ln in state.lines.values() if ln.fault_put] == [500]
    assert all(s.description.startswith(s.name + ": ") for s in state.services.values())


# --- the vendor's swagger, structurally ----------------------------------------------


def _swagger() -> dict[str, Any]:
    """The vendor's published swagger, committed beside the tests so this check never
    skips on a clean clone (a copy of shared/spec/vendor/)."""
    path = Path(__file__).resolve().parents[1] / "data" / "vendor" / "kaseya-bms-v2-openapi.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _camel(name: str) -> str:
    """System.Text.Json's camelCase: `Id` → `id`, `SLAId` → `slaId`."""
    chars = list(name)
    for i, ch in enumerate(chars):
        if i > 0 and i + 1 < len(chars) and not chars[i + 1].isupper():
            break
        if not ch.isupper():
            break
        chars[i] = ch.lower()
    return "".join(chars)


def _type_ok(value: Any, prop: dict[str, Any]) -> bool:
    if value is None:
        return bool(prop.get("nullable")) or "$ref" in prop
    kind = prop.get("type", "object")
    checks = {
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "string": lambda v: isinstance(v, str),
        "boolean": lambda v: isinstance(v, bool),
        "array": lambda v: isinstance(v, list),
        "object": lambda v: isinstance(v, dict),
    }
    return bool(checks[kind](value))


def _conforms(
    swagger: dict[str, Any],
    obj: dict[str, Any],
    schema: str,
    required: set[str],
    extras: frozenset[str] = frozenset(),
) -> None:
    props = {
        _camel(k): v for k, v in swagger["components"]["schemas"][schema]["properties"].items()
    }
    assert required <= set(props), f"{schema}: not in swagger: {required - set(props)}"
    assert required <= set(obj), f"{schema}: missing {required - set(obj)}"
    for key, value in obj.items():
        if key in extras:
            continue
        assert key in props, f"{schema}: undocumented field {key!r}"
        assert _type_ok(value, props[key]), f"{schema}.{key}: {value!r} vs {props[key]}"


async def test_responses_match_vendor_schemas(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    sw = _swagger()
    login_body = (
        await client.post(
            "/v2/security/authenticate", data={"GrantType": "password", **DEMO_SECRETS}
        )
    ).json()
    _conforms(sw, login_body, "TokenOutputDtoResponse", {"success", "error", "result"})
    _conforms(
        sw,
        login_body["result"],
        "TokenOutputDto",
        {"accessToken", "refreshToken", "accessTokenExpireOn", "refreshTokenExpireOn"},
    )
    page = (await client.get("/v2/crm/accounts/summary", headers=auth)).json()
    _conforms(
        sw,
        page,
        "AccountSummaryOutputDtoIEnumerablePagedResponse",
        {"success", "error", "result", "totalRecords"},
    )
    _conforms(
        sw,
        page["result"][0],
        "AccountSummaryOutputDto",
        {"id", "accountCode", "accountName", "isActive"},
    )
    page = (await client.get("/v2/finance/contracts/summary", headers=auth)).json()
    _conforms(
        sw,
        page,
        "ClientContractSummaryOutputDtoIEnumerablePagedResponse",
        {"success", "result", "totalRecords"},
    )
    for item in page["result"]:
        _conforms(
            sw,
            item,
            "ClientContractSummaryOutputDto",
            {
                "id",
                "contractName",
                "accountName",
                "contractType",
                "status",
                "contractNumber",
                "startDate",
                "endDate",
            },
            extras=frozenset({"accountId"}),
        )
    look = (
        await client.get("/v2/finance/contracts/lookup", headers=auth, params={"AccountId": 1001})
    ).json()
    _conforms(sw, look, "ContractLookupOutputDtoListResponse", {"success", "result"})
    _conforms(
        sw,
        look["result"][0],
        "ContractLookupOutputDto",
        {"id", "name", "isDefault", "isActive", "endDate"},
    )
    svc = (
        await client.post(
            "/v2/admin/finance/services/search",
            headers=auth,
            json={"PageSize": 100, "PageNumber": 1},
        )
    ).json()
    _conforms(
        sw,
        svc,
        "ServiceListOutputDtoIEnumerablePagedResponse",
        {"success", "result", "totalRecords"},
    )
    for item in svc["result"]:
        _conforms(
            sw,
            item,
            "ServiceListOutputDto",
            {"id", "name", "description", "unitPrice", "unitCost", "isActive"},
        )
    added = (
        await client.post(LINES.format(2002), headers=auth, json=[{"ServiceId": 104, "Units": 7}])
    ).json()
    _conforms(sw, added, "RecurringServicePostOutputDtoResponse", {"success", "result"})
    _conforms(
        sw,
        added["result"],
        "RecurringServicePostOutputDto",
        {"id", "serviceId", "serviceName", "units", "unitPrice", "effectiveDate"},
    )
    err = (await client.get("/v2/crm/accounts/summary")).json()
    _conforms(sw, err["error"], "ErrorInfo", {"code", "message", "details", "subErrors"})
