"""One writer per job: the lock that apply and revert hold, from the CLI, console and cron.

Two applies of one job at once billed customers twice (each read the PSA, saw the line
missing and added it). So every write run holds `locks/<job>.lock` in the data folder
for its whole length, and a second one is refused with who holds it (pid, host, since,
command), read from the lock file itself.

It is an OS file lock (`flock`; `msvcrt.locking` on Windows), so it is released when the
holder exits, even by kill -9: a stale lock never needs clearing by hand, and "is anyone
running this job's apply?" is answered by trying the lock, not by trusting a status
column that a killed process never updated. Lock files are never deleted: unlinking a
lock file that another process is about to open is how such locks break.

Within one process the lock is re-entrant for the thread that holds it (the scheduler
holds it around the apply it starts, and the apply takes it again); another thread of
the same process is refused like another process.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

_HELD: dict[str, tuple[int, int, int]] = {}  # path -> (thread ident, depth, fd)
_GUARD = threading.Lock()


class JobLocked(Exception):
    """The job's lock is held by someone else: the message names the holder."""

    def __init__(self, key: str, holder: Holder | None) -> None:
        self.key = key
        self.holder = holder
        who = holder.describe() if holder else "another process"
        super().__init__(f"job {key!r} is being applied or reverted by {who}; wait for it "
                         "to finish, then run the command again")


@dataclass(frozen=True)
class Holder:
    pid: int
    host: str
    since: str
    command: str

    def describe(self) -> str:
        what = f"process {self.pid}" + (f" on {self.host}" if self.host else "")
        if self.since:
            what += f" since {self.since}"
        if self.command:
            what += f" ({self.command})"
        return what


def lock_path(folder: Path, key: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", key).lstrip(".") or "_"
    return folder / f"{safe}.lock"


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(fd: int) -> None:
    if sys.platform == "win32":  # pragma: no cover
        import msvcrt

        with contextlib.suppress(OSError):
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        return
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_UN)


def read_holder(path: Path) -> Holder | None:
    """Who wrote the lock file last (the holder, while the lock is taken)."""
    try:
        text = path.read_text(encoding="utf-8").strip()
        if text.isdigit():  # written by an earlier version: the pid alone
            return Holder(int(text), "", "", "")
        data = json.loads(text)
        return Holder(int(data["pid"]), str(data.get("host", "")), str(data.get("since", "")),
                      str(data.get("command", "")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


@contextlib.contextmanager
def job_lock(folder: Path, key: str, command: str = "") -> Iterator[None]:
    """Hold the job's lock for the block; raises `JobLocked` naming the holder if taken."""
    path = lock_path(folder, key)
    name = str(path)
    me = threading.get_ident()
    with _GUARD:
        held = _HELD.get(name)
        if held is not None:
            if held[0] != me:
                raise JobLocked(key, read_holder(path))
            _HELD[name] = (me, held[1] + 1, held[2])
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            with _GUARD:
                owner, depth, fd = _HELD[name]
                _HELD[name] = (owner, depth - 1, fd)
        return
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if not _try_lock(fd):
            raise JobLocked(key, read_holder(path))
        with _GUARD:
            _HELD[name] = (me, 1, fd)
        try:
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            info = {"pid": os.getpid(), "host": socket.gethostname(), "since": stamp,
                    "command": command}
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, json.dumps(info).encode())
            yield
        finally:
            with _GUARD:
                _HELD.pop(name, None)
            _unlock(fd)
    finally:
        os.close(fd)


def is_free(folder: Path, key: str) -> bool:
    """True when nobody (no process, no thread here, not even the caller) holds it now."""
    with _GUARD:
        if str(lock_path(folder, key)) in _HELD:
            return False
    try:
        with job_lock(folder, key):
            return True
    except JobLocked:
        return False
    except OSError:
        return False  # cannot tell: treat as held, so nothing is marked interrupted wrongly
