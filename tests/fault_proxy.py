"""A fault-injecting HTTP proxy on 127.0.0.1, between the CLI and the served sandbox.

The sandbox's own faults fire *before* a request is carried out. What billed customers
twice were faults *after*: a POST that landed and then got a 500, lost its connection,
or answered too late, and a PSA that froze and then thawed. This proxy forwards a
request to the sandbox and then misbehaves on the way back, so the tests can assert the
PSA's final state and the true count of writes that reached it.

Rules match a method and a path pattern; modes:
- `error_after`: forward, then answer 500 (the write landed)
- `error_before`: answer 500 without forwarding (the write did not land)
- `drop_after`: forward, then close the connection with no answer
- `slow_after`: forward, then hold the answer `delay` seconds (past the client's timeout)
- `freeze`: from this request on, hold every request until `delay` seconds have passed,
  then forward them all (the PSA froze, then thawed)
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx

from tests.e2e.conftest import free_port


@dataclass
class Rule:
    method: str
    path: str  # a regular expression searched in the path
    mode: str
    delay: float = 0.0
    times: int | None = None  # how many matching requests it affects (None: all)
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        return (method == self.method and re.search(self.path, path) is not None
                and (self.times is None or self.hits < self.times))


@dataclass
class FaultProxy:
    upstream: str
    port: int = field(default_factory=free_port)
    rules: list[Rule] = field(default_factory=list)
    forwarded: list[tuple[str, str]] = field(default_factory=list)
    latency: float = 0.0  # added to every answer
    frozen_until: float = 0.0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def count(self, method: str, pattern: str) -> int:
        """Requests of `method` whose path matches `pattern` that reached the sandbox."""
        return sum(1 for m, p in list(self.forwarded)
                   if m == method and re.search(pattern, p))

    def clear(self) -> None:
        self.rules.clear()
        self.latency = 0.0

    def _rule(self, method: str, path: str) -> Rule | None:
        for rule in self.rules:
            if rule.matches(method, path):
                rule.hits += 1
                return rule
        return None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      client: httpx.AsyncClient) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = [tuple(h.split(": ", 1)) for h in lines[1:] if ": " in h]
                length = next((int(v) for k, v in headers if k.lower() == "content-length"), 0)
                body = await reader.readexactly(length) if length else b""
                path = target.split("?", 1)[0]
                rule = self._rule(method, path)
                mode = rule.mode if rule else ""
                if mode == "error_before":
                    await self._answer(writer, 500, [], b'{"message":"proxy: failed"}')
                    continue
                if mode == "freeze" and rule is not None:
                    self.frozen_until = time.monotonic() + rule.delay
                if self.frozen_until > time.monotonic():
                    await asyncio.sleep(self.frozen_until - time.monotonic())
                keep = [(k, v) for k, v in headers if k.lower() not in
                        ("host", "content-length", "connection", "accept-encoding")]
                resp = await client.request(method, self.upstream + target, content=body,
                                            headers=keep)
                self.forwarded.append((method, path))
                if mode == "drop_after":
                    writer.transport.abort()
                    return
                if mode == "slow_after" and rule is not None:
                    await asyncio.sleep(rule.delay)
                if self.latency:
                    await asyncio.sleep(self.latency)
                if mode == "error_after":
                    await self._answer(writer, 500, [], b'{"message":"proxy: gateway error"}')
                    continue
                out = [(k, v) for k, v in resp.headers.multi_items() if k.lower() not in
                       ("content-length", "transfer-encoding", "content-encoding", "connection")]
                await self._answer(writer, resp.status_code, out, resp.content)
        except (ConnectionError, OSError, asyncio.CancelledError):
            return
        finally:
            if not writer.transport.is_closing():
                writer.transport.abort()

    @staticmethod
    async def _answer(writer: asyncio.StreamWriter, status: int,
                      headers: list[tuple[str, str]], body: bytes) -> None:
        head = [f"HTTP/1.1 {status} X"] + [f"{k}: {v}" for k, v in headers]
        head += [f"Content-Length: {len(body)}", "", ""]
        writer.write("\r\n".join(head).encode("latin-1") + body)
        await writer.drain()

    @contextmanager
    def running(self) -> Iterator[FaultProxy]:
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        stop: asyncio.Future[None] | None = None

        async def main() -> None:
            nonlocal stop
            stop = loop.create_future()
            async with httpx.AsyncClient(timeout=60) as client:
                server = await asyncio.start_server(
                    lambda r, w: self._handle(r, w, client), "127.0.0.1", self.port)
                ready.set()
                async with server:
                    await stop
                    server.close()
                    for task in asyncio.all_tasks():
                        if task is not asyncio.current_task():
                            task.cancel()
                    await asyncio.sleep(0)

        thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
        thread.start()
        ready.wait(10)
        try:
            yield self
        finally:
            loop.call_soon_threadsafe(lambda: stop is not None and stop.set_result(None))
            thread.join(10)


def wait_for(predicate: object, timeout: float = 20.0) -> None:
    """Poll `predicate()` until true (the proxy's counts move in its own thread)."""
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)
