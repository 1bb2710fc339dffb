"""The PSA profiles: ConnectWise Manage and Kaseya BMS (as their guides describe them) and
Autotask PSA (its guide's code table is not public: its codes are our own, AP..).

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
    # Situations some PSAs name apart; the defaults are this tool's shared codes.
    fractional: str = "TU16"           # a fractional quantity for a whole-units PSA
    ambiguous_contract: str = "TU02"   # several live contracts of the type
    ambiguous_service: str = "TU13"    # a SKU matching several active catalog services
    ambiguous_line: str = "TU03"       # several live lines for one SKU on a contract
    account_inactive: str | None = None  # None: the PSA's inactive accounts are not told apart
    # Codes an adapter gives its own failures and notes (None: the PSA has no such thing).
    posted_refused: str | None = None  # the change would touch a posted/closed period
    zero_refused: str | None = None    # the PSA refused to take a removed line to 0
    budget_short: str | None = None    # too little of a shared hourly threshold is left
    budget_note: str | None = None     # the threshold's use before the run
    threads_waited: str | None = None  # the PSA's concurrency limit was hit and waited out
    effective_note: str | None = None  # when the run's changes take effect
    bundle_only: str | None = None     # a SKU that names only a bundle (not a line's service)


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
    # The guide's parameter holding the API URL, and what a blank one stands for: "" (the
    # run ends with `codes.api_url_missing`) or the URL the adapter finds the API from
    # (Autotask: the zone lookup; a job's [options] zone_url replaces it).
    api_url_param: str = "ApiUrl"
    blank_api_url: str = ""


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

# The vendor's zone lookup (any zone host answers it, without credentials).
AUTOTASK_ZONE_LOOKUP = "https://webservices.autotask.net/ATServicesRest/V1.0/zoneInformation"

AUTOTASK = PsaProfile(
    task=Task.AUTOTASK,
    secret_names=("ApiIntegrationCode", "UserName", "Secret"),
    parameter_names=("BaseUrl", "ZoneUser", "ContractType", "AllowAtriaCreateAdditions",
                     "BillingPeriod", "CustomersFilter"),
    new_job_parameters={"ZoneUser": "", "ContractType": "Recurring Service",
                        "AllowAtriaCreateAdditions": False},
    contract_type_param="ContractType", default_contract_type="Recurring Service",
    adapter="atria_tui.adapters.autotask:AutotaskAdapter", derived_secrets=None,
    match_by_product_code=False, call_budget=False, catalog_in_snapshot=True,
    whole_units=True, account_word="company",
    api_url_param="BaseUrl", blank_api_url=AUTOTASK_ZONE_LOOKUP,
    adapter_options=("parameters", "period_end", "zone_url", "company_field",
                     "service_field", "budget_share", "effective_date"),
    codes=PsaCodes(
        started="AP01", finished="AP24", psa_unreachable="AP02", source_unreadable="AP03",
        invalid_answer="AP13", period_invalid="AP20", api_url_missing="AP18",
        secrets_unreadable="AP17", secret_missing="AP19", contract_type_unknown="AP22",
        nothing_billed="AP16",
        auth_refused="AP25", deprovisioned_bracket=None,
        identifier_missing="AP04", account_unknown="AP14", contract_missing="AP15",
        lines_unreadable="AP10",
        sku_missing="AP05", unchanged="AP09", updated="AP07", zeroed="AP21",
        unknown_sku="AP06", added="AP08", not_on_contract=None, add_refused="AP23",
        write_failed="AP11", add_failed="AP12",
        fractional="AP26", ambiguous_contract="AP31", ambiguous_service="AP32",
        ambiguous_line="AP36", account_inactive="AP33", posted_refused="AP27",
        zero_refused="AP34", budget_short="AP28", budget_note="AP29",
        threads_waited="AP30", effective_note="AP35", bundle_only="AP37"))

PROFILES: dict[Task, PsaProfile] = {p.task: p for p in (CONNECTWISE, KASEYA, AUTOTASK)}


def profile_of(task: Task) -> PsaProfile:
    return PROFILES[task]
