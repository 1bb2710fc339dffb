"""Reading contract lines into a snapshot: the same rule for every PSA.

Lines are read only where the plan can use them (accounts with exactly one live contract
of the type), concurrently within the client's bound. A contract whose lines cannot be read
becomes a per-customer error (CW10) instead of ending the run; an auth, decode or budget
failure, or the run's deadline, still ends it, because every later read would fail the same
way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from atria_tui.adapters.paging import DeadlinePassed
from atria_tui.core.model import PsaContract, PsaLine, PsaSnapshot, norm
from atria_tui.psa.errors import RemoteError


def single_live_contracts(snap: PsaSnapshot, accounts: set[str] | None = None
                          ) -> list[PsaContract]:
    return [k for acc, ks in snap.contracts.items() if sum(x.live for x in ks) == 1
            and (accounts is None or acc in accounts) for k in ks if k.live]


def accounts_to_read(snap: PsaSnapshot, identifiers: Sequence[str],
                     unclaimed: bool) -> set[str] | None:
    """Whose lines the plan can use: the billed accounts that exist, or with `unclaimed`
    every account. Runs ask for the billed ones only, even while a Billing Identifier is
    missing or unknown: the console reads the lines of the account a fix picks when the
    fix is made (`services.review.read_lines_for`), so reading every unclaimed agreement
    up front cost headless runs 10–16 % more requests for nothing (issue 12)."""
    if unclaimed:
        return None
    wanted = {norm(i) for i in identifiers}
    return {a.id for key, a in snap.accounts.items() if key in wanted}


async def read_lines(snap: PsaSnapshot, fetch: Callable[[str], Awaitable[list[PsaLine]]],
                     accounts: set[str] | None = None, *, concurrency: int = 6) -> None:
    """A route the host does not serve fails every contract alike: after the first such
    answer the rest are not asked (on Kaseya each call spends the hourly budget), and every
    one of them carries the route's error, which the plan reports per customer."""
    missing: list[RemoteError] = []
    slots = asyncio.Semaphore(max(1, concurrency))  # the client's bound: none waits long

    async def read(k: PsaContract) -> None:
        async with slots:
            if missing:
                snap.missing_routes[k.id] = missing[0].message
                return
            try:
                snap.lines[k.id] = await fetch(k.id)
            except RemoteError as exc:
                if exc.kind in ("auth", "decode", "budget") or isinstance(exc, DeadlinePassed):
                    raise  # every later call fails too
                if exc.kind == "route":
                    missing.append(exc)
                    snap.missing_routes[k.id] = exc.message
                    return
                snap.line_errors[k.id] = exc.message

    await asyncio.gather(*(read(k) for k in single_live_contracts(snap, accounts)))
