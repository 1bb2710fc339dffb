"""The Autotask job: parameters, options, guide import, and the URL a run starts from."""

from __future__ import annotations

from pathlib import Path

import pytest

from atria_tui.core import codes
from atria_tui.core.model import Task
from atria_tui.job.file import load_job, new_job, save_job
from atria_tui.job.guide_import import import_blocks
from atria_tui.job.parameters import ConfigError, params_for, validate_parameters
from atria_tui.psa import PROFILES, profile_of
from atria_tui.services.run_checks import run_url

GUIDE_PARAMS = ('{"BaseUrl": "", "ZoneUser": "api@msp.example", "ContractType": '
                '"Recurring Service", "AllowAtriaCreateAdditions": "True", '
                '"BillingPeriod": "Previous", "CustomersFilter": "ASP, FR1"}')
GUIDE_SECRETS = '{"ApiIntegrationCode": "TRACK", "UserName": "api@msp.example", "Secret": "s"}'


def test_guide_json_imports_into_an_autotask_job(tmp_path: Path) -> None:
    params, secrets = import_blocks(Task.AUTOTASK, GUIDE_PARAMS, GUIDE_SECRETS)
    assert params == {"BaseUrl": "", "ZoneUser": "api@msp.example",
                      "ContractType": "Recurring Service", "AllowAtriaCreateAdditions": True,
                      "BillingPeriod": "Previous", "CustomersFilter": ["ASP", "FR1"]}
    assert secrets == {"ApiIntegrationCode": "TRACK", "UserName": "api@msp.example",
                       "Secret": "s"}
    job = new_job(Task.AUTOTASK)
    job.parameters = params
    loaded = load_job(save_job(job, tmp_path / "at.toml"))
    jp = params_for(Task.AUTOTASK, loaded.parameters)
    assert jp.api_url == "" and jp.allow_create and jp.contract_type == "Recurring Service"
    assert jp.customers_filter == ["ASP", "FR1"]


def test_a_kaseya_key_is_named_as_such_in_an_autotask_job() -> None:
    errors = validate_parameters(Task.AUTOTASK, {"SKUFieldMatch": "ServiceName"})
    assert "SKUFieldMatch is a Kaseya parameter" in str(errors[0])
    with pytest.raises(ConfigError):
        import_blocks(Task.AUTOTASK, '{"ApiUrl": "https://x"}', GUIDE_SECRETS)


def test_a_blank_base_url_starts_from_the_zone_lookup() -> None:
    job = new_job(Task.AUTOTASK)
    assert job.parameters["BaseUrl"] == "" and "ApiUrl" not in job.parameters
    assert run_url(job, "") == profile_of(Task.AUTOTASK).blank_api_url
    job.options.zone_url = "sandbox://autotask/zone/ATServicesRest/V1.0/zoneInformation"
    assert run_url(job, "") == job.options.zone_url
    assert run_url(job, "https://webservices5.autotask.net/ATServicesRest/") == \
        "https://webservices5.autotask.net/ATServicesRest/"
    kaseya = new_job(Task.KASEYA)
    assert run_url(kaseya, "") == ""         # Kaseya has no lookup: a blank URL is KS20


def test_autotask_options_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "at.toml"
    text = ('label = "x"\ntask = "autotask-psa"\n[options]\n'
            'effective_date = "2026-12-01"\nbudget_share = 0.25\ncompany_field = "udf:Atria ID"\n')
    path.write_text(text)
    job = load_job(path)
    assert job.options.effective_date == "2026-12-01" and job.options.budget_share == 0.25
    path.write_text(text.replace("0.25", "2"))
    with pytest.raises(ConfigError, match="budget_share"):
        load_job(path)
    path.write_text(text.replace('"2026-12-01"', '"next month"'))
    with pytest.raises(ConfigError, match="first_unposted"):
        load_job(path)


def test_every_code_a_profile_names_exists_with_a_resolution_for_ap() -> None:
    for profile in PROFILES.values():
        for name in profile.codes.__dataclass_fields__:
            value = getattr(profile.codes, name)
            for code in (value if isinstance(value, tuple) else (value,)):
                assert code is None or code in codes.CATALOG, (profile.task, name, code)
    ap = [c for c in codes.CATALOG.values() if c.code.startswith("AP")]
    assert len(ap) == 37 and not any(c.code.startswith("AT") for c in codes.CATALOG.values())
    missing = [c.code for c in ap if c.level.rank >= 2 and not c.resolution]
    assert missing == []
