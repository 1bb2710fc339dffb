"""Billing records from the Atria API (`[source] kind = "api"`) instead of an export file.

The emulator serves the same demo billing files at `/atria/kaseya` and `/atria/connectwise`,
so a job reading them over HTTP must plan exactly what the file job plans.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from atria_tui.sandbox.atria_api import DEMO_ATRIA_TOKEN
from tests.e2e.conftest import CW_API, KS_API, SAMPLES, Cli, Server, edit_job

TOKEN_ENV = "ATRIA_TUI_ATRIATOKEN"


def job(tmp_path: Path, server: Server, task: str, name: str, source: dict[str, str] | None
        ) -> Path:
    api = CW_API if task == "connectwise" else KS_API
    return edit_job(SAMPLES / f"demo-{task}.toml", tmp_path / f"{name}.toml",
                    parameters={"ApiUrl": server.base + api}, source=source)


def api_source(server: Server, task: str) -> dict[str, str]:
    return {"kind": "api", "url": f"{server.base}/atria/{task}"}


def with_token(cli: Cli, token: str | None) -> Cli:
    env = {k: v for k, v in cli.env.items() if k != TOKEN_ENV}
    if token is not None:
        env[TOKEN_ENV] = token
    return Cli(cli.home, env)


def plan(cli: Cli, path: Path) -> tuple[int, dict[str, Any]]:
    return cli.json("plan", str(path))


def same_plan(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a["period_end"] == b["period_end"]
    assert a["items"] and a["items"] == b["items"]
    # A later Kaseya plan of the period reuses the lines the first one read (TU18).
    assert [(e["code"], e["message"]) for e in a["log"] if e["code"] != "TU18"] == \
        [(e["code"], e["message"]) for e in b["log"] if e["code"] != "TU18"]


def assert_atria_refused(res: subprocess.CompletedProcess[str], out: dict[str, Any],
                         code: str, end: str) -> None:
    assert res.returncode == 2 and "Traceback" not in res.stderr
    failed = [e for e in out["log"] if e["code"] == code]
    assert len(failed) == 1 and failed[0]["level"] == "Error"
    message = failed[0]["message"]
    assert "401" in message and "AtriaToken" in message and "/api/billing/" in message
    assert out["log"][-1]["code"] == end and "Failed" in out["log"][-1]["message"]
    assert "not-the-token" not in res.stdout + res.stderr   # a refused token is never echoed


def test_kaseya_api_source_plans_like_the_file(tmp_path: Path, ks_server: Server,
                                               ks_cli: Cli) -> None:
    code, from_file = plan(ks_cli, job(tmp_path, ks_server, "kaseya", "file", None))
    assert code == 0
    api_job = job(tmp_path, ks_server, "kaseya", "api", api_source(ks_server, "kaseya"))
    code, from_api = plan(with_token(ks_cli, DEMO_ATRIA_TOKEN), api_job)
    assert code == 0, from_api["log"][-3:]
    same_plan(from_file, from_api)

    res = with_token(ks_cli, "not-the-token").run("plan", str(api_job), "--format", "json")
    assert_atria_refused(res, json.loads(res.stdout), "KS03", "KS24")

    # The token can live in the encrypted store instead of the environment.
    stored = with_token(ks_cli, None)
    put = subprocess.run([sys.executable, "-m", "atria_tui.cli.main", "secret", str(api_job),
                          "AtriaToken", "--stdin"], input=DEMO_ATRIA_TOKEN + "\n",
                         env=stored.env, capture_output=True, text=True, timeout=30)
    assert put.returncode == 0, put.stderr
    code, again = plan(stored, api_job)
    assert code == 0
    same_plan(from_file, again)


def test_connectwise_api_source_plans_like_the_file(tmp_path: Path, server: Server,
                                                    cli: Cli) -> None:
    code, from_file = plan(cli, job(tmp_path, server, "connectwise", "file", None))
    assert code == 0
    api_job = job(tmp_path, server, "connectwise", "api", api_source(server, "connectwise"))
    code, from_api = plan(with_token(cli, DEMO_ATRIA_TOKEN), api_job)
    assert code == 0, from_api["log"][-3:]
    same_plan(from_file, from_api)
    res = with_token(cli, "not-the-token").run("plan", str(api_job), "--format", "json")
    assert_atria_refused(res, json.loads(res.stdout), "CW03", "CW23")


def test_embedded_atria_api_needs_no_token(tmp_path: Path, ks_server: Server,
                                           ks_cli: Cli) -> None:
    code, from_file = plan(ks_cli, job(tmp_path, ks_server, "kaseya", "file", None))
    embedded = job(tmp_path, ks_server, "kaseya", "embedded",
                   {"kind": "api", "url": "sandbox://atria/kaseya"})
    code, out = plan(with_token(ks_cli, None), embedded)
    assert code == 0, out["log"][-3:]
    same_plan(from_file, out)
