"""The guides' JSON blocks import exactly as users paste them (line numbers and all)."""

from __future__ import annotations

import pytest

from atria_tui.core.model import Task
from atria_tui.job.guide_import import import_blocks, parse_block
from atria_tui.job.parameters import PARAMETER_NAMES, SECRET_NAMES, ConfigError

# Verbatim from /work/shared/seeds/connectwise-manage-integration.txt.
CW_PARAMS = """\
  1. {
  2. "apiUrl":" https://api-staging.connectwisedev.com/v4_6_release/apis/3.0/",
  3. "CustomersFilter":["ASP", "SampleCustomerShortCodeName"],
  4. "BillingPeriod": "Current",
  5. "AgreementType": "Hosting and Cloud Services",
  6. }"""
CW_SECRETS = """\
  1. {
  2. "CompanyName":"XXXXXXXXX",
  3. "PublicKey":"XXXXXXXXX",
  4. "PrivateKey":"XXXXXXXXXX",
  5. "ClientId":"XXXXXXXX"
  6. }"""
# Verbatim from /work/shared/seeds/kaseya-bms-integration.txt.
KS_PARAMS = """\
  1. {
  2. "ApiUrl":"https://na1bmspreview.kaseya.com",
  3. "CustomersFilter":["ASP", "FR1", "UJA", "CustomerShortCodeName"],
  4. "BillingPeriod": "Current",
  5. }"""
KS_SECRETS = """\
  1. {
  2. "UserName":"XXXX ",
  3. "Password":"XXXX ",
  4. "Tenant":"XXXX "
  5. }"""


def fill(block: str) -> str:
    """What the user does next: replace the XXXX placeholders with real values."""
    out = block
    for n, old in enumerate(("XXXXXXXXXX", "XXXXXXXXX", "XXXXXXXX", "XXXX")):
        out = out.replace(f'"{old}', f'"val{n}-')
    return out


def test_names() -> None:
    assert PARAMETER_NAMES[Task.CONNECTWISE] == (
        "ApiUrl", "AgreementType", "AllowAtriaCreateAdditions", "BillingPeriod",
        "CustomersFilter")
    assert PARAMETER_NAMES[Task.KASEYA] == (
        "ApiUrl", "ContractType", "BillingPeriod", "CustomersFilter", "SKUFieldMatch")
    assert SECRET_NAMES[Task.CONNECTWISE] == (
        "CompanyName", "PublicKey", "PrivateKey", "ClientId", "AtriaToken")
    assert SECRET_NAMES[Task.KASEYA] == ("UserName", "Password", "Tenant", "AtriaToken")


def test_connectwise_parameter_block_verbatim() -> None:
    assert parse_block(CW_PARAMS) == {
        "ApiUrl": "https://api-staging.connectwisedev.com/v4_6_release/apis/3.0/",
        "CustomersFilter": ["ASP", "SampleCustomerShortCodeName"],
        "BillingPeriod": "Current",
        "AgreementType": "Hosting and Cloud Services",
    }


def test_kaseya_blocks_verbatim() -> None:
    assert parse_block(KS_PARAMS) == {
        "ApiUrl": "https://na1bmspreview.kaseya.com",
        "CustomersFilter": ["ASP", "FR1", "UJA", "CustomerShortCodeName"],
        "BillingPeriod": "Current",
    }
    assert parse_block(KS_SECRETS) == {"UserName": "XXXX", "Password": "XXXX",
                                       "Tenant": "XXXX"}


def test_import_connectwise_filled_in() -> None:
    params, secrets = import_blocks(Task.CONNECTWISE, CW_PARAMS, fill(CW_SECRETS))
    assert params["ApiUrl"].startswith("https://api-staging") and len(params) == 4
    assert secrets == {"CompanyName": "val1-", "PublicKey": "val1-", "PrivateKey": "val0-",
                       "ClientId": "val2-"}


def test_import_kaseya_filled_in() -> None:
    params, secrets = import_blocks(Task.KASEYA, KS_PARAMS, fill(KS_SECRETS))
    assert params["CustomersFilter"] == ["ASP", "FR1", "UJA", "CustomerShortCodeName"]
    assert set(secrets) == {"UserName", "Password", "Tenant"}
    assert all(v == "val3-" for v in secrets.values())  # trailing space trimmed


def test_unedited_placeholder_is_refused_without_echoing_values() -> None:
    with pytest.raises(ConfigError) as info:
        import_blocks(Task.CONNECTWISE, CW_PARAMS, CW_SECRETS)
    assert str(info.value) == ("secrets block: line 2: CompanyName: replace the XXXX "
                               "placeholder with your value")


