"""What the engine needs from a PSA: one protocol, for planning, applying and reverting.

Adapters satisfy it structurally; tests give the engine fakes that do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Protocol

from atria_tui.core.model import PsaLine, PsaSnapshot


@dataclass(frozen=True, slots=True)
class Pace:
    """How fast a session is talking to its PSA right now, for the progress line: the
    requests it lets run at once (the adaptive bound) and the answers per second."""

    concurrency: int
    per_second: float


@dataclass(frozen=True, slots=True)
class BudgetView:
    """An hourly call budget that bounds a read, as a session sees it: the route it paces
    (as messages name it), the calls an hour it allows, how many are left this hour, how
    many the read still needs on it, and how long those take at the budget."""

    route: str
    per_hour: int
    left: int
    to_read: int
    seconds: float

    @property
    def minutes(self) -> float:
        return self.seconds / 60


class LineCache(Protocol):
    """Contract lines a plan read before (and kept), for a plan that resumes an interrupted
    read; the session asks before reading a contract and hands over what it read."""

    def get(self, contract_id: str) -> list[PsaLine] | None: ...
    def put(self, contract_id: str, lines: list[PsaLine]) -> None: ...


class PsaSession(Protocol):
    @property
    def requests(self) -> int: ...
    @property
    def pace(self) -> Pace | None:
        """None when the adapter does not measure it (a test's fake)."""
    @property
    def budget_view(self) -> BudgetView | None:
        """None unless an hourly call budget bounds the read under way."""
    async def aclose(self) -> None: ...
    async def snapshot(self, identifiers: Sequence[str], skus: Sequence[str],
                       contract_type: str, *, unclaimed: bool = False) -> PsaSnapshot: ...
    async def read_line(self, contract_id: str, line_id: str) -> PsaLine | None: ...
    async def find_lines(self, contract_id: str, product_code: str) -> list[PsaLine]: ...
    async def contract_lines(self, contract_id: str) -> list[PsaLine]: ...
    async def set_quantity(self, contract_id: str, line_id: str, quantity: Decimal) -> None: ...
    async def add_line(self, contract_id: str, product_id: str, quantity: Decimal,
                       description: str, effective: date) -> str: ...
