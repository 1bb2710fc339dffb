"""Apply's journal: nothing written twice, nothing overwritten, everything resumable."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from atria_tui.core.model import (
    Action,
    Level,
    LogEntry,
    Period,
    Plan,
    PlanItem,
    PsaLine,
    Status,
    Task,
)
from atria_tui.engine.apply import Applier, revert
from atria_tui.engine.store import CONFLICT, DONE, SENT, Store
from atria_tui.psa.errors import RemoteError

PERIOD = Period(date(2026, 10, 26), date(2026, 11, 25))


class FakePsa:
    def __init__(self, lines: dict[str, int]) -> None:
        self.lines = {k: Decimal(v) for k, v in lines.items()}
        self.writes: list[tuple[str, Decimal]] = []
        self.fail: set[str] = set()
        self.reads = 0

    async def read_line(self, contract_id: str, line_id: str) -> PsaLine | None:
        if line_id not in self.lines:
            return None
        return PsaLine(line_id, contract_id, "p", "SKU", "", self.lines[line_id])

    async def contract_lines(self, contract_id: str) -> list[PsaLine]:
        self.reads += 1
        return [PsaLine(k, contract_id, "p", k.removesuffix("-new"), "", v)
                for k, v in self.lines.items()]

    async def find_lines(self, contract_id: str, product_code: str) -> list[PsaLine]:
        return [PsaLine(k, contract_id, "p", product_code, "", v)
                for k, v in self.lines.items() if k.startswith(product_code)]

    async def set_quantity(self, contract_id: str, line_id: str, quantity: Decimal) -> None:
        if line_id in self.fail:
            raise RemoteError("http", "HTTP 500 from PATCH")
        self.writes.append((line_id, quantity))
        self.lines[line_id] = quantity

    async def add_line(self, contract_id: str, product_id: str, quantity: Decimal,
                       description: str, effective: date) -> str:
        new_id = f"{product_id}-new"
        self.writes.append((new_id, quantity))
        self.lines[new_id] = quantity
        return new_id


def item(line: str, before: int, after: int, action: Action = Action.UPDATE,
         approved: bool = True) -> PlanItem:
    return PlanItem(key=f"k-{line}", customer_code="ASP", customer_name="Acme", sku=line,
                    billing_identifier="A", description=f"{line} desc",
                    atria_quantity=Decimal(after), psa_quantity=Decimal(before), action=action,
                    code="CW07" if action is not Action.ADD else "CW08", level=Level.INFO,
                    message=f"{line} planned", contract_id="c1", line_id=line,
                    product_id=line, product_code=line, approved=approved)


def plan(*items: PlanItem) -> Plan:
    return Plan(Task.CONNECTWISE, PERIOD, list(items))


async def test_writes_approved_and_reports_rejected_conflict_and_failure() -> None:
    store = Store(":memory:")
    psa = FakePsa({"L1": 10, "L2": 5, "L3": 7, "L4": 1})
    psa.lines["L2"] = Decimal(6)          # edited by someone since the preview
    psa.fail.add("L4")
    p = plan(item("L1", 10, 12), item("L2", 5, 8), item("L3", 7, 9, approved=False),
             item("L4", 1, 2))
    run = store.start_run("job", "Job", "connectwise-manage", "apply")
    out = await Applier(p, psa, store, run).run()
    assert psa.writes == [("L1", Decimal(12))]
    assert psa.lines["L2"] == 6 and psa.lines["L3"] == 7
    assert [i.status for i in p.items] == [Status.APPLIED, Status.CONFLICT, Status.SKIPPED,
                                           Status.FAILED]
    codes = [e.code for e in out.entries]
    assert sorted(codes) == ["CW07", "TU01", "TU04", "TU08"]
    assert (out.applied, out.conflicts, out.skipped, out.failed) == (1, 1, 1, 1)
    assert {r.line_id: r.state for r in store.journal(run)} == {
        "L1": DONE, "L2": CONFLICT, "L4": "failed"}
    assert psa.reads == 1                      # one re-read for the contract, not per line


async def killed_after_two_writes_landed(store: Store, psa: FakePsa, p: Plan) -> int:
    """An apply run whose process died after L1's PATCH and the add's POST landed in the
    PSA, before either was marked done: both rows are left `sent`."""
    from atria_tui.engine.apply import journal_rows

    run = store.start_run("job", "Job", "connectwise-manage", "apply")
    store.journal_add(run, journal_rows(p))
    rows = {r.line_id or r.product_code: r for r in store.journal(run)}
    await psa.set_quantity("c1", "L1", Decimal(12))
    await psa.add_line("c1", "ADD", Decimal(3), "", PERIOD.start)
    store.journal_set(rows["L1"].id, SENT)
    store.journal_set(rows["ADD"].id, SENT)
    psa.writes.clear()
    return run


async def test_resume_finishes_pending_and_never_writes_twice() -> None:
    store = Store(":memory:")
    psa = FakePsa({"L1": 10, "L2": 5})
    p = plan(item("L1", 10, 12), item("L2", 5, 8), item("ADD", 0, 3, Action.ADD))
    run = await killed_after_two_writes_landed(store, psa, p)
    await Applier(p, psa, store, run).run()
    assert psa.writes == [("L2", Decimal(8))]                      # only the missing write
    assert sorted(psa.lines) == ["ADD-new", "L1", "L2"]             # no duplicate addition
    assert {r.state for r in store.journal(run)} == {DONE}
    again = Applier(plan(item("L1", 10, 12)), psa, store, run)
    await again.run()
    assert psa.writes == [("L2", Decimal(8))]


async def test_revert_restores_before_and_leaves_edited_lines() -> None:
    store = Store(":memory:")
    psa = FakePsa({"L1": 10, "L2": 5})
    p = plan(item("L1", 10, 12), item("L2", 5, 8), item("NEW", 0, 4, Action.ADD))
    run = store.start_run("job", "Job", "connectwise-manage", "apply")
    await Applier(p, psa, store, run).run()
    psa.lines["L2"] = Decimal(20)                                   # edited after the apply
    back = store.start_run("job", "Job", "connectwise-manage", "revert", of_run=run)
    out = await revert(store.journal(run), psa, store, back, run)
    assert psa.lines == {"L1": 10, "L2": 20, "NEW-new": 0}
    assert sorted(e.code for e in out.entries) == ["TU01", "TU06", "TU06", "TU12"]
    assert store.managed_lines("job") >= {"L1", "NEW-new"}


class LossyPsa(FakePsa):
    """A PSA whose writes land (or not) and whose answers are then lost."""

    def __init__(self, lines: dict[str, int], *, land: bool, answered: bool,
                 times: int = 1) -> None:
        super().__init__(lines)
        self.land, self.answered, self.times = land, answered, times
        self.sent = 0

    def _lose(self) -> None:
        raise RemoteError("http" if self.answered else "timeout", "answer lost",
                       500 if self.answered else None, maybe_landed=True)

    async def add_line(self, contract_id: str, product_id: str, quantity: Decimal,
                       description: str, effective: date) -> str:
        self.sent += 1
        if self.sent <= self.times:
            if self.land:
                await super().add_line(contract_id, product_id, quantity, description,
                                       effective)
            self._lose()
        return await super().add_line(contract_id, product_id, quantity, description,
                                       effective)

    async def set_quantity(self, contract_id: str, line_id: str, quantity: Decimal) -> None:
        self.sent += 1
        if self.sent <= self.times:
            if self.land:
                await super().set_quantity(contract_id, line_id, quantity)
            self._lose()
        await super().set_quantity(contract_id, line_id, quantity)


async def test_a_write_that_landed_before_its_answer_was_lost_is_not_sent_again() -> None:
    store = Store(":memory:")
    psa = LossyPsa({"L1": 10}, land=True, answered=False)
    p = plan(item("ADD", 0, 3, Action.ADD))
    run = store.start_run("job", "Job", "connectwise-manage", "apply")
    out = await Applier(p, psa, store, run).run()
    assert psa.sent == 1 and sorted(psa.lines) == ["ADD-new", "L1"]
    assert [e.code for e in out.entries] == ["TU11", "CW08"]
    assert [r.state for r in store.journal(run)] == [DONE]


async def test_an_answered_5xx_that_did_not_land_is_sent_once_more() -> None:
    store = Store(":memory:")
    psa = LossyPsa({"L1": 10}, land=False, answered=True)
    p = plan(item("ADD", 0, 3, Action.ADD), item("L1", 10, 12))
    run = store.start_run("job", "Job", "connectwise-manage", "apply")
    out = await Applier(p, psa, store, run, backoff=0).run()
    assert psa.sent == 3 and psa.lines == {"L1": 12, "ADD-new": 3}
    assert out.failed == 0 and {r.state for r in store.journal(run)} == {DONE}


async def test_no_answer_and_not_found_stops_the_run_and_the_next_apply_finishes() -> None:
    store = Store(":memory:")
    psa = LossyPsa({"L1": 10}, land=False, answered=False)
    p = plan(item("ADD", 0, 3, Action.ADD))
    run = store.start_run("job", "Job", "connectwise-manage", "apply")
    applier = Applier(p, psa, store, run)
    try:
        await applier.run()
        raise AssertionError("the run should stop")
    except RemoteError as exc:
        assert exc.maybe_landed
    assert psa.sent == 1 and "ADD-new" not in psa.lines             # not sent again blind
    assert [e.code for e in applier.outcome.entries] == ["TU10"]
    assert [r.state for r in store.journal(run)] == [SENT]
    # Later, the write has not landed: the resume re-reads, then sends it once.
    await Applier(plan(item("ADD", 0, 3, Action.ADD)), psa, store, run).run()
    assert psa.sent == 2 and psa.lines["ADD-new"] == 3


async def test_revert_re_reads_writes_left_sent_and_a_second_revert_writes_nothing() -> None:
    store = Store(":memory:")
    psa = FakePsa({"L1": 10, "L2": 5})
    added = item("ADD", 0, 3, Action.ADD)
    added.line_id = ""                                            # as planned additions are
    p = plan(item("L1", 10, 12), item("L2", 5, 8), added)
    run = await killed_after_two_writes_landed(store, psa, p)
    back = store.start_run("job", "Job", "connectwise-manage", "revert", of_run=run)
    out = await revert(store.journal(run), psa, store, back, run)
    assert psa.lines == {"L1": 10, "L2": 5, "ADD-new": 0}
    assert sorted(e.code for e in out.entries) == ["TU06", "TU06", "TU12"]
    assert "2 line(s) restored" in out.entries[-1].message
    psa.writes.clear()
    again = store.start_run("job", "Job", "connectwise-manage", "revert", of_run=run)
    out = await revert(store.journal(run), psa, store, again, run)
    assert psa.writes == [] and [e.code for e in out.entries] == ["TU12"]
    assert "0 line(s) restored, 2 already as before" in out.entries[0].message
    assert store.unfinished_apply("job") is None                   # the revert closed it


async def test_a_redacted_session_error_still_says_the_write_may_have_landed() -> None:
    """Wrappers reword errors (redaction, hints); losing `maybe_landed` on the way would
    turn "re-read and decide" back into a blind failure."""
    from atria_tui.services.psa import RedactingSession

    psa = LossyPsa({"L1": 10}, land=True, answered=True)
    session = RedactingSession(psa, lambda text: text.replace("lost", "[redacted]"))  # type: ignore[arg-type]
    try:
        await session.set_quantity("c1", "L1", Decimal(12))
        raise AssertionError("expected the lost answer")
    except RemoteError as exc:
        assert exc.maybe_landed and exc.answered and "[redacted]" in exc.message


async def test_the_first_connection_failure_stops_the_run_instead_of_failing_every_line(
        ) -> None:
    class DownPsa(FakePsa):
        async def set_quantity(self, contract_id: str, line_id: str, quantity: Decimal
                               ) -> None:
            self.writes.append((line_id, quantity))
            raise RemoteError("connect", "GET x: cannot connect: refused")

    store = Store(":memory:")
    lines = {f"L{n}": 1 for n in range(40)}
    psa = DownPsa(lines)
    run = store.start_run("job", "Job", "connectwise-manage", "apply")
    applier = Applier(plan(*(item(k, 1, 2) for k in lines)), psa, store, run, concurrency=4)
    try:
        await applier.run()
        raise AssertionError("the run should stop")
    except RemoteError as exc:
        assert exc.kind == "connect"
    assert len(psa.writes) <= 4                          # the slots already in flight, no more
    assert not [e for e in applier.outcome.entries if e.level is Level.ERROR]
    assert {r.state for r in store.journal(run)} <= {"pending", "sent"}   # all resumable


async def test_revert_reports_its_progress_line_by_line() -> None:
    """A revert over a slow PSA shows lines going by, not one still "Reverting…"."""
    store = Store(":memory:")
    psa = FakePsa({"L1": 10, "L2": 5, "L3": 1})
    run = store.start_run("job", "Job", "connectwise-manage", "apply")
    await Applier(plan(item("L1", 10, 12), item("L2", 5, 8), item("L3", 1, 2)), psa, store,
                  run).run()
    back = store.start_run("job", "Job", "connectwise-manage", "revert", of_run=run)
    ticks: list[tuple[int, int]] = []
    await revert(store.journal(run), psa, store, back, run,
                 progress=lambda done, total: ticks.append((done, total)))
    assert ticks == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert psa.lines == {"L1": 10, "L2": 5, "L3": 1}


async def test_a_revert_after_a_sku_fix_names_the_psa_product_it_set_back() -> None:
    store = Store(":memory:")
    psa = FakePsa({"L1": 10})
    fixed = item("L1", 10, 12)
    fixed.sku = "LEGACY-FAX"                      # Atria's SKU; the line is product L1
    run = store.start_run("job", "Job", "connectwise-manage", "apply")
    await Applier(plan(fixed), psa, store, run).run()
    back = store.start_run("job", "Job", "connectwise-manage", "revert", of_run=run)
    out = await revert(store.journal(run), psa, store, back, run)
    (restored,) = [e for e in out.entries if e.code == "TU06"]
    assert "Product ID L1 (Atria SKU LEGACY-FAX) set back from 12.00 to 10.00" in \
        restored.message
    assert restored.sku == "LEGACY-FAX" and psa.lines == {"L1": 10}


async def test_after_a_sku_fix_every_apply_code_names_the_psa_product() -> None:
    """TU01 (conflict), TU04 (not approved) and TU08 (write failed) name the product the
    write was for, not only the Atria SKU the clerk fixed (console review, defect 2)."""
    store = Store(":memory:")
    psa = FakePsa({"L1": 10, "L2": 5, "L3": 7})
    psa.lines["L1"] = Decimal(11)                 # edited since the preview: TU01
    psa.fail.add("L3")                            # TU08
    rows = [item("L1", 10, 12), item("L2", 5, 8, approved=False), item("L3", 7, 9)]
    for n, row in enumerate(rows):
        row.sku = f"FAX-{n}"                      # Atria's SKU, mapped to product L1..L3
    run = store.start_run("job", "Job", "connectwise-manage", "apply")
    out = await Applier(plan(*rows), psa, store, run).run()
    by_code = {e.code: e for e in out.entries}
    assert "Product ID L1 (Atria SKU FAX-0)" in by_code["TU01"].message
    assert "Product ID L2 (Atria SKU FAX-1)" in by_code["TU04"].message
    assert "Product ID L3 (Atria SKU FAX-2)" in by_code["TU08"].message
    assert [by_code[c].sku for c in ("TU01", "TU04", "TU08")] == ["FAX-0", "FAX-1", "FAX-2"]


def unchanged(n: int) -> PlanItem:
    return PlanItem(key=f"u-{n}", customer_code=f"C{n}", customer_name="Same", sku="M365",
                    billing_identifier=f"C{n}", description="M365", atria_quantity=Decimal(5),
                    psa_quantity=Decimal(5), action=Action.NONE, code="CW09",
                    level=Level.VERBOSE, message=f"C{n} located – quantity is unchanged",
                    contract_id=f"c{n}", line_id=f"U{n}", product_id="p", product_code="M365")


async def test_an_apply_logs_its_writes_and_counts_the_unchanged_lines() -> None:
    store = Store(":memory:")
    psa = FakePsa({"L1": 10, "L2": 5, "L3": 7})
    missing = PlanItem(key="w-1", customer_code="ASP", customer_name="Acme", sku="FAX",
                       billing_identifier="A", description="Fax", atria_quantity=Decimal(1),
                       psa_quantity=None, action=Action.SKIP, code="CW22",
                       level=Level.WARNING, message="Contract Line Missing in ConnectWise")
    p = plan(*(unchanged(n) for n in range(500)), item("L1", 10, 12), missing,
             *(unchanged(n) for n in range(500, 1000)), item("L2", 5, 8), item("L3", 7, 0))
    run = store.start_run("job", "Job", "connectwise-manage", "apply")
    streamed: list[str] = []

    def sink(entry: LogEntry, _item: PlanItem | None) -> None:
        streamed.append(entry.code)
        store.queue_log(run, [entry])

    out = await Applier(p, psa, store, run, sink=sink, plan_run=41).run()
    assert sorted(psa.writes) == [("L1", Decimal(12)), ("L2", Decimal(8)), ("L3", Decimal(0))]
    assert sorted(streamed) == ["CW07", "CW07", "CW07", "CW22", "TU17"]  # as they happened
    summary = next(e for e in out.entries if e.code == "TU17")
    assert summary.message == ("1000 line(s) unchanged (CW09: Contract Line has no changes); "
                               "the plan of run 41 lists them")
    assert summary.level is Level.INFO
    assert [e.code for e in store.log(run)] == [e.code for e in out.entries]
    assert len(store.journal(run)) == 3 and {r.state for r in store.journal(run)} == {DONE}
    assert {i.status for i in p.items if i.action is Action.NONE} == {Status.UNCHANGED}
    assert (out.applied, out.unchanged) == (3, 0)


async def test_a_done_write_is_stored_with_its_log_entry() -> None:
    """The store commits queued entries with the journal change: `done` never stands in the
    journal without the write's entry in the log."""
    store = Store(":memory:")
    psa = FakePsa({"L1": 10})
    run = store.start_run("job", "Job", "connectwise-manage", "apply")
    seen: list[tuple[str, int]] = []

    def sink(entry: LogEntry, _item: PlanItem | None) -> None:
        store.queue_log(run, [entry])
        seen.append((entry.code, store._db.execute("SELECT count(*) FROM log").fetchone()[0]))

    await Applier(plan(item("L1", 10, 12)), psa, store, run, sink=sink).run()
    assert seen == [("CW07", 0)]  # queued, not committed on its own
    row = store._db.execute("SELECT count(*) FROM log").fetchone()[0]
    assert row == 1 and store.journal(run)[0].state == DONE


