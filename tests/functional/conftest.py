"""Pilot tests of the console shell: a throwaway home, demo jobs, a fixed clock."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from atria_tui.cli.demo import SAMPLES
from atria_tui.console.app import AtriaApp, make_app
from atria_tui.services.runtime import Runtime
from tests.support import fixed, runtime


@pytest.fixture
def _home(_isolated_home: Path) -> Path:
    """This folder's name for the root conftest's throwaway home (set up there)."""
    return _isolated_home


@pytest.fixture
def jobs_dir(tmp_path: Path) -> Path:
    """The two demo jobs with their billing files beside them (relative paths)."""
    folder = tmp_path / "jobs"
    folder.mkdir()
    # The ConnectWise and Kaseya demos the screens were drawn with (the Autotask demo
    # has its own Pilot test: tests/functional/test_autotask_console.py).
    for sample in [*SAMPLES.glob("demo-connectwise*"), *SAMPLES.glob("demo-kaseya*")]:
        shutil.copy(sample, folder / sample.name)
    return folder


@pytest.fixture
def services(_home: Path) -> Iterator[Runtime]:
    svc = runtime(_home, environ={}, now=fixed())
    yield svc
    svc.store.close()


@pytest.fixture
def app_factory(jobs_dir: Path, services: Runtime) -> Callable[..., AtriaApp]:
    def build(**kw: object) -> AtriaApp:
        kw.setdefault("jobs_dir", jobs_dir)
        kw.setdefault("services", services)
        return make_app(**kw)  # type: ignore[arg-type]

    return build
