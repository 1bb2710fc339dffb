"""The sandbox served on 127.0.0.1 by the real CLI, and the CLI run as a subprocess."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_configs"
CW_API = "/connectwise/v4_6_release/apis/3.0"
CW_SECRETS = {"ATRIA_TUI_COMPANYNAME": "atria_demo", "ATRIA_TUI_PUBLICKEY": "demo-public-key",
              "ATRIA_TUI_PRIVATEKEY": "demo-private-key",
              "ATRIA_TUI_CLIENTID": "5a8c3a0e-0000-4000-8000-000000000001"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    base: str
    proc: subprocess.Popen[bytes]

    def get(self, path: str) -> Any:
        return httpx.get(self.base + path, timeout=10).json()

    def post(self, path: str, body: Any = None) -> Any:
        return httpx.post(self.base + path, json=body, timeout=10).json()

    def cw_additions(self) -> dict[tuple[str, str], list[float]]:
        """(company identifier, sku) → quantities of live additions, from the emulator."""
        out: dict[tuple[str, str], list[float]] = {}
        for a in self.get(CW_API + "/_sandbox/state")["agreements"]:
            if a.get("cancelledFlag"):
                continue
            for ad in a["additions"]:
                if not ad.get("cancelledDate"):
                    out.setdefault((a["company"]["identifier"], ad["sku"]), []).append(
                        ad["quantity"])
        return out


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    port = free_port()
    # Its log goes to a file, never to a pipe nobody reads: once a pipe's buffer is full
    # (clients killed mid-request make uvicorn log tracebacks) the server blocks in a write.
    log = tmp_path_factory.mktemp("sandbox") / "sandbox.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "atria_tui.cli.main", "sandbox", "--port",
                                 str(port)], stdout=subprocess.DEVNULL, stderr=sink)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(base + "/", timeout=1)
            break
        except httpx.HTTPError:
            if proc.poll() is not None or time.monotonic() > deadline:
                err = log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"sandbox did not start: {err}") from None
            time.sleep(0.1)
    yield Server(base, proc)
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def server(sandbox: Server) -> Server:
    sandbox.post(CW_API + "/_sandbox/reset")
    sandbox.post("/kaseya/_sandbox/reset")
    return sandbox


@dataclass
class Cli:
    home: Path
    env: dict[str, str]

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "atria_tui.cli.main", *args], env=self.env,
                              capture_output=True, text=True, timeout=timeout)

    def json(self, *args: str) -> tuple[int, dict[str, Any]]:
        res = self.run(*args, "--format", "json")
        assert res.stdout.strip(), res.stderr
        return res.returncode, json.loads(res.stdout)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "atria_tui.cli.main", *args], env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATRIA_TUI_")}
    env.update(ATRIA_TUI_HOME=str(tmp_path / "home"), ATRIA_TUI_KEYRING="0", **CW_SECRETS)
    return Cli(tmp_path / "home", env)


def cw_job(tmp_path: Path, server: Server, name: str = "cw", **params: Any) -> Path:
    """The ConnectWise demo job, pointed at the served sandbox over real HTTP."""
    text = (SAMPLES / "demo-connectwise.toml").read_text()
    text = text.replace('"sandbox://connectwise/v4_6_release/apis/3.0"',
                        json.dumps(server.base + CW_API))
    text = text.replace('path = "demo-connectwise-billing.csv"',
                        f"path = {json.dumps(str(SAMPLES / 'demo-connectwise-billing.csv'))}")
    for key, value in params.items():
        lines = [ln for ln in text.splitlines() if not ln.startswith(f"{key} =")]
        at = lines.index("[parameters]") + 1
        lines.insert(at, f"{key} = {json.dumps(value)}")
        text = "\n".join(lines) + "\n"
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path


# --- Kaseya BMS and the Atria API source ---------------------------------------------------

KS_API = "/kaseya"


def _ks_env() -> dict[str, str]:
    from atria_tui.engine.secret_store import env_name
    from atria_tui.sandbox.kaseya.state import DEMO_SECRETS

    return {env_name(k): v for k, v in DEMO_SECRETS.items()}


KS_SECRETS = _ks_env()


def ks_units(server: Server, *, live_only: bool = True) -> dict[tuple[str, str], list[float]]:
    """(account code, service name) → units of the lines of Recurring Services contracts
    (only Active ones unless `live_only` is off), read from the emulator's state."""
    out: dict[tuple[str, str], list[float]] = {}
    for account in server.get(KS_API + "/_sandbox/state")["data"]["accounts"]:
        for contract in account["contracts"]:
            if contract["contractType"] != "Recurring Services":
                continue
            if live_only and contract["status"] != "Active":
                continue
            for line in contract["lines"]:
                key = (account["accountCode"], line["serviceName"])
                out.setdefault(key, []).append(line["units"])
    return {k: sorted(v) for k, v in out.items()}


@pytest.fixture
def ks_server(server: Server) -> Iterator[Server]:
    """The served sandbox with Kaseya's data, faults and knobs back to their defaults,
    before and after: a test that slows it down or shrinks its budget must not leak."""
    from dataclasses import asdict

    from atria_tui.sandbox.kaseya.types import SandboxConfig

    defaults = {**asdict(SandboxConfig()), "lines_routes": "v2"}  # the adapter's default set
    server.post(KS_API + "/_sandbox/config", defaults)
    server.post(KS_API + "/_sandbox/seed")
    yield server
    server.post(KS_API + "/_sandbox/config", defaults)
    server.post(KS_API + "/_sandbox/seed")


@pytest.fixture
def ks_cli(cli: Cli) -> Cli:
    """The CLI with the Kaseya demo credentials in the environment (as cron would have)."""
    return Cli(cli.home, {**cli.env, **KS_SECRETS})


def edit_job(template: Path, target: Path, *, parameters: dict[str, Any] | None = None,
             source: dict[str, Any] | None = None,
             options: dict[str, Any] | None = None) -> Path:
    """A copy of a sample job with tables changed; relative source paths made absolute."""
    import tomllib

    import tomli_w

    data = tomllib.loads(template.read_text(encoding="utf-8"))
    src = data.setdefault("source", {})
    if src.get("path"):
        src["path"] = str((template.parent / src["path"]).resolve())
    if source is not None:
        data["source"] = source
    data.setdefault("parameters", {}).update(parameters or {})
    if options:
        data.setdefault("options", {}).update(options)
    target.write_text(tomli_w.dumps(data), encoding="utf-8")
    return target


def ks_job(tmp_path: Path, server: Server, name: str = "ks", *,
           source: dict[str, Any] | None = None, options: dict[str, Any] | None = None,
           **params: Any) -> Path:
    """The Kaseya demo job, pointed at the served sandbox over real HTTP."""
    return edit_job(SAMPLES / "demo-kaseya.toml", tmp_path / f"{name}.toml",
                    parameters={"ApiUrl": server.base + KS_API, **params}, source=source,
                    options=options)
