"""The job form's per-field checks and hints."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from atria_tui.job import form_checks as f

NOW = datetime(2026, 11, 20, 9, 30)


def test_cron_hint_lists_the_next_three_runs() -> None:
    c = f.cron("0 22 26 * *", NOW)
    assert c.ok
    assert c.hint == "next: Thu 2026-11-26 22:00, Sat 2026-12-26 22:00, Tue 2027-01-26 22:00"
    assert not f.cron("", NOW).ok
    assert "invalid cron" in (f.cron("61 * * * *", NOW).error or "")


def test_billing_period() -> None:
    today = date(2026, 11, 20)
    assert f.billing_period("Previous", 26, today).hint == (
        "today that is the period 2026-09-26 to 2026-10-25")
    assert f.billing_period("2026-11-20", 26, today).hint == (
        "the period 2026-10-26 to 2026-11-25")
    assert "not a real date" in (f.billing_period("2026-02-30", 26, today).error or "")
    assert not f.billing_period("Last", 26, today).ok
    assert not f.billing_period(" ", 26, today).ok
    assert f.billing_period("current", None, today).ok  # day unknown: no period yet


def test_api_url_accepts_https_and_the_sandbox() -> None:
    assert f.api_url("https://api-na.myconnectwise.net/v4_6_release/apis/3.0").ok
    assert f.api_url("sandbox://kaseya").ok
    assert not f.api_url("sandbox://elsewhere").ok
    assert not f.api_url("ftp://x").ok
    assert not f.api_url("").ok


def test_customers_and_start_day() -> None:
    assert f.parse_customers(" ASP, FR1,,ASP ") == ["ASP", "FR1"]
    assert f.customers("").hint == "empty: every customer"
    assert f.customers("ASP").hint == "1 customer: ASP"
    assert not f.customers('["ASP"]').ok
    assert f.start_day("26") == (f.Check(), 26)
    assert not f.start_day("29")[0].ok
    assert not f.start_day("x")[0].ok


def test_source_path(tmp_path: Path) -> None:
    (tmp_path / "billing.csv").write_text("")
    assert f.source_path("billing.csv", tmp_path).hint == "found: billing.csv"
    assert f.source_path("later.csv", tmp_path).hint.startswith("not found yet:")
    assert not f.source_path("", tmp_path).ok
    assert not f.source_path(str(tmp_path), tmp_path).ok
    assert not f.label("  ").ok
    assert f.contract_type("", "Recurring Services").hint == "empty means 'Recurring Services'"
