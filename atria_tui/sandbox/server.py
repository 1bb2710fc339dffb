"""All emulators behind one ASGI app: in-process for the demo and tests, or on loopback.

Paths: `/connectwise/v4_6_release/apis/3.0/…` (ConnectWise), `/kaseya/v2/…` (Kaseya),
`/autotask/zone/ATServicesRest/V1.0/zoneInformation` (Autotask zone host) and
`/autotask/ATServicesRest/V1.0/…` (the Autotask tenant), `/atria/connectwise/api/billing/{end}`,
`/atria/kaseya/…` and `/atria/autotask/…` (Atria, serving the demo billing files). A job's
`sandbox://connectwise/v4_6_release/apis/3.0` is the same app reached without a socket, so
`plan` and `demo` need no server, account or network.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from atria_tui.sandbox import atria_api, autotask, connectwise, kaseya
from atria_tui.sandbox.autotask.state import AtState
from atria_tui.sandbox.connectwise.state import CwState
from atria_tui.sandbox.kaseya.state import KsState

CW_ROOT = "/connectwise/v4_6_release/apis/3.0"
SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"


@dataclass
class Sandbox:
    app: Starlette
    connectwise: CwState
    kaseya: KsState
    autotask: AtState


def build(cw_state: CwState | None = None, ks_state: KsState | None = None,
          at_state: AtState | None = None) -> Sandbox:
    cw = cw_state or CwState()
    ks = ks_state or KsState()
    at = at_state or AtState()
    routes: list[Route | Mount] = [
        Route("/", _index),
        Mount(CW_ROOT, app=connectwise.create_app(cw)),
        Mount("/kaseya", app=kaseya.create_app(ks)),
        Mount("/autotask", app=autotask.create_app(at)),
    ]
    for name in ("connectwise", "kaseya", "autotask"):
        billing = SAMPLES / f"demo-{name}-billing.csv"
        if billing.exists():
            routes.append(Mount(f"/atria/{name}", app=atria_api.create_app(billing)))
    return Sandbox(Starlette(routes=routes), cw, ks, at)


async def _index(request: Request) -> JSONResponse:
    base = str(request.base_url).rstrip("/")
    return JSONResponse(
        {
            "connectwise": f"{base}{CW_ROOT}",
            "kaseya": f"{base}/kaseya",
            "autotask": {
                "zone": f"{base}/autotask/zone/ATServicesRest/V1.0/zoneInformation",
                "tenant": f"{base}/autotask/ATServicesRest/",
            },
            "atria": {"connectwise": f"{base}/atria/connectwise", "kaseya": f"{base}/atria/kaseya",
                      "autotask": f"{base}/atria/autotask"},
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
    box.autotask.config.latency_ms = latency_ms
    print(
        f"atria-tui sandbox on http://{host}:{port}\n"
        f"  ConnectWise ApiUrl  http://{host}:{port}{CW_ROOT}\n"
        f"  Kaseya ApiUrl       http://{host}:{port}/kaseya   (lines routes: {kaseya_lines})\n"
        f"  Autotask zone host  http://{host}:{port}/autotask/zone   "
        f"(tenant BaseUrl http://{host}:{port}/autotask/ATServicesRest/)\n"
        f"  Atria API (source)  http://{host}:{port}/atria/connectwise  |  /atria/kaseya  |  "
        f"/atria/autotask",
        flush=True,
    )
    uvicorn.run(box.app, host=host, port=port, log_level="warning")
