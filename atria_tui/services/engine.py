"""Plan, apply and revert a job: the one engine behind the CLI, cron and the console.

A run's steps follow the seeds' order of checks (billing period, ApiUrl, secrets, Atria,
PSA), and each failure ends the run with the seed's code for it and a closing
CW23/KS24, never a traceback. The PSA is read once per plan; `PlanContext` keeps what was
read so the console can re-plan after a fix without another request (but for the lines of
an account the fix names that no billed customer claimed: `fixes.read_lines_for`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, ParamSpec, TypeVar

from atria_tui.adapters.paging import Deadline
from atria_tui.core import codes
from atria_tui.core.export import places_of
from atria_tui.core.model import (
    ZERO,
    BillingRecord,
    Level,
    LogEntry,
    Mappings,
    Plan,
    PlanItem,
    PsaSnapshot,
    Status,
)
from atria_tui.core.records import RecordsError, iter_records, sum_records
from atria_tui.core.serialize import notes_from_json, plan_from_json, plan_to_json
from atria_tui.engine.apply import Applier, ApplyOutcome, revert
from atria_tui.engine.reconcile import (
    PlanBuilder,
    ReconcileParams,
    hold_for_review,
    plan_entries,
    scope,
)
from atria_tui.engine.secret_store import SecretError, redact_forms, secret_forms
from atria_tui.engine.store import DONE, ERRORS, FAILED, INTERRUPTED, SUCCESS, WARNINGS
from atria_tui.job.file import JobConfig
from atria_tui.job.parameters import ConfigError
from atria_tui.psa import profile_of
from atria_tui.psa.errors import RemoteError
from atria_tui.psa.session import BudgetView
from atria_tui.services.psa import (
    KeptLines,
    PsaSession,
    RedactingSession,
    open_session,
    secret_texts,
)
from atria_tui.services.run_checks import (
    RunAbort,
    connect_hint,
    load_job_mappings,
    prepare,
    psa_abort,
    resolve_secrets,
)
from atria_tui.services.runtime import Runtime

Sink = Callable[[LogEntry, PlanItem | None], Awaitable[None] | None]
Progress = Callable[[str, int, int], None]


@dataclass
class PlanContext:
    """Everything a plan was made from: re-planning after a fix costs no PSA request, and
    only the customers the fix touches are planned again (`PlanBuilder`)."""

    job: JobConfig
    params: ReconcileParams
    records: list[BillingRecord]
    snapshot: PsaSnapshot
    mappings: Mappings
    builder: PlanBuilder | None = field(default=None, repr=False)

    def replan(self, mappings: Mappings | None = None) -> Plan:
        if mappings is not None:
            self.mappings = mappings
        if self.builder is None:
            self.builder = PlanBuilder(self.records, self.snapshot, self.params)
        return self.builder.plan(self.mappings)


@dataclass
class RunResult:
    run_id: int
    job: JobConfig
    status: str
    entries: list[LogEntry]
    plan: Plan | None = None
    context: PlanContext | None = None
    outcome: ApplyOutcome | None = None
    requests: int = 0
    fatal: LogEntry | None = None

    def __repr__(self) -> str:
        # Short on purpose: `asyncio.run` reprs its finished main task (and so this, its
        # result) when it restores the SIGINT handler, and the generated repr of a
        # 5,000-customer plan walked ~270,000 objects: 2 s of CPU at every plan's end.
        return (f"RunResult(run_id={self.run_id}, status={self.status!r}, "
                f"entries={len(self.entries)}, requests={self.requests})")

    @property
    def exit_code(self) -> int:
        """0 completed (warnings allowed); 2 ended on an error, or a change was not written."""
        if self.fatal is not None or self.status == FAILED:
            return 2
        if self.outcome and self.outcome.failed:
            return 2
        return 0


def status_of(entries: list[LogEntry], fatal: LogEntry | None) -> str:
    if fatal is not None:
        return FAILED
    if any(e.level is Level.ERROR for e in entries):
        return ERRORS
    if any(e.level.rank >= Level.WARNING.rank for e in entries):
        return WARNINGS
    return SUCCESS


_P = ParamSpec("_P")
_R = TypeVar("_R")
_OPENED: ContextVar[list[_Run] | None] = ContextVar("atria_runs_opened", default=None)


def _never_left_running(fn: Callable[_P, Coroutine[Any, Any, _R]]
                        ) -> Callable[_P, Coroutine[Any, Any, _R]]:
    """A bug (an exception no step expects) must not leave its run "Running" until the next
    start-up: a plan that crashed is Failed; an apply or revert is Interrupted, so that its
    pending writes are resumed, not forgotten. The exception still propagates."""

    @functools.wraps(fn)
    async def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        token = _OPENED.set([])
        try:
            return await fn(*args, **kwargs)
        except Exception:
            for run in _OPENED.get() or []:
                run.abandon()
            raise
        finally:
            # Entries still queued are stored whatever ended the run (Ctrl-C included).
            for run in _OPENED.get() or []:
                with contextlib.suppress(Exception):  # the store may be what failed
                    run.svc.store.flush_log()
            _OPENED.reset(token)

    return wrapper


class _Run:
    """One run's bookkeeping: log entries with times, streamed to a sink as they come and
    queued for the store, which commits them in batches and with each journal change.

    `log` is the one door every entry passes before it is stored, streamed or printed, so
    it is where PSA and Atria error text is redacted: with the secrets this run resolved
    and the credentials derived from them (`protect`), and any Bearer/Basic token.
    """

    def __init__(self, svc: Runtime, job: JobConfig, kind: str, sink: Sink | None,
                 of_run: int | None = None, resume: int | None = None) -> None:
        self.svc = svc
        self.job = job
        self.sink = sink
        self.kind = kind
        self.of_run = of_run
        self.finished = False
        self.entries: list[LogEntry] = []
        self._secrets: list[str] = []
        self._forms: tuple[str, ...] | None = None
        self._found: tuple[str, dict[str, str]] | None = None
        self._prepared: tuple[ReconcileParams, str] | None = None
        self.deadline = Deadline.after(job.options.run_deadline_minutes, svc.clock)
        if resume is not None:  # an interrupted run carries on under its own number
            svc.store.reopen_run(resume)
            self.run_id = resume
        else:
            self.run_id = svc.store.start_run(job.key, job.label, job.task.value, kind,
                                              of_run=of_run)
        if kind != "plan":  # its writes may change any line a plan kept (KeptLines)
            svc.store.forget_lines(job.key)
        opened = _OPENED.get()
        if opened is not None:
            opened.append(self)

    def protect(self, values: Iterable[str]) -> None:
        self._secrets.extend(v for v in values if v)
        self._forms = None

    def redact(self, text: str) -> str:
        if self._forms is None:  # once per set of secrets, not per log row
            self._forms = secret_forms(self._secrets)
        return redact_forms(text, self._forms)

    def clean(self, entry: LogEntry) -> LogEntry:
        """`entry` as it may be shown: redacted (and `fatal` results must show this one)."""
        message = self.redact(entry.message)
        return entry if message == entry.message else replace(entry, message=message)

    def resolve_secrets(self, api_url: str) -> dict[str, str]:
        """The run's PSA secrets, read once per run (a plan-and-apply asks twice) and
        protected from the log from then on."""
        if self._found is None or self._found[0] != api_url:
            found = resolve_secrets(self.svc, self.job, api_url)
            self.protect(secret_texts(self.job.task, found))
            self._found = (api_url, found)
        return self._found[1]

    def prepared(self) -> tuple[ReconcileParams, str]:
        if self._prepared is None:
            self._prepared = prepare(self.svc, self.job)
        return self._prepared

    def psa(self, *, reading: bool = False) -> tuple[PsaSession, str]:
        """The job's PSA session and its ApiUrl (checks, secrets and redaction included)."""
        _, api_url = self.prepared()
        return self.open_session(api_url, self.resolve_secrets(api_url), reading=reading), \
            api_url

    def open_session(self, api_url: str, secrets: Mapping[str, str], *,
                     reading: bool = False) -> PsaSession:
        """A redacting session; a `reading` one (the plan's) stops paging at the deadline.
        Apply's session does not: its reads sit between writes, and stopping there would
        leave a run half-written for a limit meant to end runaway reads."""
        extra: dict[str, Any] = {"deadline": self.deadline} if reading else {}
        params, _ = self.prepared()
        extra["period_end"] = params.period.end
        extra["unit_effective"] = (params.period.start
                                   if self.job.options.unit_change_effective == "period_start"
                                   else self.svc.today())
        session = open_session(self.job, api_url, secrets, today=self.svc.today(),
                               transport=self.svc.psa_transport(api_url), **extra)
        return RedactingSession(session, self.redact)

    async def log_connection(self, session: PsaSession) -> None:
        """Say which API base the run uses when the adapter chose it (Kaseya maps the UI
        URL the guide asks for to its API host)."""
        note = getattr(session, "connection_note", None)
        if isinstance(note, tuple) and len(note) == 2:
            await self.log(codes.entry("TU14", psa_name=self.job.task.psa_name,
                                       base=note[0], reason=note[1]))

    async def preflight(self, session: PsaSession) -> None:
        """What an adapter checks before it reads or writes anything, for the run log
        (Autotask: the database's hourly threshold, and this job's share of it); its
        failure ends the run with the code the adapter names."""
        check = getattr(session, "preflight", None)
        if check is None:
            return
        for entry in await check():
            await self.log(entry)

    async def log_notes(self, session: PsaSession) -> None:
        """What an adapter noticed while it worked (Autotask: thread-threshold waits, when
        its changes take effect), logged once, as the adapter words it."""
        notes = getattr(session, "notes", None)
        if notes is None:
            return
        for entry in notes():
            await self.log(entry)

    async def log(self, entry: LogEntry, item: PlanItem | None = None) -> None:
        entry = self.clean(entry)
        stamped = LogEntry(entry.code, entry.level, entry.message, entry.customer, entry.sku,
                           entry.time or self.svc.now())
        if stamped.level.rank < self.job.log_level.rank:
            return
        self.entries.append(stamped)
        self.svc.store.queue_log(self.run_id, [stamped])
        if self.sink:
            result = self.sink(stamped, item)
            if result is not None:
                await result

    async def finish(self, fatal: LogEntry | None) -> str:
        status = status_of(self.entries, fatal)
        end = profile_of(self.job.task).codes.finished
        await self.log(codes.entry(end, result=status))
        self.svc.store.finish_run(self.run_id, status)
        self.finished = True
        return status

    def abandon(self) -> None:
        if self.finished:
            return
        self.finished = True
        with contextlib.suppress(Exception):  # the store may be what failed
            self.svc.store.finish_run(self.run_id, FAILED if self.kind == "plan"
                                      else INTERRUPTED)


