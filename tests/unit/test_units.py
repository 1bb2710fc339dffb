"""`schedule --print-cron` / `--print-systemd`: the lines that install `schedule --once`
into the system's timers, with the secrets' variables named and never filled in."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    for sample in (ROOT / "sample_configs").glob("demo-*"):
        shutil.copy(sample, jobs / sample.name)
    return jobs


def cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {"ATRIA_TUI_HOME": str(home), "ATRIA_TUI_KEYRING": "0", "PATH": "/usr/bin:/bin",
           "ATRIA_TUI_PRIVATEKEY": "never-printed-value"}
    return subprocess.run([sys.executable, "-m", "atria_tui.cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def test_print_cron_runs_schedule_once_for_the_folder(folder: Path, tmp_path: Path) -> None:
    res = cli("schedule", "--jobs", str(folder), "--print-cron", home=tmp_path / "home")
    assert res.returncode == 0, res.stderr
    *comments, line = res.stdout.strip().splitlines()
    assert line.startswith("*/5 * * * * ATRIA_TUI_HOME=")
    assert f"schedule --once --jobs {folder}" in line
    named = "\n".join(comments)
    for var in ("ATRIA_TUI_PRIVATEKEY", "ATRIA_TUI_PASSWORD", "ATRIA_TUI_TENANT"):
        assert f"#   {var}=…" in named
    assert "never-printed-value" not in res.stdout


def test_print_systemd_writes_a_unit_pair_systemd_accepts(folder: Path, tmp_path: Path
                                                         ) -> None:
    out = tmp_path / "units"
    res = cli("schedule", "--jobs", str(folder), "--print-systemd", "--out", str(out),
              home=tmp_path / "home")
    assert res.returncode == 0, res.stderr
    service = (out / "atria-tui-schedule.service").read_text()
    timer = (out / "atria-tui-schedule.timer").read_text()
    assert "Type=oneshot" in service and f"schedule --once --jobs {folder}" in service
    assert "EnvironmentFile=-%h/.config/atria-tui/schedule.env" in service
    assert "#   ATRIA_TUI_COMPANYNAME=…" in service and "never-printed-value" not in service
    assert "OnCalendar=*:0/5" in timer and "Persistent=true" in timer
    again = cli("schedule", "--jobs", str(folder), "--print-systemd", "--out", str(out),
                home=tmp_path / "home")
    assert again.returncode == 1 and "exists" in again.stderr       # never overwritten
    if shutil.which("systemd-analyze"):
        check = subprocess.run(["systemd-analyze", "verify", str(out / "atria-tui-schedule"
                                                                 ".timer"),
                                str(out / "atria-tui-schedule.service")],
                               capture_output=True, text=True, timeout=60)
        assert "atria-tui-schedule" not in check.stderr, check.stderr
