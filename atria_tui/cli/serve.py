"""`atria-tui serve`: the same console in a browser, through textual-serve.

Billing staff sit at a browser, not at a terminal on the machine that holds the jobs.
textual-serve (a well-kept library; no home-made web layer) starts one console process
per browser session and relays its screen over a websocket. Every process shares the jobs
folder and the store, which already lock what must not run twice (applies, reverts, the
saved review).

Loopback is the default. Any other address needs a password: it is asked once, stored
encrypted like the job secrets (or given as `ATRIA_TUI_SERVEPASSWORD`), and checked on
every request, the websocket included, before a console process is started; a wrong one
gets a 401 and nothing else. TLS is a reverse proxy's job, and `serve` says so.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from atria_tui.cli.errors import UsageError

# `register` runs for every command, `--help` included (the parser is one table): what
# only serving needs (sockets, hashing, prompts) is imported by the function that uses it.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

__all__ = ["PASSWORD_NAME", "SERVE_KEY", "console_command", "is_loopback", "register"]

# Where the password lives in the secret store: not a job, so a key no job file can take
# (job keys are file stems, which cannot contain "/").
SERVE_KEY = "atria-tui/serve"
PASSWORD_NAME = "ServePassword"


class ServeError(Exception):
    """A reason `serve` cannot start, said to the user in one line."""


def register(sub: Any) -> None:
    """Add `serve` to the CLI's subparsers."""
    help_ = "serve the console in a browser (textual-serve; loopback unless --host)"
    sp = sub.add_parser("serve", help=help_, description=help_ + ". One console process per "
                        "browser session, all on the same jobs folder and store. Any address "
                        "but loopback needs a password; put TLS in a reverse proxy.")
    sp.add_argument("--host", default="127.0.0.1",
                    help="address to listen on (default 127.0.0.1: this machine only)")
    sp.add_argument("--port", type=int, default=8000)
    sp.add_argument("--jobs", dest="serve_jobs", metavar="DIR",
                    help="jobs folder (default: the configured jobs folder)")
    sp.add_argument("--public-url", metavar="URL",
                    help="the URL browsers use to reach this server (behind a reverse proxy)")
    sp.add_argument("--demo", action="store_true",
                    help="serve the demo console (embedded sandbox, throwaway data per session)")
    sp.add_argument("--password-stdin", action="store_true",
                    help="read the password for a non-loopback address from stdin (replaces "
                    "the stored one)")
    sp.set_defaults(fn=cmd_serve)


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach."""
    import ipaddress

    if host.strip().casefold() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def console_command(jobs: Path | None, *, demo: bool) -> str:
    """The shell command textual-serve starts for each browser session: this interpreter
    running this package's CLI, so the served console is the installed one."""
    import shlex

    argv = [sys.executable, "-m", "atria_tui.cli.main"]
    if jobs is not None:
        argv += ["--jobs", str(jobs)]
    if demo:
        argv.append("demo")
    return shlex.join(argv)


def _password(args: argparse.Namespace) -> str:
    """The password for a non-loopback address: the environment's, else the stored one,
    else asked now (twice, at a terminal) and stored encrypted."""
    import getpass

    from atria_tui.engine.secret_store import SecretError, SecretStore, env_name

    store = SecretStore()
    try:
        if args.password_stdin:
            value = sys.stdin.readline().rstrip("\r\n")
            if len(value) < 8:
                raise ServeError("--password-stdin: the password needs at least 8 characters")
            store.set(SERVE_KEY, PASSWORD_NAME, value)
            return value
        found = store.resolve(SERVE_KEY, [PASSWORD_NAME]).get(PASSWORD_NAME, "")
        if found:
            return found
        if not sys.stdin.isatty():
            raise ServeError(f"--host {args.host}: not loopback, and no password is set; "
                             f"pass --password-stdin or set {env_name(PASSWORD_NAME)}")
        first = getpass.getpass("Password for the served console (8+ characters): ")
        if len(first) < 8:
            raise ServeError("the password needs at least 8 characters")
        if getpass.getpass("Again: ") != first:
            raise ServeError("the two passwords differ; nothing stored")
        store.set(SERVE_KEY, PASSWORD_NAME, first)
        return first
    except SecretError as exc:
        raise ServeError(str(exc)) from None


def _authorised(header: str, password: str) -> bool:
    """Basic auth with any user name and the password, compared in constant time."""
    import base64
    import binascii
    import hmac

    scheme, _, encoded = header.partition(" ")
    if scheme.casefold() != "basic":
        return False
    try:
        _, _, given = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return hmac.compare_digest(given.encode("utf-8"), password.encode("utf-8"))


def make_server(command: str, host: str, port: int, *, password: str | None,
                public_url: str | None = None) -> Any:
    """A textual-serve Server for `command`, with every request checked against
    `password` when one is given."""
    import socket
    from collections.abc import Awaitable, Callable

    from aiohttp import web
    from textual_serve.server import Server

    Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if password is not None and not _authorised(
                request.headers.get("Authorization", ""), password):
            raise web.HTTPUnauthorized(text="refused\n", headers={
                "WWW-Authenticate": 'Basic realm="atria-tui", charset="UTF-8"'})
        return await handler(request)

    class GuardedServer(Server):
        async def _make_app(self) -> web.Application:
            app: web.Application = await super()._make_app()
            app.middlewares.append(guard)
            return app

    if public_url is None and host in ("0.0.0.0", "::"):
        public_url = f"http://{socket.gethostname()}:{port}"  # the wildcard is no address
    return GuardedServer(command, host=host, port=port, title="atria-tui",
                         public_url=public_url)


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        from textual_serve.server import Server  # noqa: F401  (installed with the product)
    except ImportError:
        raise UsageError("serve: textual-serve is not installed; reinstall atria-tui "
                         "(pip install -e .)") from None
    if not 0 < args.port < 65536:
        raise UsageError(f"--port {args.port}: expected 1-65535")
    given = args.serve_jobs or getattr(args, "jobs", None)
    jobs = Path(given).expanduser().absolute() if given else None
    if jobs is not None and jobs.exists() and not jobs.is_dir():
        raise UsageError(f"--jobs {jobs}: not a folder")
    password: str | None = None
    if not is_loopback(args.host):
        try:
            password = _password(args)
        except ServeError as exc:
            raise UsageError(f"serve: {exc}") from None
        print(f"atria-tui: serving on {args.host}, reachable from other machines: every "
              "request needs the password. This server speaks plain HTTP: put TLS in a "
              "reverse proxy (nginx, Caddy) in front of it.", file=sys.stderr)
    os.environ.pop("ATRIA_TUI_SERVEPASSWORD", None)  # the consoles it starts never need it
    server = make_server(console_command(jobs, demo=args.demo), args.host, args.port,
                         password=password, public_url=args.public_url)
    server.serve()
    return 0