async def _read_source(svc: Runtime, run: _Run, params: ReconcileParams
                       ) -> list[BillingRecord]:
    job = run.job
    task = job.task
    try:
        if job.source.kind == "api":
            from atria_tui.adapters.atria import fetch_records

            token = svc.secrets.resolve(job.key, ("AtriaToken",),
                                        env=svc.environ).get("AtriaToken", "")
            token = token or svc.embedded_atria_token(job.source.url)
            run.protect([token])
            return sum_records(await fetch_records(
                job.source.url, token, params.period, params.previous,
                transport=svc.atria_transport_for(job.source.url),
                max_quantity=job.options.max_quantity))
        if job.source.path is None:
            raise RecordsError(str(job.path or "job"), None, "path",
                               "a [source] path to the billing export")
        if job.source.path.exists() and not job.source.path.is_file():
            # /dev/zero or a FIFO would be read forever; a folder has nothing to read.
            raise RecordsError(str(job.source.path), None, None,
                               "a billing file (CSV or JSON), not a folder or device")
        # Streamed and summed as read: a big export costs what its distinct lines cost.
        return sum_records(iter_records(job.source.path, period_end=params.period.end,
                                        previous_end=params.previous.end,
                                        max_quantity=job.options.max_quantity))
    except (RecordsError, OSError, SecretError, RemoteError) as exc:
        text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        if isinstance(exc, OSError) and exc.filename:
            text = f"{exc.filename}: {text}"
        raise RunAbort(codes.entry(profile_of(task).codes.source_unreadable, error=text)) from None


