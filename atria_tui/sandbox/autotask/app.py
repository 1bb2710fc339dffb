"""Autotask PSA REST emulator (Starlette ASGI app), strict where the spec is strict.

Mounted at `/autotask` by `sandbox/server.py`: a zone host under `/autotask/zone`
(`…/zone/ATServicesRest/V1.0/zoneInformation?user=…`, no auth) and the tenant under
`/autotask/ATServicesRest/V1.0/…`. Paths are matched case-insensitively (`V1.0`/`v1.0`,
`ATServicesRest`/`atservicesrest`, entity names), as clients rely on. The zone answer's
`url` is the sandbox's own tenant base: `sandbox://autotask/ATServicesRest/` when reached
through the embedded transport (host `sandbox.invalid`), `http://host:port/autotask/
ATServicesRest/` over a socket; `nextPageUrl` is always absolute on the host that was asked.

It speaks what `shared/spec/autotask-psa-api.md` documents and refuses the rest. Where
the spec says **inferred**/unverified, the strict reading was taken:

| point (spec: inferred/unverified) | what this sandbox does (the strict reading)      |
|-----------------------------------|--------------------------------------------------|
| auth headers on zoneInformation   | not needed, ignored; exempt from threads, hour   |
| header names                      | case-insensitive; missing/wrong UserName or      |
|                                   | Secret, or no ApiIntegrationCode → 401 `errors`; |
|                                   | unknown code → 500 "IntegrationCode is invalid." |
| POST Content-Type                 | `application/json` only, else 415                |
| body keys, filter field names     | case-insensitive; unknown body keys ignored      |
| filter values                     | the field's type (int, double, literal bool,     |
|                                   | string, ISO date-time) or 500; text compares     |
|                                   | case-insensitively (SQL Server collation)        |
| missing or empty filter           | 500 (our text: "A query must contain a filter…") |
| counting OR conditions            | an `or` group counts its items, `in`/`notIn`     |
|                                   | their values; > 500 → 500 with the spec's text   |
| UDF conditions (third-party: one) | a second one in a query → 500                    |
| > 500 rows, IncludeFields w/o id  | 500 (our text)                                   |
| `nextPageUrl`                     | POST only, with the first page's body (another   |
|                                   | body → 500); GET → 405 "does not support http    |
|                                   | method 'GET'", also after a `GET …?search=` walk |
| GET `{Entity}/{id}`, no such row  | 404 `errors` (our text)                          |
| ImpersonationResourceId header    | accepted and ignored                             |
| writes the spec does not name     | 405: create/update of Companies, Contracts,      |
|                                   | Services, ContractServices (root); any write of  |
|                                   | ContractServiceUnits; anything but POST on       |
|                                   | ContractServiceAdjustments (root and child)      |
| date-only `effectiveDate`         | UTC → tenant zone (`tz_offset_minutes`, −300) →  |
|                                   | its date at midnight; a text with no offset = UTC|
| date in a posted period           | 500 with the KB's "approved and posted" text     |
| date outside contract start…end   | 500 (our text)                                   |
| split ContractServiceUnit         | earlier row ends ON the date, new row starts on  |
|                                   | it (ranges inclusive, overlapping by one day)    |
| adjustment leaving 0 units        | refused (`zero_units`="refuse"; "accept" knob);  |
|                                   | below 0 always refused                           |
| `unitChange` 0, fractional, text  | 500                                              |
| `allowRepeatService` true         | refused; contractID+serviceID with two lines     |
|                                   | for the service → 500                            |
| omitted `adjustedUnitPrice`       | keeps the line's current price                   |
| thread-threshold rejection        | HTTP 500 (`thread_status` knob), `{"errors":     |
|                                   | [spec text], "code": "Itgenatr005"}`; it still   |
|                                   | counts against the hour                          |
| over 10,000 requests in 60 min    | 429, Retry-After (s until the oldest call ages   |
|                                   | out), `errors`; the refused call is not counted  |
| picklists other than type 7       | one third-party reading, in `entityInformation`  |
| `Contracts/{id}/Services`         | POST only; 0-unit rows from the first unposted   |
|                                   | period (units come by adjustment)                |
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from atria_tui.sandbox.autotask.admin import admin_routes
from atria_tui.sandbox.autotask.query import (
    AtError,
    bad,
    folded,
    parse_query,
    parse_when,
)
from atria_tui.sandbox.autotask.state import AtState, Paging, day_of, day_text
from atria_tui.sandbox.autotask.types import (
    FIELDS,
    PICKLISTS,
    QUERYABLE,
    RECURRING_SERVICE,
    REQUIRED,
    entity_of,
)
from atria_tui.sandbox.autotask.wire import (
    errors,
    item,
    method_not_allowed,
    not_found_page,
    read_json,
)
from atria_tui.sandbox.kaseya.types import FaultRule

Handler = Callable[[Request, AtState], Awaitable[Response]]
SANDBOX_HOST = "sandbox.invalid"
THREAD_TEXT = ("Thread Threshold Exceeded — The Autotask API thread threshold of {n} threads "
               "has been exceeded.")
THREAD_CODE = "Itgenatr005"
POSTED_TEXT = ("Unable to make changes as it would result in the deletion/modification of an "
               "already approved and posted contract period.")
ZONE_UNKNOWN = "Zone information could not be determined"
API = re.compile(r"^/(zone/)?atservicesrest/(v1\.0/)?(.*)$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Resolved:
    template: str  # for the counters
    entity: str  # the thread-limit key's object endpoint
    handler: Handler


# --- URLs ----------------------------------------------------------------------------


def _mount(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def tenant_url(request: Request) -> str:
    """The tenant base a zone lookup answers (`…/ATServicesRest/`, with the slash)."""
    if request.url.hostname == SANDBOX_HOST:
        return f"sandbox://{_mount(request).lstrip('/')}/ATServicesRest/".replace(
            "sandbox:///", "sandbox://")
    return f"{request.url.scheme}://{request.url.netloc}{_mount(request)}/ATServicesRest/"


def api_url(request: Request, path: str) -> str:
    """An absolute URL under the tenant's `V1.0/` on the host that was asked."""
    root = f"{request.url.scheme}://{request.url.netloc}{_mount(request)}"
    return f"{root}/ATServicesRest/V1.0/{path}"