def test_smart_quotes_trailing_commas_and_key_spellings() -> None:
    text = ("{\n  \u201capiurl\u201d: \u201c https://x.example.com \u201d,\n"
            "  \u2018CUSTOMERSFILTER\u2019: [\u2018ASP\u2019, \u2018FR1\u2019,],\n"
            "  \"allowatriacreateadditions\": \u201cFalse\u201d,\n}")
    params, _ = import_blocks(Task.CONNECTWISE, text, "")
    assert params == {"ApiUrl": "https://x.example.com", "CustomersFilter": ["ASP", "FR1"],
                      "AllowAtriaCreateAdditions": False}


def test_secret_key_spellings_and_apostrophes() -> None:
    secrets = parse_block('{"ClientID": "abc-123", "Username": "it\u2019s me"}')
    assert secrets == {"ClientId": "abc-123", "UserName": "it\u2019s me"}
    assert parse_block("{'Tenant': 'Bob\u2019s MSP'}") == {"Tenant": "Bob\u2019s MSP"}


def test_python_style_literals_and_comma_string() -> None:
    params, _ = import_blocks(Task.CONNECTWISE,
                              '{"AllowAtriaCreateAdditions": True, "CustomersFilter": "A, B,"}',
                              "")
    assert params == {"AllowAtriaCreateAdditions": True, "CustomersFilter": ["A", "B"]}


def test_kaseya_sku_field_match_normalized_and_alias() -> None:
    params, _ = import_blocks(Task.KASEYA, '{"SKUMatchField": "description"}', "")
    assert params == {"SKUFieldMatch": "Description"}


def test_secret_in_parameter_block_moves_over() -> None:
    params, secrets = import_blocks(Task.KASEYA, '{"ApiUrl": "https://k", "Tenant": "t1"}',
                                    '{"password": "pw12"}')
    assert params == {"ApiUrl": "https://k"}
    assert secrets == {"Tenant": "t1", "Password": "pw12"}


def test_empty_blocks_and_empty_secret() -> None:
    assert import_blocks(Task.KASEYA, "", "  ") == ({}, {})
    assert import_blocks(Task.KASEYA, "{}", '{"Password": ""}') == ({}, {})


@pytest.mark.parametrize("task,params,secrets,expected", [
    (Task.CONNECTWISE, '  1. {\n  2. "ApiUrl":"x",\n  3. "Foo": 1\n  4. }', "",
     "parameters block: line 3: Foo: unknown parameter for ConnectWise (expected one of "
     "ApiUrl, AgreementType, AllowAtriaCreateAdditions, BillingPeriod, CustomersFilter)"),
    (Task.CONNECTWISE, '{"ContractType": "x"}', "",
     "parameters block: line 1: ContractType: unknown parameter for ConnectWise (expected "
     "one of ApiUrl, AgreementType, AllowAtriaCreateAdditions, BillingPeriod, "
     "CustomersFilter; ContractType is a Kaseya and Autotask parameter)"),
    (Task.KASEYA, '{\n"SKUFieldMatch": "Name"\n}', "",
     'parameters block: line 2: SKUFieldMatch: one of ServiceName, Description, '
     'SKUDescription, got "Name"'),
    (Task.KASEYA, "", '{\n"UserName": "u",\n"ApiKey": "k"\n}',
     "secrets block: line 3: ApiKey: unknown secret for Kaseya (expected one of UserName, "
     "Password, Tenant, AtriaToken)"),
    (Task.KASEYA, '{"ApiUrl": "a", "apiurl": "b"}', "",
     "parameters block: line 1: apiurl is given twice; keep one"),
    (Task.KASEYA, "[1, 2]", "",
     'parameters block: a JSON object in braces: { "Name": "value", \u2026 }'),
    (Task.KASEYA, "", '{"Tenant": 5.5}', "secrets block: line 1: Tenant: a text value in "
                                         "quotes"),
])
def test_import_errors(task: Task, params: str, secrets: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        import_blocks(task, params, secrets)
    assert str(info.value) == expected


def test_syntax_error_has_line_and_column_of_the_pasted_text() -> None:
    text = CW_PARAMS.replace('"BillingPeriod": "Current",', '"BillingPeriod" "Current",')
    with pytest.raises(ConfigError) as info:
        parse_block(text)
    err = info.value
    assert (err.line, err.column) == (4, 22)  # the second quote, in the pasted text
    assert str(err) == ('parameters block: line 4, column 22: valid JSON: expected a colon '
                        'after the name, got 4. "BillingPeriod" "Current",')


def test_syntax_error_in_secrets_never_echoes_the_text() -> None:
    with pytest.raises(ConfigError) as info:
        import_blocks(Task.KASEYA, "", '{"UserName": "u" "Password": "hunter2secret"}')
    assert "hunter2secret" not in str(info.value)
    assert str(info.value) == ("secrets block: line 1, column 18: valid JSON: expected a "
                               "comma between entries")
