"""The `/_sandbox/` admin API of the Kaseya emulator: the harness tests and demos drive.

No auth, no budget, not counted in the stats: it is not part of what is being emulated.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from atria_tui.sandbox.kaseya.state import FaultRule, KsState


def _bad(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=400)


async def _body(request: Request) -> Any:
    raw = await request.body()
    return json.loads(raw) if raw.strip() else None


def admin_routes(state: KsState) -> list[Route]:
    async def get_state(request: Request) -> Response:
        return JSONResponse(state.to_json())

    async def reset(request: Request) -> Response:
        state.reset()
        return JSONResponse({"reset": True})

    async def seed(request: Request) -> Response:
        """Replace the tenant's data with the body's (the `data/kaseya.json` shape), or go
        back to the demo seed with an empty body; then reset as `reset` does."""
        try:
            body = await _body(request)
            if body is not None and not isinstance(body, dict):
                raise ValueError("seed body must be a JSON object (or empty for the demo seed)")
            state.reseed(body)
        except (ValueError, KeyError, TypeError) as exc:
            return _bad(f"bad seed: {exc!r}")
        return JSONResponse({"seeded": True})

    async def add_faults(request: Request) -> Response:
        try:
            body = await _body(request)
            rules = [FaultRule.parse(r) for r in (body if isinstance(body, list) else [body])]
        except ValueError as exc:
            return _bad(str(exc))
        state.faults.extend(rules)
        return JSONResponse({"faults": [f.to_json() for f in state.faults]})

    async def clear_faults(request: Request) -> Response:
        state.faults.clear()
        return JSONResponse({"faults": []})

    async def stats(request: Request) -> Response:
        return JSONResponse({**state.stats.to_json(), "budget": state.budget_used()})

    async def config(request: Request) -> Response:
        try:
            body = await _body(request)
            if not isinstance(body, dict):
                raise ValueError("config body must be a JSON object")
            state.config.update(body)
        except ValueError as exc:
            return _bad(str(exc))
        return JSONResponse(asdict(state.config))

    async def expire_tokens(request: Request) -> Response:
        return JSONResponse({"expired": state.expire_tokens()})

    table: list[tuple[str, str, Callable[[Request], Awaitable[Response]]]] = [
        ("GET", "state", get_state),
        ("POST", "reset", reset),
        ("POST", "seed", seed),
        ("POST", "faults", add_faults),
        ("DELETE", "faults", clear_faults),
        ("GET", "stats", stats),
        ("POST", "config", config),
        ("POST", "expire-tokens", expire_tokens),
    ]
    return [Route(f"/_sandbox/{name}", fn, methods=[method]) for method, name, fn in table]
