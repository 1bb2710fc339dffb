"""Safe and bounded: redaction, control characters, permissions, paging limits, messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from atria_tui import cli
from atria_tui.model import Level, LogEntry, printable
from atria_tui.paths import db_path
from atria_tui.sandbox.server import shared
from atria_tui.secrets import redact
from atria_tui.store import Store

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"


def test_redact_masks_bearer_and_basic_credentials_but_not_product_names() -> None:
    text = ("M365 Business Basic licences; Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.x; "
            "Basic YXRyaWFfZGVtbytwdWI6cHJpdg==")
    assert redact(text, []) == ("M365 Business Basic licences; Authorization: Bearer ***; "
                                "Basic ***")


# --- control characters ----------------------------------------------------------------------

EVIL = "\x1b]0;pwned\x07\x1b[2J"
RAW = ("\x1b", "\x07", "\x9b", "\r")


def evil_job(tmp_path: Path) -> Path:
    """The ConnectWise demo with a hostile customer name in Atria and hostile agreement
    names and line descriptions in the PSA."""
    billing = (SAMPLES / "demo-connectwise-billing.csv").read_text()
    (tmp_path / "billing.csv").write_text(billing.replace("Acme Services Pty",
                                                          "Acme" + EVIL + "\x9b31m"))
    text = (SAMPLES / "demo-connectwise.toml").read_text()
    text = text.replace('path = "demo-connectwise-billing.csv"',
                        f'path = "{tmp_path / "billing.csv"}"')
    job = tmp_path / "evil.toml"
    job.write_text(text)
    cw = shared().connectwise
    for agreement in cw.agreements.values():
        agreement["name"] = EVIL + str(agreement["name"])
    for addition in cw.additions.values():
        addition["description"] = f"{EVIL}\r{addition.get('description') or ''}"
    return job


def test_control_characters_never_reach_the_terminal_or_files(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    job = str(evil_job(tmp_path))
    outputs = []
    for args in (["plan", job], ["plan", job, "--format", "csv"],
                 ["plan", job, "--format", "json"], ["log", "1"],
                 ["log", "1", "--csv", str(tmp_path / "log.csv")], ["apply", job, "--yes"]):
        cli.main(args)
        captured = capsys.readouterr()
        outputs += [captured.out, captured.err]
    outputs.append((tmp_path / "log.csv").read_text(encoding="utf-8-sig"))
    text = "".join(outputs)
    assert "pwned" in text and "Acme\N{REPLACEMENT CHARACTER}]0;pwned" in text
    for raw in RAW:
        assert raw not in text
    store = Store(db_path())
    stored = [e.message for r in store.runs(None, 10) for e in store.log(r.id)]
    assert any("pwned" in m for m in stored)
    assert not any(raw in m for m in stored for raw in RAW)


def test_printable_keeps_breaks_only_where_asked() -> None:
    assert printable("a\tb\nc" + EVIL) == "a b c\ufffd]0;pwned\ufffd\ufffd[2J"
    assert printable("a\tb\nc\x00", breaks=True) == "a\tb\nc\ufffd"
    entry = LogEntry("CW02", Level.ERROR, "line one\nline two\x1b[31m")
    assert entry.message == "line one line two\ufffd[31m"
