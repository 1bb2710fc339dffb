"""Where atria-tui keeps its files, and how it writes them.

One environment variable, ATRIA_TUI_HOME, moves everything (jobs, database, secret store)
so tests, demos and a second installation never touch the user's real files.
Writes go through `atomic_write` because a job file, mappings file or secret store that is
half-written after a crash (or a full disk) would lose the user's configuration; a temp
file in the same folder plus `os.replace` is atomic on POSIX and Windows.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path

import platformdirs

APP_NAME = "atria-tui"
HOME_ENV = "ATRIA_TUI_HOME"


def _home() -> Path | None:
    value = os.environ.get(HOME_ENV, "").strip()
    return Path(value).expanduser() if value else None


def data_dir() -> Path:
    """Secret store, key file and database live here."""
    home = _home()
    return home if home is not None else platformdirs.user_data_path(APP_NAME)


def config_dir() -> Path:
    """Job files (and their mappings files) live here."""
    home = _home()
    base = home if home is not None else platformdirs.user_config_path(APP_NAME)
    return base / "jobs"


def db_path() -> Path:
    return data_dir() / "atria-tui.db"


def private_dir(path: Path) -> None:
    """Create a folder for this user only (0700), as the secret store's is: the database
    beside it holds customer names, quantities and PSA error text."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)


def private_file(path: Path) -> None:
    """Make sure `path` exists and is 0600 *before* another library opens it: SQLite
    creates a missing database with the umask's mode (often world-readable), and gives its
    -wal and -shm files the database's mode."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # Tighten an existing one we own; a file we may only read is left for SQLite to
        # report as read-only, rather than failing here on the open for writing.
        if path.stat().st_mode & 0o077:
            with contextlib.suppress(PermissionError):
                os.chmod(path, 0o600)
        return
    os.close(fd)


def atomic_write(path: Path, data: bytes, mode: int | None = None) -> None:
    """Replace `path` with `data` so readers see the old or the new file, never a mix.

    `mode` forces permissions (0o600 for secrets); otherwise an existing file keeps its
    mode and a new one gets the temp file's private 0o600, which is safe for config.
    """
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder, not a file", str(path))
    if path.exists() and not path.is_file():
        # os.replace would swap a device node (/dev/full, /dev/null) for a plain file.
        raise OSError(errno.EINVAL, "not a regular file", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        with contextlib.suppress(OSError):
            mode = path.stat().st_mode & 0o777
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
