"""The `/_sandbox/` admin API of the Autotask emulator: the harness tests and demos drive.

No auth, no threshold, not counted: it is not part of what is being emulated. Besides
reset, state and seed (as the Kaseya sandbox): faults (a 429 with `retry_after` is the
rate-limit knob), config (time zone, threshold, threads, latency, zero units), usage (preset
the hour's request count, as if other integrations had used it) and stats (per route).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from atria_tui.sandbox.autotask.state import AtState, FaultRule


def _bad(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=400)


async def _body(request: Request) -> Any:
    raw = await request.body()
    return json.loads(raw) if raw.strip() else None


def admin_routes(state: AtState) -> list[Route]:
    async def get_state(request: Request) -> Response:
        return JSONResponse(state.to_json())

    async def reset(request: Request) -> Response:
        state.reset()
        return JSONResponse({"reset": True})

    async def seed(request: Request) -> Response:
        """Replace the tenant's data with the body's (the `data/autotask.json` shape), or go
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
        return JSONResponse({**state.stats.to_json(), "usage": state.usage(),
                             "threadRejections": state.thread_rejections})

    async def config(request: Request) -> Response:
        try:
            body = await _body(request)
            if not isinstance(body, dict):
                raise ValueError("config body must be a JSON object")
            state.config.update(body)
        except ValueError as exc:
            return _bad(str(exc))
        return JSONResponse(asdict(state.config))

    async def usage(request: Request) -> Response:
        body = await _body(request)
        count = body.get("count") if isinstance(body, dict) else None
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            return _bad("usage body must be {\"count\": <non-negative integer>}")
        state.preset_usage(count)
        return JSONResponse({"usage": state.usage()})

    table: list[tuple[str, str, Callable[[Request], Awaitable[Response]]]] = [
        ("GET", "state", get_state),
        ("POST", "reset", reset),
        ("POST", "seed", seed),
        ("POST", "faults", add_faults),
        ("DELETE", "faults", clear_faults),
        ("GET", "stats", stats),
        ("POST", "config", config),
        ("POST", "usage", usage),
    ]
    return [Route(f"/_sandbox/{name}", fn, methods=[method]) for method, name, fn in table]
