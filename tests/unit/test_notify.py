"""When a run summary goes out, and the job file's [notify] table."""

from __future__ import annotations

from pathlib import Path

import pytest

from atria_tui.engine.store import ERRORS, FAILED, SUCCESS, WARNINGS
from atria_tui.job.file import NotifyConfig, job_to_toml, load_job
from atria_tui.job.parameters import ConfigError
from atria_tui.services.notify import _secrets_of, should_send

SAMPLE = Path(__file__).resolve().parents[2] / "sample_configs" / "demo-connectwise.toml"


@pytest.mark.parametrize(("when", "sent"), [
    ("always", [True, True, True, True]),
    ("warnings", [False, True, True, True]),
    ("errors", [False, False, True, True]),
])
def test_when_a_summary_goes_out(when: str, sent: list[bool]) -> None:
    assert [should_send(when, s) for s in (SUCCESS, WARNINGS, ERRORS, FAILED)] == sent


def job_with(tmp_path: Path, table: str) -> Path:
    text = SAMPLE.read_text().replace('path = "demo-connectwise-billing.csv"',
                                      f'path = "{SAMPLE.parent / "demo-connectwise-billing.csv"}"')
    path = tmp_path / "job.toml"
    path.write_text(text + "\n" + table)
    return path


def test_the_notify_table_round_trips(tmp_path: Path) -> None:
    job = load_job(job_with(tmp_path, '[notify]\ntargets = ["NotifyTeams", "NotifyMail"]\n'
                                      'when = "errors"\n'))
    assert job.notify == NotifyConfig(("NotifyTeams", "NotifyMail"), "errors")
    assert 'targets = [\n    "NotifyTeams",\n    "NotifyMail",\n]' in job_to_toml(job) \
        or 'targets = ["NotifyTeams", "NotifyMail"]' in job_to_toml(job)
    assert "[notify]" not in job_to_toml(load_job(SAMPLE))  # the default is not written


@pytest.mark.parametrize(("table", "says"), [
    ('[notify]\ntargets = ["https://hooks.example/x"]\n', "secret names starting with Notify"),
    ('[notify]\nwhen = "sometimes"\n', '"always" or "warnings" or "errors"'),
    ('[notify]\nurl = "x"\n', "unknown setting"),
])
def test_a_bad_notify_table_names_file_line_and_field(tmp_path: Path, table: str,
                                                     says: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_job(job_with(tmp_path, table))
    text = str(err.value)
    assert says in text and "job.toml" in text and "notify." in text


def test_a_target_urls_secret_parts_are_all_hidden() -> None:
    parts = _secrets_of("mailtos://billing:pa55word-x@smtp.example.com/?to=a@b.c"
                        "&token=abcdefgh12345")
    assert {"pa55word-x", "billing", "abcdefgh12345"} <= set(parts)
