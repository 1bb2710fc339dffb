"""Autotask PSA REST v1.0: every path and field name the adapter uses, and what is unverified.

Paths are relative to the tenant base `{zone url}V1.0/` (`shared/spec/autotask-psa-api.md`,
"Endpoints used"); field names are the current Swagger's. Nothing else in the product knows
them. The routes are the documented ones: a job cannot override them (no [endpoints]).

What no readable source settles, kept here so a real tenant can correct it (the spec's
"What is unverified" table, with what this adapter does about each):

| point                                          | what the adapter does                      |
|------------------------------------------------|--------------------------------------------|
| Company field holding the Billing Identifier   | job option company_field (companyNumber)   |
| Service field a SKU matches                    | job option service_field (name)            |
| omitting adjustedUnitPrice keeps the price     | omitted (the sandbox keeps the price)      |
| an adjustment to 0 units is accepted           | sent; a refusal is AP34, the line is left  |
| posted period / outside contract dates refused | never sent there (first_unposted policy);  |
|                                                | a refusal naming "posted" is AP27          |
| split unit rows overlap by one day             | the row with the latest startDate wins     |
| date-only values cut to the tenant's midnight  | sent at noon UTC, units read back at date  |
| other contractType / status values             | read from Contracts/entityInformation/fields|
| one UDF condition per query                    | a `udf:` company field is one condition    |
| allowRepeatService                             | never sent                                 |
"""

from __future__ import annotations

ZONE_PATH = "zoneInformation"          # absolute on a zone host, no credentials
THRESHOLD = "ThresholdInformation"
ADJUST = "Contracts/{contractId}/ServiceAdjustments"   # the child route (spec: use it)


def query(entity: str) -> str:
    return f"{entity}/query"


def fields(entity: str) -> str:
    return f"{entity}/entityInformation/fields"


def one(entity: str, row_id: str) -> str:
    return f"{entity}/{row_id}"


COMPANIES = "Companies"
CONTRACTS = "Contracts"
SERVICES = "Services"
BUNDLES = "ServiceBundles"        # read only to say a SKU names a bundle (out of scope)
CONTRACT_SERVICES = "ContractServices"
UNITS = "ContractServiceUnits"
ADJUSTMENTS = "ContractServiceAdjustments"   # the thread-limit key of the write route

COMPANY_FIELDS = ("id", "companyName", "isActive")
CONTRACT_FIELDS = ("id", "companyID", "contractName", "contractType", "status", "startDate",
                   "endDate", "contractPeriodType")
SERVICE_FIELDS = ("id", "name", "description", "invoiceDescription", "isActive", "unitPrice",
                  "unitCost")
BUNDLE_FIELDS = ("id", "name", "isActive", "unitPrice")
CONTRACT_SERVICE_FIELDS = ("id", "contractID", "serviceID", "unitPrice", "invoiceDescription")
UNIT_FIELDS = ("id", "contractID", "contractServiceID", "serviceID", "startDate", "endDate",
               "units", "approveAndPostDate")

# contractPeriodType picklist → months per period (vendor labels Monthly, Quarterly,
# Semi-Annual, Yearly; the values are read from the picklist by label).
PERIOD_MONTHS = {"monthly": 1, "quarterly": 3, "semi-annual": 6, "semi-annually": 6,
                 "yearly": 12, "annual": 12, "annually": 12}
ACTIVE_LABEL = "active"
