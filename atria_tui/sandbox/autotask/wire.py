"""The Autotask sandbox's wire format: the `errors` envelope, JSON bodies, item shapes.

Errors are `{"errors": ["…"]}` (strings); a wrong method is ASP.NET's 405 with `Message`;
an unknown route is a 404 page with no JSON (the spec: expect non-JSON bodies there).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from atria_tui.sandbox.autotask.query import AtError, bad
from atria_tui.sandbox.autotask.types import WITH_UDFS


def errors(status: int, *messages: str, headers: Mapping[str, str] | None = None
           ) -> JSONResponse:
    return JSONResponse({"errors": list(messages)}, status_code=status,
                        headers=dict(headers or {}))


def method_not_allowed(method: str) -> JSONResponse:
    return JSONResponse(
        {"Message": f"The requested resource does not support http method '{method}'."},
        status_code=405)


def not_found_page() -> Response:
    return HTMLResponse(
        "<!DOCTYPE html><html><head><title>404 - File or directory not found.</title>"
        "</head><body><h2>404 - File or directory not found.</h2></body></html>",
        status_code=404)


async def read_json(request: Request) -> Any:
    """A POST body: JSON only (Content-Type application/json), else refused."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().casefold()
    if ctype != "application/json":
        raise AtError(415, "The request entity's media type "
                           f"'{ctype or 'none'}' is not supported for this resource.")
    raw = await request.body()
    try:
        return json.loads(raw) if raw.strip() else None
    except ValueError as exc:
        raise bad(f"The request body is not valid JSON: {exc}") from exc


def item(entity: str, row: Mapping[str, Any], include: tuple[str, ...] | None = None
         ) -> dict[str, Any]:
    """A row as the API answers it; `userDefinedFields` even when IncludeFields omits it."""
    if include is None:
        shaped = {k: v for k, v in row.items() if k != "userDefinedFields"}
    else:
        shaped = {k: row.get(k) for k in include}
    if entity in WITH_UDFS:
        shaped["userDefinedFields"] = [dict(u) for u in row.get("userDefinedFields") or []]
    return shaped
