"""The `/_sandbox/` admin API of the Autotask emulator: the harness tests and demos drive.

No auth, no threshold, not counted: it is not part of what is being emulated. The shared
routes (`sandbox/tenant_admin.py`): reset, state, seed, faults (a 429 with `retry_after`
is the rate-limit knob), config (time zone, threshold, threads, latency, zero units) and
stats (per route); Autotask adds usage (preset the hour's request count, as if other
integrations had used it).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from atria_tui.sandbox.autotask.state import AtState, FaultRule
from atria_tui.sandbox.tenant_admin import bad, body_of, tenant_routes


def admin_routes(state: AtState) -> list[Route]:
    async def usage(request: Request) -> Response:
        body = await body_of(request)
        count = body.get("count") if isinstance(body, dict) else None
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            return bad("usage body must be {\"count\": <non-negative integer>}")
        state.preset_usage(count)
        return JSONResponse({"usage": state.usage()})

    return tenant_routes(
        state, seed_file="data/autotask.json", parse_fault=FaultRule.parse,
        stats=lambda: {**state.stats.to_json(), "usage": state.usage(),
                       "threadRejections": state.thread_rejections},
        extra=(("POST", "usage", usage),))
