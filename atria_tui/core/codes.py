"""The log-code catalog: every code of the integration guides, as they word it, and ours.

Billing staff search logs by these codes and read the guides' resolution tables, so the
level and message text are kept as the seeds print them; only the placeholders are given
names (`{customer_code}`, `{sku}` …). Where a seed row is garbled, the comment says what
was read into it. Codes TU01–TU18 and TU20 are this tool's own (conflicts, ambiguity, resume,
revert): the seeds have no words for them, and overloading a seed code would mislead
someone following the seed's resolution guide. They were called AT01… until Autotask
became a PSA here ("AT" read as Autotask); `current_name` maps the old names, so a clerk's
habit or an old note still finds them.

AP01–AP37 are *our own* codes for the Autotask PSA job ("Autotask PSA"): Atria's Autotask
log codes are not public (the guide's code table could not be read, not even its prefix),
so these are modelled on the CW/KS catalogues (same situations, same levels, the same
resolution advice where it carries over), plus the situations only Autotask's API has
(whole units, posted periods, the database's hourly threshold, thread limits). "AP" (for
Autotask PSA) is chosen so it cannot read as Atria's own codes or as ours (TU..); should
Atria publish theirs, the profile maps each situation to one code and can be re-pointed.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

from atria_tui.core.model import Level, LogEntry

VB, IN, WN, ER = Level.VERBOSE, Level.INFO, Level.WARNING, Level.ERROR


@dataclass(frozen=True, slots=True)
class CodeDef:
    code: str
    level: Level
    when: str
    template: str
    resolution: str = ""
    ends_run: bool = False

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(f for _, f, _, _ in string.Formatter().parse(self.template) if f)


_CW_RES = {
    "CW04": "Locate the Company in ConnectWise, copy the CompanyID. Locate the Customer in "
    "Atria, Paste the CompanyID into the Billing Identifier field. Save.",
    "CW05": "If you do not want this data in ConnectWise, you can ignore or filter using an "
    "Atria billing rule. If this needs to be invoiced, ensure a product exists in ConnectWise "
    "and that the SKU code is stored against the Service in Atria.",
    "CW06": "Check the Product SKU and make sure it is configured within ConnectWise.",
    "CW14": "Locate the company in ConnectWise and make sure an agreement of the correct type "
    "is configured.",
    "CW15": "This could mean that an incorrect date was used or the Bill Processing has not "
    "executed successfully.",
    "CW20": "The quantity is set as 0 on the addition line. There is no specific action "
    "required.",
    "CW22": "If AllowAtriaCreateAdditions is set to False, Atria will not automatically add "
    "Additions. To resolve, manually add an addition to the Agreement, or change this setting "
    "to True.",
}

# The Kaseya guide files its "customer has no Billing Identifier" resolution under KS05,
# but the code table gives that trigger to KS09 (KS05 is "no contract"); the text follows
# the trigger it describes.
_KS_RES = {
    "KS09": "Locate the Account in Kaseya, copy the Account Code. Locate Customer in Atria, "
    "paste the Account Code into the Billing Identifier field and Save.",
    "KS06": 'Check that the Account in Kaseya has a "Recurring Services" Contract configured '
    "and that a service line exists for the service specified.",
    "KS23": "If you do not want this data in Kaseya, you can ignore or filter using an Atria "
    "billing rule. If this needs to be invoiced, ensure a service exists in Kaseya and that "
    "the SKU code is stored against the Service in Atria.",
    "KS14": "This means that the Service referenced din the SKU does not match anything in the "
    "Kaseya Service catalog.  Check the Service Identifier stored in Atria or add the service "
    "to Kaseya if missing.",
    "KS15": "This is a warning - it could mean that the billing process has not executed.  "
    "Check the billing report in Atria for the specified period.",
}

_DEFS: list[CodeDef] = [
    # --- ConnectWise Manage -----------------------------------------------------------
    CodeDef("CW01", IN, "Start of Process",
            "Billing Process Started : For Billing Period {period_end}"),
    CodeDef("CW02", ER, "Cannot connect to Connectwise",
            "Failed to connect to Connectwise: Error reported was : {error}", ends_run=True),
    CodeDef("CW03", ER, "Cannot connect to Atria",
            "Failed to connect to Atria: Error reported was : {error}", ends_run=True),
    CodeDef("CW04", WN, "Company ID missing in Atria",
            "{customer_code} CompanyID Missing Unable to process records for Atria Customer "
            "{customer_name} – Please add CompanyID from ConnectWise into Billing Identifier "
            "field on Customer"),
    CodeDef("CW05", WN, "SKU Missing in Atria",
            "{customer_code} SKU Missing in Atria : {customer_code} : Skipped Line "
            "{line_description} for Customer {customer_name} as no SKU was provided"),
    CodeDef("CW06", WN, "Product doesn't exist in ConnectWise",
            "{customer_code} Product Missing : Skipped Line {line_description} with Product ID "
            "{sku} for Customer {customer_name} as the SKU could not be located in ConnectWise. "
            "Please add this product in ConnectWise portal"),
    CodeDef("CW07", IN, "Contract quantity Change",
            "{customer_code} Quantity Update : Line located for {line_description} with Product "
            "ID {sku} and updated from {before} to {after}"),
    CodeDef("CW08", IN, "New Contract Line Added",
            "{customer_code} Contract Line Added : New Line added for {line_description} with "
            "Product ID {sku}"),
    CodeDef("CW09", VB, "Contract Line has no changes",
            "{customer_code} Contract Line for {line_description} located – quantity is "
            "unchanged"),
    CodeDef("CW10", ER, "Error on retrieving agreement addition ConnectWise",
            "{customer_code} Contract Line {line_description}, SKU {sku}, Error Details {error}"),
    # The seed prints the line description where the SKU belongs; the SKU is meant.
    CodeDef("CW11", ER, "Error on creating new product catalog item",
            "{customer_name} Catalog Item {line_description}, SKU {sku}, Error Details {error}"),
    CodeDef("CW12", ER, "Error creating agreement addition",
            "{customer_name} Addition {sku}, Error Details {error}"),
    CodeDef("CW13", ER, "Error Deserializing Json objects",
            "Failed to Deserialize object: Error reported was: {error}", ends_run=True),
    CodeDef("CW14", WN, "Error when customer or agreement doesn't exist in ConnectWise",
            "No Agreement exists for the customer {customer_name}. Check ConnectWise to see if "
            "the customer: {customer_name} with Id: {billing_identifier} and agreement type: "
            "{agreement_type} exists."),
    CodeDef("CW15", WN, "Error when no data exists in the billing period specified.",
            "No records found in Atria for billing period {period_end}."),
    CodeDef("CW16", ER, "Error reading connectwise configuration secrets",
            "Failed to retrieve ConnectWise secrets. Error occurred is: {error}", ends_run=True),
    CodeDef("CW17", ER, "api url is null or empty",
            "Failed to Retrieve Job Task Parameters: Error reported was: api url is not "
            "available", ends_run=True),
    CodeDef("CW18", ER, "invalid value for secrets",
            "Failed to validate ConnectWise secrets. {field} must have a valid value",
            ends_run=True),
    CodeDef("CW19", ER, "invalid Billing period date or format",
            "Incorrect billing period date or format", ends_run=True),
    CodeDef("CW20", WN, "Product has been removed from customer in this period.",
            "{customer_name}| Line located for {line_description} with Product ID {sku} is been "
            "removed in the selected billing period. The Quantity is updated from {before} to "
            "0.00"),
    CodeDef("CW21", ER, "Agreement type is invalid.",
            "Invalid agreement type. Please check agreement type in job parameters.",
            ends_run=True),
    CodeDef("CW22", WN, "Contract Line doesn't exist in ConnectWise",
            "Contract Line Missing in ConnectWise : Skipped Line {line_description} with Product "
            "ID {sku} for Customer {customer_name} as the SKU could not be located in "
            "ConnectWise"),
    CodeDef("CW23", IN, "End of Process", "Billing Process Completed with status {result}"),
    # --- Kaseya BMS ---------------------------------------------------------------------
    CodeDef("KS01", IN, "Process of updating billing items starts",
            "Billing Process Started: For Billing Period {period_end}"),
    CodeDef("KS02", ER, "When a request from Atria to communicate with Kaseya fails",
            "Cannot connect to Kaseya. The error occurred is: {error}", ends_run=True),
    CodeDef("KS03", ER, "Atria fails to retrieve billing information or an incorrect billing "
            "end period date is detected",
            "Failed to connect to Atria: Error reported was : {error}", ends_run=True),
    CodeDef("KS04", VB, "No changes between Atria and Kaseya contract line quantity was found",
            "No changes made in quantity for Product {sku} - no update to contract required for "
            "Customer {customer_name}"),
    CodeDef("KS05", WN, "When Account Exists in Kaseya but no Contract for Account is found",
            "Customer Contract for {customer_name} - {billing_identifier} ({contract_type}) does "
            "not exist in Kaseya portal."),
    # Seed: "Product [0] not linked … for Customer Customer {11}" (placeholders garbled).
    CodeDef("KS06", WN, "When no service line is found for a contract",
            "Product {sku} not linked to a contract in Kaseya database for Customer "
            "{customer_name}"),
    CodeDef("KS07", IN, "When contract line is found and updated successfully",
            "Product {sku} quantity updated from {before} to {after} for Customer "
            "{customer_name}"),
    CodeDef("KS08", ER, "When the request from Atria to update contract line quantity fails",
            "Failed to update service line quantity for Customer {customer_name}. The error is: "
            "{error}"),
    CodeDef("KS09", WN, "There is a customer in Atria but it doesn't have any billing ID "
            "defined in Atria.",
            "{customer_code} CompanyID Missing Unable to process records for Atria Customer "
            "{customer_name} – Please add CompanyID from Kaseya into Billing Identifer field on "
            "Customer within Atria."),
    CodeDef("KS10", ER, "Validating billing period fails",
            "Incorrect billing period date or format recognized.", ends_run=True),
    CodeDef("KS11", WN, "A removed line item in Atria is detected and process updates its "
            "quantity to zero in Kaseya portal",
            "{customer_name} Line located for {line_description} with Product ID {sku} is been "
            "removed in the selected billing period. The Quantity is updated from {before} to "
            "0.00"),
    CodeDef("KS12", ER, "Task Parameter Validation",
            "Invalid contract type. Please check contract type in task parameters.",
            ends_run=True),
    CodeDef("KS13", ER, "Process fails to desterilize a Json object retrieved from Kaseya",
            "Failed to Deserialize Job Task Parameters: Error reported was: {error}",
            ends_run=True),
    CodeDef("KS14", ER, "There is a billing item with SKU defined in Atria but no such a service "
            "is defined in Kaseya portal using SKUMatchField in Job Parameters",
            "Service Missing in Kaseya. Please check Kaseya portal to see if a Service with "
            "'{sku_field_match}': '{sku}' exists and is active."),
    CodeDef("KS15", WN, "A period is selected that doesn't have any billing item record.",
            "No invoice is received for the billing period: {period_end}"),
    CodeDef("KS16", ER, "When at least one of the secret values is null",
            "Failed to retrieve Kaseya secrets. Error occurred is: {error}", ends_run=True),
    CodeDef("KS17", ER, "Process of generating token to access Kaseya API fails",
            "Token could not be found", ends_run=True),
    CodeDef("KS18", VB, "Process of Reducing deprovisioned items to zero starts",
            "Start Processing Deprovisioned Customers"),
    CodeDef("KS19", VB, "Process of Reducing deprovisioned items to zero finishes",
            "Processing Deprovisioned Customers Completed"),
    # The seed gives KS20 the Info level although it ends the run; kept as printed.
    CodeDef("KS20", IN, "When API Url is empty",
            "Failed to Retrieve Job Task Parameters: Error reported was: api url is not "
            "available", ends_run=True),
    CodeDef("KS21", ER, "When at least one of the Kaseya secrets has null value",
            "Failed to validate Kaseya secrets.", ends_run=True),
    CodeDef("KS22", ER, "No Account is found in Kaseya that matches with the Billing ID of the "
            "customer in Atria",
            "Atria Customer for Account Code '{billing_identifier}' is not defined as a valid "
            "Kaseya Account"),
    # The seed's KS23 row has its "When" and "Message" columns swapped; the sentence is used.
    CodeDef("KS23", WN, "SKU Missing in Atria",
            "SKU Missing in Atria : {customer_name} : Skipped Line {line_description} for "
            "Customer {customer_name} as no SKU was provided"),
    CodeDef("KS24", IN, "The whole process of updating contract lines ends",
            "Billing Process Completed with status {result}"),
    # --- Autotask PSA (our own codes: Atria's are not public) ---------------------------
    CodeDef("AP01", IN, "Start of Process",
            "Billing Process Started : For Billing Period {period_end}"),
    CodeDef("AP02", ER, "Cannot connect to Autotask",
            "Failed to connect to Autotask: Error reported was : {error}",
            "Check the network path to the Autotask zone, BaseUrl (or ZoneUser when BaseUrl is "
            "blank), and run `atria-tui doctor JOB.toml`.", ends_run=True),
    CodeDef("AP03", ER, "Cannot connect to Atria",
            "Failed to connect to Atria: Error reported was : {error}",
            "Check the Atria API URL and token, or the billing file the job reads.",
            ends_run=True),
    CodeDef("AP04", WN, "Billing Identifier missing in Atria",
            "{customer_code} Billing Identifier Missing : Unable to process records for Atria "
            "Customer {customer_name} – please add the Autotask company's identifier into the "
            "Billing Identifier field on the Customer",
            "Locate the Company in Autotask, copy the field the job matches on (job option "
            "company_field, companyNumber by default). Locate the Customer in Atria, paste it "
            "into the Billing Identifier field and Save."),
    CodeDef("AP05", WN, "SKU Missing in Atria",
            "{customer_code} SKU Missing in Atria : Skipped Line {line_description} for "
            "Customer {customer_name} as no SKU was provided",
            "If you do not want this data in Autotask, ignore it or filter it with an Atria "
            "billing rule. If it must be invoiced, make sure a service exists in Autotask and "
            "that its SKU is stored against the Service in Atria."),
    CodeDef("AP06", WN, "Service doesn't exist in Autotask",
            "{customer_code} Service Missing : Skipped Line {line_description} with SKU {sku} "
            "for Customer {customer_name}: no active Autotask service matches it",
            "Check the SKU stored in Atria against the Autotask service field the job matches "
            "(job option service_field, name by default), or add the service to Autotask."),
    CodeDef("AP07", IN, "Contract service units changed",
            "{customer_code} Quantity Update : Service {sku} on {contract_name} updated from "
            "{before} to {after} units"),
    CodeDef("AP08", IN, "Service added to the contract",
            "{customer_code} Contract Service Added : New service line added for "
            "{line_description} with SKU {sku} ({after} units) on {contract_name}"),
    CodeDef("AP09", VB, "Contract service has no changes",
            "{customer_code} Contract Service for {line_description} ({sku}) located – units "
            "are unchanged"),
    CodeDef("AP10", ER, "Error reading the contract's services or units",
            "{customer_code} Contract {contract_name}, SKU {sku}: the contract's services "
            "could not be read. Error Details {error}",
            "Run the job again; if it persists, run `atria-tui doctor JOB.toml` and check the "
            "API user's Contracts permission."),
    CodeDef("AP11", ER, "Autotask refused a unit adjustment",
            "{customer_code} Write failed : {line_description} with SKU {sku}, Error Details "
            "{error}",
            "Read the Autotask error, fix the contract or service in Autotask, preview "
            "again and apply."),
    CodeDef("AP12", ER, "Autotask refused to add a service to the contract",
            "{customer_name} Contract Service {sku}, Error Details {error}",
            "Add the service to the contract in Autotask by hand, or fix what the error names, "
            "then preview again."),
    CodeDef("AP13", ER, "Autotask's answer or the job's settings could not be read",
            "Failed to read the Autotask answer or job settings: Error reported was: {error}",
            "Check the job file's parameters and options; if it is Autotask's answer, run "
            "`atria-tui doctor JOB.toml`.", ends_run=True),
    CodeDef("AP14", WN, "No Autotask company has the Billing Identifier",
            "Atria Customer {customer_name} with Billing Identifier '{billing_identifier}' "
            "matches no Autotask company",
            "Locate the company in Autotask and copy the matched field (job option "
            "company_field) into the Customer's Billing Identifier in Atria."),
    CodeDef("AP15", WN, "The company has no active Recurring Service contract",
            "No active {contract_type} contract covering the billing period exists for "
            "{customer_name} ({billing_identifier}) in Autotask",
            "Locate the company in Autotask and make sure one active contract of the "
            "configured type covers the billing period."),
    CodeDef("AP16", WN, "No data in the billing period",
            "No records found in Atria for billing period {period_end}.",
            "This could mean that an incorrect date was used or the Bill Processing has not "
            "executed successfully."),
    CodeDef("AP17", ER, "Error reading the Autotask secrets",
            "Failed to retrieve Autotask secrets. Error occurred is: {error}",
            "Store ApiIntegrationCode, UserName and Secret again (`atria-tui secret JOB.toml "
            "NAME`).", ends_run=True),
    CodeDef("AP18", ER, "No way to find the Autotask API",
            "Failed to Retrieve Job Task Parameters: Error reported was: BaseUrl is empty "
            "and no zone lookup is possible",
            "Leave BaseUrl blank and set ZoneUser (or the UserName secret), or set BaseUrl.",
            ends_run=True),
    CodeDef("AP19", ER, "A secret is empty",
            "Failed to validate Autotask secrets. {field} must have a valid value",
            "Store the secret named (`atria-tui secret JOB.toml NAME`).", ends_run=True),
    CodeDef("AP20", ER, "invalid Billing period date or format",
            "Incorrect billing period date or format",
            "Set BillingPeriod to Current, Previous or a date (YYYY-MM-DD).", ends_run=True),
    CodeDef("AP21", WN, "Service removed from the customer in this period",
            "{customer_name}| Service {sku} on {contract_name} is removed in the selected "
            "billing period. The units are updated from {before} to 0",
            "Nothing to do if the customer stopped the service; if not, check Atria."),
    CodeDef("AP22", ER, "Contract type is invalid",
            "Invalid contract type. Please check ContractType in job parameters.",
            "Set ContractType to a contract type label of the tenant (Recurring Service).",
            ends_run=True),
    CodeDef("AP23", WN, "Service not on the contract and additions are not allowed",
            "Contract Service Missing in Autotask : Skipped Line {line_description} with SKU "
            "{sku} for Customer {customer_name}: {contract_name} has no such service",
            "If AllowAtriaCreateAdditions is false the service is not added: add it to the "
            "contract in Autotask, or set AllowAtriaCreateAdditions to true."),
    CodeDef("AP24", IN, "End of Process", "Billing Process Completed with status {result}"),
    CodeDef("AP25", ER, "Autotask refused the API user",
            "Autotask refused the credentials: {error}",
            "Check ApiIntegrationCode, UserName and Secret, and that the user has the API "
            "User (API-only) security level.", ends_run=True),
    CodeDef("AP26", WN, "A fractional quantity: Autotask takes whole units",
            "{customer_code} Not written : SKU {sku} quantity {after} is not a whole number, "
            "and Autotask units are whole numbers",
            "Bill whole units in Atria, or set [options] units_rounding = \"up\", \"down\" "
            "or \"nearest\" in the job to round them."),
    CodeDef("AP27", WN, "The change would touch an approved and posted period",
            "{customer_code} Not written : SKU {sku} on {contract_name}: {error}",
            "Autotask never changes a posted period. Un-post it in Autotask, or set "
            "[options] effective_date to a date in an open period, then preview again."),
    CodeDef("AP28", ER, "Too little of the hourly API threshold is left for this job",
            "Autotask API threshold: {error}",
            "Other integrations use most of the database's 10,000 requests an hour: run "
            "later, or raise [options] budget_share.", ends_run=True),
    CodeDef("AP29", IN, "The Autotask API usage before the run",
            "Autotask API usage {used} of {threshold} requests in the last {minutes} minutes; "
            "this job may use {allowance}"),
    CodeDef("AP30", IN, "Autotask's thread threshold was reached and the run waited",
            "Autotask's thread threshold was reached {count} time(s); the requests waited and "
            "were sent again",
            "Nothing to do; if it is frequent, lower [options] concurrency."),
    CodeDef("AP31", WN, "More than one active contract of the configured type",
            "{customer_code} Ambiguous : {count} active {contract_type} contracts for "
            "customer {customer_name}; none was changed",
            "End or deactivate the extra contracts so that exactly one of the configured "
            "type covers the period, then preview again."),
    CodeDef("AP32", WN, "A SKU matches more than one active Autotask service",
            "{customer_code} Ambiguous : SKU {sku} matches {count} active services "
            "({services}); no line of this SKU was written",
            "Make the SKU match exactly one active service under the job's service_field, "
            "then preview again."),
    CodeDef("AP33", WN, "The Autotask company is inactive",
            "{customer_code} Company {account_name} ({billing_identifier}) is inactive in "
            "Autotask; nothing was written for Customer {customer_name}",
            "Reactivate the company in Autotask, or remove the Billing Identifier in Atria."),
    CodeDef("AP34", WN, "Autotask refused to set a removed service to 0 units",
            "{customer_code} Not written : Service {sku} on {contract_name} is no longer "
            "billed, but Autotask refused 0 units: {error}; left at {before} for a human",
            "Remove the service from the contract in Autotask (or end the contract) by hand."),
    CodeDef("AP35", IN, "When the run's changes take effect in Autotask",
            "Autotask changes take effect on {date} for {count} contract(s) ({policy})"),
    CodeDef("AP37", WN, "A SKU names only an Autotask service bundle",
            "{customer_code} Not written : SKU {sku} for Customer {customer_name} names a "
            "service bundle in Autotask, and this job updates services, not bundles",
            "Update the bundle on the contract in Autotask by hand, or bill its services in "
            "Atria under their own SKUs."),
    CodeDef("AP36", WN, "More than one contract service for one SKU",
            "{customer_code} Ambiguous : {count} contract services match SKU {sku} on "
            "{contract_name}; none was changed",
            "Merge or remove the duplicate services on the contract in Autotask."),
    # --- this tool's own ------------------------------------------------------------------
    CodeDef("TU01", WN, "A PSA line changed since the preview; not overwritten",
            "{customer_code} Conflict : Line {line_description} with Product ID {sku} is "
            "{current} in the PSA but was {before} when previewed; not overwritten",
            "Someone edited the line in the PSA after the preview. Preview again, check the "
            "new quantity and apply again."),
    CodeDef("TU02", WN, "More than one live agreement/contract of the configured type",
            "{customer_code} Ambiguous : {count} live contracts of type {contract_type} for "
            "customer {customer_name}; none was changed",
            "Cancel or end the extra agreements/contracts so that exactly one of the configured "
            "type is live, then preview again."),
    CodeDef("TU03", WN, "More than one live line for one SKU in a contract",
            "{customer_code} Ambiguous : {count} live lines match Product ID {sku} in "
            "{contract_name}; none was changed",
            "Merge or cancel the duplicate lines in the PSA so one live line carries the SKU."),
    CodeDef("TU04", IN, "Change not approved (rejected, or held for review)",
            "{customer_code} Not applied : {line_description} with Product ID {sku} was "
            "not approved in review ({before} → {after})"),
    CodeDef("TU05", IN, "An interrupted apply is resumed",
            "Resuming run {run_id}: {pending} change(s) still pending"),
    CodeDef("TU06", IN, "A run's writes are reverted",
            "{customer_code} Reverted : {line_description} with Product ID {sku} set back from "
            "{after} to {before}"),
    CodeDef("TU07", WN, "A line written by this tool is no longer found in the PSA",
            "{customer_code} Line {line_description} with Product ID {sku} is gone from the PSA; "
            "nothing to write"),
    CodeDef("TU08", ER, "The PSA answered an apply write with an error",
            "{customer_code} Write failed : {line_description} with Product ID {sku}, Error "
            "Details {error}"),
    CodeDef("TU09", IN, "A SKU matched more than one catalog service",
            "{customer_code} Ambiguous : {count} catalog items match Product ID {sku}; none was "
            "chosen",
            "Make the SKU match exactly one active catalog item (or fix it in the console)."),
    CodeDef("TU10", ER, "A write got no answer and was not found in the PSA on a re-read",
            "{customer_code} Not confirmed : {line_description} with Product ID {sku} "
            "({before} → {after}): {error}; not found on a re-read and not sent again",
            "The PSA may still carry the write out. Run apply again once the PSA answers: "
            "it re-reads the line first and writes only what is missing, never twice."),
    CodeDef("TU11", IN, "A write whose answer was lost is found in the PSA",
            "{customer_code} Confirmed : {line_description} with Product ID {sku} is {after} "
            "in the PSA; the write landed although its answer was lost ({error})"),
    CodeDef("TU12", IN, "What a revert found to restore",
            "Revert of run {run_id}: {restored} line(s) restored, {unchanged} already as before "
            "the run, {changed} changed since (left alone), {missing} not found"),
    CodeDef("TU13", WN, "A SKU matches more than one active service in the catalog",
            "{customer_code} Ambiguous : Product ID {sku} matches {count} active services "
            "({services}); no line of this SKU was written",
            "Make the SKU match exactly one active service under SKUFieldMatch (rename, "
            "re-describe or deactivate the others), then preview again."),
    CodeDef("TU14", IN, "Which API base a run uses",
            "{psa_name} API base {base} ({reason})"),
    CodeDef("TU15", ER, "The PSA host does not serve a route the run needs",
            "{customer_code} Not read : the lines of {contract_name} ({sku}): {error}",
            "Run `atria-tui doctor JOB.toml`: it tries the shipped alternatives, read-only, and "
            "says which route this tenant answers; put it in the job's [endpoints] table."),
    CodeDef("TU16", WN, "A fractional quantity for a PSA that takes whole units",
            "{customer_code} Not written : Product ID {sku} quantity {after} is not a whole "
            "number, and {psa_name} takes whole units",
            "Bill whole units in Atria, or set [options] units_rounding = \"up\", \"down\" "
            "or \"nearest\" in the job to round them."),
    CodeDef("TU17", IN, "Lines an apply left as they were, counted instead of listed",
            "{count} line(s) {state} ({row_code}: {what}); the plan of run {plan_run} lists them",
            "Nothing to do: an apply logs each write and every warning or error, and counts "
            "the lines it had nothing to write for. A preview run's log lists them line by "
            "line (`atria-tui log RUN`, the console's Runs screen); an apply planned at once "
            "printed them with its plan (the `items` of `--format json`)."),
    CodeDef("TU18", IN, "A plan reused contract lines an earlier plan of the period read",
            "{count} contract(s) not read again: their lines were read by a plan of this "
            "period from {since}, within the last {hours} hour(s)",
            "Nothing to do: the plan resumed a read that was stopped (the PSA's call budget "
            "makes a full read take hours), and apply re-reads every contract it writes to. "
            "To read everything again, set [options] line_cache_hours = 0 in the job."),
    CodeDef("TU20", WN, "A run summary could not be sent to a notification target",
            "Run summary not sent to {target}: {error}",
            "The billing run itself is not affected. Check the target's URL (`atria-tui "
            "secret JOB.toml NAME` stores it) and try `atria-tui notify-test JOB.toml`."),
]

for _d in list(_DEFS):
    _res = _CW_RES.get(_d.code) or _KS_RES.get(_d.code)
    if _res:
        _DEFS[_DEFS.index(_d)] = CodeDef(_d.code, _d.level, _d.when, _d.template, _res,
                                         _d.ends_run)

CATALOG: dict[str, CodeDef] = {d.code: d for d in _DEFS}


class _Blank(dict[str, object]):
    def __missing__(self, key: str) -> str:
        return ""


def message(code: str, **fields: object) -> str:
    """The seed's sentence with its placeholders filled; a missing field prints empty."""
    return CATALOG[code].template.format_map(_Blank(fields))


