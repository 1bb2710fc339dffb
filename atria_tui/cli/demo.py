"""`atria-tui demo`: the whole console on the embedded sandbox, with nothing to set up.

The demo must not touch the user's real jobs, database or secret store, and must leave
nothing behind, so it moves ATRIA_TUI_HOME to a fresh temp folder for the process (and
turns the OS keyring off: a throwaway store's key does not belong in the user's
keyring). The sample jobs are copied there with their `[source] path` made absolute,
because the billing CSVs stay where the package ships them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from atria_tui.core.paths import HOME_ENV, config_dir
from atria_tui.engine.secret_store import KEYRING_ENV
from atria_tui.job.file import load_job, save_job

__all__ = ["SAMPLES", "DemoError", "cleanup", "demo_home", "setup_demo"]

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"


class DemoError(Exception):
    """The sample jobs are not where the package expects them."""


def setup_demo(jobs_dir: Path, samples: Path = SAMPLES) -> list[Path]:
    """Copy the sample demo jobs into `jobs_dir`; returns the job files written."""
    sources = sorted(samples.glob("demo-*.toml"))
    if not sources:
        raise DemoError(f"no demo jobs (demo-*.toml) in {samples}; is the package complete?")
    jobs_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for sample in sources:
        job = load_job(sample)  # resolves [source] path against the samples folder
        if job.source.path is not None:
            job.source.path = job.source.path.resolve()
        job.path = None
        written.append(save_job(job, jobs_dir / sample.name))
    return written


def demo_home() -> Path:
    """A fresh throwaway ATRIA_TUI_HOME for this process, with the demo jobs in it.

    Returns the jobs folder; `cleanup` removes the whole home afterwards.
    """
    home = Path(tempfile.mkdtemp(prefix="atria-tui-demo-"))
    os.environ[HOME_ENV] = str(home)
    os.environ[KEYRING_ENV] = "0"
    jobs = config_dir()
    setup_demo(jobs)
    return jobs


def cleanup(jobs_dir: Path) -> None:
    """Remove the demo home that `demo_home` made (the parent of its jobs folder)."""
    home = jobs_dir.parent
    if home.name.startswith("atria-tui-demo-"):
        shutil.rmtree(home, ignore_errors=True)
