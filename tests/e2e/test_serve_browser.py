"""`atria-tui serve` in a real browser: headless Chromium opens the served demo console and
the Jobs screen shows both demo jobs; off loopback, a wrong password gets only a refusal.

Chromium is driven over the DevTools protocol (aiohttp's websocket client, which comes with
textual-serve). xterm.js paints on a canvas, so the screen's text is not in the DOM: a
script installed before the page loads keeps what the console sent to the page's terminal,
and the test reads that text (escape sequences removed). The screenshot is kept in
/tmp/atria-serve-check for a person to look at.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LABELS = ("Demo: Transfer Billing Data to ConnectWise (sandbox)",
          "Demo: Transfer Billing Data to Kaseya BMS (sandbox)")
ANSI = re.compile(r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[P\]X^_].*?(?:\x07|\x1b\\)|\x1b[@-Z\\-_]",
                  re.S)

# Installed before the page's own scripts: every websocket keeps what it receives.
CAPTURE = r"""
(() => {
  const Native = window.WebSocket;
  window.__atria = [];
  const keep = (data) => {
    if (typeof data === 'string') { window.__atria.push(data); }
    else if (data instanceof ArrayBuffer) {
      window.__atria.push(new TextDecoder().decode(data));
    } else if (data instanceof Blob) { data.text().then((t) => window.__atria.push(t)); }
  };
  function Capturing(url, protocols) {
    const ws = protocols === undefined ? new Native(url) : new Native(url, protocols);
    ws.addEventListener('message', (ev) => keep(ev.data));
    return ws;
  }
  Capturing.prototype = Native.prototype;
  for (const k of ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED']) { Capturing[k] = Native[k]; }
  window.WebSocket = Capturing;
})();
"""


def _env(home: Path, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATRIA_TUI_")}
    env.update(ATRIA_TUI_HOME=str(home), ATRIA_TUI_KEYRING="0", **more)
    return env


@contextlib.contextmanager
def serving(tmp_path: Path, *args: str, **env: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`atria-tui serve --demo` on a free port, stopped with every console it started."""
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "atria_tui.cli.main", "serve", "--demo", "--port", str(port),
         *args], env=_env(tmp_path / "home", **env), stdout=log, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, text=True, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(base + "/", timeout=2)
                break
            if proc.poll() is not None:
                raise AssertionError((tmp_path / "serve.log").read_text())
            time.sleep(0.2)
        yield base, proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


class DevTools:
    """Just enough of the DevTools protocol: numbered commands, answers matched by id."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.next_id = 0

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        mine = self.next_id
        await self.ws.send_json({"id": mine, "method": method, "params": params})
        while True:
            msg = await self.ws.receive_json(timeout=60)
            if msg.get("id") == mine:
                if "error" in msg:
                    raise AssertionError(f"{method}: {msg['error']}")
                return dict(msg.get("result", {}))


async def _screen_text(url: str, profile: Path, shot: Path) -> str:
    import aiohttp

    port = free_port()
    chrome = subprocess.Popen(
        [str(CHROMIUM), "--headless=new", "--no-sandbox", "--disable-gpu",
         "--no-first-run", f"--user-data-dir={profile}", f"--remote-debugging-port={port}",
         "--window-size=1400,900", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        async with aiohttp.ClientSession() as http:
            targets: list[dict[str, Any]] = []
            for _ in range(150):
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"http://127.0.0.1:{port}/json") as res:
                        targets = [t for t in await res.json() if t.get("type") == "page"]
                    if targets:
                        break
                await asyncio.sleep(0.2)
            assert targets, "chromium never offered a page to drive"
            async with http.ws_connect(targets[0]["webSocketDebuggerUrl"],
                                       max_msg_size=0) as ws:
                tools = DevTools(ws)
                await tools.send("Page.enable")
                await tools.send("Page.addScriptToEvaluateOnNewDocument", source=CAPTURE)
                await tools.send("Page.navigate", url=url)
                text = ""
                deadline = time.monotonic() + 90
                while time.monotonic() < deadline:
                    got = await tools.send("Runtime.evaluate", returnByValue=True,
                                           expression="(window.__atria || []).join('')")
                    text = ANSI.sub("", str(got.get("result", {}).get("value", "")))
                    if all(label in text for label in LABELS):
                        break
                    await asyncio.sleep(0.5)
                await asyncio.sleep(1.0)  # the canvas paints what arrived
                png = await tools.send("Page.captureScreenshot", format="png")
                shot.write_bytes(base64.b64decode(png["data"]))
                return text
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(chrome.pid, signal.SIGKILL)
        chrome.wait(timeout=10)


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium not installed")
@pytest.mark.timeout(240)
def test_the_served_console_shows_both_demo_jobs_in_chromium(tmp_path: Path) -> None:
    shot = tmp_path / "serve.png"
    with serving(tmp_path) as (base, _):
        text = asyncio.run(_screen_text(base + "/", tmp_path / "profile", shot))
    assert all(label in text for label in LABELS), text[-2000:]
    assert "Last result" in text                       # the Jobs screen, not an error page
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 20_000
    keep = Path("/tmp/atria-serve-check")              # for a person to look at
    keep.mkdir(exist_ok=True)
    shutil.copy(shot, keep / "serve.png")


def test_off_loopback_a_wrong_password_gets_only_a_refusal(tmp_path: Path) -> None:
    secret = "correct horse battery"
    with serving(tmp_path, "--host", "0.0.0.0", ATRIA_TUI_SERVEPASSWORD=secret) as (base, _):
        refused = [httpx.get(base + path, timeout=5, auth=auth)
                   for path in ("/", "/ws", "/static/js/textual.js")
                   for auth in (None, ("clerk", "wrong password"))]
        allowed = httpx.get(base + "/", timeout=5, auth=("clerk", secret))
    assert [r.status_code for r in refused] == [401] * 6
    assert all(r.text == "refused\n" for r in refused)
    assert allowed.status_code == 200 and "textual.js" in allowed.text
    log = (tmp_path / "serve.log").read_text()
    assert "reverse proxy" in log and secret not in log


def test_off_loopback_without_a_password_it_does_not_start(tmp_path: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "atria_tui.cli.main", "serve", "--host", "0.0.0.0",
         "--port", str(free_port())], env=_env(tmp_path / "home"), capture_output=True,
        text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert res.returncode == 1
    assert "no password is set" in res.stderr and "--password-stdin" in res.stderr
