"""The jobs folder as the console lists and edits it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from atria_tui.cli.demo import cleanup, demo_home, setup_demo
from atria_tui.core.model import Task
from atria_tui.engine.secret_store import SecretStore
from atria_tui.engine.store import Store
from atria_tui.job.file import load_job, new_job, save_job
from atria_tui.job.folder import job_files
from atria_tui.services.history import SUCCESS
from atria_tui.services.jobs import (
    add_job,
    delete_job,
    find_job,
    last_result,
    list_jobs,
    set_enabled,
    shown_path,
    toggle_job,
)
from atria_tui.services.runtime import Runtime

NOW = datetime(2026, 11, 20, 9, 30)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    jobs = tmp_path / "jobs"
    setup_demo(jobs)
    return jobs


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "db.sqlite")


def test_job_files_skip_mappings_and_temp_files(folder: Path) -> None:
    (folder / "demo-kaseya.mappings.toml").write_text("")
    (folder / ".demo-kaseya.toml.123.tmp.toml").write_text("")
    (folder / "notes.txt").write_text("")
    assert [p.name for p in job_files(folder)] == ["demo-autotask.toml", "demo-connectwise.toml",
                                                   "demo-kaseya.toml"]
    assert job_files(folder / "missing") == []


def test_list_jobs_rows(folder: Path, store: Store) -> None:
    run = store.start_run("demo-kaseya", "x", "kaseya-bms", "apply")
    store.finish_run(run, SUCCESS)
    set_enabled(folder / "demo-connectwise.toml", False)
    svc = Runtime(store=store, secrets=SecretStore(folder.parent))
    rows = {r.path.name: r for r in list_jobs(folder, svc, lambda: NOW)}
    cw, ks = rows["demo-connectwise.toml"], rows["demo-kaseya.toml"]
    assert cw.task is Task.CONNECTWISE and not cw.enabled and cw.next_run is None
    assert last_result(cw.last_run) == "never run"
    assert ks.next_run == datetime(2026, 11, 26, 22, 0)
    assert ks.job_id == "demo-kaseya"
    assert last_result(ks.last_run) == f"{SUCCESS} (apply #{run})"
    later = store.start_run("demo-kaseya", "x", "kaseya-bms", "plan")   # a preview after it
    store.finish_run(later, SUCCESS)
    rows = {r.path.name: r for r in list_jobs(folder, svc, lambda: NOW)}
    assert last_result(rows["demo-kaseya.toml"].last_run) == f"{SUCCESS} (apply #{run})"
    first = store.start_run("demo-connectwise", "x", "connectwise-manage", "plan")
    store.finish_run(first, SUCCESS)
    rows = {r.path.name: r for r in list_jobs(folder, svc, lambda: NOW)}
    assert last_result(rows["demo-connectwise.toml"].last_run) == f"not applied (preview #{first})"


def test_a_broken_file_is_a_row_with_its_error(folder: Path) -> None:
    (folder / "bad.toml").write_text('label = "x"\ntask = "kaseya-bms"\ncron = "nope"\n')
    row = next(r for r in list_jobs(folder, None, lambda: NOW) if r.path.name == "bad.toml")
    assert not row.ok and row.job is None
    assert "bad.toml: line 3: cron" in row.error


def test_add_job_picks_a_free_name(folder: Path) -> None:
    first = add_job(folder, new_job(Task.KASEYA, "Month end!"))
    second = add_job(folder, new_job(Task.KASEYA, "Month end!"))
    assert (first.name, second.name) == ("month-end.toml", "month-end-2.toml")
    assert load_job(second).id == "month-end-2"


def test_toggle_and_find(folder: Path) -> None:
    path = folder / "demo-kaseya.toml"
    assert toggle_job(path).enabled is False
    assert load_job(path).enabled is False
    assert toggle_job(path).enabled is True
    found = find_job(folder, "demo-kaseya")
    assert found is not None and found.path == path.absolute()
    assert find_job(folder, "nobody") is None


def test_delete_removes_file_mappings_and_secrets(folder: Path, tmp_path: Path) -> None:
    secrets = SecretStore(tmp_path / "home")
    secrets.set("demo-kaseya", "Password", "pw-123456")
    secrets.set("demo-connectwise", "PrivateKey", "pk-123456")
    path = folder / "demo-kaseya.toml"
    (folder / "demo-kaseya.mappings.toml").write_text("")
    delete_job(path, secrets)
    assert not path.exists() and not (folder / "demo-kaseya.mappings.toml").exists()
    assert secrets.names_set("demo-kaseya") == set()
    assert secrets.names_set("demo-connectwise") == {"PrivateKey"}


def test_delete_uses_the_job_id_inside_the_file(folder: Path, tmp_path: Path) -> None:
    job = new_job(Task.KASEYA, "x")
    job.id = "custom-id"
    save_job(job, folder / "other.toml")
    secrets = SecretStore(tmp_path / "home")
    secrets.set("custom-id", "Tenant", "tenant-1")
    delete_job(folder / "other.toml", secrets)
    assert secrets.names_set("custom-id") == set()


def test_shown_path(tmp_path: Path) -> None:
    assert shown_path(tmp_path / "a" / "b.csv", tmp_path) == "a/b.csv"
    assert shown_path(Path("/elsewhere/b.csv"), tmp_path) == "/elsewhere/b.csv"
    assert shown_path(None, tmp_path) == ""


def test_demo_home_is_throwaway(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ATRIA_TUI_HOME", raising=False)
    jobs = demo_home()
    try:
        import os

        assert os.environ["ATRIA_TUI_HOME"] == str(jobs.parent)
        assert os.environ["ATRIA_TUI_KEYRING"] == "0"
        assert sorted(p.name for p in job_files(jobs)) == ["demo-autotask.toml",
                                                           "demo-connectwise.toml",
                                                           "demo-kaseya.toml"]
        assert load_job(jobs / "demo-kaseya.toml").param("ApiUrl") == "sandbox://kaseya"
    finally:
        cleanup(jobs)
    assert not jobs.parent.exists()
