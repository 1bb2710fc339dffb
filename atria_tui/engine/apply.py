"""Execute the approved changes of a plan, journaled, conflict-checked, resumable.

Order of a write: journal row `pending` (all rows are written before the first request)
→ `sent` → re-read the PSA line → write only if the line still holds the previewed
quantity → `done`. Because the re-read happens again on resume, a row left `sent` by a
killed process is finished if the write never landed and merely marked done if it did:
nothing is written twice and nothing written by someone else is overwritten.

The log follows the writes, not the plan: each write, and every row with a warning or an
error, is logged; rows with nothing to write and nothing wrong (CW09/KS04 "unchanged") are
counted, one TU17 entry per code, since the preview already listed them line by line and
logging 44,000 of them made a big apply's cost grow with the plan instead of its changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from atria_tui.core import codes
from atria_tui.core.model import (
    ZERO,
    Action,
    Level,
    LogEntry,
    Period,
    Plan,
    PlanItem,
    PsaLine,
    Status,
    Task,
    item_entry,
    norm,
    written_sku,
)
from atria_tui.engine.reconcile import fmt_qty
from atria_tui.engine.store import CONFLICT, DONE, ERROR, GONE, PENDING, SENT, JournalRow, Store
from atria_tui.psa import profile_of
from atria_tui.psa.errors import RemoteError
from atria_tui.psa.session import PsaSession

Sink = Callable[[LogEntry, PlanItem | None], Awaitable[None] | None]


@dataclass
class ApplyOutcome:
    entries: list[LogEntry]
    applied: int = 0
    unchanged: int = 0
    conflicts: int = 0
    failed: int = 0
    skipped: int = 0


def journal_rows(plan: Plan) -> list[tuple[str, ...]]:
    return [(i.key, i.action.value, i.customer_code, i.sku, i.description, i.contract_id,
             i.line_id, i.product_id, i.product_code, str(i.psa_quantity or ZERO),
             str(i.target_quantity or ZERO))
            for i in plan.items if i.action.writes and i.approved]


def _entry(code: str, row: JournalRow, item: PlanItem | None = None, **more: object
           ) -> LogEntry:
    """A log entry about one journal row. Its message names the PSA product written when a
    saved SKU fix made it differ from the Atria SKU (the entry's SKU column stays Atria's)."""
    entry = codes.entry(code, customer=row.customer, sku=row.sku, **_fields(row, item, **more))
    shown = written_sku(row.sku, row.product_code)
    if shown == row.sku:
        return entry
    return replace(entry, message=codes.message(code, **{**_fields(row, item, **more),
                                                         "sku": shown}))


def _fields(row: JournalRow, item: PlanItem | None = None, **more: object
            ) -> dict[str, object]:
    return {"customer_code": row.customer,
            "customer_name": item.customer_name if item else row.customer,
            "line_description": row.description, "before": fmt_qty(row.before),
            "after": fmt_qty(row.after), "contract_name": item.contract_name if item else "",
            **more}


class Applier:
    def __init__(self, plan: Plan, writer: PsaSession, store: Store, run_id: int, *,
                 sink: Sink | None = None, concurrency: int = 6, effective: date | None = None,
                 progress: Callable[[int, int], None] | None = None, retries: int = 4,
                 backoff: float = 0.25, plan_run: int | None = None) -> None:
        """`plan_run`: the run whose plan lists the rows counted instead of logged (the
        reviewed preview, else the apply run itself, which keeps its plan)."""
        self.plan = plan
        self.writer = writer
        self.store = store
        self.run_id = run_id
        self.sink = sink
        self.codes = profile_of(plan.task).codes
        self.sem = asyncio.Semaphore(max(1, concurrency))
        self.effective = effective or plan.period.start
        self.progress = progress
        self.retries = retries
        self.backoff = backoff
        self.plan_run = run_id if plan_run is None else plan_run
        self.items = {i.key: i for i in plan.items}
        self.outcome = ApplyOutcome([])
        self._done = 0
        self._total = 0
        self._stop: RemoteError | None = None
        self._reads: dict[str, asyncio.Task[list[PsaLine]]] = {}

    async def emit(self, entry: LogEntry, item: PlanItem | None) -> None:
        self.outcome.entries.append(entry)
        if self.sink:
            result = self.sink(entry, item)
            if result is not None:
                await result

    async def run(self, bracket: tuple[LogEntry, LogEntry] | None = None) -> ApplyOutcome:
        """Journal every approved write, then send what is still pending.

        Items after `plan.deprovisioned_from` (deprovisioned customers) are a second phase,
        so Kaseya's KS18/KS19 really bracket their writes in the log.
        """
        self.store.journal_add(self.run_id, journal_rows(self.plan))
        rows = {r.item_key: r for r in self.store.journal(self.run_id)}
        self._total = sum(1 for r in rows.values() if r.state in (PENDING, SENT))
        cut = self.plan.deprovisioned_from
        items = self.plan.items
        phases = [items] if cut is None or bracket is None else [items[:cut], items[cut:]]
        for n, phase in enumerate(phases):
            if n == 1 and bracket:
                await self.emit(bracket[0], None)
            await self._phase(phase, rows)
            if self._stop is not None:
                raise self._stop
        if bracket and len(phases) == 2:
            await self.emit(bracket[1], None)
        return self.outcome

    async def _phase(self, items: list[PlanItem], rows: dict[str, JournalRow]) -> None:
        todo: list[JournalRow] = []
        quiet: dict[tuple[str, Status], int] = {}  # (code, status) → rows counted, not logged
        for item in items:
            row = rows.get(item.key)
            if not item.action.writes:
                item.status = Status.UNCHANGED if item.action is Action.NONE else Status.SKIPPED
                if item.level.rank >= Level.WARNING.rank:
                    await self.emit(item_entry(item), item)
                else:
                    key = (item.code, item.status)
                    quiet[key] = quiet.get(key, 0) + 1
            elif not item.approved:
                item.status = Status.SKIPPED
                self.outcome.skipped += 1
                held = codes.entry("TU04", customer=item.customer_code, sku=item.sku,
                                   **_item_fields(item))
                await self.emit(replace(held, message=codes.message(
                    "TU04", **_item_fields(item),
                    sku=written_sku(item.sku, item.product_code))), item)
            elif row is not None and row.state in (PENDING, SENT):
                todo.append(row)
            elif row is not None:
                item.status = _status_of(row.state)  # finished by an earlier attempt
        for (code, status), count in quiet.items():
            await self.emit(codes.entry("TU17", count=count, state=status.value, row_code=code,
                                        what=codes.CATALOG[code].when,
                                        plan_run=self.plan_run), None)
        await asyncio.gather(*(self._guarded(r) for r in todo))

    async def _guarded(self, row: JournalRow) -> None:
        async with self.sem:
            if self._stop is not None:
                return  # left pending: the run ends, a later apply writes it
            await self._one(row)
        self._done += 1
        if self.progress:
            self.progress(self._done, self._total)

    async def _one(self, row: JournalRow) -> None:
        item = self.items.get(row.item_key)
        was_sent = row.state == SENT
        self.store.journal_set(row.id, SENT)
        try:
            if row.action == Action.ADD.value:
                await self._add(row, item, was_sent)
            else:
                await self._update(row, item)
        except RemoteError as exc:
            if exc.maybe_landed:
                # Its answer was lost and a re-read did not find it: it may still land. The
                # row stays `sent`, so the next apply re-reads before it writes anything.
                self._stop = self._stop or exc
                self.outcome.failed += 1
                if item:
                    item.status = Status.FAILED
                await self.emit(_entry("TU10", row, item, error=exc.message), item)
                return
            if exc.kind in ("budget", "connect", "timeout"):
                # The PSA is out of reach or its call budget is used up: every later write
                # would fail the same way, so the run ends (CW02/KS02) instead of logging
                # one failure per line. The row stays `sent`: a later run re-reads first.
                self._stop = self._stop or exc
                return
            self.store.journal_set(row.id, ERROR, exc.message)
            self.outcome.failed += 1
            if item:
                item.status = Status.FAILED
            code = exc.code or (self.codes.add_failed if row.action == Action.ADD.value
                                else self.codes.write_failed)
            await self.emit(_entry(code, row, item, error=exc.message), item)
            if exc.kind == "route":
                # The host does not serve the write route: every later write would be
                # refused the same way, so the run ends here (this row did not land).
                self._stop = self._stop or exc
        except _Changed as changed:
            await self._conflict(row, item, changed.quantity)
        except _Gone:
            await self._gone(row, item)

    async def _lines_of(self, contract_id: str) -> list[PsaLine]:
        """Each contract's lines re-read once, just before its first write (not per line):
        the conflict check costs one request per contract, the API's minimum."""
        task = self._reads.get(contract_id)
        if task is None:
            task = asyncio.ensure_future(self._fresh_lines(contract_id))
            self._reads[contract_id] = task
        return await asyncio.shield(task)

    async def _fresh_lines(self, contract_id: str) -> list[PsaLine]:
        """A contract's lines read now; a contract that is gone has none."""
        try:
            return await self.writer.contract_lines(contract_id)
        except RemoteError as exc:
            if exc.status == 404:
                return []
            raise

    async def _write(self, row: JournalRow, send: Callable[[], Awaitable[str]],
                     landed: Callable[[], Awaitable[str | None]]) -> str:
        """Send one write; after a failure where it may have landed, re-read and decide.

        `landed` re-reads the PSA and returns the line id if the write is there (or raises
        `_Changed`/`_Gone`). Not there and the PSA answered (a 5xx): it has finished with
        the request, so sending again cannot double it. Not there and no answer (timeout,
        dropped connection): the PSA may still carry it out, so it is never sent again
        blind; the error goes up with `maybe_landed` and the row stays `sent`.
        """
        attempt = 0
        while True:
            attempt += 1
            try:
                return await send()
            except RemoteError as exc:
                if not (exc.maybe_landed or exc.kind == "decode"):
                    raise
                found = await landed()
                if found is not None:
                    await self.emit(_entry("TU11", row, self.items.get(row.item_key),
                                           error=exc.message), None)
                    return found
                if not exc.answered or exc.kind == "decode":
                    raise RemoteError(exc.kind, exc.message, exc.status,
                                   maybe_landed=True) from None
                if attempt > self.retries:
                    raise RemoteError(exc.kind, exc.message, exc.status) from None
                await asyncio.sleep(min(self.backoff * 2 ** (attempt - 1), 30.0))

    async def _update(self, row: JournalRow, item: PlanItem | None) -> None:
        lines = await self._lines_of(row.contract_id)
        current = next((ln for ln in lines if ln.id == row.line_id), None)
        if current is None:
            raise _Gone
        if current.quantity == row.after:
            await self._mark_done(row, item, None, applied=False)
            return
        if current.quantity != row.before:
            raise _Changed(current.quantity)

        await self._set(row, row.line_id)
        await self._mark_done(row, item, None)

    async def _add(self, row: JournalRow, item: PlanItem | None, was_sent: bool) -> None:
        existing = _same_product(await self._lines_of(row.contract_id), row.product_code)
        if existing:
            mine = [ln for ln in existing if ln.quantity == row.after]
            if was_sent and mine:  # our earlier POST landed before the process died
                await self._mark_done(row, item, mine[0].id, applied=False)
                return
            raise _Changed(existing[0].quantity)

        async def send() -> str:
            return await self.writer.add_line(row.contract_id, row.product_id, row.after,
                                              row.description, self.effective)

        async def landed() -> str | None:
            now = _same_product(await self._fresh_lines(row.contract_id), row.product_code)
            mine = [ln for ln in now if ln.quantity == row.after]
            if mine:
                return mine[0].id
            if now:
                raise _Changed(now[0].quantity)
            return None

        new_id = await self._write(row, send, landed)
        await self._mark_done(row, item, new_id)

    async def _set(self, row: JournalRow, line_id: str) -> None:
        """Set a line from `row.before` to `row.after` (apply and revert alike): after a
        lost answer the line is re-read, and holding `after` means the write landed."""

        async def send() -> str:
            await self.writer.set_quantity(row.contract_id, line_id, row.after)
            return line_id

        async def landed() -> str | None:
            now = next((ln for ln in await self._fresh_lines(row.contract_id)
                        if ln.id == line_id), None)
            if now is None:
                raise _Gone
            if now.quantity == row.after:
                return line_id
            if now.quantity != row.before:
                raise _Changed(now.quantity)
            return None

        await self._write(row, send, landed)

    async def _mark_done(self, row: JournalRow, item: PlanItem | None, line_id: str | None,
                         *, applied: bool = True) -> None:
        """A write that is in the PSA: logged, then its journal row `done`. In that order,
        because the store commits the entries a run queued with the journal change, so a
        row does not read `done` without its entry (killed in between, the row stays
        `sent`; the next apply re-reads the line, finds the write and logs it then)."""
        if applied:
            self.outcome.applied += 1
        else:
            self.outcome.unchanged += 1
        if item:
            item.status = Status.APPLIED
        await self.emit(self._done_entry(row, item), item)
        self.store.journal_set(row.id, DONE, line_id=line_id)

    async def _conflict(self, row: JournalRow, item: PlanItem | None, now: Decimal) -> None:
        self.store.journal_set(row.id, CONFLICT, f"PSA holds {now}")
        self.outcome.conflicts += 1
        if item:
            item.status = Status.CONFLICT
        await self.emit(_entry("TU01", row, item, current=fmt_qty(now)), item)

    async def _gone(self, row: JournalRow, item: PlanItem | None) -> None:
        self.store.journal_set(row.id, GONE, "line not found")
        self.outcome.skipped += 1
        if item:
            item.status = Status.SKIPPED
        await self.emit(_entry("TU07", row, item), item)

    def _done_entry(self, row: JournalRow, item: PlanItem | None) -> LogEntry:
        if item is not None:
            return item_entry(item)
        c = self.codes
        code = {"add": c.added or c.updated, "zero": c.zeroed}.get(row.action, c.updated)
        return _entry(code, row)


