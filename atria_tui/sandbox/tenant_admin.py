"""The `/_sandbox/` admin routes every emulated tenant offers alike (Kaseya, Autotask):
state, reset, seed, faults, stats and config. One implementation, so the harness drives
each emulator the same way; each tenant adds its own extras (token expiry, usage preset).

No auth, no budget, not counted in the stats: it is not part of what is being emulated.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = ["Handler", "Tenant", "bad", "body_of", "tenant_routes"]

Handler = Callable[[Request], Awaitable[Response]]


class Tenant(Protocol):
    """What the shared routes need of an emulator's state."""

    faults: list[Any]
    config: Any

    def to_json(self) -> dict[str, Any]: ...
    def reset(self) -> None: ...
    def reseed(self, body: dict[str, Any] | None) -> None: ...


def bad(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=400)


async def body_of(request: Request) -> Any:
    raw = await request.body()
    return json.loads(raw) if raw.strip() else None


def tenant_routes(state: Tenant, *, seed_file: str, parse_fault: Callable[[Any], Any],
                  stats: Callable[[], dict[str, Any]],
                  extra: tuple[tuple[str, str, Handler], ...] = ()) -> list[Route]:
    async def get_state(request: Request) -> Response:
        return JSONResponse(state.to_json())

    async def reset(request: Request) -> Response:
        state.reset()
        return JSONResponse({"reset": True})

    async def seed(request: Request) -> Response:
        try:
            body = await body_of(request)
            if body is not None and not isinstance(body, dict):
                raise ValueError("seed body must be a JSON object (or empty for the demo seed)")
            state.reseed(body)
        except (ValueError, KeyError, TypeError) as exc:
            return bad(f"bad seed: {exc!r}")
        return JSONResponse({"seeded": True})

    seed.__doc__ = (f"Replace the tenant's data with the body's (the `{seed_file}` shape), or "
                    "go back to the demo seed with an empty body; then reset as `reset` does.")

    async def add_faults(request: Request) -> Response:
        try:
            body = await body_of(request)
            rules = [parse_fault(r) for r in (body if isinstance(body, list) else [body])]
        except ValueError as exc:
            return bad(str(exc))
        state.faults.extend(rules)
        return JSONResponse({"faults": [f.to_json() for f in state.faults]})

    async def clear_faults(request: Request) -> Response:
        state.faults.clear()
        return JSONResponse({"faults": []})

    async def get_stats(request: Request) -> Response:
        return JSONResponse(stats())

    async def config(request: Request) -> Response:
        try:
            body = await body_of(request)
            if not isinstance(body, dict):
                raise ValueError("config body must be a JSON object")
            state.config.update(body)
        except ValueError as exc:
            return bad(str(exc))
        return JSONResponse(asdict(state.config))

    table: list[tuple[str, str, Handler]] = [
        ("GET", "state", get_state),
        ("POST", "reset", reset),
        ("POST", "seed", seed),
        ("POST", "faults", add_faults),
        ("DELETE", "faults", clear_faults),
        ("GET", "stats", get_stats),
        ("POST", "config", config),
        *extra,
    ]
    return [Route(f"/_sandbox/{name}", fn, methods=[method]) for method, name, fn in table]
