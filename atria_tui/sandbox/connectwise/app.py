"""ConnectWise Manage REST emulator (Starlette ASGI app) for demos, tests and benchmarks.

Routes are relative to the API root, so the app can be mounted at
`/v4_6_release/apis/3.0` (as the real codebase path) or served bare; `Link` URLs are built
from the incoming request URL and therefore carry whatever prefix it was mounted under.

Every API call goes through `_guard`: count it, refuse a URL longer than `MAX_URL_CHARS`,
wait the configured latency, answer 429 on every Nth call, apply injected faults, then
check auth. That order mirrors a real gateway (the web server refuses an overlong URL, and
throttling and outages happen, before the application looks at credentials), and it keeps
the per-endpoint counters honest for benchmarks, since retries are counted too.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from atria_tui.sandbox.connectwise import query, writes
from atria_tui.sandbox.connectwise.condition_tree import Everything
from atria_tui.sandbox.connectwise.state import (
    API_VERSION,
    DEMO_SECRETS,
    MAX_URL_CHARS,
    CwError,
    CwState,
    FaultRule,
)

Handler = Callable[[Request, CwState], Awaitable[Response]]

_DEFAULT_ERRORS = {
    400: "InvalidObject",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    414: "RequestUriTooLong",
    429: "TooManyRequests",
}


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    out = JSONResponse(body, status_code=status, headers=headers)
    out.headers["api-current-version"] = API_VERSION
    return out


def _error(err: CwError) -> Response:
    return _json(err.body(), err.status, err.headers)


def _relative_path(request: Request) -> str:
    path: str = request.scope["path"]
    root: str = request.scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _url_length(request: Request) -> int:
    """The request URL as the client sent it: scheme, host, raw (still percent-encoded)
    path and query; under a mount, `raw_path` still holds the whole path."""
    raw = request.scope.get("raw_path") or request.scope["path"].encode("utf-8")
    query_string = request.scope.get("query_string", b"")
    origin = f"{request.url.scheme}://{request.url.netloc}"
    return len(origin) + len(raw) + (1 + len(query_string) if query_string else 0)


def _check_url(length: int) -> None:
    # 414 URI Too Long (RFC 9110 15.5.15), not IIS's 400 or 404.15: it is what http.sys
    # and the proxies in front of the service answer for an overlong URL, and it cannot be
    # mistaken for a bad query (400) or a missing record (404) by the client under test.
    if length > MAX_URL_CHARS:
        raise CwError(
            414,
            "RequestUriTooLong",
            f"The request URL is {length} characters long; at most {MAX_URL_CHARS} are accepted.",
        )


def _check_auth(request: Request) -> None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic" or not token.strip():
        raise CwError(
            401, "Unauthorized", "Authorization header with Basic credentials is required."
        )
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise CwError(401, "Unauthorized", "Authorization header is not valid base64.") from None
    user, _, private = decoded.partition(":")
    company, _, public = user.partition("+")
    if (
        company.casefold() != DEMO_SECRETS["CompanyName"].casefold()
        or public != DEMO_SECRETS["PublicKey"]
        or private != DEMO_SECRETS["PrivateKey"]
    ):
        raise CwError(401, "Unauthorized", "Invalid company, public key or private key.")
    client_id = request.headers.get("clientid")
    if not client_id:
        raise CwError(401, "Unauthorized", "A clientId header is required.")
    if client_id.strip().lower() != DEMO_SECRETS["ClientId"].lower():
        raise CwError(401, "Unauthorized", f"clientId '{client_id}' is not registered.")


def _fault_response(rule: FaultRule) -> Response:
    headers = {"api-current-version": API_VERSION}
    if rule.retry_after is not None:
        ra = rule.retry_after
        headers["Retry-After"] = str(int(ra)) if float(ra).is_integer() else str(ra)
    if rule.malformed:
        return Response(
            '{"id": 1, "quantity": 5, "product": {"ident',
            200,
            headers,
            media_type="application/json",
        )
    body = rule.body
    if body is None:
        code = _DEFAULT_ERRORS.get(rule.status, "UnexpectedServerError")
        body = {"code": code, "message": f"Injected fault: HTTP {rule.status}"}
    if isinstance(body, str):
        return Response(body, rule.status, headers, media_type="text/plain")
    return _json(body, rule.status, headers)


def _guard(template: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        state: CwState = request.app.state.cw
        length = _url_length(request)
        seq = state.record_request(request.method, template, length, request.headers.get("accept"))
        try:
            _check_url(length)
        except CwError as err:
            return _error(err)
        if state.latency_ms:
            await asyncio.sleep(state.latency_ms / 1000)
        if state.rate_limited(seq):
            return _error(
                CwError(
                    429,
                    "TooManyRequests",
                    "Rate limit exceeded; retry later.",
                    headers={"Retry-After": "1"},
                )
            )
        rule = state.take_fault(request.method, _relative_path(request))
        if rule is not None:
            return _fault_response(rule)
        try:
            _check_auth(request)
            return await handler(request, state)
        except CwError as err:
            return _error(err)

    return endpoint


# ---------------------------------------------------------------------------- lists


def _params(request: Request) -> dict[str, str]:
    return {k.lower(): v for k, v in request.query_params.items()}


def _list_query(request: Request, state: CwState, collection: str) -> query.ListQuery:
    schema = query.known_paths(state.rows(collection))
    q = query.parse_list_query(_params(request), request.headers, schema)
    if state.ignore_conditions:  # the faulty-server knob: every row, whatever was asked
        q = dataclasses.replace(q, condition=Everything())
    return q


def _list(collection: str, rows: Callable[[Request, CwState], list[dict[str, Any]]]) -> Handler:
    async def handler(request: Request, state: CwState) -> Response:
        q = _list_query(request, state, collection)
        selected = query.select(rows(request, state), q)
        base = str(request.url.replace(query=""))
        base = base[:-1] if base.endswith("?") else base
        omit = {k.lower() for k in state.link_omits}
        items = [(k, v) for k, v in request.query_params.multi_items() if k.lower() not in omit]
        page, link = query.paginate(selected, q, base, items)
        headers = {"Link": link} if link else None
        return _json([query.project(r, q.fields) for r in page], headers=headers)

    return handler


def _count(collection: str, rows: Callable[[Request, CwState], list[dict[str, Any]]]) -> Handler:
    async def handler(request: Request, state: CwState) -> Response:
        q = _list_query(request, state, collection)
        return _json({"count": len(query.select(rows(request, state), q))})

    return handler


def _one(collection: str, label: str) -> Handler:
    async def handler(request: Request, state: CwState) -> Response:
        rid = int(request.path_params["id"])
        row = next((r for r in state.rows(collection) if r["id"] == rid), None)
        if row is None:
            raise CwError(404, "NotFound", f"{label} with id {rid} was not found.")
        fields = _params(request).get("fields")
        spec = tuple(f.strip() for f in fields.split(",")) if fields else None
        return _json(query.project(row, spec))

    return handler


def _all(collection: str) -> Callable[[Request, CwState], list[dict[str, Any]]]:
    return lambda _request, state: state.rows(collection)


def _agreement_additions(request: Request, state: CwState) -> list[dict[str, Any]]:
    aid = int(request.path_params["id"])
    if aid not in state.agreements:
        raise CwError(404, "NotFound", f"Agreement with id {aid} was not found.")
    status = state.agreement_faults.get(aid)
    if status is not None and request.method == "GET":
        raise CwError(
            status,
            "UnexpectedServerError",
            "An unexpected error occurred while reading agreement additions.",
        )
    return state.additions_of(aid)


async def _get_addition(request: Request, state: CwState) -> Response:
    _agreement_additions(request, state)
    addition = writes.find_addition(
        state, int(request.path_params["id"]), int(request.path_params["aid"])
    )
    fields = _params(request).get("fields")
    spec = tuple(f.strip() for f in fields.split(",")) if fields else None
    return _json(query.project(addition, spec))


async def _body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise CwError(400, "InvalidObject", "Request body is not valid JSON.") from None


async def _patch_addition(request: Request, state: CwState) -> Response:
    ops = await _body(request)
    updated = writes.patch_addition(
        state, int(request.path_params["id"]), int(request.path_params["aid"]), ops
    )
    return _json(updated)


async def _post_addition(request: Request, state: CwState) -> Response:
    body = await _body(request)
    return _json(writes.create_addition(state, int(request.path_params["id"]), body), 201)


# ---------------------------------------------------------------------------- admin


async def _admin_state(request: Request) -> Response:
    return _json(request.app.state.cw.snapshot())


async def _admin_reset(request: Request) -> Response:
    request.app.state.cw.reset()
    return _json({"ok": True})


async def _admin_faults(request: Request) -> Response:
    state: CwState = request.app.state.cw
    if request.method == "DELETE":
        state.clear_faults()
        return _json({"ok": True, "faults": 0})
    try:
        body = await _body(request)
        rules = [FaultRule.from_dict(r) for r in (body if isinstance(body, list) else [body])]
    except ValueError as exc:
        return _json({"code": "InvalidObject", "message": str(exc)}, 400)
    except CwError as err:
        return _error(err)
    state.add_faults(rules)
    return _json({"ok": True, "faults": len(state.faults)})


async def _admin_stats(request: Request) -> Response:
    return _json(request.app.state.cw.stats())


async def _admin_seed(request: Request) -> Response:
    """Replace the data with the body's (the `data/connectwise.json` shape) until the next
    reset; an empty body goes back to the demo seed now."""
    state: CwState = request.app.state.cw
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else None
        if body is None:
            state.reset()
            return _json({"ok": True})
        if not isinstance(body, dict):
            raise ValueError("the seed must be an object of record lists")
        state.load(body)
    except (ValueError, KeyError, TypeError) as exc:
        return _json({"code": "InvalidObject", "message": f"bad seed: {exc!r}"}, 400)
    return _json({"ok": True, **{k: len(v) for k, v in body.items() if isinstance(v, list)}})


_CONFIG_TYPES: dict[str, str] = {
    "latency_ms": "a non-negative integer",
    "rate_limit_every": "a non-negative integer",
    "ignore_conditions": "true or false",
    "link_omits": "a list of query parameter names",
}


def _config_value_ok(key: str, val: Any) -> bool:
    if val is None:
        return True
    if key == "ignore_conditions":
        return isinstance(val, bool)
    if key == "link_omits":
        return isinstance(val, list) and all(isinstance(v, str) for v in val)
    return isinstance(val, int) and not isinstance(val, bool)


async def _admin_config(request: Request) -> Response:
    state: CwState = request.app.state.cw
    if request.method == "POST":
        try:
            body = await _body(request)
        except CwError as err:
            return _error(err)
        known = set(_CONFIG_TYPES)
        if not isinstance(body, dict) or set(body) - known:
            return _json(
                {
                    "code": "InvalidObject",
                    "message": f"config must be an object with keys {sorted(known)}",
                },
                400,
            )
        values = {k: body.get(k) for k in known}
        for key, val in values.items():
            if not _config_value_ok(key, val):
                return _json(
                    {"code": "InvalidObject", "message": f"{key} must be {_CONFIG_TYPES[key]}"},
                    400,
                )
        try:
            state.configure(**values)
        except ValueError as exc:
            return _json({"code": "InvalidObject", "message": str(exc)}, 400)
    return _json(state.config())


# ---------------------------------------------------------------------------- app


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 405:
        body = {
            "code": "MethodNotAllowed",
            "message": f"{request.method} is not supported on {_relative_path(request)}.",
        }
    elif status == 404:
        body = {"code": "NotFound", "message": f"No resource at {_relative_path(request)}."}
    else:
        body = {"code": "UnexpectedServerError", "message": f"HTTP {status}"}
    return _json(body, status)


def _api(path: str, handler: Handler, methods: list[str]) -> Route:
    template = path.replace(":int", "")
    return Route(path, _guard(template, handler), methods=methods)


def create_app(state: CwState | None = None) -> Starlette:
    """Build the emulator around `state` (a fresh seeded CwState if None)."""
    additions = "/finance/agreements/{id:int}/additions"
    routes = [
        Route("/_sandbox/state", _admin_state, methods=["GET"]),
        Route("/_sandbox/reset", _admin_reset, methods=["POST"]),
        Route("/_sandbox/seed", _admin_seed, methods=["POST"]),
        Route("/_sandbox/faults", _admin_faults, methods=["POST", "DELETE"]),
        Route("/_sandbox/stats", _admin_stats, methods=["GET"]),
        Route("/_sandbox/config", _admin_config, methods=["GET", "POST"]),
        _api("/company/companies", _list("companies", _all("companies")), ["GET"]),
        _api("/company/companies/count", _count("companies", _all("companies")), ["GET"]),
        _api("/company/companies/{id:int}", _one("companies", "Company"), ["GET"]),
        _api("/finance/agreements", _list("agreements", _all("agreements")), ["GET"]),
        _api("/finance/agreements/count", _count("agreements", _all("agreements")), ["GET"]),
        _api("/finance/agreements/types", _list("agreementTypes", _all("agreementTypes")), ["GET"]),
        _api(
            "/finance/agreements/types/count",
            _count("agreementTypes", _all("agreementTypes")),
            ["GET"],
        ),
        _api("/finance/agreements/{id:int}", _one("agreements", "Agreement"), ["GET"]),
        _api(additions, _list("additions", _agreement_additions), ["GET"]),
        _api(additions, _post_addition, ["POST"]),
        _api(additions + "/count", _count("additions", _agreement_additions), ["GET"]),
        _api(additions + "/{aid:int}", _get_addition, ["GET"]),
        _api(additions + "/{aid:int}", _patch_addition, ["PATCH"]),
        _api("/procurement/catalog", _list("catalog", _all("catalog")), ["GET"]),
        _api("/procurement/catalog/count", _count("catalog", _all("catalog")), ["GET"]),
        _api("/procurement/catalog/{id:int}", _one("catalog", "Catalog item"), ["GET"]),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error})
    app.state.cw = state if state is not None else CwState()
    return app
