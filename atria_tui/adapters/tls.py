"""Telling "http:// to a TLS port" apart from other connection failures.

A plain request to a TLS port fails in ways that name nothing useful (the peer resets the
connection, or answers with a TLS record that is an "illegal status line"), and the fix is
one letter in ApiUrl. So when an http:// URL cannot be reached, a TLS handshake is tried
with the same host and port; if it succeeds, the message can say what to change.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from urllib.parse import urlsplit

# A TLS record's first bytes (handshake 0x16 / alert 0x15, version 3.x), as an HTTP parser
# quotes them when it is handed one instead of a status line.
_TLS_RECORDS = ("\\x15\\x03", "\\x16\\x03", "\x15\x03", "\x16\x03")


def host_port(url: str) -> tuple[str, int] | None:
    """(host, port) of an http:// URL, else None."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port or 80
    except ValueError:
        return None
    if parts.scheme.lower() != "http" or not parts.hostname:
        return None
    return parts.hostname, port


def looks_like_tls(message: str) -> bool:
    return any(r in message for r in _TLS_RECORDS)


async def speaks_tls(url: str, timeout: float = 5.0) -> bool:
    """Whether the host and port of an http:// `url` complete a TLS handshake.

    Certificates are not checked and nothing is sent after the handshake: the probe only
    asks which protocol the port speaks, it never trusts the answer with a request.
    """
    where = host_port(url)
    if where is None:
        return False
    host, port = where
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=ctx, server_hostname=host), timeout)
    except (OSError, ssl.SSLError, TimeoutError, ValueError):
        return False
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError):
        await writer.wait_closed()
    return True