async def _report_reads(session: PsaSession, progress: Progress, psa: str,
                        customers: int) -> None:
    """While the PSA is read (bulk, paged: the snapshot has no page count to give),
    report the pages answered so far, so the bar and its count move during a long read
    rather than sit at 0 %. The total is unknown: 0 (the console shows it moving).
    The pace (requests at once, answers per second) says whether a slow read is the PSA
    holding back (a bound that halved) or just a big tenant."""
    while True:
        await asyncio.sleep(0.25)
        done = session.requests
        pace = session.pace
        speed = (f" ({pace.concurrency} at once, {pace.per_second:.0f} requests/s)"
                 if pace is not None else "")
        progress(f"Reading {psa} for {customers} customer(s): {done} page(s) read so far"
                 f"{speed}{_budget_eta(session.budget_view)}", done, 0)


def _budget_eta(view: BudgetView | None) -> str:
    """How long an hourly call budget makes the rest of the read take, said from the moment
    the contracts to read are known (a big Kaseya tenant's plan takes hours, not a hang)."""
    if view is None or view.to_read <= 0:
        return ""
    where = f"the call budget of {view.per_hour:,}/h for the {view.route} route"
    if view.minutes < 1:
        return f"; {view.to_read:,} call(s) to go, within {where}"
    return f"; {view.to_read:,} call(s) to go: about {view.minutes:.0f} min at {where}"


