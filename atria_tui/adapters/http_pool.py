"""The connection pool real PSA requests go through: httpx's, minus two costs per request.

A 5,000-customer plan is ~5,000 small reads at up to `max_concurrency` (24) at once, and
httpcore 1.0's pool made each of them cost far more CPU than the read itself (measured:
~7 ms of client CPU per request at 24 connections, ~2.8 ms at 6):

- on every request and every answer it re-checks each pooled connection, and for each
  idle one counts the whole pool again (a list built per connection: n² `is_idle` calls);
- each check asks the anyio stream whether the socket is readable, and anyio rebuilds its
  whole attribute table (peer name, socket name…: system calls) for that one question.

`LinearPool` is httpcore's pool with the same decisions taken in one pass, and
`CheapIdleBackend` answers "is it readable" from the socket it keeps (one `poll`). The
bytes on the wire, keep-alive, TLS and the errors raised are httpx's and httpcore's own.
With an httpcore other than 1.0.x (whose internals this relies on) the stock pool is used.
"""

from __future__ import annotations

import select
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

_SUPPORTED = httpcore.__version__.startswith("1.0.")


class _Stream(httpcore.AsyncNetworkStream):
    """An httpcore stream whose `is_readable` is one poll of the socket it was opened on."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._poll: Any = None
        sock = inner.get_extra_info("socket")
        fileno = sock.fileno() if sock is not None else -1
        if fileno >= 0:
            self._poll = select.poll()
            self._poll.register(fileno, select.POLLIN)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        self._poll = None
        await self._inner.aclose()

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # Readable while idle means the server closed it (or sent what nobody asked
            # for): either way the connection is not reused. Unknown: not reusable.
            if self._poll is None:
                return True
            try:
                return bool(self._poll.poll(0))
            except (OSError, ValueError):
                return True
        return self._inner.get_extra_info(info)


class CheapIdleBackend(httpcore.AsyncNetworkBackend):
    """httpcore's anyio backend, its streams wrapped in `_Stream`."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None
                          ) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.connect_tcp(host, port, timeout, local_address,
                                                     socket_options))

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None
                                  ) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.connect_unix_socket(path, timeout, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class LinearPool(httpcore.AsyncConnectionPool):
    """httpcore's pool, `_assign_requests_to_connections` in one pass over the pool.

    The same rules: drop closed connections, close expired ones, close
    idle ones beyond the keep-alive allowance (first ones first), then give each queued
    request the first connection that can take it, else a new one, else replace the first
    idle one."""

    def _assign_requests_to_connections(self) -> list[Any]:
        closing: list[Any] = []
        kept: list[Any] = []
        for connection in self._connections:
            if connection.is_closed():
                continue
            if connection.has_expired():
                closing.append(connection)
                continue
            kept.append(connection)
        total = len(kept)
        if total > self._max_keepalive_connections:
            trimmed = []
            for connection in kept:
                if total > self._max_keepalive_connections and connection.is_idle():
                    closing.append(connection)
                    total -= 1
                else:
                    trimmed.append(connection)
            kept = trimmed
        self._connections = kept
        for pool_request in self._requests:
            if not pool_request.is_queued():
                continue
            origin = pool_request.request.url.origin
            found: Any = next((c for c in kept if c.can_handle_request(origin)
                               and c.is_available()), None)
            if found is not None:
                connection = found
            else:
                if len(kept) < self._max_connections:
                    connection = self.create_connection(origin)
                    kept.append(connection)
                else:
                    idle = next((c for c in kept if c.is_idle()), None)
                    if idle is None:
                        continue
                    kept.remove(idle)
                    closing.append(idle)
                    connection = self.create_connection(origin)
                    kept.append(connection)
            pool_request.assign_to_connection(connection)
        return closing


def pooled_transport(connections: int) -> httpx.AsyncHTTPTransport:
    """httpx's transport over `LinearPool`, keeping up to `connections` alive (at least
    the client's concurrency ceiling: fewer, and every answer beyond them closes one
    connection that the next request opens again)."""
    limits = httpx.Limits(max_connections=max(connections, 10) * 2,
                          max_keepalive_connections=max(connections, 10))
    transport = httpx.AsyncHTTPTransport(limits=limits)
    if not _SUPPORTED:
        return transport
    transport._pool = LinearPool(
        ssl_context=httpx.create_ssl_context(),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry, network_backend=CheapIdleBackend())
    return transport
