"""Reading contract lines into a snapshot: the same rule for every PSA.

Lines are read only where the plan can use them (accounts with exactly one live contract
of the type), concurrently within the client's bound. A contract whose lines cannot be read
becomes a per-customer error (CW10) instead of ending the run; an auth, decode or budget
failure, or the run's deadline, still ends it, because every later read would fail the same
way.

With a `LineCache` (a plan resuming a read that was interrupted), a contract whose lines were
kept is not read again, and each one read is handed to the cache as soon as it arrives, so
the next interruption loses at most the reads in flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from atria_tui.adapters.limiter import AdaptiveSlots, AimdLimit
from atria_tui.adapters.paging import DeadlinePassed
from atria_tui.core.model import PsaContract, PsaLine, PsaSnapshot, norm
from atria_tui.psa.errors import RemoteError
from atria_tui.psa.session import LineCache


async def line_by_rereading(read: Callable[[str], Awaitable[list[PsaLine]]], contract_id: str,
                            line_id: str) -> PsaLine | None:
    """One line, for a PSA with no single-line read: its contract's lines read again (the
    applier's conflict check); a contract that is gone (404) has no line."""
    try:
        found = await read(contract_id)
    except RemoteError as exc:
        if exc.status == 404:
            return None
        raise
    return next((ln for ln in found if ln.id == line_id), None)


def lines_of_product(found: Sequence[PsaLine], product_code: str) -> list[PsaLine]:
    return [ln for ln in found if norm(ln.product_code) == norm(product_code)]


def single_live_contracts(snap: PsaSnapshot, accounts: set[str] | None = None
                          ) -> list[PsaContract]:
    return [k for acc, ks in snap.contracts.items() if sum(x.live for x in ks) == 1
            and (accounts is None or acc in accounts) for k in ks if k.live]


def accounts_to_read(snap: PsaSnapshot, identifiers: Sequence[str],
                     unclaimed: bool) -> set[str] | None:
    """Whose lines the plan can use: the billed accounts that exist, or with `unclaimed`
    every account. Runs ask for the billed ones only, even while a Billing Identifier is
    missing or unknown: the console reads the lines of the account a fix picks when the
    fix is made (`services.fixes.read_lines_for`), so reading every unclaimed agreement
    up front cost headless runs 10–16 % more requests for nothing (issue 12)."""
    if unclaimed:
        return None
    wanted = {norm(i) for i in identifiers}
    return {a.id for key, a in snap.accounts.items() if key in wanted}


@dataclass
class LinesTally:
    """How far a snapshot's line reads are: contracts to read (those the cache did not
    have), read so far, and taken from the cache, for a budget ETA and the run log."""

    to_read: int = 0
    read: int = 0
    reused: int = 0

    @property
    def left(self) -> int:
        return max(0, self.to_read - self.read)


async def read_lines(snap: PsaSnapshot, fetch: Callable[[str], Awaitable[list[PsaLine]]],
                     accounts: set[str] | None = None, *, limit: AimdLimit | None = None,
                     cache: LineCache | None = None, tally: LinesTally | None = None) -> None:
    """A route the host does not serve fails every contract alike: after the first such
    answer the rest are not asked (on Kaseya each call spends the hourly budget), and every
    one of them carries the route's error, which the plan reports per customer.

    `limit` is the client's adaptive bound: no more contracts are started than it lets
    through, so a read that fails stops the rest before they are sent (a read waiting in
    the client has passed the check already)."""
    missing: list[RemoteError] = []
    slots = AdaptiveSlots(limit if limit is not None else AimdLimit())
    tally = tally if tally is not None else LinesTally()
    wanted = single_live_contracts(snap, accounts)
    todo: list[PsaContract] = []
    for k in wanted:
        kept = cache.get(k.id) if cache is not None else None
        if kept is None:
            todo.append(k)
        else:
            snap.lines[k.id] = kept
            tally.reused += 1
    tally.to_read, tally.read = len(todo), 0

    async def read(k: PsaContract) -> None:
        await slots.acquire()
        try:
            if missing:
                snap.missing_routes[k.id] = missing[0].message
                return
            try:
                snap.lines[k.id] = found = await fetch(k.id)
                tally.read += 1
                if cache is not None:
                    cache.put(k.id, found)
            except RemoteError as exc:
                if exc.kind in ("auth", "decode", "budget") or isinstance(exc, DeadlinePassed):
                    raise  # every later call fails too
                if exc.kind == "route":
                    missing.append(exc)
                    snap.missing_routes[k.id] = exc.message
                    return
                snap.line_errors[k.id] = exc.message
        finally:
            slots.release()

    await asyncio.gather(*(read(k) for k in todo))
