"""A database that cannot be used is a StoreError naming the file and the reason."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from atria_tui.core.model import Level, LogEntry
from atria_tui.engine import store as store_module
from atria_tui.engine.store import RUNNING, Store, StoreError


def error_of(fn, *args) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(StoreError) as info:
        fn(*args)
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("content", [os.urandom(5000), b"SQLite format 3\x00" + b"\x07" * 4000,
                                     b"hello"])
def test_a_damaged_file_is_named_as_damaged(tmp_path: Path, content: bytes) -> None:
    db = tmp_path / "atria-tui.db"
    db.write_bytes(content)
    message = error_of(Store, db)
    assert str(db) in message and "not a database or damaged" in message


def test_a_file_where_the_folder_should_be(tmp_path: Path) -> None:
    (tmp_path / "home").write_text("")
    message = error_of(Store, tmp_path / "home" / "atria-tui.db")
    assert "is a file, not a folder" in message


def test_a_store_locked_by_another_writer_fails_after_the_busy_timeout(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT", 0.2)
    db = tmp_path / "atria-tui.db"
    Store(db).close()
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        def start() -> None:
            Store(db).start_run("job", "Job", "connectwise-manage", "plan")

        message = error_of(start)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert "locked by another process for more than 0.2 s" in message and str(db) in message
    s = Store(db)
    assert s.runs() == []  # nothing half-written, and usable once the other writer is done


def test_a_read_only_store_says_so(tmp_path: Path) -> None:
    s = Store(tmp_path / "atria-tui.db")
    s._db.execute("PRAGMA query_only=1")  # what a read-only file answers, even for root
    message = error_of(s.start_run, "job", "Job", "connectwise-manage", "plan")
    assert "read-only" in message
    s._db.execute("PRAGMA query_only=0")
    assert s.runs() == []


def test_a_full_disk_says_so_and_the_transaction_is_rolled_back(tmp_path: Path) -> None:
    s = Store(tmp_path / "atria-tui.db")
    run = s.start_run("job", "Job", "connectwise-manage", "plan")
    pages = s._db.execute("PRAGMA page_count").fetchone()[0]
    s._db.execute(f"PRAGMA max_page_count={pages + 1}")  # SQLite's own "disk full"
    entries = [LogEntry("CW09", Level.VERBOSE, "x" * 2000) for _ in range(50)]
    message = error_of(s.add_log, run, entries)
    assert "disk full" in message
    assert s.log(run) == [] and s.run(run).status == RUNNING  # type: ignore[union-attr]


def test_a_read_only_file(tmp_path: Path) -> None:
    """A database file that cannot be written. Root writes through file modes, so as root
    the file is made immutable (`chattr +i`) instead: the check runs everywhere."""
    import shutil
    import subprocess

    db = tmp_path / "atria-tui.db"
    Store(db).close()
    db.chmod(0o444)
    immutable = os.geteuid() == 0
    if immutable:
        assert shutil.which("chattr"), "chattr (e2fsprogs) is needed to test this as root"
        subprocess.run(["chattr", "+i", str(db)], check=True)
    try:
        message = error_of(lambda: Store(db).start_run("j", "J", "kaseya-bms", "plan"))
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(db)], check=True)
    assert "read-only" in message, message
