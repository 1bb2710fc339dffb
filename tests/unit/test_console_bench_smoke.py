"""The console benchmark keeps working: a tiny run drives the real screens end to end.

No timing is asserted (the machine decides those; the recorded figures live in
benchmarks/RESULTS-console.md). What is asserted: every metric is in the table, the
filters shown there left the rows the workload says they should, the report is written
as printed, and the script's patches are gone afterwards.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import atria_tui.console.screens.apply
import atria_tui.console.screens.log
import atria_tui.console.screens.preview
import atria_tui.services.engine
from atria_tui.console.widgets.grid import Grid
from atria_tui.core.model import Level
from benchmarks.console_bench import main
from benchmarks.console_workload import build_workload

pytestmark = pytest.mark.timeout(60)

METRICS = [
    "Preview: open a 200-row plan (push → painted)", "Preview: sort by customer",
    "Preview: sort by Δ money", "Preview: reverse that sort", 'Preview: filter text "CW07"',
    "Preview: filter customer", "Preview: level filter Info+ (key l)",
    "Log: open a run of 200 entries (push → painted)",
    "Log: UI stall, longest, from open until the notes are read", "Log: sort by customer",
    "Log: sort by code", "Log: sort by message", "Log: reverse that sort",
    'Log: search "CW07"', 'Log: search "C0', "Log: level filter Info+ (key l)",
    *(f"Stream: {what}: {which}"
      for what in ("apply log", "plan in a worker", "apply log + plan at once")
      for which in ("opening the screen(s), longest stall", "UI stall, longest",
                    "UI stall, p99")),
]


def test_a_tiny_run_reports_every_metric_and_restores_the_app(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ATRIA_TUI_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ATRIA_TUI_KEYRING", "0")
    screens = atria_tui.console.screens
    originals = (screens.preview.plan_job, screens.apply.apply_job, screens.log.stored_notes,
                 Grid.render_lines)
    out = tmp_path / "RESULTS-console.md"

    assert main(["--rows", "200", "--out", str(out)]) == 0

    printed = capsys.readouterr().out
    text = out.read_text(encoding="utf-8")
    assert text.strip() == printed.strip()
    assert f"Command: `python -m benchmarks.console_bench --rows 200 --out {out}`" in text
    assert "cores shared with other work" in text
    assert "| metric | measured | target | ok? |" in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and " ms |" in line]
    assert len(rows) == len(METRICS)
    for metric, row in zip(METRICS, rows, strict=True):
        assert row.startswith(f"| {metric}"), (metric, row)
        assert re.search(r"\| [\d,]+ ms \| < (1000|200|100) ms \| (yes|\*\*no\*\*) \|$", row)

    # The measured operations did what they say: the rows shown match the workload's plan.
    plan, _ = build_workload(200).plan()
    cw07 = sum(1 for i in plan.items if i.code == "CW07")
    info_up = sum(1 for i in plan.items if i.level.rank >= Level.INFO.rank)
    for screen in ("Preview", "Log"):
        assert f"| {screen}: sort by customer (200 rows shown" in text
        assert f"({info_up:,} rows shown" in _row(rows, f"{screen}: level filter Info+")
    assert f"({cw07:,} rows shown" in _row(rows, 'Preview: filter text "CW07"')
    assert f"({cw07:,} rows shown" in _row(rows, 'Log: search "CW07"')
    assert "## Causes, measured in the same process" in text
    assert "A full garbage collection over this heap" in text and "`plan_to_json`" in text

    # Nothing of the script's stand-ins or probes outlives it.
    assert (atria_tui.console.screens.preview.plan_job, atria_tui.console.screens.apply.apply_job,
            atria_tui.console.screens.log.stored_notes, Grid.render_lines) == originals
    assert atria_tui.services.engine.plan_job is originals[0]


def _row(rows: list[str], metric: str) -> str:
    return next(r for r in rows if r.startswith(f"| {metric}"))
