"""Kaseya BMS v2 REST emulator (Starlette ASGI app).

Shapes follow the vendor's swagger (camelCase, as real tenants answer) for the documented
endpoints and `shared/spec/kaseya-bms-api.md` for the two unverified line endpoints. It is
deliberately strict where a real tenant is (form-only login, bearer tokens that expire,
per-endpoint hourly budget, 1-based pages) so adapter bugs show up here first rather than on
a customer's tenant. The admin API under `/_sandbox/` is the test and demo harness.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable
from typing import Any, TypeGuard

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from atria_tui.sandbox.kaseya.admin import admin_routes
from atria_tui.sandbox.kaseya.state import Contract, FaultRule, KsState
from atria_tui.sandbox.kaseya.wire import (
    ApiError,
    account_json,
    bool_param,
    contains,
    contract_json,
    equals,
    failure,
    int_param,
    line_json,
    ok,
    page_of,
    query,
    read_form,
    read_json,
    service_json,
    token_json,
)

Handler = Callable[[Request, KsState], Awaitable[Response]]
RECURRING = "/v2/finance/contracts/recurringservices/{contractId}/services"


# --- handlers ----------------------------------------------------------------------------


async def authenticate(request: Request, state: KsState) -> Response:
    form = await read_form(request)
    missing = [f for f in ("granttype", "username", "password", "tenant") if not form.get(f)]
    if missing:
        return failure(
            400,
            "Validation failed.",
            sub_errors=[f"The {name} field is required." for name in missing],
        )
    if form["granttype"].strip().casefold() != "password":
        return failure(400, f"Unsupported GrantType {form['granttype']!r}; expected 'password'.")
    token = state.authenticate(form["username"], form["password"], form["tenant"])
    if token is None:
        return failure(400, "Invalid username, password or tenant.")
    return ok(token_json(token))


async def refresh_token(request: Request, state: KsState) -> Response:
    form = await read_form(request)
    token = state.refresh(form.get("accesstoken", ""), form.get("refreshtoken", ""))
    if token is None:
        return failure(401, "The refresh token is not valid or has expired.")
    return ok(token_json(token))


async def accounts_summary(request: Request, state: KsState) -> Response:
    q = query(request)
    active = bool_param(q.get("filter.isactive"), "Filter.IsActive")
    found = [
        account_json(a)
        for a in sorted(state.accounts.values(), key=lambda a: a.id)
        if equals(a.code, q.get("filter.accountcode"))
        and contains(a.name, q.get("filter.accountname"))
        and (active is None or a.active == active)
    ]
    page, total = page_of(found, q.get("pagesize"), q.get("pagenumber"), state.config.max_page_size)
    return ok(page, total)


async def contracts_summary(request: Request, state: KsState) -> Response:
    q = query(request)
    account_id = int_param(q.get("filter.accountid"), "Filter.AccountId")
    found = [
        contract_json(c, state)
        for c in sorted(state.contracts.values(), key=lambda c: c.id)
        if equals(c.type, q.get("filter.contracttype"))
        and equals(c.status, q.get("filter.status"))
        and contains(c.name, q.get("filter.contractname"))
        and contains(state.accounts[c.account_id].name, q.get("filter.accountname"))
        and (account_id is None or c.account_id == account_id)
    ]
    page, total = page_of(found, q.get("pagesize"), q.get("pagenumber"), state.config.max_page_size)
    return ok(page, total)


async def contracts_lookup(request: Request, state: KsState) -> Response:
    q = query(request)
    account_id = int_param(q.get("accountid"), "AccountId")
    ids = {
        int_param(v, "Ids") for k, v in request.query_params.multi_items() if k.casefold() == "ids"
    }
    exclude_expired = bool_param(q.get("excludeexpiredcontracts"), "ExcludeExpiredContracts")
    now = state.now()
    result, seen_accounts = [], set()
    for c in sorted(state.contracts.values(), key=lambda c: c.id):
        if account_id is not None and c.account_id != account_id:
            continue
        if (ids and c.id not in ids) or not contains(c.name, q.get("name")):
            continue
        if exclude_expired and c.expired(now):
            continue
        result.append(
            {
                "id": c.id,
                "name": c.name,
                "isDefault": c.account_id not in seen_accounts,
                "slaId": None,
                "slaName": None,
                "isActive": c.live(now),
                "endDate": c.end,
            }
        )
        seen_accounts.add(c.account_id)
    return ok(result)


async def services_search(request: Request, state: KsState) -> Response:
    body = await read_json(request, dict)
    raw_filter = body.get("filter") or {}
    if not isinstance(raw_filter, dict):
        raise ApiError(400, "Validation failed.", sub_errors=["Filter must be a JSON object."])
    flt = {k.casefold(): v for k, v in raw_filter.items()}
    active = bool_param(flt.get("isactive"), "Filter.IsActive")
    found = [
        service_json(s)
        for s in sorted(state.services.values(), key=lambda s: s.id)
        if contains(s.name, flt.get("name"))
        and contains(s.description, flt.get("description"))
        and (active is None or s.active == active)
    ]
    page, total = page_of(
        found, body.get("pagesize"), body.get("pagenumber"), state.config.max_page_size
    )
    return ok(page, total)


def _valid_units(value: Any) -> TypeGuard[int]:
    """Units are int32 in the swagger: a non-negative whole JSON number (a fraction is
    refused with 400, as a strict deserializer does; json.loads lets `Infinity` through)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        return False
    return 0 <= value < 2**31


