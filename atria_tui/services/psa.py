"""Which adapter serves a job, and what a run needs from it.

The services speak to a `PsaSession`; the ConnectWise and Kaseya adapters both satisfy
it, so plan/apply/revert are written once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

import httpx

from atria_tui.adapters.http import ClientOptions
from atria_tui.config import JobConfig
from atria_tui.model import PsaLine, PsaSnapshot, Task


class PsaSession(Protocol):
    @property
    def requests(self) -> int: ...
    async def aclose(self) -> None: ...
    async def snapshot(self, identifiers: Sequence[str], skus: Sequence[str],
                       contract_type: str, *, unclaimed: bool = False) -> PsaSnapshot: ...
    async def read_line(self, contract_id: str, line_id: str) -> PsaLine | None: ...
    async def find_lines(self, contract_id: str, product_code: str) -> list[PsaLine]: ...
    async def contract_lines(self, contract_id: str) -> list[PsaLine]: ...
    async def set_quantity(self, contract_id: str, line_id: str, quantity: Decimal) -> None: ...
    async def add_line(self, contract_id: str, product_id: str, quantity: Decimal,
                       description: str, effective: date) -> str: ...


SECRETS: dict[Task, tuple[str, ...]] = {
    Task.CONNECTWISE: ("CompanyName", "PublicKey", "PrivateKey", "ClientId"),
    Task.KASEYA: ("UserName", "Password", "Tenant"),
}


def is_sandbox(url: str) -> bool:
    return url.strip().lower().startswith("sandbox://")


def sandbox_secrets(task: Task) -> dict[str, str]:
    """The embedded emulators' demo credentials: the demo needs no account."""
    if task is Task.CONNECTWISE:
        from atria_tui.sandbox.cw_state import DEMO_SECRETS as CW

        return dict(CW)
    from atria_tui.sandbox.ks_state import DEMO_SECRETS as KS

    return dict(KS)


def open_session(job: JobConfig, api_url: str, secrets: Mapping[str, str], *,
                 today: date, transport: httpx.AsyncBaseTransport | None = None,
                 **extra: Any) -> PsaSession:
    o = job.options
    options = ClientOptions(concurrency=o.concurrency, timeout=o.timeout_seconds,
                            retries=o.retries)
    if job.task is Task.CONNECTWISE:
        from atria_tui.adapters.connectwise import ConnectWiseAdapter

        return ConnectWiseAdapter(api_url, secrets, options=options, page_size=o.page_size,
                                  today=today, transport=transport, **extra)
    from atria_tui.adapters.kaseya import KaseyaAdapter

    options.budget_per_hour = o.call_budget_per_hour
    session: PsaSession = KaseyaAdapter(api_url, secrets, options=options, today=today,
                                        page_size=o.page_size, transport=transport, **extra)
    return session
