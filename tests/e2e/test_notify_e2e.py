"""Run summaries end to end: the CLI's plan sends one message to a local SMTP sink and a
local webhook receiver on 127.0.0.1; a target that cannot be reached is logged (TU20)
without changing the run's result, and no target URL's token appears anywhere."""

from __future__ import annotations

import email
import email.header
import json
import threading
from collections.abc import Iterator
from email.message import Message
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.e2e.conftest import Cli, Server, cw_job, free_port

TOKEN = "s3cr3t-hook-token-0042"


class Sink:
    """An SMTP server that keeps every message it is given."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[int, Sink]]:
    sink, port = Sink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, sink
    controller.stop()


@pytest.fixture
def hook() -> Iterator[tuple[int, list[tuple[str, dict[str, Any]]]]]:
    got: list[tuple[str, dict[str, Any]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append((self.path, json.loads(body)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    srv = HTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv.server_address[1], got
    srv.shutdown()


def notify_job(tmp_path: Path, server: Server, targets: list[str], when: str) -> Path:
    job = cw_job(tmp_path, server)
    with job.open("a") as fh:
        fh.write(f"\n[notify]\ntargets = {json.dumps(targets)}\nwhen = \"{when}\"\n")
    return job


def text_of(msg: Message) -> str:
    for part in msg.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode("utf-8")
    raise AssertionError("no text part")


def test_a_plan_sends_one_summary_to_mail_and_webhook(
        tmp_path: Path, server: Server, cli: Cli, smtp: tuple[int, Sink],
        hook: tuple[int, list[tuple[str, dict[str, Any]]]]) -> None:
    (mail_port, sink), (hook_port, posts) = smtp, hook
    job = notify_job(tmp_path, server, ["NotifyMail", "NotifyHook"], "always")
    cli.env.update(
        ATRIA_TUI_NOTIFYMAIL=f"mailto://127.0.0.1:{mail_port}?from=atria@example.com"
                             "&to=billing@example.com&mode=insecure",
        ATRIA_TUI_NOTIFYHOOK=f"json://127.0.0.1:{hook_port}/hooks/{TOKEN}")
    res = cli.run("plan", str(job), "--format", "json")
    assert res.returncode == 0, res.stderr
    run = json.loads(res.stdout)["run_id"]
    (mail,) = sink.messages
    assert mail["To"] == "billing@example.com"
    subject = str(email.header.make_header(email.header.decode_header(mail["Subject"])))
    assert subject.startswith("atria-tui: Demo: Transfer Billing Data to ConnectWise")
    body = text_of(mail)
    for expected in ("Period ending: 2026-11-25", "Result: Completed with errors",
                     "changes found: 18", "Δ money if applied: +362.30", "CW10 ×1",
                     f"atria-tui --run {run}"):
        assert expected in body, (expected, body)
    ((path, payload),) = posts
    assert path == f"/hooks/{TOKEN}"
    assert payload["message"] == body.replace("\r\n", "\n").rstrip("\n")  # one text
    keep = Path("/tmp/atria-notify-check")                  # for a person to read
    keep.mkdir(exist_ok=True)
    (keep / "mail.eml").write_bytes(mail.as_bytes())
    assert TOKEN not in res.stderr + res.stdout


def test_a_failed_send_is_logged_and_never_fails_the_run(
        tmp_path: Path, server: Server, cli: Cli) -> None:
    job = notify_job(tmp_path, server, ["NotifyHook"], "warnings")
    cli.env["ATRIA_TUI_NOTIFYHOOK"] = f"json://127.0.0.1:{free_port()}/hooks/{TOKEN}"
    res = cli.run("plan", str(job), "--format", "json")
    assert res.returncode == 0                          # the billing run's own result
    run = json.loads(res.stdout)["run_id"]
    assert "TU20 Run summary not sent to NotifyHook" in res.stderr
    log = cli.run("log", str(run), "--format", "json")
    entries = json.loads(log.stdout)["log"]
    assert [e["code"] for e in entries if e["code"] == "TU20"] == ["TU20"]
    assert TOKEN not in res.stderr + log.stdout


def test_notify_test_says_which_target_took_it(
        tmp_path: Path, server: Server, cli: Cli,
        hook: tuple[int, list[tuple[str, dict[str, Any]]]]) -> None:
    hook_port, posts = hook
    job = notify_job(tmp_path, server, ["NotifyHook", "NotifyDown"], "errors")
    cli.env.update(ATRIA_TUI_NOTIFYHOOK=f"json://127.0.0.1:{hook_port}/h/{TOKEN}",
                   ATRIA_TUI_NOTIFYDOWN=f"json://127.0.0.1:{free_port()}/h/{TOKEN}")
    res = cli.run("notify-test", str(job))
    assert res.returncode == 2
    assert "NotifyHook: sent" in res.stdout and "NotifyDown: not sent" in res.stdout
    assert TOKEN not in res.stdout + res.stderr
    assert len(posts) == 1 and "test" in posts[0][1]["title"]
