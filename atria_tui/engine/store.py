"""Run history, the log of every run, and the write journal, in one SQLite file.

The journal is what makes apply safe to interrupt: every write is recorded as `pending`
before it is sent and marked `done` after, so a run killed midway can be finished later
without writing anything twice, and a finished run can be reverted from its
before/after quantities.

`read_lines` keeps the contract lines a plan read, so a plan stopped part-way through a
budget-bound read (Kaseya: one call per contract, 1,500 an hour) resumes where it stopped;
only plans read from it, never a write.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import TracebackType

from atria_tui.core.model import Level, LogEntry
from atria_tui.core.paths import private_dir, private_file

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL, label TEXT NOT NULL, task TEXT NOT NULL,
    kind TEXT NOT NULL, period_end TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT,
    plan_json TEXT, of_run INTEGER, owner TEXT NOT NULL DEFAULT '',
    written INTEGER, money TEXT
);
CREATE TABLE IF NOT EXISTS log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    time TEXT NOT NULL, level TEXT NOT NULL, code TEXT NOT NULL,
    customer TEXT NOT NULL, sku TEXT NOT NULL, message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS log_run ON log(run_id, id);
CREATE TABLE IF NOT EXISTS journal (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    item_key TEXT NOT NULL, action TEXT NOT NULL,
    customer TEXT NOT NULL, sku TEXT NOT NULL, description TEXT NOT NULL,
    contract_id TEXT NOT NULL, line_id TEXT NOT NULL, product_id TEXT NOT NULL,
    product_code TEXT NOT NULL,
    before TEXT NOT NULL, after TEXT NOT NULL,
    state TEXT NOT NULL, error TEXT NOT NULL DEFAULT '', updated_at TEXT NOT NULL,
    UNIQUE(run_id, item_key)
);
CREATE TABLE IF NOT EXISTS plan_parts (
    run_id INTEGER NOT NULL REFERENCES runs(id), seq INTEGER NOT NULL, text TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE TABLE IF NOT EXISTS read_lines (
    job_id TEXT NOT NULL, tenant TEXT NOT NULL, period_end TEXT NOT NULL,
    contract_id TEXT NOT NULL, read_at TEXT NOT NULL, lines TEXT NOT NULL,
    PRIMARY KEY (job_id, tenant, period_end, contract_id)
);
"""

RUNNING = "Running"
SUCCESS = "Success"
WARNINGS = "Success with warnings"
ERRORS = "Completed with errors"
FAILED = "Failed"
INTERRUPTED = "Interrupted"

_INSERT_LOG = ("INSERT INTO log(run_id,time,level,code,customer,sku,message) "
               "VALUES (?,?,?,?,?,?,?)")

# journal states
PENDING, SENT, DONE, CONFLICT, ERROR, GONE = "pending", "sent", "done", "conflict", "failed", \
    "gone"


OWNER = f"{socket.gethostname()}:{os.getpid()}"


