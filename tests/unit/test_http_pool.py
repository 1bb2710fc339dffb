"""The pool real requests go through (adapters/http_pool.py), over real local sockets: it
keeps connections alive up to the concurrency, reuses them, and never reuses one the
server closed."""

from __future__ import annotations

import asyncio
import json

from atria_tui.adapters.http import ClientOptions, HttpClient
from atria_tui.adapters.http_pool import LinearPool


async def serve(close_after: int | None) -> tuple[asyncio.Server, int, dict[str, int]]:
    """A tiny HTTP/1.1 server on 127.0.0.1: answers `{"n": k}`, counts connections and
    requests, and closes a connection after `close_after` answers (None: keep-alive)."""
    seen = {"connections": 0, "requests": 0}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen["connections"] += 1
        answered = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if not head:
                    break
                seen["requests"] += 1
                n = seen["requests"]
                answered += 1
                await asyncio.sleep(0.002)
                body = json.dumps({"n": n}).encode()
                last = close_after is not None and answered >= close_after
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                             b"content-length: %d\r\n%s\r\n" % (
                                 len(body), b"connection: close\r\n" if last else b"") + body)
                await writer.drain()
                if last:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, port, seen


async def test_connections_are_kept_and_reused_up_to_the_concurrency() -> None:
    server, port, seen = await serve(close_after=None)
    async with server:
        c = HttpClient(f"http://127.0.0.1:{port}",
                       options=ClientOptions(concurrency=8, max_concurrency=8))
        assert isinstance(c._client._transport._pool, LinearPool)  # type: ignore[attr-defined]
        answers = await asyncio.gather(*(c.json("GET", f"/x/{i}") for i in range(200)))
        await c.aclose()
    assert [resp.status_code for resp, _ in answers] == [200] * 200
    assert sorted(body["n"] for _, body in answers) == list(range(1, 201))
    assert seen["requests"] == 200
    assert seen["connections"] <= 8 + 2  # the slots' bound (+ the unlimited allowance)


async def test_a_connection_the_server_closed_is_not_reused() -> None:
    server, port, seen = await serve(close_after=3)
    async with server:
        c = HttpClient(f"http://127.0.0.1:{port}",
                       options=ClientOptions(concurrency=4, max_concurrency=4, retries=0))
        answers = await asyncio.gather(*(c.json("GET", f"/y/{i}") for i in range(60)))
        await c.aclose()
    assert [resp.status_code for resp, _ in answers] == [200] * 60
    assert seen["requests"] == 60  # none failed and none was sent twice
    assert seen["connections"] >= 20  # three answers per connection