async def _plan(svc: Runtime, run: _Run, progress: Progress | None, *, keep: bool = False
                ) -> tuple[Plan, PlanContext, int]:
    """`keep`: a plan's own (not apply's) keeps the lines it reads and reuses fresh ones
    (`_kept_lines`)."""
    job = run.job
    params, api_url = run.prepared()
    await run.log(codes.entry(profile_of(job.task).codes.started,
                              period_end=params.period.end.isoformat()))
    if not api_url.strip():
        raise RunAbort(codes.entry(profile_of(job.task).codes.api_url_missing))
    secrets = run.resolve_secrets(api_url)
    if progress:
        progress("Reading Atria billing records", 0, 0)
    svc.store.flush_log()  # stored before the reads, which may take minutes
    records = await _read_source(svc, run, params)
    try:
        mappings = load_job_mappings(svc, job)
    except ConfigError as exc:  # the console's saved fixes: part of the job's configuration
        raise RunAbort(codes.entry(profile_of(job.task).codes.invalid_answer, error=str(exc))) \
            from None
    sc = scope(records, params, mappings)
    session = run.open_session(api_url, secrets, reading=True)
    kept = (_kept_lines(svc, job, session, api_url, params.period.end.isoformat())
            if keep else None)
    await run.log_connection(session)
    svc.store.flush_log()
    ticker: asyncio.Task[None] | None = None
    try:
        if progress:
            progress(f"Reading {job.task.psa_name}", 0, len(sc.identifiers))
            ticker = asyncio.create_task(_report_reads(session, progress, job.task.psa_name,
                                                       len(sc.identifiers)))
        # Only the lines of claimed accounts: a console fix naming another account reads
        # its lines then (`fixes.read_lines_for`), so no run waits for agreements nobody
        # bills (issue 12).
        await run.preflight(session)
        snapshot = await session.snapshot(sc.identifiers, sc.skus, params.contract_type)
        await run.log_notes(session)
    except RemoteError as exc:
        raise psa_abort(job.task, await connect_hint(exc, api_url)) from None
    finally:
        if ticker is not None:
            ticker.cancel()
        requests = session.requests
        await session.aclose()
    if kept is not None and kept.reused:
        since = datetime.fromisoformat(kept.oldest).astimezone(UTC)
        await run.log(codes.entry("TU18", count=kept.reused,
                                  since=f"{since:%Y-%m-%d %H:%M} UTC",
                                  hours=f"{job.options.line_cache_hours:g}"))
    ctx = PlanContext(job, params, records, snapshot, mappings)
    result = ctx.replan()
    return result, ctx, requests