class _Changed(Exception):
    """The PSA line holds a quantity nobody planned: someone else edited it."""

    def __init__(self, quantity: Decimal) -> None:
        super().__init__(str(quantity))
        self.quantity = quantity


class _Gone(Exception):
    """The PSA line the write was for no longer exists."""


def _same_product(lines: list[PsaLine], product_code: str) -> list[PsaLine]:
    return [ln for ln in lines if ln.live and norm(ln.product_code) == norm(product_code)]


def _item_fields(i: PlanItem) -> dict[str, object]:
    return {"customer_code": i.customer_code, "customer_name": i.customer_name,
            "line_description": i.description, "billing_identifier": i.billing_identifier,
            "before": fmt_qty(i.psa_quantity), "after": fmt_qty(i.target_quantity),
            "contract_name": i.contract_name}


def _status_of(state: str) -> Status:
    return {DONE: Status.APPLIED, CONFLICT: Status.CONFLICT, ERROR: Status.FAILED,
            GONE: Status.SKIPPED}.get(state, Status.PENDING)


async def revert(journal: list[JournalRow], writer: PsaSession, store: Store, run_id: int,
                 of_run: int, sink: Sink | None = None,
                 progress: Callable[[int, int], None] | None = None) -> ApplyOutcome:
    """Put back what an apply run changed in the PSA, and only that.

    Candidates are the run's `done` writes and those left `sent` (a process killed, or an
    answer lost, after the request went out: such a write may have landed). Each
    contract is re-read once; a line is set back only while it still holds what the run
    wrote. A line already at its old quantity (never written, or reverted before) is left
    alone and not reported as restored; one changed since is a conflict (TU01). An
    addition whose POST never confirmed is found by its product and quantity.
    """
    rows = [(r.item_key, Action.UPDATE.value, r.customer, r.sku, r.description,
             r.contract_id, r.line_id, r.product_id, r.product_code, str(r.after),
             str(ZERO if r.action == Action.ADD.value else r.before))
            for r in journal if r.state in (DONE, SENT)]
    plan = Plan(Task.CONNECTWISE, Period(date.min, date.min))
    applier = Applier(plan, writer, store, run_id, sink=sink)
    store.journal_add(run_id, rows)
    todo = [r for r in store.journal(run_id) if r.state in (PENDING, SENT)]
    counts = {"restored": 0, "unchanged": 0, "changed": 0, "missing": 0}

    async def one(row: JournalRow) -> None:
        store.journal_set(row.id, SENT)
        lines = await applier._lines_of(row.contract_id)
        if row.line_id:
            current = next((ln for ln in lines if ln.id == row.line_id), None)
        else:  # an addition that never confirmed: ours if it holds what we sent
            current = next((ln for ln in _same_product(lines, row.product_code)
                            if ln.quantity == row.before), None)
            if current is None:
                store.journal_set(row.id, DONE, "never landed")
                counts["unchanged"] += 1
                return
        if current is None:
            counts["missing"] += 1
            await applier._gone(row, None)
            return
        if current.quantity == row.after:
            store.journal_set(row.id, DONE, "already as before", line_id=current.id)
            counts["unchanged"] += 1
            return
        if current.quantity != row.before:
            counts["changed"] += 1
            await applier._conflict(row, None, current.quantity)
            return
        line_id = current.id
        try:
            await applier._set(row, line_id)
        except RemoteError as exc:
            if exc.maybe_landed or exc.kind in ("budget", "connect", "timeout"):
                raise  # the PSA is out of reach: the revert ends; run it again later
            store.journal_set(row.id, ERROR, exc.message)
            applier.outcome.failed += 1
            await applier.emit(_entry("TU08", row, error=exc.message), None)
            return
        except _Changed as changed:
            counts["changed"] += 1
            await applier._conflict(row, None, changed.quantity)
            return
        except _Gone:
            counts["missing"] += 1
            await applier._gone(row, None)
            return
        store.journal_set(row.id, DONE, line_id=line_id)
        counts["restored"] += 1
        applier.outcome.applied += 1
        await applier.emit(_entry("TU06", row, before=fmt_qty(row.after),
                                  after=fmt_qty(row.before)), None)

    if progress:
        progress(0, len(todo))
    for n, row in enumerate(todo, 1):
        await one(row)
        if progress:  # a slow PSA: the clerk sees the lines go by, not one still line
            progress(n, len(todo))
    applier.outcome.unchanged = counts["unchanged"]
    await applier.emit(codes.entry("TU12", run_id=of_run, restored=counts["restored"],
                                   unchanged=counts["unchanged"], changed=counts["changed"],
                                   missing=counts["missing"]), None)
    return applier.outcome
