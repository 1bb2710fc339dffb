"""benchmarks/apply_cost.py keeps working: a tiny run, its table, no timing asserted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_tiny_apply_cost_run_logs_the_writes_and_one_summary(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS-apply.md"
    res = subprocess.run([sys.executable, "-m", "benchmarks.apply_cost", "--unchanged", "40",
                          "--changes", "5", "--repeat", "1", "--out", str(out)], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr[-2000:]
    # 5 writes, one TU17 for the 40 unchanged lines, the closing CW23; 5 journal rows
    assert "| 40 | 5 |" in out.read_text() and "| 7 | 5 |" in out.read_text()
