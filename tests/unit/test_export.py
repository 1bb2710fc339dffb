import csv
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from atria_tui.core.export import (
    LOG_HEADER,
    PLAN_HEADER,
    csv_text,
    log_rows,
    plan_rows,
    safe_cell,
    write_csv,
)
from atria_tui.core.model import Action, Level, LogEntry, PlanItem, Status


@pytest.mark.parametrize("text", ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx",
                                  '=HYPERLINK("http://evil","click")'])
def test_formula_text_is_neutralised(text: str) -> None:
    assert safe_cell(text) == "'" + text


def test_plain_text_and_numbers_are_untouched() -> None:
    assert safe_cell("Acme - Cloud") == "Acme - Cloud"
    assert safe_cell("a=b") == "a=b"
    assert safe_cell("") == ""
    assert safe_cell(-3) == -3
    assert safe_cell(2.5) == 2.5
    assert safe_cell(Decimal("-1.50")) == "-1.50"
    assert safe_cell(Decimal("1E+3")) == "1000"
    assert safe_cell(None) == ""
    assert safe_cell(True) == "true" and safe_cell(False) == "false"
    assert safe_cell(datetime(2026, 11, 26, 22, 0, 5, 123456)) == "2026-11-26T22:00:05"
    assert safe_cell(date(2026, 11, 25)) == "2026-11-25"
    assert safe_cell(Level.WARNING) == "Warning"
    assert safe_cell(Path("x")) == "x"


def _read(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))


def test_write_csv_round_trips_with_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    rows = [["ASP", "Acme, Inc", 'say "hi"', Decimal("-2"), "=cmd()", "line\nbreak", None, 3],
            ["Ü-ñ", "", "", Decimal("0.10"), "-x", "", True, 1.5]]
    assert write_csv(path, ["a", "b", "c", "d", "e", "f", "g", "h"], rows) == 2
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfa,b,c,d,e,f,g,h\r\n")
    assert raw.endswith(b"\r\n")
    assert _read(path) == [
        ["a", "b", "c", "d", "e", "f", "g", "h"],
        ["ASP", "Acme, Inc", 'say "hi"', "-2", "'=cmd()", "line\nbreak", "", "3"],
        ["Ü-ñ", "", "", "0.10", "'-x", "", "true", "1.5"]]
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_failure_mid_write_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    write_csv(path, ["x"], [["old"]])
    before = path.read_bytes()

    def rows() -> Iterator[list[object]]:
        for i in range(5000):
            yield [f"row {i}"]
        raise OSError("store went away")

    with pytest.raises(OSError, match="store went away"):
        write_csv(path, ["x"], rows())
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["log.csv"]


def test_failure_on_a_new_file_leaves_nothing(tmp_path: Path) -> None:
    def rows() -> Iterator[list[object]]:
        yield ["a"]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_csv(tmp_path / "new.csv", ["x"], rows())
    assert list(tmp_path.iterdir()) == []


def test_overwrite_keeps_permissions(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    write_csv(path, ["x"], [])
    assert path.stat().st_mode & 0o777 == 0o644
    path.chmod(0o640)
    write_csv(path, ["x"], [[1]])
    assert path.stat().st_mode & 0o777 == 0o640
    assert _read(path) == [["x"], ["1"]]


def test_csv_text_has_the_same_bytes_as_a_file_export(tmp_path: Path) -> None:
    """`plan --format csv > f.csv` must open in Excel like a console export: BOM, CRLF."""
    header, rows = ["a", "b"], [["=1", Decimal("2.0")], ["x,y", None], ["Jürgen – ok", 1]]
    text = csv_text(header, rows)
    path = tmp_path / "same.csv"
    write_csv(path, header, rows)
    assert text.encode("utf-8") == path.read_bytes()
    assert text == "\ufeffa,b\r\n'=1,2.0\r\n\"x,y\",\r\nJürgen – ok,1\r\n"
    assert csv_text(["a"], [[1]], line_end="\n", bom=False) == "a\n1\n"


def test_log_rows_with_notes(tmp_path: Path) -> None:
    t = datetime(2026, 11, 26, 22, 0, 1)
    entries = [LogEntry("CW01", Level.INFO, "Billing Process Started", time=t),
               LogEntry("CW07", Level.INFO, "ASP Quantity Update", "ASP", "MS-365", t),
               LogEntry("CW06", Level.WARNING, "=evil", "FR1", "X", None)]
    rows = list(log_rows(entries, {("asp", "ms-365"): "checked with Jo"},
                         {("ASP", "MS-365"): ("M365-BP", "Acme MSA")}))
    assert rows[1] == [t, "Info", "CW07", "ASP", "MS-365", "ASP Quantity Update",
                       "checked with Jo", "M365-BP", "Acme MSA"]
    assert rows[0][-3] == "" and rows[2][-3] == "" and rows[2][-2:] == ["", ""]
    path = tmp_path / "log.csv"
    assert write_csv(path, LOG_HEADER, rows) == 3
    got = _read(path)
    assert got[0] == LOG_HEADER
    assert got[2][0] == "2026-11-26T22:00:01" and got[2][-3] == "checked with Jo"
    assert got[3][5] == "'=evil" and got[3][0] == ""
    assert list(log_rows(entries))[1][-3:] == ["", "", ""]


def test_log_times_are_written_in_the_local_zone_with_their_offset(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stored UTC; a Sydney clerk's export reads Sydney time, and says so."""
    import time

    monkeypatch.setenv("TZ", "Australia/Sydney")
    time.tzset()
    try:
        t = datetime(2026, 11, 28, 3, 39, 4, tzinfo=UTC)
        path = tmp_path / "log.csv"
        write_csv(path, LOG_HEADER, log_rows([LogEntry("CW01", Level.INFO, "x", time=t)]))
        assert _read(path)[1][0] == "2026-11-28T14:39:04+11:00"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_plan_rows_match_the_header(tmp_path: Path) -> None:
    item = PlanItem("k", "ASP", "Acme", "C1", "MS-365", "Mailbox", Decimal("5"), Decimal("3"),
                    Action.UPDATE, "CW07", Level.INFO, "updated", unit_price=Decimal("4.50"),
                    note="ok", status=Status.APPLIED)
    skip = PlanItem("k2", "FR1", "Fresh", "", "", "@Backup", None, None, Action.SKIP, "CW04",
                    Level.WARNING, "missing", approved=False)
    rows = list(plan_rows([item, skip]))
    assert all(len(r) == len(PLAN_HEADER) for r in rows)
    path = tmp_path / "plan.csv"
    write_csv(path, PLAN_HEADER, rows)
    got = [dict(zip(PLAN_HEADER, r, strict=True)) for r in _read(path)[1:]]
    assert got[0]["atria_quantity"] == "5" and got[0]["psa_quantity"] == "3"
    assert got[0]["delta"] == "2" and got[0]["money_delta"] == "9.00"
    assert got[0]["unit_price"] == "4.50"
    assert (got[0]["action"], got[0]["level"], got[0]["status"], got[0]["approved"]) == (
        "update", "Info", "applied", "true")
    assert got[1]["atria_quantity"] == "" and got[1]["status"] == ""
    assert got[1]["approved"] == "false" and got[1]["description"] == "'@Backup"
    assert got[1]["delta"] == "0"
