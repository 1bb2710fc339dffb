"""Job files: the design's example loads, round-trips, and every mistake is one clear line."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest

from atria_tui.core.model import Level, Task
from atria_tui.job.file import (
    JobConfig,
    Options,
    SourceConfig,
    job_params,
    job_to_toml,
    load_job,
    new_job,
    next_runs,
    save_job,
    validate_cron,
)
from atria_tui.job.parameters import ConfigError, check_api_url, validate_parameters

DESIGN_EXAMPLE = """\
label = "Transfer Billing Data to ConnectWise on 26th of each month"
task = "connectwise-manage"          # or "kaseya-bms"
log_level = "verbose"                # verbose | info | warning | error
cron = "0 22 26 * *"
enabled = true
period_start_day = 26                # Atria bill processing: periods run 26th..25th

[source]                             # where Atria billing records come from
kind = "file"                        # "file" (CSV/JSON export) or "api"
path = "billing.csv"                 # relative to this file
# url = "https://atria.example.com"  # kind = "api": GET /api/billing/{periodEnd}

[parameters]                         # the seed's names, spelled as the seed spells them
ApiUrl = "https://api-na.myconnectwise.net/v4_6_release/apis/3.0"
AgreementType = "Hosting and Cloud Services"
AllowAtriaCreateAdditions = false
BillingPeriod = "Previous"           # Current | Previous | YYYY-MM-DD
CustomersFilter = ["ASP", "FR1"]     # empty = all
"""

KASEYA_MIN = 'label = "K"\ntask = "kaseya-bms"\n'


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATRIA_TUI_HOME", str(tmp_path / "home"))


def write(tmp_path: Path, text: str, name: str = "job.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_job(write(tmp_path, text))
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_design_example_loads(tmp_path: Path) -> None:
    job = load_job(write(tmp_path, DESIGN_EXAMPLE))
    assert job.task is Task.CONNECTWISE
    assert job.log_level is Level.VERBOSE
    assert job.cron == "0 22 26 * *" and job.enabled and job.period_start_day == 26
    assert job.source == SourceConfig("file", tmp_path / "billing.csv", "")
    assert job.id == "job" and job.path == tmp_path / "job.toml"
    assert job.options == Options()
    p = job_params(job)
    assert p.api_url.endswith("/apis/3.0")
    assert p.contract_type == "Hosting and Cloud Services"
    assert p.allow_create is False and p.billing_period == "Previous"
    assert p.customers_filter == ["ASP", "FR1"]


def test_round_trip_is_stable(tmp_path: Path) -> None:
    job = load_job(write(tmp_path, DESIGN_EXAMPLE))
    job.options.concurrency = 3
    target = save_job(job, tmp_path / "copy.toml")
    again = load_job(target)
    assert again.parameters == job.parameters
    assert again.source.path == tmp_path / "billing.csv"
    assert again.options.concurrency == 3 and again.options.page_size == 1000
    text = target.read_text()
    assert 'path = "billing.csv"' in text  # stays relative to the job folder
    assert "[options]" in text and "page_size" not in text  # only what differs
    assert 'id = "job"' in text  # saved under another name: secrets key kept
    assert again.id == "job"
    assert job_to_toml(again) == job_to_toml(load_job(save_job(again)))


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path: Path) -> None:
    job = new_job(Task.KASEYA, "Monthly Kaseya")
    path = save_job(job)
    assert path.parent == tmp_path / "home" / "jobs" and path.name == "monthly-kaseya.toml"
    assert job.path == path and job.id == "monthly-kaseya"
    second = save_job(new_job(Task.KASEYA, "Monthly Kaseya"))
    assert second.name == "monthly-kaseya-2.toml"
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "monthly-kaseya-2.toml", "monthly-kaseya.toml"]


def test_new_job_defaults_per_task(tmp_path: Path) -> None:
    cw = load_job(save_job(new_job(Task.CONNECTWISE), tmp_path / "cw.toml"))
    ks = load_job(save_job(new_job(Task.KASEYA), tmp_path / "ks.toml"))
    assert cw.parameters["AgreementType"] == "Hosting and Cloud Services"
    assert cw.parameters["AllowAtriaCreateAdditions"] is False
    assert ks.parameters["ContractType"] == "Recurring Services"
    assert ks.parameters["SKUFieldMatch"] == "ServiceName"
    assert "ConnectWise" in cw.label and cw.period_start_day == 26
    assert validate_parameters(Task.CONNECTWISE, cw.parameters) == []
    assert validate_parameters(Task.KASEYA, ks.parameters) == []


def test_parameter_keys_case_insensitive_and_canonical(tmp_path: Path) -> None:
    text = KASEYA_MIN + (
        '[parameters]\napiurl = " https://k.example.com "\ncontracttype = "Managed"\n'
        'skufieldmatch = "skudescription"\ncustomersfilter = "ASP, FR1,"\nMyOwn = 1\n')
    job = load_job(write(tmp_path, text))
    assert list(job.parameters) == ["ApiUrl", "ContractType", "SKUFieldMatch",
                                    "CustomersFilter", "MyOwn"]
    assert job.param("APIURL") == " https://k.example.com " and job.param("nope", 7) == 7
    p = job_params(job)
    assert p.api_url == "https://k.example.com" and p.contract_type == "Managed"
    assert p.sku_field_match == "SKUDescription" and p.customers_filter == ["ASP", "FR1"]
    assert p.allow_create is False
    errors = validate_parameters(Task.KASEYA, job.parameters, path=job.path,
                                 text=text)
    assert [str(e) for e in errors] == [
        f"{job.path}: line 8: MyOwn: unknown parameter for Kaseya (expected one of ApiUrl, "
        "ContractType, BillingPeriod, CustomersFilter, SKUFieldMatch)"]


def test_seed_defaults_when_parameters_missing(tmp_path: Path) -> None:
    ks = job_params(load_job(write(tmp_path, KASEYA_MIN)))
    assert (ks.contract_type, ks.billing_period, ks.sku_field_match, ks.api_url) == (
        "Recurring Services", "Current", "ServiceName", "")
    cw = job_params(load_job(write(tmp_path, 'label=""\ntask="connectwise-manage"\n')))
    assert cw.contract_type == "Hosting and Cloud Services" and cw.customers_filter == []


@pytest.mark.parametrize("value,expected", [
    ('"False"', False), ('"True"', True), ('"yes"', True), ('"no"', False),
    ('"1"', True), ('"0"', False), ("true", True), ("false", False)])
def test_boolean_spellings(tmp_path: Path, value: str, expected: bool) -> None:
    text = f'task = "connectwise-manage"\n[parameters]\nAllowAtriaCreateAdditions = {value}\n'
    assert job_params(load_job(write(tmp_path, text))).allow_create is expected


def test_billing_period_as_toml_date(tmp_path: Path) -> None:
    job = load_job(write(tmp_path, KASEYA_MIN + "[parameters]\nBillingPeriod = 2024-05-25\n"))
    assert job_params(job).billing_period == "2024-05-25"


def test_api_url_and_billing_period_content_not_judged(tmp_path: Path) -> None:
    job = load_job(write(tmp_path, KASEYA_MIN + '[parameters]\nApiUrl = ""\n'
                         'BillingPeriod = "whenever"\n'))
    assert job_params(job).billing_period == "whenever"  # the run reports KS10


@pytest.mark.parametrize("text,expected", [
    ('task = "autotask"\n', 'job.toml: line 1: task: "connectwise-manage" or "kaseya-bms" '
                            'or "autotask-psa", got "autotask"'),
    (KASEYA_MIN + 'log_level = "loud"\n',
     'job.toml: line 3: log_level: verbose, info, warning or error, got "loud"'),
    (KASEYA_MIN + 'cron = "61 * * * *"\n',
     'job.toml: line 3: cron: a cron expression: minute hour day month weekday (Bad minute), '
     'got "61 * * * *"'),
    (KASEYA_MIN + "period_start_day = 30\n",
     "job.toml: line 3: period_start_day: a day of the month from 1 to 28, got 30"),
    (KASEYA_MIN + 'enabled = "sometimes"\n',
     'job.toml: line 3: enabled: true or false, got "sometimes"'),
    (KASEYA_MIN + "\n[options]\nconcurrency = 99\n",
     "job.toml: line 5: options.concurrency: a whole number from 1 to 32, got 99"),
    (KASEYA_MIN + "\n[options]\nmax_concurrency = 65\n",
     "job.toml: line 5: options.max_concurrency: a whole number from 1 to 64, got 65"),
    (KASEYA_MIN + '[options]\nzero_mode = "delete"\n',
     'job.toml: line 4: options.zero_mode: "quantity" or "cancel", got "delete"'),
    (KASEYA_MIN + "[options]\nconcurency = 3\n",
     "job.toml: line 4: options.concurency: unknown option (expected one of concurrency, "
     "max_concurrency, page_size, zero_mode, swing_threshold, call_budget_per_hour, "
     "timeout_seconds, retries, max_quantity, run_deadline_minutes, connectwise_api_version, "
     "units_rounding, unit_change_effective, call_budget_scope, line_cache_hours, "
     "zone_url, company_field, service_field, budget_share, effective_date, "
     "currency), got 3"),
    (KASEYA_MIN + '[options]\nconnectwise_api_version = "2025"\n',
     'job.toml: line 4: options.connectwise_api_version: an API version such as "2025.1" '
     '(year.release), or "" for none, got "2025"'),
    (KASEYA_MIN + '[source]\nkind = "ftp"\n',
     'job.toml: line 4: source.kind: "file" or "api", got "ftp"'),
    (KASEYA_MIN + '[parameters]\nApiUrl = "x"\nSKUFieldMatch = "Name"\n',
     'job.toml: line 5: SKUFieldMatch: one of ServiceName, Description, SKUDescription, '
     'got "Name"'),
    (KASEYA_MIN + "[parameters]\nCustomersFilter = 5\n",
     'job.toml: line 4: CustomersFilter: a list of customer codes, e.g. ["ASP", "FR1"], '
     "got 5"),
    (KASEYA_MIN + '[parameters]\nApiUrl = "a"\napiurl = "b"\n',
     "job.toml: line 5: apiurl: given twice (also as ApiUrl); keep one"),
    (KASEYA_MIN + 'log-level = "info"\n',
     'job.toml: line 3: log-level: unknown setting (expected one of id, label, task, '
     'log_level, cron, enabled, period_start_day, source, parameters, options, endpoints, notify), '
     'got "info"'),
    ('label = "x"\ntask = \n', 'job.toml: line 2, column 8: valid TOML (Invalid value), '
                               'got task ='),
])
def test_errors_are_one_clear_line(tmp_path: Path, text: str, expected: str) -> None:
    message = error_of(tmp_path, text)
    assert message == f"{tmp_path}/{expected}"


def test_error_attributes(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_job(write(tmp_path, KASEYA_MIN + "period_start_day = 0\n"))
    err = info.value
    assert (err.path, err.line, err.field) == (tmp_path / "job.toml", 3, "period_start_day")
    assert err.expected == "a day of the month from 1 to 28"


def test_missing_file_and_bad_encoding(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nope.toml: a readable job file, got No such file"):
        load_job(tmp_path / "nope.toml")
    (tmp_path / "bin.toml").write_bytes(b"label = '\xff'\n")
    with pytest.raises(ConfigError, match="a UTF-8 text file"):
        load_job(tmp_path / "bin.toml")


def test_job_params_bad_value_in_memory_names_the_line(tmp_path: Path) -> None:
    job = load_job(write(tmp_path, DESIGN_EXAMPLE))
    job.parameters["AllowAtriaCreateAdditions"] = "perhaps"
    with pytest.raises(ConfigError, match=r"job.toml: line 16: AllowAtriaCreateAdditions: "
                                          r"true or false, got \"perhaps\""):
        job_params(job)


def test_unknown_and_foreign_parameters_reported() -> None:
    errors = validate_parameters(Task.CONNECTWISE, {"ContractType": "x", "BillingPeriod": 3})
    assert "ContractType is a Kaseya and Autotask parameter" in str(errors[0])
    assert str(errors[1]) == 'BillingPeriod: a text value in quotes, got 3'


def test_absolute_source_outside_folder_and_api_kind(tmp_path: Path) -> None:
    elsewhere = tmp_path.parent / "shared-billing.csv"
    job = JobConfig(label="x", task=Task.KASEYA,
                    source=SourceConfig("api", elsewhere, "https://atria.example.com"))
    path = save_job(job, tmp_path / "api.toml")
    loaded = load_job(path)
    assert loaded.source == SourceConfig("api", elsewhere, "https://atria.example.com")


def test_cron_validation_and_next_runs() -> None:
    assert validate_cron("0 22 26 * *") is None
    assert validate_cron("") is not None and "Bad minute" in (validate_cron("61 * * * *") or "")
    assert "Wrong number of fields" in (validate_cron("* * *") or "")
    runs = next_runs("0 22 26 * *", datetime(2024, 12, 1), 3)
    assert runs == [datetime(2024, 12, 26, 22), datetime(2025, 1, 26, 22),
                    datetime(2025, 2, 26, 22)]
    assert next_runs("nonsense", datetime(2024, 1, 1), 2) == []


def test_check_api_url() -> None:
    assert check_api_url("https://api-na.myconnectwise.net/v4_6_release/apis/3.0") is None
    assert check_api_url(" http://127.0.0.1:8123 ") is None
    assert check_api_url("") is not None
    assert "https://" in (check_api_url("api-na.myconnectwise.net") or "")
    assert check_api_url("https://bad host") is not None
    assert check_api_url("https://:99999") is not None


def test_saved_file_keeps_existing_mode(tmp_path: Path) -> None:
    path = write(tmp_path, DESIGN_EXAMPLE)
    os.chmod(path, 0o640)
    save_job(load_job(path))
    assert path.stat().st_mode & 0o777 == 0o640


def test_max_quantity_option_defaults_and_is_bounded(tmp_path: Path) -> None:
    assert load_job(write(tmp_path, KASEYA_MIN)).options.max_quantity == 100_000
    job = load_job(write(tmp_path, KASEYA_MIN + "[options]\nmax_quantity = 250000\n"))
    assert job.options.max_quantity == 250_000
    for bad in ("0", "-3", "1.5", '"lots"'):
        message = error_of(tmp_path, KASEYA_MIN + f"[options]\nmax_quantity = {bad}\n")
        assert "line 4: options.max_quantity: a whole number from 1 to" in message
