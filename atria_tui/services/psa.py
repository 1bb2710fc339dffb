"""Which adapter serves a job, and what a run needs from it.

The services speak to a `PsaSession`; the ConnectWise and Kaseya adapters both satisfy
it, so plan/apply/revert are written once.
"""

from __future__ import annotations

import importlib
import inspect
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import httpx

from atria_tui.adapters.http import ClientOptions
from atria_tui.core.model import PsaLine, PsaSnapshot, Task
from atria_tui.core.periods import PeriodError, resolve_period
from atria_tui.engine.store import Store
from atria_tui.job.file import JobConfig, job_params
from atria_tui.job.parameters import ConfigError
from atria_tui.psa import profile_of
from atria_tui.psa.errors import RemoteError
from atria_tui.psa.session import BudgetView, Pace, PsaSession


def secret_texts(task: Task, secrets: Mapping[str, str]) -> list[str]:
    """Everything a run must never print: the secret values and the credentials the
    adapter derives from them."""
    values = [str(v) for v in secrets.values()]
    derive = profile_of(task).derived_secrets
    if derive:
        module, _, name = derive.partition(":")
        values += getattr(importlib.import_module(module), name)(secrets)
    return values


_T = TypeVar("_T")


class RedactingSession:
    """A session whose errors are redacted before anyone sees them.

    Redacting the run log alone is not enough: apply keeps a failed write's error text in
    its journal, and a snapshot keeps a contract's read error in the plan, both stored
    without passing through the log. Wrapping the session covers them in one place.
    """

    def __init__(self, inner: PsaSession, redact: Callable[[str], str]) -> None:
        self.inner = inner
        self._redact = redact

    async def _call(self, call: Awaitable[_T]) -> _T:
        try:
            return await call
        except RemoteError as exc:
            raise exc.reworded(self._redact(exc.message)) from exc.__cause__

    @property
    def requests(self) -> int:
        return self.inner.requests

    @property
    def pace(self) -> Pace | None:
        return getattr(self.inner, "pace", None)

    @property
    def budget_view(self) -> BudgetView | None:
        return getattr(self.inner, "budget_view", None)

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def snapshot(self, identifiers: Sequence[str], skus: Sequence[str],
                       contract_type: str, *, unclaimed: bool = False) -> PsaSnapshot:
        snap = await self._call(self.inner.snapshot(identifiers, skus, contract_type,
                                                    unclaimed=unclaimed))
        snap.line_errors = {k: self._redact(v) for k, v in snap.line_errors.items()}
        snap.missing_routes = {k: self._redact(v) for k, v in snap.missing_routes.items()}
        return snap

    async def read_line(self, contract_id: str, line_id: str) -> PsaLine | None:
        return await self._call(self.inner.read_line(contract_id, line_id))

    async def find_lines(self, contract_id: str, product_code: str) -> list[PsaLine]:
        return await self._call(self.inner.find_lines(contract_id, product_code))

    async def contract_lines(self, contract_id: str) -> list[PsaLine]:
        return await self._call(self.inner.contract_lines(contract_id))

    async def set_quantity(self, contract_id: str, line_id: str, quantity: Decimal) -> None:
        await self._call(self.inner.set_quantity(contract_id, line_id, quantity))

    async def add_line(self, contract_id: str, product_id: str, quantity: Decimal,
                       description: str, effective: date) -> str:
        return await self._call(self.inner.add_line(contract_id, product_id, quantity,
                                                    description, effective))

    def __getattr__(self, name: str) -> Any:
        # Optional capabilities (all_catalog, end_line, budget_wait_seconds…) are looked up
        # with getattr; a coroutine one is wrapped so its errors are redacted too.
        found = getattr(self.inner, name)
        if not inspect.iscoroutinefunction(found):
            return found

        async def redacted(*args: Any, **kwargs: Any) -> Any:
            return await self._call(found(*args, **kwargs))

        return redacted


