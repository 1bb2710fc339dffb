"""The CLI's one error for bad usage, in its own module: `python -m atria_tui.cli.main`
runs main as `__main__`, so a command module importing `UsageError` from main would get a
second class that main's handler does not catch (a traceback instead of one line)."""

from __future__ import annotations


class UsageError(Exception):
    """Bad usage or configuration: printed as one line, exit status 1."""