def _gone(owner: str) -> bool:
    """True when `owner` (host:pid) is a process of this host that no longer exists."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or os.name != "posix":
        return False  # another host's, a pre-owner row, or no safe liveness test here
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


# How long a write waits for another process (the console, a cron run) to finish its own.
BUSY_TIMEOUT = 5.0

# Queued log entries are stored with the next transaction of the store (a journal row's
# `sent` or `done` among them), or on their own once this many wait, or at once when the
# store has committed nothing for this long (a lone entry after a quiet spell is not held
# back): a commit per entry made a big apply's cost follow its plan's size.
LOG_BATCH = 500
LOG_BATCH_SECONDS = 1.0


class StoreError(Exception):
    """The database cannot be used: one line naming the file and what is wrong with it."""


# SQLite's primary result codes (the low byte of an extended code).
_SQLITE_PROBLEMS = {
    5: "locked by another process for more than {timeout:g} s (another atria-tui run or the "
       "console is writing to it); try again when it has finished",  # SQLITE_BUSY
    6: "locked by another process for more than {timeout:g} s",  # SQLITE_LOCKED
    8: "read-only: atria-tui cannot write its run history there (check the file's and the "
       "folder's permissions)",  # SQLITE_READONLY
    10: "a disk read or write failed (I/O error)",  # SQLITE_IOERR
    11: "not a database or damaged; move it aside to start a new history",  # SQLITE_CORRUPT
    13: "disk full: free some space and run again",  # SQLITE_FULL
    14: "cannot be opened (check that its folder exists and is writable)",  # SQLITE_CANTOPEN
    26: "not a database or damaged; move it aside to start a new history",  # SQLITE_NOTADB
}


def store_error(path: Path | str, exc: BaseException) -> StoreError:
    """A sqlite3 or OS error as one line: the database file and what is wrong with it."""
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        template = _SQLITE_PROBLEMS.get(code & 0xFF) if isinstance(code, int) else None
        text = template.format(timeout=BUSY_TIMEOUT) if template else f"database error: {exc}"
    elif isinstance(exc, OSError):
        text = f"cannot be created or opened: {exc.strerror or exc}"
        if exc.filename is not None and str(exc.filename) != str(path):
            text += f" ({exc.filename})"
    else:
        text = f"cannot be used: {exc}"
    return StoreError(f"run history database {path}: {text}")


class _Guard:
    """The store's lock, which also turns a sqlite3 error raised while it is held into a
    StoreError, so every statement (read or write) fails with the file's name and a
    reason, never with a bare `sqlite3.OperationalError`."""

    def __init__(self, path: str) -> None:
        self._lock = threading.RLock()
        self._path = path

    def __enter__(self) -> None:
        self._lock.acquire()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._lock.release()
        if isinstance(exc, sqlite3.Error):
            raise store_error(self._path, exc) from exc


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class RunRow:
    id: int
    job_id: str
    label: str
    task: str
    kind: str
    period_end: str
    status: str
    started_at: str
    finished_at: str | None
    of_run: int | None
    # What an apply or revert changed in the PSA: lines written and their Δ money (a
    # Decimal as text); None for a plan, or a run from before runs kept totals.
    written: int | None = None
    money: str | None = None


@dataclass(frozen=True, slots=True)
class JournalRow:
    id: int
    run_id: int
    item_key: str
    action: str
    customer: str
    sku: str
    description: str
    contract_id: str
    line_id: str
    product_id: str
    product_code: str
    before: Decimal
    after: Decimal
    state: str
    error: str


class Store:
    """Thread-safe: the console's worker threads and the UI thread share one connection."""

    def __init__(self, path: Path | str, *, clock: Callable[[], datetime] = utc_now) -> None:
        """Raises StoreError when the file is damaged, locked, read-only or unreachable.
        `clock` stamps runs, log entries and journal rows; a runtime sets its own."""
        self.path = str(path)
        self.clock = clock
        self._lock = _Guard(self.path)
        self._queued: list[tuple[object, ...]] = []  # log rows not stored yet (queue_log)
        self._committed_at = 0.0  # time.monotonic() of the last commit
        on_disk = self.path != ":memory:"
        try:
            if on_disk:
                folder = Path(path).parent
                if folder.exists() and not folder.is_dir():
                    raise StoreError(f"run history database {path}: {folder} is a file, not "
                                     "a folder (check ATRIA_TUI_HOME)")
                private_dir(folder)
                private_file(Path(path))
            self._db = sqlite3.connect(self.path, check_same_thread=False,
                                       isolation_level=None, timeout=BUSY_TIMEOUT)
        except (OSError, ValueError, sqlite3.Error) as exc:
            raise store_error(path, exc) from exc
        try:
            with self._lock:
                self._db.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT * 1000)}")
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.executescript(SCHEMA)
                cols = {r[1] for r in self._db.execute("PRAGMA table_info(runs)")}
                if "owner" not in cols:  # a database made before runs knew their process
                    self._db.execute("ALTER TABLE runs ADD COLUMN owner TEXT NOT NULL "
                                     "DEFAULT ''")
                if "written" not in cols:  # made before runs kept their totals
                    self._db.execute("ALTER TABLE runs ADD COLUMN written INTEGER")
                    self._db.execute("ALTER TABLE runs ADD COLUMN money TEXT")
                if self._db.execute("PRAGMA user_version").fetchone()[0] < 1:
                    # this tool's own codes were AT01…AT20 (read as "Autotask"): old rows
                    # take today's names so a filter finds old and new runs alike
                    self._db.execute("UPDATE log SET code='TU'||substr(code,3) "
                                     "WHERE code GLOB 'AT[0-2][0-9]'")
                    self._db.execute("PRAGMA user_version=1")
        except StoreError:
            self._db.close()
            raise
        for extra in ("-wal", "-shm") if on_disk else ():
            with contextlib.suppress(OSError):
                if Path(f"{path}{extra}").exists():
                    private_file(Path(f"{path}{extra}"))

    def _stamp(self) -> str:
        return self.clock().astimezone(UTC).isoformat(timespec="seconds")

    def close(self) -> None:
        with self._lock:
            with contextlib.suppress(StoreError):
                self.flush_log()
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One transaction, carrying the queued log entries with it: a journal row marked
        `done` is committed together with every entry logged before it."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            queued, self._queued = self._queued, []
            try:
                if queued:
                    self._db.executemany(_INSERT_LOG, queued)
                yield self._db
                self._db.execute("COMMIT")
                self._committed_at = time.monotonic()
            except BaseException:
                self._queued = queued + self._queued  # kept for the next transaction
                # After a failed COMMIT (disk full) SQLite may have rolled back already;
                # the error worth reporting is the first one.
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                raise

    # -- runs ----------------------------------------------------------------------------------

    def start_run(self, job_id: str, label: str, task: str, kind: str, period_end: str = "",
                  plan_json: str | None = None, of_run: int | None = None) -> int:
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO runs(job_id,label,task,kind,period_end,status,started_at,"
                "plan_json,of_run,owner) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (job_id, label, task, kind, period_end, RUNNING, self._stamp(), plan_json, of_run,
                 OWNER))
            return int(cur.lastrowid or 0)

    def set_plan(self, run_id: int, parts: Sequence[str], period_end: str) -> None:
        """Keep a run's plan: its header line in the run's row, its item lines in parts
        (`serialize.plan_to_json`), so no statement binds a whole 50,000-row plan."""
        with self._tx() as db:
            db.execute("UPDATE runs SET plan_json=?, period_end=? WHERE id=?",
                       (parts[0] if parts else None, period_end, run_id))
            db.execute("DELETE FROM plan_parts WHERE run_id=?", (run_id,))
            db.executemany("INSERT INTO plan_parts(run_id,seq,text) VALUES (?,?,?)",
                           ((run_id, n, text) for n, text in enumerate(parts[1:], 1)))

    def reopen_run(self, run_id: int) -> None:
        with self._tx() as db:
            db.execute("UPDATE runs SET status=?, finished_at=NULL, owner=? WHERE id=?",
                       (RUNNING, OWNER, run_id))

    def set_totals(self, run_id: int, written: int, money: Decimal) -> None:
        """What a run changed in the PSA, for the run history (counted once, when it ends)."""
        with self._tx() as db:
            db.execute("UPDATE runs SET written=?, money=? WHERE id=?",
                       (written, str(money), run_id))

    def finish_run(self, run_id: int, status: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE runs SET status=?, finished_at=? WHERE id=?",
                       (status, self._stamp(), run_id))

    def plan_json(self, run_id: int) -> list[str] | None:
        """A run's stored plan as parts (`serialize.plan_from_json` reads them); a plan
        stored before parts existed is one part holding everything."""
        with self._lock:
            row = self._db.execute("SELECT plan_json FROM runs WHERE id=?", (run_id,)).fetchone()
            if not row or row[0] is None:
                return None
            rest = self._db.execute("SELECT text FROM plan_parts WHERE run_id=? ORDER BY seq",
                                    (run_id,)).fetchall()
        return [row[0], *(r[0] for r in rest)]

    def run(self, run_id: int) -> RunRow | None:
        rows = self._runs("WHERE id=?", (run_id,))
        return rows[0] if rows else None

    def runs(self, job_id: str | None = None, limit: int = 200) -> list[RunRow]:
        if job_id is None:
            return self._runs("ORDER BY id DESC LIMIT ?", (limit,))
        return self._runs("WHERE job_id=? ORDER BY id DESC LIMIT ?", (job_id, limit))

    def _runs(self, where: str, args: tuple[object, ...]) -> list[RunRow]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id,job_id,label,task,kind,period_end,status,started_at,finished_at,"
                f"of_run,written,money FROM runs {where}", args).fetchall()
        return [RunRow(*r) for r in rows]

    def unfinished_apply(self, job_id: str) -> RunRow | None:
        """The newest apply of this job that stopped with writes still pending, if any.

        Killed (left `Running`/`Interrupted`) or stopped (`Failed`: the PSA went out of
        reach, its budget ran out, a write's answer was lost): either way the reviewed plan
        is finished, re-reading each line first. Only apply runs are resumed by apply, and
        not one reverted since: a revert closes its apply (resuming it would re-send the
        plan that was just taken back), nor one a newer apply of the job has superseded.
        """
        rows = self._runs(
            "WHERE job_id=? AND kind='apply' AND status IN (?,?,?) AND EXISTS "
            "(SELECT 1 FROM journal j WHERE j.run_id=runs.id AND j.state IN (?,?)) "
            "AND NOT EXISTS (SELECT 1 FROM runs r WHERE (r.of_run=runs.id AND r.kind='revert')"
            " OR (r.job_id=runs.job_id AND r.kind='apply' AND r.id>runs.id))"
            " ORDER BY id DESC LIMIT 1", (job_id, RUNNING, INTERRUPTED, FAILED, PENDING, SENT))
        return rows[0] if rows else None

    def reverts_of(self, run_id: int) -> list[RunRow]:
        return self._runs("WHERE of_run=? AND kind='revert' ORDER BY id", (run_id,))

    def interrupt_writers(self, job_id: str) -> None:
        """Apply/revert runs of a job left `Running` are interrupted, not live.

        Called only while holding the job's lock: nobody else can be executing them then.
        """
        with self._tx() as db:
            db.execute("UPDATE runs SET status=? WHERE status=? AND job_id=? "
                       "AND kind IN ('apply','revert')", (INTERRUPTED, RUNNING, job_id))

    def reap(self, writer_free: Callable[[str], bool]) -> None:
        """Mark runs left `Running` by a process that is gone as interrupted.

        A write run is interrupted only when nobody holds its job's lock
        (`writer_free(job_id)`); a plan run when its process, on this host, is dead. A
        live run of another process is never touched (every command used to mark all
        `Running` runs interrupted, so the next apply "resumed" a run still executing).
        """
        with self._lock:
            rows = self._db.execute("SELECT id, job_id, kind, owner FROM runs WHERE status=?",
                                    (RUNNING,)).fetchall()
        dead = [rid for rid, job_id, kind, owner in rows
                if (writer_free(job_id) if kind in ("apply", "revert") else _gone(owner))]
        if dead:
            with self._tx() as db:
                db.executemany("UPDATE runs SET status=? WHERE id=? AND status=?",
                               [(INTERRUPTED, rid, RUNNING) for rid in dead])

    # -- log --------------------------------------------------------------------------------

    def _log_rows(self, run_id: int, entries: Iterable[LogEntry]) -> list[tuple[object, ...]]:
        return [(run_id, (e.time or self.clock()).isoformat(timespec="seconds"),
                 e.level.value, e.code, e.customer, e.sku, e.message) for e in entries]

    def add_log(self, run_id: int, entries: Iterable[LogEntry]) -> None:
        """Store `entries` now, in one transaction (with any queued before them)."""
        rows = self._log_rows(run_id, entries)
        if not rows:
            return
        with self._tx() as db:
            db.executemany(_INSERT_LOG, rows)

    def queue_log(self, run_id: int, entries: Iterable[LogEntry]) -> None:
        """Store `entries` with the next transaction, or in a batch of their own once
        LOG_BATCH wait or nothing was committed for LOG_BATCH_SECONDS. Reading a log,
        closing the store and `flush_log` store them too; a process killed before that
        loses them, never a journal state (each journal change is its own transaction)."""
        rows = self._log_rows(run_id, entries)
        with self._lock:
            self._queued += rows
            if (len(self._queued) >= LOG_BATCH
                    or time.monotonic() - self._committed_at >= LOG_BATCH_SECONDS):
                self.flush_log()

    def flush_log(self) -> None:
        """Store the queued log entries now."""
        with self._lock:
            if self._queued:
                with self._tx():
                    pass  # _tx stores the queue

    def log(self, run_id: int) -> list[LogEntry]:
        self.flush_log()
        with self._lock:
            rows = self._db.execute("SELECT code,level,message,customer,sku,time FROM log "
                                    "WHERE run_id=? ORDER BY id", (run_id,)).fetchall()
        return [LogEntry(c, Level(lv), m, cu, s, datetime.fromisoformat(t))
                for c, lv, m, cu, s, t in rows]

    # -- journal ----------------------------------------------------------------------------

    def journal_add(self, run_id: int, rows: Iterable[tuple[str, ...]]) -> None:
        """Rows: (item_key, action, customer, sku, description, contract_id, line_id,
        product_id, product_code, before, after); existing keys are left as they are."""
        stamp = self._stamp()
        with self._tx() as db:
            db.executemany(
                "INSERT OR IGNORE INTO journal(run_id,item_key,action,customer,sku,description,"
                "contract_id,line_id,product_id,product_code,before,after,state,updated_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [(run_id, *r, PENDING, stamp) for r in rows])

    def journal(self, run_id: int) -> list[JournalRow]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id,run_id,item_key,action,customer,sku,description,contract_id,line_id,"
                "product_id,product_code,before,after,state,error FROM journal WHERE run_id=? "
                "ORDER BY id", (run_id,)).fetchall()
        return [JournalRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10],
                           Decimal(r[11]), Decimal(r[12]), r[13], r[14]) for r in rows]

    def journal_set(self, row_id: int, state: str, error: str = "",
                    line_id: str | None = None) -> None:
        with self._tx() as db:
            if line_id is None:
                db.execute("UPDATE journal SET state=?, error=?, updated_at=? WHERE id=?",
                           (state, error, self._stamp(), row_id))
            else:
                db.execute("UPDATE journal SET state=?, error=?, line_id=?, updated_at=? "
                           "WHERE id=?", (state, error, line_id, self._stamp(), row_id))

    def managed_lines(self, job_id: str) -> set[str]:
        """PSA lines this job has written before: they stay managed (design rule 6)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT j.line_id FROM journal j JOIN runs r ON r.id=j.run_id "
                "WHERE r.job_id=? AND j.state=? AND j.line_id<>''", (job_id, DONE)).fetchall()
        return {r[0] for r in rows}

    # -- lines a plan read (resumable reads) -----------------------------------------------------

    def keep_lines(self, job_id: str, tenant: str, period_end: str, contract_id: str,
                   lines: str) -> None:
        """One contract's lines as read now (`lines`: the caller's JSON). `tenant` (the
        PSA's URL) keeps a job pointed at another tenant from reusing the first one's
        contract ids."""
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO read_lines(job_id,tenant,period_end,"
                       "contract_id,read_at,lines) VALUES (?,?,?,?,?,?)",
                       (job_id, tenant, period_end, contract_id, self._stamp(), lines))

    def kept_lines(self, job_id: str, tenant: str, period_end: str, since: datetime
                   ) -> dict[str, tuple[str, str]]:
        """contract id → (read at, lines JSON) of the lines read since `since`; the job's
        older ones are dropped (no plan would use them, and a big tenant's add up)."""
        stamp = since.astimezone(UTC).isoformat(timespec="seconds")
        with self._tx() as db:
            db.execute("DELETE FROM read_lines WHERE job_id=? AND read_at<?", (job_id, stamp))
        with self._lock:
            rows = self._db.execute(
                "SELECT contract_id, read_at, lines FROM read_lines WHERE job_id=? AND "
                "tenant=? AND period_end=? AND read_at>=?",
                (job_id, tenant, period_end, stamp)).fetchall()
        return {r[0]: (r[1], r[2]) for r in rows}

    def forget_lines(self, job_id: str) -> None:
        """A write run is starting: what a plan read may no longer be what the PSA holds."""
        with self._tx() as db:
            db.execute("DELETE FROM read_lines WHERE job_id=?", (job_id,))