def _contract(request: Request, state: KsState) -> Contract:
    contract_id = int(request.path_params["contract_id"])
    contract = state.contracts.get(contract_id)
    if contract is None:
        raise ApiError(404, f"Contract {contract_id} was not found.")
    return contract


async def list_lines(request: Request, state: KsState) -> Response:
    contract = _contract(request, state)
    return ok([line_json(ln, state) for ln in state.lines_of(contract.id)])


async def add_lines(request: Request, state: KsState) -> Response:
    contract = _contract(request, state)
    items = await read_json(request, list)
    if not items:
        raise ApiError(400, "Validation failed.", sub_errors=["At least one service is required."])
    parsed, problems = [], []
    for n, raw in enumerate(items):
        item = {k.casefold(): v for k, v in raw.items()} if isinstance(raw, dict) else {}
        service_id = item.get("serviceid")
        service = state.services.get(service_id) if isinstance(service_id, int) else None
        units = item.get("units", 0)
        if service is None or not service.active:
            problems.append(f"[{n}].ServiceId: {service_id!r} is not an active service.")
        elif not _valid_units(units):
            problems.append(f"[{n}].Units: {units!r} must be a non-negative whole number "
                            "(Int32).")
        else:
            parsed.append((service, item))
    if problems:
        raise ApiError(400, "Validation failed.", sub_errors=problems)
    created = [
        state.add_line(
            contract.id,
            service,
            name=item.get("servicename"),
            description=item.get("servicedescription"),
            units=item.get("units", 0),
            unit_price=item.get("unitprice"),
            unit_cost=item.get("unitcost"),
            effective_date=item.get("effectivedate"),
        )
        for service, item in parsed
    ]
    # The swagger answers one object even though the body is an array: the first line.
    return ok(line_json(created[0], state))


async def update_line(request: Request, state: KsState) -> Response:
    contract = _contract(request, state)
    line_id = int(request.path_params["line_id"])
    line = state.lines.get(line_id)
    if line is None or line.contract_id != contract.id:
        raise ApiError(404, f"Service line {line_id} was not found in contract {contract.id}.")
    if line.fault_put:
        raise ApiError(
            line.fault_put,
            "An unexpected error occurred while saving the service.",
            details=f"Sandbox fault seeded on line {line_id}.",
        )
    body = {k.casefold(): v for k, v in (await read_json(request, dict)).items()}
    units = body.get("units")
    if not _valid_units(units):
        raise ApiError(
            400,
            "Validation failed.",
            sub_errors=[f"Units: {units!r} must be a non-negative whole number (Int32)."],
        )
    line.units = float(units)
    line.modified_on = state.stamp()
    state.unit_changes.append({"lineId": line_id, "units": units,
                               "effectiveDate": body.get("effectivedate")})
    return ok(line_json(line, state))


# --- the guard every /v2 route passes through ------------------------------------------


def _fault_response(rule: FaultRule) -> Response:
    headers = {"Retry-After": str(rule.retry_after)} if rule.retry_after is not None else {}
    if rule.malformed:
        return Response(
            '{"success": tru',
            status_code=rule.status,
            headers=headers,
            media_type="application/json",
        )
    return failure(rule.status, f"Sandbox fault injected (HTTP {rule.status}).", headers=headers)


def guarded(
    state: KsState, template: str, handler: Handler, *, auth: bool = True
) -> Callable[[Request], Awaitable[Response]]:
    """Latency, injected faults, the hourly budget of `template`, bearer auth, counters."""

    async def endpoint(request: Request) -> Response:
        if state.config.latency_ms:
            await anyio.sleep(state.config.latency_ms / 1000)
        rule = state.match_fault(request.method, request.url.path)
        wait = None if rule else state.take_budget(template)
        if rule is not None:
            response = _fault_response(rule)
        elif wait is not None:
            response = failure(
                429,
                "API rate limit exceeded for this endpoint.",
                details=f"Retry after {wait} seconds.",
                headers={"Retry-After": str(wait)},
            )
        else:
            header = request.headers.get("authorization", "")
            bearer = header[7:].strip() if header[:7].casefold() == "bearer " else None
            reason = state.check_access(bearer) if auth else None
            if reason:
                response = failure(
                    401, "Unauthorized.", details=reason, headers={"WWW-Authenticate": "Bearer"}
                )
            else:
                try:
                    response = await handler(request, state)
                except ApiError as exc:
                    response = failure(exc.status, exc.message, exc.details, exc.sub_errors)
        state.stats.record(f"{request.method} {template}", response.status_code)
        return response

    return endpoint


