"""The `/_sandbox/` admin API of the Kaseya emulator: the harness tests and demos drive.

The shared routes (state, reset, seed, faults, stats, config) are `sandbox/tenant_admin.py`;
Kaseya adds token expiry. No auth, no budget, not counted in the stats.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from atria_tui.sandbox.kaseya.state import FaultRule, KsState
from atria_tui.sandbox.tenant_admin import tenant_routes


def admin_routes(state: KsState) -> list[Route]:
    async def expire_tokens(request: Request) -> Response:
        return JSONResponse({"expired": state.expire_tokens()})

    return tenant_routes(
        state, seed_file="data/kaseya.json", parse_fault=FaultRule.parse,
        stats=lambda: {**state.stats.to_json(), "budget": state.budget_used()},
        extra=(("POST", "expire-tokens", expire_tokens),))
