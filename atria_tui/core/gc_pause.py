"""Keep big, long-lived data out of the cyclic garbage collector's full passes.

A 50,000-row plan or log is ~400k objects; a full collection over them takes ~300 ms and
stops every thread, the console's UI included. They are plain acyclic data (records,
lines, plan rows, log entries), freed by reference counting when dropped. So while a
worker builds one, automatic collection is paused, and afterwards what was built moves to
the permanent generation: later full passes no longer walk it. The price is that cyclic
garbage made during the build is kept too; a run makes little (its event loop and client).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_building = 0


def settle() -> None:
    """Call from a worker right after building a large plan or log."""
    gc.freeze()


@contextmanager
def building() -> Iterator[None]:
    """Around a worker's build of a large plan or log (nests across threads)."""
    global _building
    with _lock:
        _building += 1
        gc.disable()
    try:
        yield
    finally:
        with _lock:
            _building -= 1
            gc.freeze()
            if _building == 0:
                gc.enable()