# --- the routes no public document shows: served only when the config says so ---------


def html_page(status: int, title: str) -> Response:
    """What a web server answers for a route the API does not have: a page, not JSON."""
    return HTMLResponse(
        f"<!DOCTYPE html><html><head><title>{status} - {title}</title></head>"
        f"<body><h1>Server Error</h1><h2>{status} - {title}</h2></body></html>",
        status_code=status,
    )


def only_if(route_set: str, handler: Handler, status: int) -> Handler:
    """`handler` when the sandbox serves the guessed lines routes as `route_set`; else the
    answer of a server that has no such route (405 for GET on a POST-only path, 404)."""

    async def gated(request: Request, state: KsState) -> Response:
        if state.config.lines_routes == route_set:
            return await handler(request, state)
        title = ("HTTP verb used to access this page is not allowed." if status == 405
                 else "File or directory not found.")
        return html_page(status, title)

    return gated


def only_if_write(route_set: str, handler: Handler) -> Handler:
    """A guessed write route: when served, any other method on its path is 405 (the path
    exists); when not served, the path does not exist for any method (404)."""

    async def gated(request: Request, state: KsState) -> Response:
        if state.config.lines_routes != route_set:
            return html_page(404, "File or directory not found.")
        if request.method != "PUT":
            return html_page(405, "HTTP verb used to access this page is not allowed.")
        return await handler(request, state)

    return gated


async def v1_token(request: Request, state: KsState) -> Response:
    """V1's token endpoint on the UI host: form grant_type/username/password/tenant."""
    form = await read_form(request)
    token = None
    if form.get("grant_type", "").casefold() == "password":
        token = state.authenticate(form.get("username", ""), form.get("password", ""),
                                   form.get("tenant", ""))
    if token is None:
        return JSONResponse({"error": "invalid_grant",
                             "error_description": "The user name or password is incorrect."},
                            status_code=400)
    seconds = int((token.access_expires - state.now()).total_seconds())
    return JSONResponse({"access_token": token.access, "token_type": "bearer",
                         "expires_in": seconds})


def _pascal(obj: dict[str, Any]) -> dict[str, Any]:
    return {k[:1].upper() + k[1:]: v for k, v in obj.items()}


async def v1_list_lines(request: Request, state: KsState) -> Response:
    contract = _contract(request, state)
    return JSONResponse([_pascal(line_json(ln, state)) for ln in state.lines_of(contract.id)])


async def v1_update_line(request: Request, state: KsState) -> Response:
    try:
        response = await update_line(request, state)
    except ApiError as exc:
        return JSONResponse({"Message": exc.message}, status_code=exc.status)
    return JSONResponse(_pascal(json.loads(bytes(response.body))["result"]))


def create_app(state: KsState | None = None) -> Starlette:
    ks = state or KsState()
    v2: list[tuple[str, str, Handler, bool]] = [
        ("POST", "/v2/security/authenticate", authenticate, False),
        ("POST", "/v2/security/refreshtoken", refresh_token, False),
        ("GET", "/v2/crm/accounts/summary", accounts_summary, True),
        ("GET", "/v2/finance/contracts/summary", contracts_summary, True),
        ("GET", "/v2/finance/contracts/lookup", contracts_lookup, True),
        ("POST", "/v2/admin/finance/services/search", services_search, True),
        ("POST", RECURRING, add_lines, True),
    ]
    api = [
        *v2,
        ("GET", RECURRING, only_if("v2", list_lines, 405), True),
        ("PUT", RECURRING + "/{lineId}", only_if_write("v2", update_line), True),
        # The web app's own route to v2, through the UI host.
        *[(m, "/api2" + t, h, a) for m, t, h, a in v2],
        ("GET", "/api2" + RECURRING, only_if("ui-api2", list_lines, 405), True),
        ("PUT", "/api2" + RECURRING + "/{lineId}", only_if_write("ui-api2", update_line), True),
        # V1 under /api, with its own token.
        ("POST", "/api/token", v1_token, False),
        ("GET", "/api" + RECURRING[3:], only_if("v1", v1_list_lines, 404), True),
        ("PUT", "/api" + RECURRING[3:] + "/{lineId}", only_if_write("v1", v1_update_line), True),
    ]
    routes = []
    for method, template, handler, auth in api:
        path = template.replace("{contractId}", "{contract_id:int}").replace(
            "{lineId}", "{line_id:int}"
        )
        # A guessed write path answers every method itself (404 when not served).
        methods = ["GET", "PUT"] if method == "PUT" else [method]
        routes.append(Route(path, guarded(ks, template, handler, auth=auth), methods=methods))

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        return failure(status, f"No {request.method} endpoint at {request.url.path}.")

    app = Starlette(
        routes=[*routes, *admin_routes(ks)], exception_handlers={404: not_found, 405: not_found}
    )
    app.state.ks = ks
    return app
