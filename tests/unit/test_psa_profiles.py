"""Each PSA profile is complete: its codes exist with the guide's level, its adapter and
derived-secret hook resolve, and nothing outside the profiles chooses per PSA."""

from __future__ import annotations

import dataclasses
import importlib
import re
from pathlib import Path

import pytest

from atria_tui.core import codes
from atria_tui.core.model import Level, Task
from atria_tui.psa import PROFILES, profile_of

PKG = Path(__file__).resolve().parents[2] / "atria_tui"


@pytest.mark.parametrize("task", list(Task))
def test_every_code_a_profile_names_is_in_the_catalog(task: Task) -> None:
    profile = profile_of(task)
    for f in dataclasses.fields(profile.codes):
        value = getattr(profile.codes, f.name)
        for code in (value if isinstance(value, tuple) else (value,)):
            if code is not None:
                assert code in codes.CATALOG, f"{task}: {f.name} = {code}"
    assert codes.CATALOG[profile.codes.finished].level is Level.INFO
    assert codes.CATALOG[profile.codes.psa_unreachable].ends_run


@pytest.mark.parametrize("task", list(Task))
def test_a_profiles_adapter_and_hooks_resolve(task: Task) -> None:
    profile = profile_of(task)
    module, _, name = profile.adapter.partition(":")
    adapter = getattr(importlib.import_module(module), name)
    for method in ("snapshot", "contract_lines", "set_quantity", "add_line", "aclose"):
        assert callable(getattr(adapter, method)), method
    if profile.derived_secrets:
        module, _, name = profile.derived_secrets.partition(":")
        assert callable(getattr(importlib.import_module(module), name))
    assert profile.contract_type_param in profile.parameter_names
    assert set(profile.new_job_parameters) <= set(profile.parameter_names)


def test_the_engine_chooses_no_code_per_psa_inline() -> None:
    """Codes of the guides are spelled in the profiles and the catalog only."""
    spelled = re.compile(r'"(CW|KS)\d\d"')
    offenders = []
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG).as_posix()
        if rel.startswith(("sandbox/", "psa/")) or rel == "core/codes.py":
            continue
        offenders += [f"{rel}: {m.group(0)}" for m in spelled.finditer(path.read_text())]
    assert offenders == []
    assert set(PROFILES) == set(Task)