# --- no-auth routes ------------------------------------------------------------------


async def zone_information(request: Request, state: AtState) -> Response:
    name = next((v for k, v in request.query_params.items() if k.casefold() == "user"), "")
    if not name or state.user(name) is None:
        return errors(500, ZONE_UNKNOWN)
    base = tenant_url(request)
    web = base.replace("/ATServicesRest/", "/web/")
    return JSONResponse({"zoneName": state.zone_name, "url": base, "webUrl": web,
                         "ci": state.ci})


async def version_information(request: Request, state: AtState) -> Response:
    return JSONResponse({"apiVersions": ["1.0"]})


# --- queries -------------------------------------------------------------------------


def _search_body(request: Request) -> Any:
    raw = next((v for k, v in request.query_params.items() if k.casefold() == "search"), None)
    if raw is None:
        raise bad("The search parameter is required.")
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise bad(f"The search parameter is not valid JSON: {exc}") from exc


async def _query_body(request: Request) -> Any:
    return await read_json(request) if request.method == "POST" else _search_body(request)


def _matches(state: AtState, entity: str, body: Any) -> tuple[list[int], Any]:
    q = parse_query(entity, body)
    rows = state.data.table(entity)
    return [i for i in sorted(rows) if q.predicate(rows[i])], q


def _page(request: Request, state: AtState, walk: Paging, token: str, offset: int
          ) -> Response:
    rows = state.data.table(walk.entity)
    chunk = walk.ids[offset:offset + walk.size]
    items = [item(walk.entity, rows[i], walk.include) for i in chunk if i in rows]
    more = offset + walk.size < len(walk.ids)
    base = f"{walk.entity}/query/next?paging={token}."
    return JSONResponse({
        "items": items,
        "pageDetails": {
            "count": len(items),
            "requestCount": walk.size,
            "prevPageUrl": api_url(request, f"{base}{offset - walk.size}") if offset else None,
            "nextPageUrl": api_url(request, f"{base}{offset + walk.size}") if more else None,
        },
    })


