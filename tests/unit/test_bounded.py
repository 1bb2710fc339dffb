"""Safe and bounded: redaction, control characters, permissions, paging limits, messages."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from atria_tui import cli
from atria_tui.model import Level, LogEntry, printable
from atria_tui.paths import db_path
from atria_tui.sandbox.server import shared
from atria_tui.secrets import redact
from atria_tui.store import Store

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"


def demo_job(tmp_path: Path, name: str = "job", *, source: Path | None = None,
             extra: str = "", **params: str) -> Path:
    """The ConnectWise demo job on the embedded sandbox, with parameters replaced."""
    text = (SAMPLES / "demo-connectwise.toml").read_text()
    billing = source or SAMPLES / "demo-connectwise-billing.csv"
    text = text.replace('path = "demo-connectwise-billing.csv"', f'path = "{billing}"')
    for key, value in params.items():
        text = "\n".join(f'{key} = "{value}"' if ln.startswith(f"{key} =") else ln
                         for ln in text.splitlines()) + "\n"
    path = tmp_path / f"{name}.toml"
    path.write_text(text + extra)
    return path


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


# --- permissions and files that are not billing exports --------------------------------------


def test_database_and_data_folder_are_private(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "fresh" / "home"
    monkeypatch.setenv("ATRIA_TUI_HOME", str(home))
    old = os.umask(0o022)
    try:
        assert cli.main(["plan", str(demo_job(tmp_path))]) == 0
    finally:
        os.umask(old)
    capsys.readouterr()
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    db = home / "atria-tui.db"
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    for extra in ("-wal", "-shm"):
        side = Path(f"{db}{extra}")
        assert not side.exists() or stat.S_IMODE(side.stat().st_mode) == 0o600


def test_an_existing_readable_database_is_tightened(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    db.touch(mode=0o644)
    os.chmod(db, 0o644)
    Store(db).start_run("j", "J", "connectwise-manage", "plan")
    for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


@pytest.mark.parametrize("content", [
    b"root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n",
    b"\x7fELF\x02\x01\x01\x00topsecret\x00\x00\x00,more;secret\n",
    b'{"password": "topsecret", "user": "root:x:0:0"}',
])
def test_a_source_that_is_not_a_billing_file_is_refused_without_its_content(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes) -> None:
    private = tmp_path / "private.dat"
    private.write_bytes(content)
    job = demo_job(tmp_path, source=private)
    assert cli.main(["plan", str(job)]) == 2
    out = capsys.readouterr()
    assert "CW03" in out.out and "private.dat" in out.out
    for word in ("nologin", "topsecret", "ELF", "password", "x:0:0"):
        assert word not in out.out + out.err


def test_a_device_or_folder_as_source_is_refused(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    for source in (Path("/dev/zero"), tmp_path):
        assert cli.main(["plan", str(demo_job(tmp_path, source=source))]) == 2
        out = capsys.readouterr().out
        assert "CW03" in out and "not a folder or device" in out