# A plan writes nothing, so its log must not say "updated" or "added": the guide's done
# wording, with the verb made conditional, for each code that stands for a write.
_DRY: dict[str, tuple[str, str]] = {
    "CW07": ("and updated from", "and would be updated from"),
    "CW08": ("Contract Line Added : New Line added",
             "Contract Line To Add : New Line would be added"),
    "CW20": ("The Quantity is updated from", "The Quantity would be updated from"),
    "KS07": ("quantity updated from", "quantity would be updated from"),
    "KS11": ("The Quantity is updated from", "The Quantity would be updated from"),
    "AP07": ("updated from", "would be updated from"),
    "AP08": ("Contract Service Added : New service line added",
             "Contract Service To Add : New service line would be added"),
    "AP21": ("The units are updated from", "The units would be updated from"),
}


def planned(code: str, text: str) -> str:
    """`text` (a write's done wording) as a dry run states it: "would be updated"."""
    done, dry = _DRY.get(code, ("", ""))
    return text.replace(done, dry, 1) if done else text


def entry(code: str, *, customer: str = "", sku: str = "", **fields: object) -> LogEntry:
    """A log entry for `code`; the time is stamped where it is written (store, sink)."""
    d = CATALOG[code]
    return LogEntry(code, d.level, message(code, sku=sku, **fields), customer, sku)


# This tool's own codes were AT01… (read as "Autotask" once Autotask became a PSA here).
_OLD_NAME = re.compile(r"\bAT(0[1-9]|1[0-9]|20)\b", re.IGNORECASE)


def current_name(text: str) -> str:
    """`text` with this tool's old code names (AT01…AT20) written as today's (TU01…):
    filters and searches accept either."""
    return _OLD_NAME.sub(lambda m: "TU" + m.group(1), text)


def resolution(code: str) -> str:
    d = CATALOG.get(code)
    return d.resolution if d else ""