def query_handler(entity: str) -> Handler:
    async def handler(request: Request, state: AtState) -> Response:
        body = await _query_body(request)
        ids, q = _matches(state, entity, body)
        if len(ids) > state.config.max_page_size and q.include and "id" not in q.include:
            raise bad("IncludeFields must contain id when a query returns more than 500 "
                      "records.")
        size = min(q.max_records or state.config.max_page_size, state.config.max_page_size)
        walk = Paging(entity, body, ids, size, q.include)
        # Only a walk with a next page is kept (a one-page answer has no paging URL).
        token = state.new_paging(walk) if len(ids) > size else ""
        return _page(request, state, walk, token, 0)

    return handler


def count_handler(entity: str) -> Handler:
    async def handler(request: Request, state: AtState) -> Response:
        ids, _ = _matches(state, entity, await _query_body(request))
        return JSONResponse({"queryCount": len(ids)})

    return handler


def next_handler(entity: str) -> Handler:
    async def handler(request: Request, state: AtState) -> Response:
        raw = next((v for k, v in request.query_params.items() if k.casefold() == "paging"),
                   "")
        token, _, offset_text = raw.rpartition(".")
        walk = state.paging.get(token)
        if walk is None or walk.entity != entity or not offset_text.isdigit():
            raise bad("The paging token is not valid or has expired.")
        if await read_json(request) != walk.body:
            raise bad("The request body does not match the query this page belongs to.")
        offset = int(offset_text)
        if offset >= len(walk.ids) or offset % walk.size:
            raise bad("The paging token is not valid or has expired.")
        return _page(request, state, walk, token, offset)

    return handler


def get_handler(entity: str, row_id: int) -> Handler:
    async def handler(request: Request, state: AtState) -> Response:
        row = state.data.table(entity).get(row_id)
        if row is None:
            return errors(404, f"{entity} with id {row_id} was not found.")
        return JSONResponse({"item": item(entity, row)})

    return handler


def fields_handler(entity: str) -> Handler:
    async def handler(request: Request, state: AtState) -> Response:
        fields = []
        for name, kind, read_only, picklist, reference in FIELDS[entity]:
            values = [
                {"value": str(v), "label": label, "isDefaultValue": False, "sortOrder": n,
                 "parentValue": "", "isActive": True, "isSystem": True}
                for n, (v, label) in enumerate(PICKLISTS.get(picklist or "", {}).items())
            ]
            fields.append({
                "name": name, "dataType": kind, "length": 100 if kind == "string" else 0,
                "isRequired": name in REQUIRED.get(entity, set()) or name == "id",
                "isReadOnly": read_only, "isQueryable": True,
                "isReference": reference is not None, "referenceEntityType": reference or "",
                "isPickList": picklist is not None,
                "picklistValues": values if picklist else None,
                "picklistParentValueField": "", "isSupportedWebhookField": False,
            })
        return JSONResponse({"fields": fields})

    return handler


def udf_handler(entity: str) -> Handler:
    async def handler(request: Request, state: AtState) -> Response:
        return JSONResponse({"fields": [dict(f) for f in state.udf_definitions.get(entity, [])]})

    return handler


async def threshold_information(request: Request, state: AtState) -> Response:
    return JSONResponse({"externalRequestThreshold": state.config.requests_per_hour,
                         "requestThresholdTimeframe": 60,
                         "currentTimeframeRequestCount": state.usage()})


# --- writes --------------------------------------------------------------------------


