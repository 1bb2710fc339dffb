"""Billing rows no real export has, and a store another process holds: refused through the
real CLI against the sandbox on 127.0.0.1, with one line naming the file and line, a
non-zero exit, no run left Running and the PSA's quantities as they were."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest

from tests.e2e.conftest import SAMPLES, Cli, Server, cw_job

BILLING = SAMPLES / "demo-connectwise-billing.csv"
ROW = ("ASP,Acme Services Pty,AcmeServices,M365-BP,Microsoft 365 Business Premium - Credit,"
       "Microsoft 365 Business Premium,{q},true,2026-11-25")


def with_billing(job: Path, billing: Path) -> Path:
    text = job.read_text().replace(json.dumps(str(BILLING)), json.dumps(str(billing)))
    job.write_text(text)
    return job


def one_line(stderr: str) -> str:
    assert "Traceback" not in stderr and "unexpected error" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize("quantity, expected", [
    ("-3", "a quantity of 0 or more, got '-3'"),
    ("9" * 400, "a quantity of at most 100000 (the job's [options] max_quantity)"),
])
@pytest.mark.parametrize("command", [("plan",), ("apply", "--yes", "--approve-all")])
def test_an_absurd_billing_row_is_refused_with_file_and_line(
        tmp_path: Path, server: Server, cli: Cli, quantity: str, expected: str,
        command: tuple[str, ...]) -> None:
    before = server.cw_additions()
    rows = BILLING.read_text().rstrip("\n").splitlines()
    billing = tmp_path / "billing.csv"
    billing.write_text("\n".join([*rows, ROW.format(q=quantity)]) + "\n")
    job = with_billing(cw_job(tmp_path, server), billing)
    res = cli.run(*command, str(job))
    line = one_line(res.stderr)
    assert res.returncode == 2
    assert f"CW03 Failed to connect to Atria: Error reported was : {billing}: line " \
           f"{len(rows) + 1}, column Quantity: {expected}" in line
    assert server.cw_additions() == before
    runs = cli.run("runs")
    assert "Failed" in runs.stdout and "Running" not in runs.stdout


@pytest.mark.parametrize("raw", ["1e309", "NaN", "-Infinity", "-3"])
def test_an_absurd_json_quantity_is_refused_with_file_and_record(
        tmp_path: Path, server: Server, cli: Cli, raw: str) -> None:
    before = server.cw_additions()
    rows = list(csv.DictReader(io.StringIO(BILLING.read_text())))
    records = [json.dumps(r) for r in rows]
    records.append(json.dumps({**rows[0], "Quantity": "@"}).replace('"@"', raw))
    billing = tmp_path / "billing.json"
    billing.write_text("[\n" + ",\n".join(records) + "\n]\n")
    job = with_billing(cw_job(tmp_path, server), billing)
    res = cli.run("apply", str(job), "--yes", "--approve-all")
    line = one_line(res.stderr)
    assert res.returncode == 2
    assert f"{billing}: record {len(rows) + 1}, column Quantity: a " in line
    assert server.cw_additions() == before


def test_a_store_locked_for_more_than_5_seconds_is_one_line(tmp_path: Path, server: Server,
                                                            cli: Cli) -> None:
    assert cli.run("runs").returncode == 0  # creates the database
    db = cli.home / "atria-tui.db"
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        res = cli.run("apply", str(cw_job(tmp_path, server)), "--yes", "--approve-all")
    finally:
        other.execute("ROLLBACK")
        other.close()
    line = one_line(res.stderr)
    assert res.returncode == 2
    assert line == (f"atria-tui: run history database {db}: locked by another process for "
                    "more than 5 s (another atria-tui run or the console is writing to it); "
                    "try again when it has finished")
    runs = cli.run("runs")
    assert runs.returncode == 0 and "Running" not in runs.stdout
