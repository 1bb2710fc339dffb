"""One way to run a service call in a worker thread, for every screen and the app.

Planning, applying, reverting, reading a PSA catalog or a 50,000-line log take from a
few hundred milliseconds to minutes, so they run in Textual thread workers while the
console keeps drawing. Each of those workers does the same three things, here once:
run the call (a coroutine gets its own event loop in the thread); turn an error the
flow expects (another writer holds the job, the catalog cannot be read) into the
screen's failure message; and never let an error nobody expected end the console with
a traceback, or leave a screen waiting for ever: it is reported by the App as a
notification (`Crashed`), and the screen still gets its failure message so it can leave
its busy state. A worker never touches a widget: it posts messages, and their handlers
run on the UI thread. Progress messages come in bursts (a step per PSA page, per write),
so each says everything its screen shows and replaces the ones still queued before it
(`can_replace`): the screen draws the newest, not every one.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, overload

from textual.message import Message
from textual.message_pump import MessagePump

from atria_tui.console.screens.host import Crashed

__all__ = ["Progress", "run_service"]

T = TypeVar("T")

Failed = Callable[[str], Message]


class Progress(Message):
    """A long call's step, `done` of `total` (0: unknown); subclass it per screen so each
    screen has its own handler. A newer one replaces any still waiting in the queue."""

    def __init__(self, step: str, done: int, total: int) -> None:
        super().__init__()
        self.step, self.done, self.total = step, done, total

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, type(self))


@overload
def run_service(node: MessagePump, what: str, call: Callable[[], Coroutine[Any, Any, T]], *,
                done: Callable[[T], Message], failed: Failed | None = None,
                expected: tuple[type[Exception], ...] = (), report: bool = True) -> bool: ...


@overload
def run_service(node: MessagePump, what: str, call: Callable[[], T], *,
                done: Callable[[T], Message], failed: Failed | None = None,
                expected: tuple[type[Exception], ...] = (), report: bool = True) -> bool: ...


def run_service(node: MessagePump, what: str, call: Callable[[], Any], *,
                done: Callable[[Any], Message], failed: Failed | None = None,
                expected: tuple[type[Exception], ...] = (), report: bool = True) -> bool:
    """From a thread worker: run `call()` (under `asyncio.run` when it is a coroutine) and
    post `done(result)` to `node`, or `failed(text)` when it raised; True if it returned.

    The text of an `expected` error is its own message: it is an outcome the screen
    shows. Any other exception is a bug: `failed` gets "Type: message", and unless
    `report` is False (the screen's failure message shows it already) the App also
    shows it as an unexpected error naming `what`.
    """
    app = node.app  # now, while `node` is surely attached: it may be gone when we finish
    try:
        value = call()
        if inspect.iscoroutine(value):
            value = asyncio.run(value)
        message = done(value)  # may do more work here, off the UI thread
    except expected as exc:
        if failed is not None:
            node.post_message(failed(str(exc)))
        return False
    except Exception as exc:
        if report:
            app.post_message(Crashed(what, exc))
        if failed is not None:
            node.post_message(failed(f"{type(exc).__name__}: {exc}"))
        return False
    node.post_message(message)
    return True