def stored(store: Store) -> int:
    return int(store._db.execute("SELECT count(*) FROM log").fetchone()[0])


def test_queued_log_entries_are_stored_in_batches_with_transactions_and_on_reading(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from atria_tui.engine import store as store_module

    monkeypatch.setattr(store_module, "LOG_BATCH", 10)
    store = Store(":memory:")
    run = store.start_run("job", "Job", "connectwise-manage", "apply")
    entry = LogEntry("CW09", Level.VERBOSE, "unchanged")
    store.queue_log(run, [entry] * 9)
    assert stored(store) == 0                     # waiting for a batch or a transaction
    store.queue_log(run, [entry])
    assert stored(store) == 10                    # a full batch, one transaction
    store.queue_log(run, [entry] * 3)
    store.journal_add(run, [])                    # any transaction carries the queue
    assert stored(store) == 13
    store.queue_log(run, [entry] * 2)
    assert len(store.log(run)) == 15              # reading stores what is queued first


def test_a_lone_entry_after_a_quiet_spell_is_stored_at_once() -> None:
    from atria_tui.engine.store import LOG_BATCH_SECONDS

    store = Store(":memory:")
    run = store.start_run("job", "Job", "connectwise-manage", "plan")
    store._committed_at -= LOG_BATCH_SECONDS  # the last commit was that long ago
    store.queue_log(run, [LogEntry("CW01", Level.INFO, "started")])
    assert stored(store) == 1
