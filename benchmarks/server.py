"""The sandboxes served on 127.0.0.1 in a child process, with latency and a shared clock.

Why a child process: the client's peak RSS must be the tool's own, and on 2 cores the
server gets the other one instead of fighting the client for the GIL.

Why a virtual clock: Kaseya's hourly budget would make a run wait hours; the emulator
reads the clock of `benchmarks/vclock.py`, whose offset the measured client advances
instead of sleeping (see there).

Why indexes: the emulators answer every request by scanning whole tables (ConnectWise
re-derives the field schema of every addition per list request and filters all additions
per agreement; Kaseya scans every line per contract). At 10,000 lines that costs the
server 0.1-0.4 s per request, which no real PSA does, and would swamp the 20 ms latency
being measured. `_index()` swaps those scans for indexes with the same answers.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import multiprocessing as mp
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import httpx

from benchmarks.vclock import SharedOffset, VirtualClock

CW_ROOT = "/connectwise/v4_6_release/apis/3.0"
KS_ROOT = "/kaseya"


# --- indexes (in the child process only) ------------------------------------------------


def _memo_schema(real: Callable[[Iterable[Mapping[str, Any]]], Any]) -> Callable[..., Any]:
    """`known_paths` of a table kept and extended as the table grows.

    The emulator derives the schema of a whole table on every list request; keyed by the
    table's shape alone, every addition an apply POSTs changed the key and the whole
    table (25,000 additions at 5,000 customers) was walked again on the next read: the
    server's CPU per apply request grew with the data, and so did the apply's wall time.
    Rows are only ever appended (ids increase, `rows()` is in id order), so the rows
    beyond the ones seen last time are merged into the schema kept; anything else (a
    table replaced, reset, reordered) is derived afresh.
    """
    kept: dict[int, tuple[int, Any, dict[str, Any]]] = {}  # first row → (count, last, schema)

    def known_paths(rows: Iterable[Mapping[str, Any]]) -> Any:
        items = rows if isinstance(rows, list) else list(rows)
        if not items:
            return real(items)
        key = id(items[0])
        seen = kept.get(key)
        if seen is not None and seen[0] <= len(items) and items[seen[0] - 1] is seen[1]:
            count, _, schema = seen
            if count < len(items):
                schema = _merged(schema, real(items[count:]))
        else:
            if len(kept) > 32:  # tables replaced (reset): forget the old ones
                kept.clear()
            schema = real(items)
        kept[key] = (len(items), items[-1], schema)
        return schema

    return known_paths


def _merged(schema: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    """The schema of two sets of rows from the schemas of each (`known_paths`' own rule: a
    field with sub-fields in any row has the union of them; keys keep first-seen order)."""
    out = dict(schema)
    for low, subs in more.items():
        if subs is None:
            out.setdefault(low, None)
        else:
            have = out.get(low)
            out[low] = (set(have) if have else set()) | subs
    return out


def _keys(value: Any) -> list[tuple[str, Any]]:
    """Every form under which `condition_tree._compare` can find `value` equal to a literal."""
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, str):
        out: list[tuple[str, Any]] = [("s", value.casefold())]
        with contextlib.suppress(InvalidOperation, ValueError):
            out.append(("n", Decimal(value.strip()).normalize()))
        return out
    if isinstance(value, int | float | Decimal):
        return [("n", Decimal(str(value)).normalize())]
    return []


def _anchor(cond: Any) -> Any:
    """An `x = literal` conjunct of the condition (the whole condition or one side of an
    `and` chain): rows that fail it cannot match, so an index on it narrows safely."""
    from atria_tui.sandbox.connectwise.condition_tree import And, Compare

    if isinstance(cond, Compare) and cond.op == "=":
        return cond
    if isinstance(cond, And):
        return _anchor(cond.left) or _anchor(cond.right)
    return None


def _indexed_select(real: Callable[..., list[dict[str, Any]]]) -> Callable[..., Any]:
    """`query.select` that first narrows the rows through an equality index, then runs the
    real filter on the candidates: the same answer without evaluating every row."""
    from atria_tui.sandbox.connectwise.condition_tree import resolve

    cache: dict[tuple[int, int, int, str], dict[tuple[str, Any], list[dict[str, Any]]]] = {}

    def select(rows: Iterable[dict[str, Any]], q: Any) -> list[dict[str, Any]]:
        items = rows if isinstance(rows, list) else list(rows)
        anchor = _anchor(q.condition)
        wanted = _keys(anchor.value) if anchor is not None else []
        if len(items) < 200 or not wanted:
            return real(items, q)
        key = (len(items), id(items[0]), id(items[-1]), anchor.path.lower())
        index = cache.get(key)
        if index is None:
            index = {}
            for row in items:
                for k in _keys(resolve(row, anchor.path)):
                    index.setdefault(k, []).append(row)
            cache[key] = index
        seen: dict[int, dict[str, Any]] = {}
        for k in wanted:
            for row in index.get(k, []):
                seen[id(row)] = row
        return real(list(seen.values()), q)

    return select


def _index() -> tuple[type, type]:
    from atria_tui.sandbox.connectwise import query
    from atria_tui.sandbox.connectwise.state import CwState
    from atria_tui.sandbox.kaseya.state import KsState, Line

    query.known_paths = _memo_schema(query.known_paths)
    query.select = _indexed_select(query.select)

    class IndexedCwState(CwState):
        """Sorted rows and additions by agreement, extended as tables grow (additions are
        never deleted, never move to another agreement, and new ids are the highest) and
        rebuilt when a table is replaced or anything else changed its size."""

        _by_agreement: dict[int, list[int]]
        _rows_key: dict[str, tuple[int, int]]
        _rows: dict[str, list[dict[str, Any]]]
        _rows_max: dict[str, int]
        _add_key: tuple[int, int] = (0, -1)
        _add_max: int = 0

        def rows(self, collection: str) -> list[dict[str, Any]]:
            table = {"companies": self.companies, "agreements": self.agreements,
                     "agreementTypes": self.agreement_types, "additions": self.additions,
                     "catalog": self.catalog}[collection]
            if not hasattr(self, "_rows"):
                self._rows, self._rows_key, self._rows_max = {}, {}, {}
            key = (id(table), len(table))
            was = self._rows_key.get(collection)
            if was != key:
                grown = was is not None and was[0] == key[0] and was[1] < key[1]
                new = sorted(itertools.islice(table, was[1], None)) if grown and was else []
                if new and new[0] > self._rows_max[collection]:
                    self._rows[collection] = self._rows[collection] + [table[k] for k in new]
                else:
                    self._rows[collection] = [table[k] for k in sorted(table)]
                self._rows_max[collection] = max(table, default=0)
                self._rows_key[collection] = key
            # Not a copy: every caller in the emulator only reads it (filters and sorts
            # make their own lists), and copying 25,000 rows per request was 15% of the
            # server's CPU in a plan.
            return self._rows[collection]

        def additions_of(self, agreement_id: int) -> list[dict[str, Any]]:
            key = (id(self.additions), len(self.additions))
            if self._add_key != key:
                grown = self._add_key[0] == key[0] and self._add_key[1] < key[1]
                new = sorted(itertools.islice(self.additions, self._add_key[1], None)) \
                    if grown else []
                if grown and new and new[0] > self._add_max:
                    for aid in new:
                        owner = self.additions[aid].get("agreementId")
                        self._by_agreement.setdefault(owner, []).append(aid)  # type: ignore[arg-type]
                else:
                    self._by_agreement = {}
                    for aid in sorted(self.additions):
                        owner = self.additions[aid].get("agreementId")
                        self._by_agreement.setdefault(owner, []).append(aid)  # type: ignore[arg-type]
                self._add_max = max(self.additions, default=0)
                self._add_key = key
            return [self.additions[i] for i in self._by_agreement.get(agreement_id, [])]

    class IndexedKsState(KsState):
        """Lines by contract, rebuilt when the line table is replaced or grows."""

        _line_key: tuple[int, int] = (0, -1)
        _by_contract: dict[int, list[int]]

        def lines_of(self, contract_id: int) -> list[Line]:
            key = (id(self.lines), len(self.lines))
            if self._line_key != key:
                self._by_contract = {}
                ordered = sorted(self.lines.values(), key=lambda ln: (ln.sort_order, ln.id))
                for ln in ordered:
                    self._by_contract.setdefault(ln.contract_id, []).append(ln.id)
                self._line_key = key
            return [self.lines[i] for i in self._by_contract.get(contract_id, [])]

    return IndexedCwState, IndexedKsState


def _serve(cw_seed: str, ks_seed: str, port: int, latency_ms: int, budget_per_hour: int,
           offset_file: str) -> None:
    """Child process entry point: build both emulators around the seeds and serve them."""
    import uvicorn

    from atria_tui.sandbox.kaseya.types import SandboxConfig
    from atria_tui.sandbox.server import build

    cw_cls, ks_cls = _index()
    clock = VirtualClock(SharedOffset(offset_file))
    cw = cw_cls(json.loads(Path(cw_seed).read_text("utf-8")))
    cw.latency_ms = latency_ms
    ks = ks_cls(json.loads(Path(ks_seed).read_text("utf-8")), now=clock.utcnow,
                config=SandboxConfig(latency_ms=latency_ms, budget_per_hour=budget_per_hour,
                                     lines_routes="v2"))
    box = build(cw, ks)
    config = uvicorn.Config(box.app, host="127.0.0.1", port=port, log_level="warning",
                            access_log=False, lifespan="off")
    uvicorn.Server(config).run()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    """A running child server: its base URL, the shared clock, and admin helpers."""

    base: str
    process: mp.process.BaseProcess
    clock: VirtualClock
    latency_ms: int

    @property
    def cw_url(self) -> str:
        return self.base + CW_ROOT

    @property
    def ks_url(self) -> str:
        return self.base + KS_ROOT

    async def stats(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(ConnectWise, Kaseya) request counters; admin calls are not counted by either."""
        async with httpx.AsyncClient(timeout=30) as client:
            cw = (await client.get(self.cw_url + "/_sandbox/stats")).json()
            ks = (await client.get(self.ks_url + "/_sandbox/stats")).json()
        return cw, ks

    def counts(self, psa: str) -> tuple[dict[str, int], int]:
        """Requests the server answered so far, per endpoint, and its 429s ("cw" or "ks")."""
        url = self.cw_url if psa == "cw" else self.ks_url
        body = httpx.get(url + "/_sandbox/stats", timeout=30).json()
        if psa == "cw":
            return {k: int(v) for k, v in body["requests"].items()}, 0
        return {k: int(v) for k, v in body["byEndpoint"].items()}, int(body["throttled"])

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)


def start(cw_seed: Path, ks_seed: Path, *, latency_ms: int, clock_file: Path,
          budget_per_hour: int = 1500, timeout: float = 60.0) -> Served:
    """Serve both emulators on a free port; `clock_file` holds the shared clock's offset
    (the measured CLI maps it too)."""
    ctx = mp.get_context("spawn")
    offset = SharedOffset(clock_file)
    port = free_port()
    proc = ctx.Process(target=_serve, args=(str(cw_seed), str(ks_seed), port, latency_ms,
                                            budget_per_hour, str(clock_file)), daemon=True)
    proc.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(base + "/", timeout=2)
            break
        except httpx.HTTPError:
            if not proc.is_alive() or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"benchmark sandbox did not start on {base}") from None
            time.sleep(0.1)
    return Served(base, proc, VirtualClock(offset), latency_ms)