def _kept_lines(svc: Runtime, job: JobConfig, session: PsaSession, api_url: str,
                period_end: str) -> KeptLines | None:
    """Hand the session the lines plans of this job and period kept, when its PSA reads
    under an hourly call budget (elsewhere a read is minutes, and a fresh one is worth
    it) and the job keeps them at all."""
    hours = job.options.line_cache_hours
    use = getattr(session, "use_line_cache", None)
    if hours <= 0 or not profile_of(job.task).call_budget or use is None:
        return None
    kept = KeptLines(svc.store, job.key, api_url.strip(), period_end,
                     svc.now() - timedelta(hours=hours))
    use(kept)
    return kept


@_never_left_running
async def plan_job(svc: Runtime, job: JobConfig, *, sink: Sink | None = None,
                   progress: Progress | None = None) -> RunResult:
    """A dry run: reads Atria and the PSA, writes nothing to the PSA."""
    run = _Run(svc, job, "plan", sink)
    try:
        p, ctx, requests = await _plan(svc, run, progress, keep=True)
    except RunAbort as abort:
        await run.log(abort.entry)
        status = await run.finish(abort.entry)
        return RunResult(run.run_id, job, status, run.entries, fatal=run.clean(abort.entry))
    hold_for_review(p, job.options.swing_threshold)  # the state the console starts from
    svc.store.set_plan(run.run_id, plan_to_json(p), p.period.end.isoformat())
    for e in plan_entries(p, dry=True):
        await run.log(e)
    status = await run.finish(p.fatal)
    return RunResult(run.run_id, job, status, run.entries, p, ctx, requests=requests,
                     fatal=p.fatal)


@_never_left_running
async def apply_job(svc: Runtime, job: JobConfig, *, reviewed: Plan | None = None,
                    sink: Sink | None = None, progress: Progress | None = None,
                    resume: bool = True, approve_all: bool = False,
                    of_run: int | None = None) -> RunResult:
    """Apply a reviewed plan, or resume an interrupted apply, or plan and apply at once.

    Planned at once (no `reviewed` plan), decreases and large swings are held back as the
    console's preview holds them (logged TU04, not written) unless `approve_all`.
`of_run` is the plan run the `reviewed` plan came from: the run history links the two.

    The whole run holds the job's write lock (`JobLocked` if another apply or revert of
    the job is running, in this process or any other): two applies at once each add the
    missing lines, and the customer is billed twice.
    """
    with svc.writer(job, "apply"):
        return await _apply_locked(svc, job, reviewed, sink, progress, resume, approve_all,
                                   of_run)


async def _apply_locked(svc: Runtime, job: JobConfig, reviewed: Plan | None,
                        sink: Sink | None, progress: Progress | None,
                        resume: bool, approve_all: bool = False,
                        of_run: int | None = None) -> RunResult:
    pending = svc.store.unfinished_apply(job.key) if resume and reviewed is None else None
    if pending is not None and pending.period_end != _period_end(svc, job):
        pending = None  # another billing period's plan is never finished into this one
    if pending is not None:
        return await _resume(svc, job, pending.id, sink, progress)
    run = _Run(svc, job, "apply", sink, of_run=of_run if reviewed is not None else None)
    requests = 0
    try:
        if reviewed is None:
            reviewed, _, requests = await _plan(svc, run, progress)
            if not approve_all:
                hold_for_review(reviewed, job.options.swing_threshold)
        else:
            await run.log(codes.entry(profile_of(job.task).codes.started,
                                      period_end=reviewed.period.end.isoformat()))
        svc.store.set_plan(run.run_id, plan_to_json(reviewed), reviewed.period.end.isoformat())
        for e in reviewed.log:
            await run.log(e)
        if reviewed.fatal is not None:
            raise RunAbort(reviewed.fatal)
        outcome, more = await _execute(svc, job, run, reviewed, progress, run.of_run)
    except RunAbort as abort:
        if abort.entry not in run.entries:
            await run.log(abort.entry)
        _record_applied(svc, run.run_id, reviewed)
        status = await run.finish(abort.entry)
        return RunResult(run.run_id, job, status, run.entries, reviewed,
                         fatal=run.clean(abort.entry))
    _record_applied(svc, run.run_id, reviewed)
    status = await run.finish(None)
    return RunResult(run.run_id, job, status, run.entries, reviewed, outcome=outcome,
                     requests=requests + more)


