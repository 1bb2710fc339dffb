"""Host and TLS: telling "http:// to a TLS port" apart, and `doctor`'s first checks.

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

from atria_tui.psa.doctor import Probe

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


async def host_checks(url: str, timeout: float = 10.0) -> list[Probe]:
    """`doctor`'s first rows for one base URL: the host resolves; an https:// one completes
    a verified TLS handshake (an http:// one that speaks TLS is told to use https://)."""
    parts = urlsplit(url.strip())
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        return [Probe("host", "job", "", url, None, "failed", "the URL's port is not a number",
                      True)]
    loop = asyncio.get_running_loop()
    try:
        found = await asyncio.wait_for(loop.getaddrinfo(host, port), timeout)
    except (OSError, TimeoutError, UnicodeError) as exc:
        return [Probe("host", "job", "", f"{host}:{port}", None, "unreachable",
                      f"{host} does not resolve ({exc}): check ApiUrl and the DNS", True)]
    address = found[0][4][0] if found else ""
    rows = [Probe("host", "job", "", f"{host}:{port}", None, "works",
                  f"resolves to {address}", True)]
    if parts.scheme.lower() != "https":
        if await speaks_tls(url):
            rows.append(Probe("tls", "job", "", f"{host}:{port}", None, "failed",
                              "the port speaks TLS: use https:// in ApiUrl", True))
        return rows
    ctx = ssl.create_default_context()
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=ctx, server_hostname=host), timeout)
    except ssl.SSLCertVerificationError as exc:
        rows.append(Probe("tls", "job", "", f"{host}:{port}", None, "failed",
                          f"the certificate is not trusted: {exc.verify_message}", True))
        return rows
    except (OSError, ssl.SSLError, TimeoutError, ValueError) as exc:
        rows.append(Probe("tls", "job", "", f"{host}:{port}", None, "unreachable",
                          f"no TLS handshake: {exc or type(exc).__name__}", True))
        return rows
    version = writer.get_extra_info("ssl_object").version() if writer.get_extra_info(
        "ssl_object") else ""
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError):
        await writer.wait_closed()
    rows.append(Probe("tls", "job", "", f"{host}:{port}", None, "works",
                      f"{version}, certificate trusted", True))
    return rows
