"""Inputs and surroundings that used to end in a traceback: each is now one line on stderr
naming what and where, exit 1 (bad usage or configuration) or 2 (the run or command
failed), and no run is left "Running" in the store."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
from pathlib import Path

import pytest

from atria_tui.cli.main import main
from atria_tui.core.paths import data_dir, db_path
from atria_tui.engine import store as store_module
from atria_tui.engine.store import RUNNING, Store
from tests.support import runtime

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"
PARAMS = '{"ApiUrl": "https://psa.example.com/v4_6_release/apis/3.0", "AgreementType": "A"}'


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """(exit status, the one stderr line); fails on a traceback or more than one line."""
    code = main(list(argv))
    err = capsys.readouterr().err
    assert "Traceback" not in err and "unexpected error" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return code, lines[0]


def demo_job(tmp_path: Path, name: str = "job", **replace: str) -> Path:
    shutil.copy(SAMPLES / "demo-connectwise-billing.csv", tmp_path / "billing.csv")
    text = (SAMPLES / "demo-connectwise.toml").read_text().replace(
        "demo-connectwise-billing.csv", "billing.csv")
    for old, new in replace.items():
        text = text.replace(old, new)
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path


def statuses() -> list[str]:
    s = Store(db_path())
    try:
        return [r.status for r in s.runs()]
    finally:
        s.close()


# --- 1. the mappings file ---------------------------------------------------------------------


@pytest.mark.parametrize("content", [
    b"customers = [\n", b"customers = 3\n", b'skus = { "A" = 1 }\n', b"managed = [{}]\n",
    b"\xff\xfe\x00garbage\x81", os.urandom(300), b"x = " + b"[" * 5000 + b"]" * 5000,
    b"customers = { a = " + b"9" * 5000 + b" }\n",
])
def test_a_broken_mappings_file_ends_the_run_failed(tmp_path: Path, content: bytes,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    job = demo_job(tmp_path)
    (tmp_path / "job.mappings.toml").write_bytes(content)
    code, line = run(capsys, "plan", str(job), "--format", "json")
    assert code == 2 and "CW13" in line and "job.mappings.toml" in line
    assert statuses() == ["Failed"]


# --- 2. the store -----------------------------------------------------------------------------


def test_a_damaged_store_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    data_dir().mkdir(parents=True, exist_ok=True)
    db_path().write_bytes(os.urandom(4096))
    code, line = run(capsys, "runs")
    assert code == 2 and str(db_path()) in line and "not a database or damaged" in line


def test_a_locked_store_is_one_line_and_leaves_no_run_running(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert store_module.BUSY_TIMEOUT == 5.0
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT", 0.2)  # the same path, sooner
    Store(db_path()).close()
    other = sqlite3.connect(db_path(), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        code, line = run(capsys, "plan", str(demo_job(tmp_path)))
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert code == 2 and "locked by another process for more than 0.2 s" in line
    assert RUNNING not in statuses()


# --- 3. deeply nested JSON --------------------------------------------------------------------


def test_deeply_nested_billing_json_names_the_file(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    job = demo_job(tmp_path, **{'path = "billing.csv"': 'path = "deep.json"'})
    code, line = run(capsys, "plan", str(job))
    assert code == 2 and "CW03" in line and "deep.json" in line and "nested" in line
    assert statuses() == ["Failed"]


@pytest.mark.parametrize("flag", ["--params", "--secrets"])
def test_deeply_nested_import_blocks(tmp_path: Path, flag: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "P.json").write_text(PARAMS)
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    blocks = {"--params": str(tmp_path / "P.json"), flag: str(tmp_path / "deep.json")}
    code, line = run(capsys, "import-job", "--task", "connectwise-manage",
                     *[x for kv in blocks.items() for x in kv], "--out", str(tmp_path / "j.toml"))
    assert code == 1 and "block: valid JSON" in line and "nested" in line
    assert not (tmp_path / "j.toml").exists()


# --- 5. ApiUrl --------------------------------------------------------------------------------


@pytest.mark.parametrize("url, fragment", [
    ("http://127.0.0.1:99999/apis/3.0", "Port out of range"),
    ("https://psa example.com/apis", "must not contain spaces"),
    ("https://[::1/apis", "not a valid URL"),
    ("sandbox://\tconnectwise/v4_6_release/apis/3.0", "must not contain spaces"),
    ("http://xn--/apis", "not a valid URL"),
    ("sandbox://connectwise/\\u0001", "non-printable"),
])
def test_an_unparseable_api_url_ends_the_run_naming_apiurl(
        tmp_path: Path, url: str, fragment: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in (("COMPANYNAME", "c"), ("PUBLICKEY", "p"), ("PRIVATEKEY", "k"),
                        ("CLIENTID", "i")):
        monkeypatch.setenv(f"ATRIA_TUI_{name}", value)
    job = demo_job(tmp_path, **{"sandbox://connectwise/v4_6_release/apis/3.0": url})
    code, line = run(capsys, "plan", str(job))
    assert code == 2 and "CW13" in line and "ApiUrl" in line and fragment in line
    assert statuses() == ["Failed"]


# --- 6. import-job --out ----------------------------------------------------------------------


@pytest.mark.parametrize("out, fragment", [
    ("{tmp}", "is a folder"),
    ("{tmp}/missing/deeper/job.toml", "does not exist"),
    ("/proc/job.toml", "cannot write the job file"),
    ("/dev/full", "cannot write the job file: not a regular file"),
])
def test_import_job_out_that_cannot_be_written(tmp_path: Path, out: str, fragment: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "P.json").write_text(PARAMS)
    target = out.format(tmp=tmp_path)
    code, line = run(capsys, "import-job", "--task", "connectwise-manage", "--params",
                     str(tmp_path / "P.json"), "--out", target)
    assert code == 1 and line.startswith(f"atria-tui: --out {target}:") and fragment in line
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)  # the device is left a device
    assert not (tmp_path / "missing").exists()


def test_import_job_params_that_are_not_text(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "P.json").write_bytes(b"\xff\xfe\x81{")
    code, line = run(capsys, "import-job", "--task", "connectwise-manage", "--params",
                     str(tmp_path / "P.json"), "--out", str(tmp_path / "j.toml"))
    assert code == 1 and "not UTF-8 text" in line


# --- 7. ATRIA_TUI_HOME ------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [["runs"], ["plan", "{job}"], ["jobs"], ["log", "1"],
                                  ["secret", "{job}", "PublicKey", "--stdin"], []])
def test_a_home_that_is_a_file(tmp_path: Path, argv: list[str],
                               capsys: pytest.CaptureFixture[str],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home-file"
    home.write_text("not a folder")
    monkeypatch.setenv("ATRIA_TUI_HOME", str(home))
    job = str(demo_job(tmp_path))
    code, line = run(capsys, *[a.format(job=job) for a in argv])
    assert code == 1 and f"ATRIA_TUI_HOME={home}: not a folder" in line
    assert home.read_text() == "not a folder"


# --- 8. the CSV export ------------------------------------------------------------------------


@pytest.fixture
def a_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["plan", str(demo_job(tmp_path)), "--format", "json"]) == 0
    capsys.readouterr()
    return "1"


def test_log_export_onto_a_full_disk(a_run: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, line = run(capsys, "log", a_run, "--csv", "/dev/full")
    assert code == 2 and "--csv /dev/full" in line and "disk full" in line
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


@pytest.mark.parametrize("target, fragment", [
    ("{tmp}", "is a folder"), ("{tmp}/missing/log.csv", "No such file or directory"),
    ("/proc/log.csv", "cannot write the log export")])
def test_log_export_onto_an_unwritable_path(a_run: str, tmp_path: Path, target: str,
                                            fragment: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = target.format(tmp=tmp_path)
    code, line = run(capsys, "log", a_run, "--csv", path)
    assert code == 1 and line.startswith(f"atria-tui: --csv {path}:") and fragment in line


# --- 9. NUL bytes -----------------------------------------------------------------------------


@pytest.mark.parametrize("argv, name", [
    (["plan", "a\0b.toml"], "JOB"),
    (["apply", "a\0b.toml", "--yes"], "JOB"),
    (["log", "1", "--csv", "a\0b.csv"], "--csv"),
    (["import-job", "--task", "kaseya-bms", "--params", "{p}", "--out", "a\0b"], "--out"),
    (["import-job", "--task", "kaseya-bms", "--params", "a\0b", "--out", "x.toml"],
     "--params"),
    (["import-job", "--task", "kaseya-bms", "--params", "{p}", "--out", "{tmp}/j.toml",
      "--source", "a\0b.csv"], "--source"),
    (["--jobs", "a\0b"], "--jobs"),
    (["schedule", "--once", "--jobs", "a\0b"], "--jobs"),
    (["runs", "--job", "a\0b"], "--job"),
])
def test_a_nul_byte_in_a_path_argument(tmp_path: Path, argv: list[str], name: str,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "P.json").write_text(PARAMS)
    args = [a.format(p=tmp_path / "P.json", tmp=tmp_path) for a in argv]
    code, line = run(capsys, *args)
    assert code == 1 and line.startswith(f"atria-tui: {name}: contains a NUL byte")
    assert not (tmp_path / "j.toml").exists()


def test_a_nul_byte_in_the_jobs_source_path(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    job = demo_job(tmp_path, **{'path = "billing.csv"': 'path = "bill\\u0000ing.csv"'})
    code, line = run(capsys, "plan", str(job))
    assert code == 2 and "CW03" in line and "a readable billing file" in line


# --- the last resort --------------------------------------------------------------------------


def test_an_unexpected_error_is_one_line_with_the_traceback_in_crash_log(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("something nobody planned for\nsecond line")

    monkeypatch.setattr("atria_tui.cli.output.print_runs", broken)
    assert main(["runs"]) == 2
    err = capsys.readouterr().err
    crash = data_dir() / "crash.log"
    assert err == ("atria-tui: unexpected error: RuntimeError: something nobody planned for "
                   f"second line (details written to {crash})\n")
    assert "Traceback" in crash.read_text() and "broken" in crash.read_text()


def test_the_secret_store_under_a_file_is_a_secret_error(tmp_path: Path) -> None:
    from atria_tui.engine.secret_store import SecretError, SecretStore

    (tmp_path / "home").write_text("")
    with pytest.raises(SecretError, match="it is a file, not a folder|cannot write"):
        SecretStore(tmp_path / "home").set("job", "PublicKey", "value")


# --- a bug is still no run left Running ----------------------------------------------------


async def test_a_crash_inside_a_run_leaves_it_failed_or_interrupted_not_running(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from atria_tui.job.file import load_job
    from atria_tui.services import engine as runs

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    svc = runtime()
    job = load_job(demo_job(tmp_path))
    monkeypatch.setattr(runs, "PlanBuilder", boom)
    with pytest.raises(RuntimeError):
        await runs.plan_job(svc, job)
    with pytest.raises(RuntimeError):
        await runs.apply_job(svc, job)
    assert [(r.kind, r.status) for r in svc.store.runs()] == [("apply", "Interrupted"),
                                                              ("plan", "Failed")]
