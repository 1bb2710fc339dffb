"""The jobs folder as the console sees it: one row per job file, and the edits on it.

The Jobs screen must open even when one file in the folder is broken (hand-edited, half
merged), so listing never raises: a job that does not load becomes a row that carries
its one-line error instead of its settings. Deleting a job also forgets its secrets and
its mappings file, because a job created later under the same name must not silently
inherit another job's credentials or customer mappings; its run history stays in the
database (runs are evidence of what was written to the PSA).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from atria_tui.core.model import Task
from atria_tui.engine.secret_store import SecretStore
from atria_tui.job.file import JobConfig, load_job, next_runs, save_job
from atria_tui.job.folder import free_path, job_files
from atria_tui.job.mappings import mappings_path
from atria_tui.job.parameters import ConfigError
from atria_tui.services.history import RunRow, last_result_run
from atria_tui.services.runtime import Runtime

__all__ = ["JobRow", "add_job", "delete_job", "find_job",
           "last_result", "list_jobs", "set_enabled", "shown_path", "toggle_job"]



@dataclass(frozen=True, slots=True)
class JobRow:
    """A job file and what the Jobs table shows for it.

    `job` is None (and `error` says why) when the file does not load.
    """

    path: Path
    job_id: str
    label: str
    task: Task | None
    cron: str
    enabled: bool
    next_run: datetime | None
    last_run: RunRow | None
    job: JobConfig | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.job is not None


def last_result(run: RunRow | None) -> str:
    """"Success (apply #12)"; "never run" for a job without history."""
    if run is None:
        return "never run"
    if run.kind == "plan":  # previews only: nothing was ever written
        return f"not applied (preview #{run.id})"
    return f"{run.status} ({run.kind} #{run.id})"


def list_jobs(folder: Path, svc: Runtime | None, now: Callable[[], datetime]
              ) -> list[JobRow]:
    """Every job file in `folder` as a row; a broken file is a row with its error.

    The last result of each job comes from `svc`'s run history (none without a runtime);
    next runs are counted from `now()`, the wall clock the cron fields mean."""
    rows: list[JobRow] = []
    when = now()
    for path in job_files(folder):
        try:
            job = load_job(path)
        except ConfigError as exc:
            rows.append(JobRow(path=path.absolute(), job_id=path.stem, label=path.name,
                               task=None, cron="", enabled=False, next_run=None,
                               last_run=_last_run(svc, path.stem), error=str(exc)))
            continue
        key = job.key
        upcoming = next_runs(job.cron, when, 1) if job.enabled else []
        rows.append(JobRow(path=path.absolute(), job_id=key, label=job.label or path.stem,
                           task=job.task, cron=job.cron, enabled=job.enabled,
                           next_run=upcoming[0] if upcoming else None,
                           last_run=_last_run(svc, key), job=job))
    return rows


def _last_run(svc: Runtime | None, job_id: str) -> RunRow | None:
    return last_result_run(svc, job_id) if svc is not None else None


def find_job(folder: Path, job_id: str) -> JobConfig | None:
    """The job filed under `job_id` (its id, or its file stem), or None."""
    for path in job_files(folder):
        try:
            job = load_job(path)
        except ConfigError:
            continue
        if job.key == job_id:
            return job
    return None


def shown_path(path: Path | None, folder: Path) -> str:
    """A source path as the user wrote it: relative when it sits in the job's folder."""
    if path is None:
        return ""
    try:
        return path.relative_to(folder.absolute()).as_posix()
    except ValueError:
        return str(path)


def add_job(folder: Path, job: JobConfig) -> Path:
    """Save a new job under a free name in `folder`; its id becomes the file stem."""
    folder.mkdir(parents=True, exist_ok=True)
    target = free_path(folder, job.label or job.task.value)
    job.id = ""
    job.path = None
    return save_job(job, target)


def set_enabled(path: Path, enabled: bool) -> JobConfig:
    """Rewrite the job with `enabled` changed; ConfigError when the file does not load."""
    job = load_job(path)
    if job.enabled != enabled:
        job.enabled = enabled
        save_job(job, path)
    return job


def toggle_job(path: Path) -> JobConfig:
    job = load_job(path)
    return set_enabled(path, not job.enabled)


def delete_job(path: Path, secrets: SecretStore | None = None) -> None:
    """Remove the job file, its mappings file and its stored secrets.

    The secrets are looked up by the job's id when the file still loads, else by stem.
    """
    job_id = path.stem
    with contextlib.suppress(ConfigError):
        job_id = load_job(path).key
    path.unlink(missing_ok=True)
    mappings_path(path).unlink(missing_ok=True)
    if secrets is not None:
        secrets.forget(job_id)
