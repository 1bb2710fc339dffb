"""All emulators behind one ASGI app: in-process for the demo and tests, or on loopback.

Paths: `/connectwise/v4_6_release/apis/3.0/…` (ConnectWise), `/kaseya/v2/…` (Kaseya),
`/atria/connectwise/api/billing/{end}` and `/atria/kaseya/…` (Atria, serving the two demo
billing files). A job's `sandbox://connectwise/v4_6_release/apis/3.0` is the same app
reached without a socket, so `plan` and `demo` need no server, account or network.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from atria_tui.sandbox import atria_api, connectwise, kaseya
from atria_tui.sandbox.connectwise.state import CwState
from atria_tui.sandbox.kaseya.state import KsState

CW_ROOT = "/connectwise/v4_6_release/apis/3.0"
SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"


@dataclass
class Sandbox:
    app: Starlette
    connectwise: CwState
    kaseya: KsState


def build(cw_state: CwState | None = None, ks_state: KsState | None = None) -> Sandbox:
    cw = cw_state or CwState()
    ks = ks_state or KsState()
    routes: list[Route | Mount] = [
        Route("/", _index),
        Mount(CW_ROOT, app=connectwise.create_app(cw)),
        Mount("/kaseya", app=kaseya.create_app(ks)),
    ]
    for name in ("connectwise", "kaseya"):
        billing = SAMPLES / f"demo-{name}-billing.csv"
        if billing.exists():
            routes.append(Mount(f"/atria/{name}", app=atria_api.create_app(billing)))
    return Sandbox(Starlette(routes=routes), cw, ks)


async def _index(request: Request) -> JSONResponse:
    base = str(request.base_url).rstrip("/")
    return JSONResponse(
        {
            "connectwise": f"{base}{CW_ROOT}",
            "kaseya": f"{base}/kaseya",
            "atria": {"connectwise": f"{base}/atria/connectwise", "kaseya": f"{base}/atria/kaseya"},
        }
    )


_shared: Sandbox | None = None


def shared() -> Sandbox:
    """The process-wide sandbox behind `sandbox://` URLs; writes persist for the process."""
    global _shared
    if _shared is None:
        _shared = build()
        # The demo runs on the guessed v2 lines routes (the adapter's first candidate).
        _shared.kaseya.config.lines_routes = "v2"
    return _shared


def shared_app() -> ASGIApp:
    return shared().app


def reset_shared() -> None:
    global _shared
    _shared = None


def serve(host: str = "127.0.0.1", port: int = 8765, *, latency_ms: int = 0,
          kaseya_lines: str = "none") -> None:
    """`kaseya_lines`: which guessed route set serves a contract's lines and Units changes
    ("none": only what the vendor's swagger documents)."""
    import uvicorn

    box = build()
    box.connectwise.latency_ms = latency_ms
    box.kaseya.config.latency_ms = latency_ms
    box.kaseya.config.lines_routes = kaseya_lines
    print(
        f"atria-tui sandbox on http://{host}:{port}\n"
        f"  ConnectWise ApiUrl  http://{host}:{port}{CW_ROOT}\n"
        f"  Kaseya ApiUrl       http://{host}:{port}/kaseya   (lines routes: {kaseya_lines})\n"
        f"  Atria API (source)  http://{host}:{port}/atria/connectwise  |  /atria/kaseya",
        flush=True,
    )
    uvicorn.run(box.app, host=host, port=port, log_level="warning")
