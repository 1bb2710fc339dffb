"""The mappings file beside the job: round trip, missing file, clear errors."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from atria_tui.core.model import Mappings
from atria_tui.job.mappings import load_mappings, mappings_path, save_mappings
from atria_tui.job.parameters import ConfigError


def test_path_is_beside_the_job() -> None:
    assert mappings_path(Path("/jobs/cw-monthly.toml")) == Path(
        "/jobs/cw-monthly.mappings.toml")


def test_missing_file_is_empty(tmp_path: Path) -> None:
    assert load_mappings(tmp_path / "none.mappings.toml") == Mappings()


def test_round_trip(tmp_path: Path) -> None:
    m = Mappings(customers={"ASP": "AcmeServices", "Odd \"Co\"": "X1"},
                 skus={"LEGACY-FAX": "FAX-LINE"},
                 descriptions={"Exchange Online (Plan 1) - 5 users": "EXO-P1"},
                 managed={"123", "45", "abc"})
    path = tmp_path / "job.mappings.toml"
    save_mappings(m, path)
    assert load_mappings(path) == m
    data = tomllib.loads(path.read_text())
    assert data["managed"] == ["45", "123", "abc"]  # numeric ids in numeric order
    assert data["customers"]["ASP"] == "AcmeServices"
    assert [p.name for p in tmp_path.iterdir()] == ["job.mappings.toml"]  # no temp left


def test_hand_written_file(tmp_path: Path) -> None:
    path = tmp_path / "j.mappings.toml"
    path.write_text('managed = ["123", 456]\n\n[customers]\n"ASP" = " AcmeServices "\n\n'
                    '[skus]\n"LEGACY-FAX" = "FAX-LINE"\n')
    m = load_mappings(path)
    assert m.customers == {"ASP": "AcmeServices"} and m.skus == {"LEGACY-FAX": "FAX-LINE"}
    assert m.managed == {"123", "456"} and m.descriptions == {}


@pytest.mark.parametrize("text,expected", [
    ('[customers]\n"ASP" = 5\n',
     'line 2: customers.ASP: a non-empty text value (Atria customer code = PSA Billing '
     'Identifier), got 5'),
    ('managed = "123"\n',
     'line 1: managed: a list of PSA line ids, e.g. managed = ["123", "456"], got "123"'),
    ('[products]\n"A" = "B"\n',
     "line 1: products: unknown setting (expected customers, skus, descriptions, "
     "managed or saved), got a table"),
    ('skus = "x"\n', 'line 1: skus: a [skus] table of Atria SKU = PSA product code, got "x"'),
    ('[skus]\n"A" = \n', "line 2, column 7: valid TOML (Invalid value), got \"A\" ="),
])
def test_errors(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "j.mappings.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_mappings(path)
    assert str(info.value) == f"{path}: {expected}"