def _record_applied(svc: Runtime, run_id: int, p: Plan | None) -> None:
    """An apply's totals for the run history: the lines now as planned, and their Δ money."""
    if p is None:
        return
    done = [i for i in p.items if i.status is Status.APPLIED and i.action.writes]
    svc.store.set_totals(run_id, len(done), sum((i.money_delta for i in done), ZERO))


def _record_reverted(svc: Runtime, run_id: int, of_run: int) -> None:
    """A revert's totals: the lines it set back, and their Δ money at the prices of the
    plan it took back (a line with no known price counts none)."""
    try:
        p = stored_plan(svc, of_run)
    except StoredPlanError:
        p = None
    prices = {i.key: i.unit_price for i in p.items} if p else {}
    restored = [r for r in svc.store.journal(run_id) if r.state == DONE and not r.error]
    svc.store.set_totals(run_id, len(restored), sum(
        ((r.after - r.before) * prices.get(r.item_key, ZERO) for r in restored), ZERO))


def _period_end(svc: Runtime, job: JobConfig) -> str | None:
    try:
        params, _ = prepare(svc, job)
    except RunAbort:
        return None  # the run will end on the same check, with its code
    return params.period.end.isoformat()


async def _execute(svc: Runtime, job: JobConfig, run: _Run, p: Plan,
                   progress: Progress | None, plan_run: int | None = None
                   ) -> tuple[ApplyOutcome, int]:
    """`plan_run`: the preview the plan came from (default: the apply run, keeping it)."""
    session, api_url = run.psa()
    marks = profile_of(job.task).codes.deprovisioned_bracket
    bracket = (codes.entry(marks[0]), codes.entry(marks[1])) if marks else None

    def tick(done: int, total: int) -> None:
        if progress:
            progress("Applying changes", done, total)

    try:
        await run.preflight(session)
        applier = Applier(p, session, svc.store, run.run_id, sink=run.log,
                          concurrency=job.options.concurrency, progress=tick,
                          retries=job.options.retries, plan_run=plan_run)
        outcome = await applier.run(bracket)
        await run.log_notes(session)
    except RemoteError as exc:
        raise psa_abort(job.task, await connect_hint(exc, api_url), writing=True) from None
    finally:
        requests = session.requests
        await session.aclose()
    return outcome, requests


async def _resume(svc: Runtime, job: JobConfig, run_id: int, sink: Sink | None,
                  progress: Progress | None) -> RunResult:
    text = svc.store.plan_json(run_id)
    run = _Run(svc, job, "apply", sink, resume=run_id)
    try:
        p = _plan_of(run_id, text)
    except StoredPlanError as exc:
        abort = codes.entry(profile_of(job.task).codes.invalid_answer, error=str(exc))
        await run.log(abort)
        return RunResult(run.run_id, job, await run.finish(abort), run.entries,
                         fatal=run.clean(abort))
    # Continue in the interrupted run's journal: its rows say what was already written.
    pending = sum(1 for r in svc.store.journal(run_id) if r.state in ("pending", "sent"))
    await run.log(codes.entry("TU05", run_id=run_id, pending=pending))
    try:
        row = svc.store.run(run_id)
        outcome, requests = await _execute(svc, job, run, p, progress,
                                           row.of_run if row is not None else None)
    except RunAbort as abort:
        await run.log(abort.entry)
        _record_applied(svc, run_id, p)
        return RunResult(run_id, job, await run.finish(abort.entry), run.entries, p,
                         fatal=run.clean(abort.entry))
    _record_applied(svc, run_id, p)
    status = await run.finish(None)
    return RunResult(run_id, job, status, run.entries, p, outcome=outcome, requests=requests)