def open_session(job: JobConfig, api_url: str, secrets: Mapping[str, str], *,
                 today: date, transport: httpx.AsyncBaseTransport | None = None,
                 **extra: Any) -> PsaSession:
    """The job's PSA adapter (named by its profile), with the job's client options."""
    profile = profile_of(job.task)
    o = job.options
    options = ClientOptions(concurrency=min(o.concurrency, o.max_concurrency),
                            max_concurrency=o.max_concurrency, timeout=o.timeout_seconds,
                            retries=o.retries,
                            budget_per_hour=o.call_budget_per_hour if profile.call_budget
                            else None)
    module, _, name = profile.adapter.partition(":")
    adapter = getattr(importlib.import_module(module), name)
    # Job settings only some adapters take; the profile names them (adapter_options).
    offered = {"endpoints": job.endpoints, "budget_scope": o.call_budget_scope,
               "api_version": o.connectwise_api_version, "parameters": job.parameters,
               "zone_url": o.zone_url, "company_field": o.company_field,
               "service_field": o.service_field, "budget_share": o.budget_share,
               "effective_date": o.effective_date, **extra}
    if "period_end" in profile.adapter_options and "period_end" not in offered:
        offered["period_end"] = _period_end(job, today)
    kw = {k: v for k, v in offered.items()
          if k not in ADAPTER_OPTIONS or k in profile.adapter_options}
    session: PsaSession = adapter(api_url, secrets, options=options, page_size=o.page_size,
                                  today=today, transport=transport, **kw)
    return session


# Keyword arguments an adapter takes only if its profile lists them.
ADAPTER_OPTIONS = frozenset({"endpoints", "budget_scope", "unit_effective", "api_version",
                             "parameters", "period_end", "zone_url", "company_field",
                             "service_field", "budget_share", "effective_date"})


def _period_end(job: JobConfig, today: date) -> date | None:
    """The billing period's end for an adapter whose reads depend on it (Autotask reads the
    units in force when a change would take effect), outside a run (pickers, doctor)."""
    try:
        jp = job_params(job)
        return resolve_period(jp.billing_period, job.period_start_day, today).end
    except (ConfigError, PeriodError):
        return None


class KeptLines:
    """The store's kept contract lines of one job and billing period, as a session's
    `LineCache`: what was read since `since` is reused, what is read now is kept.

    Only the fields a plan uses are kept. `reused` and `oldest` say what the run log
    reports (TU18); the store's clock stamps each contract as it is kept.
    """

    def __init__(self, store: Store, job_key: str, tenant: str, period_end: str,
                 since: datetime) -> None:
        self.store = store
        self.job_key = job_key
        self.tenant = tenant
        self.period_end = period_end
        self._kept = store.kept_lines(job_key, tenant, period_end, since)
        self.reused = 0
        self.oldest = ""

    def get(self, contract_id: str) -> list[PsaLine] | None:
        found = self._kept.get(contract_id)
        if found is None:
            return None
        read_at, text = found
        try:
            lines = [_line_from(row, contract_id) for row in json.loads(text)]
        except (ValueError, TypeError, KeyError, ArithmeticError):
            return None  # damaged: read it again
        self.reused += 1
        self.oldest = min(self.oldest or read_at, read_at)
        return lines

    def put(self, contract_id: str, lines: list[PsaLine]) -> None:
        self.store.keep_lines(self.job_key, self.tenant, self.period_end, contract_id,
                              json.dumps([_line_to(ln) for ln in lines]))


def _line_to(line: PsaLine) -> dict[str, Any]:
    return {"id": line.id, "product_id": line.product_id, "product_code": line.product_code,
            "description": line.description, "quantity": str(line.quantity),
            "unit_price": str(line.unit_price), "live": line.live}


def _line_from(row: dict[str, Any], contract_id: str) -> PsaLine:
    return PsaLine(id=str(row["id"]), contract_id=contract_id,
                   product_id=str(row["product_id"]), product_code=str(row["product_code"]),
                   description=str(row["description"]), quantity=Decimal(row["quantity"]),
                   unit_price=Decimal(row["unit_price"]), live=bool(row["live"]))
