"""Value types of the Autotask sandbox: the entities' fields and picklists, and the knobs.

The field lists are the wire names of the current Swagger models
(`shared/spec/autotask-psa-api.md`, "Shapes"); only the fields a billing sync reads or
writes, plus a few neighbours, are modelled. Picklist values are integers on the wire and
strings in `entityInformation/fields`, as the spec says.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

# (name, dataType, isReadOnly, picklist key or None, referenceEntityType or None)
FieldSpec = tuple[str, str, bool, str | None, str | None]

_ID: FieldSpec = ("id", "long", True, None, None)

FIELDS: dict[str, list[FieldSpec]] = {
    "Companies": [
        _ID,
        ("companyName", "string", False, None, None),
        ("companyNumber", "string", False, None, None),
        ("companyType", "integer", False, "companyType", None),
        ("isActive", "boolean", False, None, None),
        ("parentCompanyID", "integer", False, None, "Company"),
        ("taxID", "string", False, None, None),
        ("phone", "string", False, None, None),
        ("createDate", "datetime", True, None, None),
        ("lastActivityDate", "datetime", True, None, None),
    ],
    "Contracts": [
        _ID,
        ("companyID", "integer", False, None, "Company"),
        ("contractName", "string", False, None, None),
        ("contractNumber", "string", False, None, None),
        ("contractType", "integer", False, "contractType", None),
        ("contractCategory", "integer", False, "contractCategory", None),
        ("contractPeriodType", "integer", False, "contractPeriodType", None),
        ("status", "integer", False, "status", None),
        ("startDate", "datetime", False, None, None),
        ("endDate", "datetime", False, None, None),
        ("isDefaultContract", "boolean", False, None, None),
        ("billingPreference", "integer", False, "billingPreference", None),
        ("billToCompanyID", "integer", False, None, "Company"),
        ("lastModifiedDateTime", "datetime", True, None, None),
    ],
    "Services": [
        _ID,
        ("name", "string", False, None, None),
        ("description", "string", False, None, None),
        ("invoiceDescription", "string", False, None, None),
        ("isActive", "boolean", False, None, None),
        ("unitPrice", "double", False, None, None),
        ("unitCost", "double", False, None, None),
        ("markupRate", "double", False, None, None),
        ("periodType", "integer", False, "periodType", None),
        ("billingCodeID", "integer", False, None, "BillingCode"),
        ("vendorCompanyID", "integer", False, None, "Company"),
        ("serviceLevelAgreementID", "integer", False, None, None),
        ("sku", "string", False, None, None),
        ("catalogNumberPartNumber", "string", False, None, None),
        ("manufacturerServiceProvider", "string", False, None, None),
        ("manufacturerServiceProviderProductNumber", "string", False, None, None),
        ("internalID", "string", False, None, None),
        ("externalID", "string", False, None, None),
        ("url", "string", False, None, None),
        ("createDate", "datetime", True, None, None),
        ("lastModifiedDate", "datetime", True, None, None),
    ],
    # Service bundles (out of the job's scope: a SKU that only names a bundle is reported).
    "ServiceBundles": [
        _ID,
        ("name", "string", False, None, None),
        ("description", "string", False, None, None),
        ("invoiceDescription", "string", False, None, None),
        ("isActive", "boolean", False, None, None),
        ("unitPrice", "double", False, None, None),
        ("unitCost", "double", False, None, None),
        ("periodType", "integer", False, "periodType", None),
    ],
    "ContractServices": [
        _ID,
        ("contractID", "integer", True, None, "Contract"),
        ("serviceID", "integer", True, None, "Service"),
        ("unitPrice", "double", False, None, None),
        ("unitCost", "double", False, None, None),
        ("internalCurrencyUnitPrice", "double", True, None, None),
        ("internalCurrencyAdjustedPrice", "double", False, None, None),
        ("invoiceDescription", "string", False, None, None),
        ("internalDescription", "string", False, None, None),
        ("quoteItemID", "integer", False, None, "QuoteItem"),
    ],
    "ContractServiceUnits": [
        _ID,
        ("contractID", "integer", True, None, "Contract"),
        ("contractServiceID", "integer", True, None, "ContractService"),
        ("serviceID", "integer", True, None, "Service"),
        ("startDate", "datetime", True, None, None),
        ("endDate", "datetime", True, None, None),
        ("units", "integer", True, None, None),
        ("price", "double", True, None, None),
        ("cost", "double", True, None, None),
        ("internalCurrencyPrice", "double", True, None, None),
        ("approveAndPostDate", "datetime", True, None, None),
        ("organizationalLevelAssociationID", "integer", True, None, None),
        ("vendorCompanyID", "integer", True, None, "Company"),
    ],
    "ContractServiceAdjustments": [
        _ID,
        ("contractID", "integer", False, None, "Contract"),
        ("contractServiceID", "integer", False, None, "ContractService"),
        ("serviceID", "integer", False, None, "Service"),
        ("effectiveDate", "datetime", False, None, None),
        ("unitChange", "integer", False, None, None),
        ("adjustedUnitPrice", "double", False, None, None),
        ("adjustedUnitCost", "double", False, None, None),
        ("allowRepeatService", "boolean", False, None, None),
        ("quoteItemID", "integer", False, None, "QuoteItem"),
    ],
}

# Entities answering `POST {Entity}/query` (ContractServiceAdjustments is create-only).
QUERYABLE = ("Companies", "Contracts", "Services", "ServiceBundles", "ContractServices",
             "ContractServiceUnits")
# Entities that carry `userDefinedFields` in every item.
WITH_UDFS = frozenset({"Companies", "Contracts", "Services"})
REQUIRED = {
    "Companies": {"companyName", "companyType"},
    "Contracts": {"companyID", "contractName", "contractType", "startDate", "endDate", "status"},
    "Services": {"name", "periodType", "unitPrice"},
    "ServiceBundles": {"name", "periodType", "unitPrice"},
    "ContractServices": {"contractID", "serviceID", "unitPrice"},
    "ContractServiceAdjustments": {"effectiveDate"},
}

RECURRING_SERVICE = 7
CONTRACT_ACTIVE = 1
MONTHLY = 1

# Picklists, value → label. contractType 7 is vendor text (ContractServicesEntity.htm); the
# other values and labels are one third-party reading (the spec: "read the picklist").
PICKLISTS: dict[str, dict[int, str]] = {
    "companyType": {1: "Customer", 2: "Lead", 3: "Prospect", 4: "Dead", 5: "Cancellation",
                    6: "Vendor", 7: "Partner"},
    "contractType": {1: "Time and Materials", 3: "Fixed Price", 4: "Block Hours",
                     6: "Retainer", 7: "Recurring Service", 8: "Per Ticket"},
    "status": {0: "Inactive", 1: "Active"},
    "contractCategory": {1: "Standard", 2: "Managed Services"},
    "contractPeriodType": {1: "Monthly", 2: "Quarterly", 3: "Semi-Annual", 4: "Yearly"},
    "periodType": {1: "Monthly", 2: "Quarterly", 3: "Semi-Annual", 4: "Yearly"},
    "billingPreference": {1: "Manually", 2: "Immediately", 3: "Timesheet Approval"},
}


def entity_of(name: str) -> str | None:
    """The canonical entity name for a path segment (paths are case-insensitive)."""
    folded = name.casefold()
    return next((e for e in FIELDS if e.casefold() == folded), None)


def field_of(entity: str, name: str) -> FieldSpec | None:
    folded = name.casefold()
    return next((f for f in FIELDS[entity] if f[0].casefold() == folded), None)


ZERO_UNITS = ("refuse", "accept")


@dataclass(slots=True)
class AtConfig:
    """Knobs the admin API can turn (`POST /_sandbox/config`).

    `tz_offset_minutes`: the tenant's time zone (UTC−5 as in the vendor's date example);
    `requests_per_hour`: the database's threshold; `thread_limit`: concurrent requests per
    (integration code + entity); `latency_ms`: held inside the thread slot, so concurrency
    is observable; `max_page_size`: the 500-row page; `zero_units`: whether an adjustment
    may leave a ContractServiceUnit at 0 (unverified: strict default refuses);
    `thread_status`: the HTTP status of the thread-threshold rejection.
    """

    latency_ms: int = 0
    tz_offset_minutes: int = -300
    requests_per_hour: int = 10000
    thread_limit: int = 3
    max_page_size: int = 500
    zero_units: str = "refuse"
    thread_status: int = 500

    def update(self, changes: Mapping[str, Any]) -> None:
        """Validate everything first so a bad request changes nothing."""
        allowed = set(asdict(self))
        unknown = sorted(set(changes) - allowed)
        if unknown:
            raise ValueError(f"unknown config key(s) {unknown}; allowed: {sorted(allowed)}")
        for key, value in changes.items():
            if key == "zero_units":
                if value not in ZERO_UNITS:
                    raise ValueError(f"config 'zero_units' must be one of {ZERO_UNITS}")
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"config {key!r} must be an integer, got {value!r}")
            if key == "tz_offset_minutes":
                if not -14 * 60 <= value <= 14 * 60:
                    raise ValueError("config 'tz_offset_minutes' must be within ±14 hours")
            elif key == "thread_status":
                if not 400 <= value <= 599:
                    raise ValueError("config 'thread_status' must be an HTTP error status")
            elif value < 0:
                raise ValueError(f"config {key!r} must be non-negative, got {value!r}")
        for key, value in changes.items():
            setattr(self, key, value)
