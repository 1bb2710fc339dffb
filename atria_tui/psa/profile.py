"""The two PSA profiles the guides describe: ConnectWise Manage and Kaseya BMS.

Each code field names the situation, the value is the guide's code for it (see
`codes.CATALOG` for level and wording). `None` means the guide has no code for that
situation on this PSA, and the engine falls back as the guide does (e.g. Kaseya logs a
refused login as KS17 but ConnectWise as CW02).
"""

from __future__ import annotations

from dataclasses import dataclass

from atria_tui.core.model import Task


@dataclass(frozen=True, slots=True)
class PsaCodes:
    """The guide's code for each situation a run meets, per PSA."""

    # the run
    started: str
    finished: str
    psa_unreachable: str
    source_unreadable: str
    invalid_answer: str
    period_invalid: str
    api_url_missing: str
    secrets_unreadable: str
    secret_missing: str
    contract_type_unknown: str
    nothing_billed: str
    auth_refused: str | None
    deprovisioned_bracket: tuple[str, str] | None
    # a customer
    identifier_missing: str
    account_unknown: str
    contract_missing: str
    lines_unreadable: str
    # a line
    sku_missing: str
    unchanged: str
    updated: str
    zeroed: str
    unknown_sku: str
    added: str | None          # None: the PSA job never adds a line
    not_on_contract: str | None  # the product exists, the contract has no line (no add)
    add_refused: str | None      # a line could be added but the job or product forbids it
    write_failed: str
    add_failed: str


@dataclass(frozen=True, slots=True)
class PsaProfile:
    task: Task
    secret_names: tuple[str, ...]
    parameter_names: tuple[str, ...]  # the guide's [parameters], spelled as it spells them
    new_job_parameters: dict[str, object]  # what the guide's example job sets, beyond ApiUrl
    contract_type_param: str
    default_contract_type: str
    adapter: str               # "module:Class", resolved by the services layer
    derived_secrets: str | None  # "module:function": credentials built from the secrets
    codes: PsaCodes
    match_by_product_code: bool  # else the job's SKUFieldMatch decides
    call_budget: bool            # the tenant allows so many calls an hour per endpoint
    catalog_in_snapshot: bool    # a plan's read holds the whole catalog (pickers need no more)
    whole_units: bool = False    # quantities are integers on the wire (Kaseya's int32 Units)
    # "module:function" checking a job's [endpoints] table (raises ValueError), or None
    # when the PSA's routes are not overridable.
    endpoints_check: str | None = None
    # "module:function" giving a job's route checks for `atria-tui doctor`.
    doctor: str | None = None
    # Job settings its adapter takes (services.psa.ADAPTER_OPTIONS).
    adapter_options: tuple[str, ...] = ()
    # What the PSA calls the customer a contract belongs to, as the clerk reads it there
    # (ConnectWise: company; Kaseya BMS: account).
    account_word: str = "company"


CONNECTWISE = PsaProfile(
    task=Task.CONNECTWISE,
    secret_names=("CompanyName", "PublicKey", "PrivateKey", "ClientId"),
    parameter_names=("ApiUrl", "AgreementType", "AllowAtriaCreateAdditions", "BillingPeriod",
                     "CustomersFilter"),
    new_job_parameters={"AgreementType": "Hosting and Cloud Services",
                        "AllowAtriaCreateAdditions": False},
    contract_type_param="AgreementType", default_contract_type="Hosting and Cloud Services",
    adapter="atria_tui.adapters.connectwise:ConnectWiseAdapter",
    derived_secrets="atria_tui.adapters.connectwise:derived_secrets",
    match_by_product_code=True, call_budget=False, catalog_in_snapshot=False,
    adapter_options=("api_version", "endpoints"),
    endpoints_check="atria_tui.adapters.connectwise_routes:routes_for",
    codes=PsaCodes(
        started="CW01", finished="CW23", psa_unreachable="CW02", source_unreadable="CW03",
        invalid_answer="CW13", period_invalid="CW19", api_url_missing="CW17",
        secrets_unreadable="CW16", secret_missing="CW18", contract_type_unknown="CW21",
        nothing_billed="CW15",
        auth_refused=None, deprovisioned_bracket=None,
        identifier_missing="CW04", account_unknown="CW14", contract_missing="CW14",
        lines_unreadable="CW10",
        sku_missing="CW05", unchanged="CW09", updated="CW07", zeroed="CW20",
        unknown_sku="CW06", added="CW08", not_on_contract=None, add_refused="CW22",
        write_failed="TU08", add_failed="CW12"))

KASEYA = PsaProfile(
    task=Task.KASEYA,
    secret_names=("UserName", "Password", "Tenant"),
    parameter_names=("ApiUrl", "ContractType", "BillingPeriod", "CustomersFilter",
                     "SKUFieldMatch"),
    new_job_parameters={"ContractType": "Recurring Services", "SKUFieldMatch": "ServiceName"},
    contract_type_param="ContractType", default_contract_type="Recurring Services",
    adapter="atria_tui.adapters.kaseya:KaseyaAdapter", derived_secrets=None,
    match_by_product_code=False, call_budget=True, catalog_in_snapshot=True,
    whole_units=True, endpoints_check="atria_tui.adapters.kaseya_routes:routes_for",
    account_word="account", adapter_options=("endpoints", "budget_scope", "unit_effective"),
    codes=PsaCodes(
        started="KS01", finished="KS24", psa_unreachable="KS02", source_unreadable="KS03",
        invalid_answer="KS13", period_invalid="KS10", api_url_missing="KS20",
        secrets_unreadable="KS16", secret_missing="KS21", contract_type_unknown="KS12",
        nothing_billed="KS15",
        auth_refused="KS17", deprovisioned_bracket=("KS18", "KS19"),
        identifier_missing="KS09", account_unknown="KS22", contract_missing="KS05",
        lines_unreadable="KS02",
        sku_missing="KS23", unchanged="KS04", updated="KS07", zeroed="KS11",
        unknown_sku="KS14", added=None, not_on_contract="KS06", add_refused=None,
        write_failed="KS08", add_failed="KS08"))

PROFILES: dict[Task, PsaProfile] = {p.task: p for p in (CONNECTWISE, KASEYA)}


def profile_of(task: Task) -> PsaProfile:
    return PROFILES[task]
