"""The benchmark harness keeps working: `--quick` end to end, and a reproducible generator.

No number is asserted: timings depend on the machine, and the recorded figures live in
benchmarks/RESULTS.md. What is asserted is that one command runs every measured command
(the CLI as a child process for both PSAs, the in-process re-plan, `--help`, the console
benchmark twice) and writes every row of the table with a figure in it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.generate import generate, with_missing_identifiers

ROOT = Path(__file__).resolve().parents[2]

ROWS = [
    "ConnectWise `plan --format json`: wall",
    "ConnectWise `plan --format json`: peak RSS",
    "ConnectWise `plan --format json`: requests ÷ minimum",
    "ConnectWise `plan` (table output): wall ÷ json's",
    "ConnectWise `plan --format json`, ~5% Billing Identifiers missing: requests ÷ minimum",
    "ConnectWise `apply --yes --plan N` of the first 1,000 changes: wall, requests",
    "ConnectWise `apply --yes --plan N` of the first 1,000 changes: peak RSS",
    "Kaseya `plan --format json`: wall, and the budget's wait (no 429)",
    "Kaseya `plan --format json`: peak RSS",
    "Kaseya `plan --format json`, ~5% Billing Identifiers missing: requests ÷ minimum",
    "Kaseya `apply --yes --plan N` of the first 1,000 changes: wall, requests",
    "ConnectWise apply grows with writes only: wall per write at 100 ÷ at 50 customers",
    "Kaseya apply grows with writes only: wall per write at 100 ÷ at 50 customers",
    "ConnectWise re-plan after a fix (in-process, the console's path)",
    "Kaseya re-plan after a fix (in-process, the console's path)",
    "`atria-tui --help`",
    "`atria-tui --help` imports Textual or the sandbox?",
    "`plan --format json` imports Textual or the sandbox?",
    "console: longest stall, plan and apply at once (run 1 of 2)",
    "console: longest stall, plan and apply at once (run 2 of 2)",
]


# About a minute on 2 idle cores; the limit leaves room for a machine shared with other work.
@pytest.mark.timeout(300)
def test_the_quick_run_writes_every_row_with_a_figure(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATRIA_TUI_")}
    env["ATRIA_TUI_HOME"] = str(tmp_path / "home")
    res = subprocess.run([sys.executable, "-m", "benchmarks.run", "--quick", "--out",
                          str(out)], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=280)
    assert res.returncode == 0, res.stderr[-3000:]
    text = out.read_text(encoding="utf-8")
    assert text.strip() == res.stdout.strip()
    assert "Command: `python -m benchmarks.run --quick --out" in text
    table = {line.split(" | ")[0].removeprefix("| "): line.split(" | ")
             for line in text.splitlines() if line.startswith("| ")}
    for row in ROWS:
        assert row in table, row
        cells = table[row]
        assert len(cells) == 6, cells  # what, where, target, measured, ratio, met
        assert re.search(r"\d+(\.\d+)? (s|ms|MB)|\d+ ÷ \d+|\d requests|neither|textual|sandbox",
                         cells[3]), cells
        assert cells[5].strip(" |") in ("met", "**no**") or "misses by" in cells[5], cells
    assert "**failed**" not in text  # every command completed
    assert "not found in its output" not in text  # the console benchmark's rows were read
    for row in ("| ConnectWise `plan --format json` |", "| Kaseya `apply --yes --plan N`"):
        assert row in text  # the side-by-side table
    assert re.search(r"\| 100 × 5 ms \| [\d.]+ s \| [\d.]+ s \| \*\*", text)  # Kaseya ETA


def test_the_generator_is_deterministic_and_has_the_requested_size(tmp_path: Path) -> None:
    a = generate(tmp_path / "a", customers=40, seed=7)
    b = generate(tmp_path / "b", customers=40, seed=7)
    for name in ("cw_seed", "ks_seed", "cw_billing", "ks_billing"):
        assert getattr(a, name).read_bytes() == getattr(b, name).read_bytes(), name
    assert a.customers == 40 and 500 < a.records < 1200 and 120 < a.lines < 280
    header = a.cw_billing.read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("CustomerCode,CustomerName,BillingIdentifier,Sku")


def test_the_variant_blanks_every_20th_customers_identifier_only(tmp_path: Path) -> None:
    gen = generate(tmp_path / "g", customers=40, seed=3)
    v = with_missing_identifiers(gen)
    base = gen.cw_billing.read_text(encoding="utf-8").splitlines()
    missing = v.cw_billing.read_text(encoding="utf-8").splitlines()
    assert len(base) == len(missing) and v.blanked == 2  # C00010 and C00030
    changed = [(a, b) for a, b in zip(base, missing, strict=True) if a != b]
    assert changed and all(b.split(",")[0] in ("C00010", "C00030") for _, b in changed)
    assert all(b.split(",")[2] == "" for _, b in changed)
    assert 'path = "cw-billing-missing.csv"' in v.cw_job.read_text(encoding="utf-8")
