"""`atria-tui report RUN`: the month-end sign-off page, written and printed by a browser."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.e2e.conftest import Cli, Server, cw_job


class _Cells(HTMLParser):
    """Text of every table cell and every tag name: what the page says, and what it loads."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += attrs
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _applied_run(tmp_path: Path, server: Server, cli: Cli) -> tuple[str, dict[str, object]]:
    job = str(cw_job(tmp_path, server))
    code, out = cli.json("apply", job, "--yes")            # decreases held, as in the console
    assert code == 0
    return str(out["run_id"]), out


def test_report_states_every_change_its_decision_and_the_totals(
        tmp_path: Path, server: Server, cli: Cli) -> None:
    run, out = _applied_run(tmp_path, server, cli)
    page = tmp_path / "signoff.html"
    res = cli.run("report", run, "--out", str(page), "--by", "Jo Clerk")
    assert res.returncode == 0, res.stderr
    html = page.read_text(encoding="utf-8")
    parsed = _Cells()
    parsed.feed(html)
    assert not {"script", "link", "img", "iframe"} & set(parsed.tags)   # self-contained
    assert not any(v and re.match(r"(https?:)?//", v) for _, v in parsed.attrs)
    assert "@page" in html and "Jo Clerk" in html and "2026-11-25" in html
    items = [i for i in out["items"] if i["action"] in ("update", "add", "zero")]  # type: ignore[union-attr]
    change_rows = [r for r in parsed.rows if len(r) == 10 and r[0] != "Customer"]
    assert len(change_rows) == len(items)
    old = [r for r in change_rows if r[0] == "OLD"]
    assert old and all(r[7] == "not approved" and r[8] == "not written" for r in old)
    asp = [r for r in change_rows if r[0] == "ASP" and r[1] == "M365-BP"]
    assert asp and asp[0][7] == "approved" and asp[0][8] == "written"
    totals = {r[0].split(" · ")[0]: r for r in parsed.rows if len(r) == 6 and r[0] != "Customer"}
    approved_money = sum(i["money_delta"] for i in items  # type: ignore[index]
                         if i["customer_code"] == "ASP" and i["approved"])  # type: ignore[index]
    assert totals["ASP"][4] == f"{approved_money:+,.2f}"
    codes = [r[0] for r in parsed.rows if len(r) == 4 and r[0] != "Code"]
    assert "CW04" in codes and "CW14" in codes                    # warnings by code
    again = cli.run("report", run, "--out", str(page))
    assert again.returncode == 1 and "exists" in again.stderr    # never overwritten silently


def test_report_of_an_unknown_run_is_one_line(cli: Cli) -> None:
    res = cli.run("report", "99")
    assert res.returncode == 1 and res.stderr.count("\n") == 1 and "no such run" in res.stderr


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium not installed")
def test_report_prints_in_a_real_browser(tmp_path: Path, server: Server, cli: Cli) -> None:
    run, _ = _applied_run(tmp_path, server, cli)
    page = tmp_path / "signoff.html"
    assert cli.run("report", run, "--out", str(page)).returncode == 0
    pdf, png = tmp_path / "signoff.pdf", tmp_path / "signoff.png"
    base = ["chromium", "--headless", "--no-sandbox", "--disable-gpu",
            f"--user-data-dir={tmp_path / 'profile'}"]
    subprocess.run([*base, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri()],
                   capture_output=True, timeout=120, check=False)
    subprocess.run([*base, "--window-size=900,1300", f"--screenshot={png}", page.as_uri()],
                   capture_output=True, timeout=120, check=False)
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    pages = len(re.findall(rb"/Type\s*/Page[^s]", data))
    assert 1 <= pages <= 6                                        # prints, on a few pages
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 20_000
    keep = Path("/tmp/atria-signoff-check")                       # for a person to look at
    keep.mkdir(exist_ok=True)
    shutil.copy(png, keep / "signoff.png")
    shutil.copy(pdf, keep / "signoff.pdf")
