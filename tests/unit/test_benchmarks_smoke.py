"""The benchmark harness keeps working: a tiny run end to end, and a reproducible generator.

No number is asserted: timings depend on the machine, and the recorded figures live in
benchmarks/RESULTS.md. What is asserted is that the script runs both PSAs through plan,
re-plan, apply and the naive strategy and writes the table.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from benchmarks.generate import generate

ROOT = Path(__file__).resolve().parents[2]


def test_a_tiny_benchmark_run_writes_the_table_for_both_psas(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATRIA_TUI_")}
    env["ATRIA_TUI_HOME"] = str(tmp_path / "home")
    res = subprocess.run([sys.executable, "-m", "benchmarks.run", "--customers", "5",
                          "--latency-ms", "0", "--out", str(out)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=110)
    assert res.returncode == 0, res.stderr[-2000:]
    text = out.read_text(encoding="utf-8")
    assert text.strip() == res.stdout.strip()
    assert "Command: `python -m benchmarks.run --customers 5 --latency-ms 0 --out" in text
    assert "| measure | ConnectWise | Kaseya |" in text
    for row in ("| plan: wall time |", "| apply: requests ÷ minimum |",
                "| re-plan: PSA requests | 0 | 0 |", "| naive per-line: requests |",
                "peak RSS < 400 MB"):
        assert row in text
    assert "**failed**" not in text  # both plans completed
    assert "`GET /v2/finance/contracts/recurringservices/{contractId}/services`" in text


def test_the_generator_is_deterministic_and_has_the_requested_size(tmp_path: Path) -> None:
    a = generate(tmp_path / "a", customers=40, seed=7)
    b = generate(tmp_path / "b", customers=40, seed=7)
    for name in ("cw_seed", "ks_seed", "cw_billing", "ks_billing"):
        assert getattr(a, name).read_bytes() == getattr(b, name).read_bytes(), name
    assert a.customers == 40 and 500 < a.records < 1200 and 120 < a.lines < 280
    header = a.cw_billing.read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("CustomerCode,CustomerName,BillingIdentifier,Sku")
