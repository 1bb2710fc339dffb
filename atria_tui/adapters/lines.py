"""Reading contract lines into a snapshot: the same rule for every PSA.

Lines are read only where the plan can use them (accounts with exactly one live contract
of the type), concurrently within the client's bound. A contract whose lines cannot be read
becomes a per-customer error (CW10) instead of ending the run; an auth, decode or budget
failure still ends it, because every later read would fail the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from atria_tui.adapters.http import PsaError
from atria_tui.model import PsaContract, PsaLine, PsaSnapshot


def single_live_contracts(snap: PsaSnapshot) -> list[PsaContract]:
    return [k for ks in snap.contracts.values() if sum(x.live for x in ks) == 1
            for k in ks if k.live]


async def read_lines(snap: PsaSnapshot,
                     fetch: Callable[[str], Awaitable[list[PsaLine]]]) -> None:
    async def read(k: PsaContract) -> None:
        try:
            snap.lines[k.id] = await fetch(k.id)
        except PsaError as exc:
            if exc.kind in ("auth", "decode", "budget"):  # every later call fails too
                raise
            snap.line_errors[k.id] = exc.message

    await asyncio.gather(*(read(k) for k in single_live_contracts(snap)))