def _int32(body: dict[str, Any], key: str, label: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad(f"{label}: {value!r} is not a valid integer.")
    if isinstance(value, float) and not value.is_integer():
        raise bad(f"{label}: {value!r} is not a valid integer (Int32); fractional units "
                  "cannot be adjusted.")
    if not -(2**31) <= value < 2**31:
        raise bad(f"{label}: {value!r} is out of range for Int32.")
    return int(value)


def _effective(state: AtState, raw: Any) -> datetime:
    if raw is None:
        raise bad("effectiveDate is required.")
    try:
        return parse_when(raw)
    except (ValueError, TypeError) as exc:
        raise bad(f"effectiveDate: {raw!r} is not a valid date-time.") from exc


def adjustment_handler(parent_id: int | None) -> Handler:
    async def handler(request: Request, state: AtState) -> Response:
        raw = await read_json(request)
        if not isinstance(raw, dict):
            raise bad("The request body must be a ContractServiceAdjustment object.")
        body = folded(raw)
        return JSONResponse({"itemId": adjust(state, body, parent_id)})

    return handler


def adjust(state: AtState, body: dict[str, Any], parent_id: int | None) -> int:
    if body.get("id") not in (None, 0):
        raise bad("id must be 0 or omitted when creating an entity.")
    contracts = state.data.table("Contracts")
    css = state.data.table("ContractServices")
    services = state.data.table("Services")
    contract_id = _int32(body, "contractid", "contractID")
    cs_id = _int32(body, "contractserviceid", "contractServiceID")
    service_id = _int32(body, "serviceid", "serviceID")
    change = _int32(body, "unitchange", "unitChange")
    if parent_id is not None:
        if contract_id is not None and contract_id != parent_id:
            raise bad(f"contractID {contract_id} does not match the parent contract "
                      f"{parent_id}.")
        contract_id = parent_id
    if body.get("allowrepeatservice") is True:
        raise bad("allowRepeatService is not supported: the service is already on the "
                  "contract or would be repeated.")
    moment = _effective(state, body.get("effectivedate"))
    if change is None:
        raise bad("unitChange is required.")
    if change == 0:
        raise bad("unitChange must not be 0.")
    cs = None
    if cs_id is not None:
        cs = css.get(cs_id)
        if cs is None:
            raise bad(f"contractServiceID {cs_id} does not exist.")
        if contract_id is not None and cs["contractID"] != contract_id:
            raise bad(f"contractServiceID {cs_id} does not belong to contract {contract_id}.")
        if service_id is not None and cs["serviceID"] != service_id:
            raise bad(f"serviceID {service_id} does not match contractServiceID {cs_id}.")
        contract_id = cs["contractID"]
    elif contract_id is None or service_id is None:
        raise bad("Either contractServiceID, or contractID and serviceID, are required.")
    contract = contracts.get(contract_id) if contract_id is not None else None
    if contract is None:
        raise bad(f"contractID {contract_id} does not exist.")
    if contract["contractType"] != RECURRING_SERVICE:
        raise bad("contractID must reference a Recurring Service type Contract "
                  "(Contract.ContractType = 7).")
    effective = state.tenant_day(moment)
    if not day_of(contract["startDate"]) <= effective <= day_of(contract["endDate"]):
        raise bad(f"effectiveDate {effective.isoformat()} is outside the contract's dates "
                  f"({contract['startDate'][:10]} to {contract['endDate'][:10]}).")
    posted = state.posted_through(contract["id"])
    if posted is not None and effective <= posted:
        raise bad(POSTED_TEXT)
    if cs is None:
        found = [c for c in css.values()
                 if c["contractID"] == contract["id"] and c["serviceID"] == service_id]
        if len(found) > 1:
            raise bad(f"Service {service_id} is on contract {contract['id']} more than once; "
                      "name the contractServiceID.")
        cs = found[0] if found else None
    price = body.get("adjustedunitprice")
    cost = body.get("adjustedunitcost")
    if cs is None:
        service = services.get(service_id) if service_id is not None else None
        if service is None or not service["isActive"]:
            raise bad(f"serviceID {service_id} is not an active service.")
        if change < 0:
            raise bad("unitChange must be positive for a service not on the contract.")
        cs = state.add_contract_service(contract, service,
                                        {"unitprice": price, "unitcost": cost}, effective)
    else:
        result = state.units_after(cs, effective, change)
        if any(u < 0 for u in result):
            raise bad("The adjustment would leave a negative number of units.")
        if state.config.zero_units == "refuse" and any(u == 0 for u in result):
            raise bad("The adjustment would leave 0 units on the contract service; "
                      "units must be greater than 0.")
        if price is not None:
            cs["unitPrice"] = float(price)
        if cost is not None:
            cs["unitCost"] = float(cost)
    state.adjust(cs, effective, change)
    adjustment_id = 800001 + len(state.adjustments)
    state.adjustments.append({
        "id": adjustment_id, "contractID": contract["id"], "contractServiceID": cs["id"],
        "serviceID": cs["serviceID"], "effectiveDate": day_text(effective),
        "unitChange": change, "adjustedUnitPrice": price, "adjustedUnitCost": cost,
        "allowRepeatService": False, "quoteItemID": body.get("quoteitemid"),
        "sent": body.get("effectivedate"),
        "at": state.now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    })
    return adjustment_id


def add_service_handler(parent_id: int) -> Handler:
    async def handler(request: Request, state: AtState) -> Response:
        raw = await read_json(request)
        if not isinstance(raw, dict):
            raise bad("The request body must be a ContractService object.")
        body = folded(raw)
        if body.get("id") not in (None, 0):
            raise bad("id must be 0 or omitted when creating an entity.")
        contract = state.data.table("Contracts").get(parent_id)
        if contract is None:
            return errors(404, f"Contracts with id {parent_id} was not found.")
        if body.get("contractid") not in (None, parent_id):
            raise bad("contractID does not match the parent contract.")
        if contract["contractType"] != RECURRING_SERVICE:
            raise bad("contractID must reference a Recurring Service type Contract "
                      "(Contract.ContractType = 7).")
        service_id = _int32(body, "serviceid", "serviceID")
        service = state.data.table("Services").get(service_id or -1)
        if service is None or not service["isActive"]:
            raise bad(f"serviceID {service_id} is not an active service.")
        if body.get("unitprice") is None:
            raise bad("unitPrice is required.")
        for key in ("unitprice", "unitcost"):
            v = body.get(key)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
                raise bad(f"{key}: {v!r} is not a number.")
        if any(c["contractID"] == parent_id and c["serviceID"] == service_id
               for c in state.data.table("ContractServices").values()):
            raise bad(f"Service {service_id} is already on contract {parent_id}.")
        cs = state.add_contract_service(contract, service, body, None)
        return JSONResponse({"itemId": cs["id"]})

    return handler


# --- routing -------------------------------------------------------------------------


def _only(method: str, allowed: str, resolved: Resolved) -> Resolved | Response:
    return resolved if method == allowed else method_not_allowed(method)


def resolve(method: str, segments: list[str]) -> Resolved | Response:
    """The tenant route for a path under `V1.0/`, or the 404/405 answer."""
    if not segments or not segments[0]:
        return not_found_page()
    low = [s.casefold() for s in segments]
    if low == ["thresholdinformation"]:
        return _only(method, "GET", Resolved("GET ThresholdInformation", "ThresholdInformation",
                                             threshold_information))
    entity = entity_of(segments[0])
    if entity is None:
        return not_found_page()
    n = len(low)
    if entity == "ContractServiceAdjustments":
        if n == 1 and method == "POST":
            return Resolved("POST ContractServiceAdjustments", entity, adjustment_handler(None))
        return method_not_allowed(method)
    if n == 1:
        return method_not_allowed(method)
    if n == 2 and low[1] == "query" and entity in QUERYABLE:
        if method not in ("GET", "POST"):
            return method_not_allowed(method)
        return Resolved(f"{method} {entity}/query", entity, query_handler(entity))
    if n == 2 and low[1].isdigit():
        return _only(method, "GET", Resolved(f"GET {entity}/{{id}}", entity,
                                             get_handler(entity, int(low[1]))))
    if n == 3 and low[1] == "query" and entity in QUERYABLE:
        if low[2] == "count":
            if method not in ("GET", "POST"):
                return method_not_allowed(method)
            return Resolved(f"{method} {entity}/query/count", entity, count_handler(entity))
        if low[2] == "next":
            return _only(method, "POST", Resolved(f"POST {entity}/query/next", entity,
                                                  next_handler(entity)))
    if n == 3 and low[1] == "entityinformation":
        if low[2] == "fields":
            return _only(method, "GET", Resolved(f"GET {entity}/entityInformation/fields",
                                                 entity, fields_handler(entity)))
        if low[2] == "userdefinedfields":
            return _only(method, "GET", Resolved(
                f"GET {entity}/entityInformation/userDefinedFields", entity,
                udf_handler(entity)))
    if n == 3 and entity == "Contracts" and low[1].isdigit():
        parent = int(low[1])
        if low[2] == "serviceadjustments":
            return _only(method, "POST", Resolved(
                "POST Contracts/{id}/ServiceAdjustments", "ContractServiceAdjustments",
                adjustment_handler(parent)))
        if low[2] == "services":
            return _only(method, "POST", Resolved(
                "POST Contracts/{id}/Services", "ContractServices",
                add_service_handler(parent)))
    if entity == "ContractServiceUnits" and method != "GET":
        return method_not_allowed(method)
    return not_found_page()


def _fault_response(rule: FaultRule) -> Response:
    headers = {"Retry-After": str(rule.retry_after)} if rule.retry_after is not None else {}
    if rule.malformed:
        return Response('{"errors": [', status_code=rule.status, headers=headers,
                        media_type="application/json")
    if rule.status == 429:
        return errors(429, "API request limit exceeded (sandbox fault).", headers=headers)
    return errors(rule.status, f"Sandbox fault injected (HTTP {rule.status}).",
                  headers=headers)


async def _authorise(request: Request, state: AtState) -> Response | str:
    """The integration code a call runs under, or the refusal."""
    code = request.headers.get("apiintegrationcode", "").strip()
    user_name = request.headers.get("username", "").strip()
    secret = request.headers.get("secret", "")
    user = state.user(user_name) if user_name else None
    if not code or user is None or user.get("secret") != secret:
        return errors(401, "Authentication failed: the UserName, Secret and "
                           "ApiIntegrationCode headers must name an API-only user.")
    if code not in state.integration_codes:
        return errors(500, "IntegrationCode is invalid.")
    return code


async def _tenant(request: Request, state: AtState, path: str) -> tuple[str, Response]:
    found = resolve(request.method, path.split("/"))
    if isinstance(found, Response):
        return f"{request.method} (no route)", found
    auth = await _authorise(request, state)
    if isinstance(auth, Response):
        return found.template, auth
    rule = state.match_fault(request.method, request.url.path)
    if rule is not None:
        return found.template, _fault_response(rule)
    if state.usage() >= state.config.requests_per_hour:
        state.stats.throttled += 1
        wait = state.retry_after()
        return found.template, errors(
            429, f"The request threshold of {state.config.requests_per_hour} requests per "
                 "hour has been exceeded for this database.",
            headers={"Retry-After": str(wait)})
    state.count_request()
    key = (auth.casefold(), found.entity)
    if state.in_flight[key] >= state.config.thread_limit:
        state.thread_rejections += 1
        return found.template, JSONResponse(
            {"errors": [THREAD_TEXT.format(n=state.config.thread_limit)], "code": THREAD_CODE},
            status_code=state.config.thread_status)
    state.in_flight[key] += 1
    try:
        await state.hold(key)
        try:
            return found.template, await found.handler(request, state)
        except AtError as exc:
            return found.template, errors(exc.status, exc.message, headers=exc.headers)
    finally:
        state.in_flight[key] -= 1


def create_app(state: AtState | None = None) -> Starlette:
    at = state or AtState()

    async def dispatch(request: Request) -> Response:
        path = "/" + request.path_params.get("path", "")
        match = API.match(path)
        if match is None:
            at.stats.record(f"{request.method} (no route)", 404)
            return not_found_page()
        zone_host, version, rest = match.group(1), match.group(2), match.group(3)
        low = rest.casefold().rstrip("/")
        template: str
        if version is None and low == "versioninformation":
            template = "GET versionInformation"
            response = (await version_information(request, at) if request.method == "GET"
                        else method_not_allowed(request.method))
        elif version is not None and low == "zoneinformation":
            template = "GET zoneInformation"
            response = (await zone_information(request, at) if request.method == "GET"
                        else method_not_allowed(request.method))
        elif zone_host or version is None:
            template, response = f"{request.method} (no route)", not_found_page()
        else:
            template, response = await _tenant(request, at, rest.rstrip("/"))
        at.stats.record(template, response.status_code)
        return response

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    app = Starlette(routes=[*admin_routes(at), Route("/{path:path}", dispatch, methods=methods)])
    app.state.at = at
    return app