@_never_left_running
async def revert_run(svc: Runtime, job: JobConfig, run_id: int, *,
                     sink: Sink | None = None, progress: Progress | None = None) -> RunResult:
    """Restore the quantities an apply run changed; lines edited since are left alone.

    Holds the job's write lock like apply. A reverted apply is closed: a later apply
    plans afresh instead of resuming it.
    """
    with svc.writer(job, "revert"):
        return await _revert_locked(svc, job, run_id, sink, progress)


async def _revert_locked(svc: Runtime, job: JobConfig, run_id: int,
                         sink: Sink | None, progress: Progress | None = None) -> RunResult:
    run = _Run(svc, job, "revert", sink, of_run=run_id)
    try:
        session, api_url = run.psa()
    except RunAbort as abort:
        await run.log(abort.entry)
        return RunResult(run.run_id, job, await run.finish(abort.entry), run.entries,
                         fatal=run.clean(abort.entry))
    try:
        def tick(done: int, total: int) -> None:
            if progress:
                progress(f"Reverting run {run_id}", done, total)

        outcome = await revert(svc.store.journal(run_id), session, svc.store, run.run_id,
                               run_id, sink=run.log, progress=tick)
    except RemoteError as exc:
        hinted = await connect_hint(exc, api_url)
        failed = psa_abort(job.task, hinted).entry
        if exc.maybe_landed or exc.kind in ("connect", "timeout"):
            failed = codes.entry(failed.code, error=f"{hinted.message}; run the revert again "
                                 "once the PSA answers: it re-reads each line first")
        failed = run.clean(failed)
        await run.log(failed)
        _record_reverted(svc, run.run_id, run_id)
        return RunResult(run.run_id, job, await run.finish(failed), run.entries, fatal=failed,
                         requests=session.requests)
    finally:
        await session.aclose()
    _record_reverted(svc, run.run_id, run_id)
    status = await run.finish(None)
    return RunResult(run.run_id, job, status, run.entries, outcome=outcome,
                     requests=session.requests)


def stored_notes(svc: Runtime, run_id: int) -> dict[tuple[str, str], str]:
    """The reviewers' notes kept with a run's plan, for its log export."""
    text = svc.store.plan_json(run_id)
    return notes_from_json(text) if text else {}


def stored_places(svc: Runtime, run_id: int) -> dict[tuple[str, str], tuple[str, str]]:
    """(customer, SKU) → (PSA product, agreement/contract) of a run's plan, for its log
    export; an apply run's plan names what was written after a SKU fix, a revert's is
    its apply's. Empty when the run has no readable plan."""
    text = svc.store.plan_json(run_id)
    if not text:
        row = svc.store.run(run_id)
        text = svc.store.plan_json(row.of_run) if row and row.of_run else None
    try:
        return places_of(plan_from_json(text).items) if text else {}
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return {}


class StoredPlanError(Exception):
    """A run's stored plan is missing or cannot be read back (a damaged database)."""


def _plan_of(run_id: int, text: list[str] | None) -> Plan:
    if not text:
        raise StoredPlanError(f"run {run_id}: stored plan missing")
    try:
        return plan_from_json(text)
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise StoredPlanError(f"run {run_id}: its stored plan cannot be read back "
                              f"({type(exc).__name__}); plan again") from None


def stored_plan(svc: Runtime, run_id: int) -> Plan | None:
    """The plan kept with a run (None if it ended before it had one); `StoredPlanError`
    if it is damaged."""
    text = svc.store.plan_json(run_id)
    return _plan_of(run_id, text) if text else None
