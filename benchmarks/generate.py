"""Data sets at a large MSP's size, for both PSAs, from one seed number.

One random draw describes every customer once (which SKUs it has, the PSA quantity of each
line, and what happened this month); the ConnectWise seed, the Kaseya seed and the two
billing exports are all renderings of that one description, so the two PSAs are measured
on the same workload and a run is reproducible from `--seed`.

The mix per contract line is the one the issue asks for: ~86% unchanged, ~10% quantity
changes, ~2% removed (billed last period only, so rule 6 zeroes them), and ~1.5% of
(customer, SKU) pairs are billed with no line yet. A few customers have no Billing
Identifier in the export (the fix the console's re-plan is measured on), a few are unknown
to the PSA, and some PSA companies are not billed at all. At 2,000 customers that is
~40,000 current-period records, ~10,000 lines and well over 1,000 changes.

    python -m benchmarks.generate --customers 2000 --out /tmp/bench-data
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

MISSING_EVERY = 20  # the variant blanks every 20th customer's Billing Identifier: 5%
PLACEHOLDER_BASE = "http://127.0.0.1:8765"

CW_TYPE = "Hosting and Cloud Services"
KS_TYPE = "Recurring Services"
BILLING_PERIOD = "2026-11-20"  # with period_start_day 26: 2026-10-26..2026-11-25
PERIOD_END = "2026-11-25"
PREVIOUS_END = "2026-10-25"
CATALOG_SIZE = 150
STAMP = "2026-10-01T03:12:44Z"
INFO = {"lastUpdated": STAMP, "updatedBy": "jsmith", "dateEntered": "2024-06-14T01:02:03Z",
        "enteredBy": "jsmith"}
HEADER = ("CustomerCode", "CustomerName", "BillingIdentifier", "Sku", "LineDescription",
          "SummaryDescription", "Quantity", "Billable", "PeriodEnd")
UNCHANGED, CHANGED, REMOVED = "unchanged", "changed", "removed"


@dataclass
class Product:
    id: int
    sku: str
    description: str
    price: float


@dataclass
class Line:
    product: Product
    psa_qty: int          # on the PSA line (None of these exist for `missing`)
    atria_qty: int        # billed this period (0 when removed)
    kind: str


@dataclass
class Customer:
    n: int
    code: str
    name: str
    has_identifier: bool
    in_psa: bool
    lines: list[Line] = field(default_factory=list)
    missing: list[tuple[Product, int]] = field(default_factory=list)

    @property
    def cw_identifier(self) -> str:
        return f"Cust{self.n:05d}"

    @property
    def ks_code(self) -> str:
        return f"ACC{self.n:05d}"


@dataclass
class DataSet:
    catalog: list[Product]
    customers: list[Customer]
    unbilled: int  # PSA companies with agreements that Atria does not bill


@dataclass(frozen=True)
class Generated:
    """Paths of everything written, plus the counts the benchmark reports."""

    folder: Path
    cw_seed: Path
    ks_seed: Path
    cw_billing: Path
    ks_billing: Path
    cw_job: Path
    ks_job: Path
    customers: int
    records: int
    lines: int


def identifier_for(customer_code: str, task: Any) -> str:
    """The PSA Billing Identifier of a generated customer (what a console fix would enter)."""
    n = int(customer_code.lstrip("C"))
    return f"Cust{n:05d}" if str(task) == "connectwise-manage" else f"ACC{n:05d}"


def build(customers: int, seed: int = 1, lines_per_contract: int = 5) -> DataSet:
    rng = random.Random(seed)
    catalog = [Product(i, f"SVC-{i:03d}", f"Cloud service {i:03d}",
                       float(rng.choice((2, 4, 6.5, 8, 12, 15, 22, 35, 48))))
               for i in range(1, CATALOG_SIZE + 1)]
    out: list[Customer] = []
    for n in range(1, customers + 1):
        c = Customer(n, f"C{n:05d}", f"Customer {n:05d} Pty Ltd",
                     has_identifier=rng.random() >= 0.005, in_psa=rng.random() >= 0.0025)
        count = max(2, min(9, round(rng.gauss(lines_per_contract, 1.5))))
        chosen = rng.sample(catalog, count + 1)
        for product in chosen[:count]:
            qty = rng.randint(1, 40)
            roll = rng.random()
            if roll < 0.10:
                new = max(1, qty + rng.choice((-3, -2, -1, 1, 1, 2, 3, 5)))
                kind = CHANGED if new != qty else UNCHANGED
                c.lines.append(Line(product, qty, new, kind))
            elif roll < 0.12:
                c.lines.append(Line(product, qty, 0, REMOVED))
            else:
                c.lines.append(Line(product, qty, qty, UNCHANGED))
        if rng.random() < 0.075:  # ~1.5% of (customer, SKU) pairs: billed, no line yet
            c.missing.append((chosen[count], rng.randint(1, 10)))
        out.append(c)
    return DataSet(catalog, out, unbilled=max(1, customers // 20))


# --- billing exports ---------------------------------------------------------------------


def _split(total: int, rng: random.Random) -> list[int]:
    """A (customer, SKU) quantity as Atria lists it: per user/device rows plus a remainder."""
    parts = min(total, rng.randint(1, 8))
    cuts = sorted(rng.sample(range(1, total), parts - 1)) if parts > 1 else []
    bounds = [0, *cuts, total]
    return [b - a for a, b in zip(bounds, bounds[1:], strict=False)]


def billing_rows(data: DataSet, psa: str, seed: int) -> list[tuple[str, ...]]:
    rng = random.Random(seed * 7919 + (1 if psa == "cw" else 2))
    rows: list[tuple[str, ...]] = []
    for c in data.customers:
        ident = "" if not c.has_identifier else (
            c.cw_identifier if psa == "cw" else c.ks_code)
        if not c.in_psa:
            ident = f"Gone{c.n:05d}" if psa == "cw" else f"GONE{c.n:05d}"
        billed = [(ln.product, ln.atria_qty, ln.psa_qty) for ln in c.lines]
        billed += [(p, q, 0) for p, q in c.missing]
        for product, now, before in billed:
            for i, q in enumerate(_split(now, rng) if now else []):
                rows.append((c.code, c.name, ident, product.sku,
                             f"{product.description} - user {i + 1}", product.description,
                             str(q), "true", PERIOD_END))
            if now and rng.random() < 0.02:
                rows.append((c.code, c.name, ident, product.sku,
                             f"{product.description} - internal", product.description, "1",
                             "false", PERIOD_END))
            if before:  # last month the PSA matched Atria: one summary row per SKU
                rows.append((c.code, c.name, ident, product.sku, product.description,
                             product.description, str(before), "true", PREVIOUS_END))
    return rows


def write_csv(path: Path, rows: list[tuple[str, ...]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        w.writerows(rows)


# --- ConnectWise seed ------------------------------------------------------------------------


def _company(cid: int, identifier: str, name: str) -> dict[str, Any]:
    return {"id": cid, "identifier": identifier, "name": name,
            "status": {"id": 1, "name": "Active"}, "types": [{"id": 1, "name": "Client"}],
            "addressLine1": f"{cid} George Street", "city": "Sydney", "state": "NSW",
            "zip": "2000", "country": {"id": 7, "name": "Australia"},
            "phoneNumber": "02 9000 4000", "website": "", "deletedFlag": False,
            "dateAcquired": "2023-07-01T00:00:00Z", "_info": dict(INFO)}


def _agreement(aid: int, company: dict[str, Any], type_id: int, type_name: str
               ) -> dict[str, Any]:
    return {"id": aid, "name": f"{company['name']} {type_name}",
            "type": {"id": type_id, "name": type_name},
            "company": {"id": company["id"], "identifier": company["identifier"],
                        "name": company["name"]},
            "contact": None, "agreementStatus": "Active", "cancelledFlag": False,
            "dateCancelled": None, "startDate": "2024-07-01T00:00:00Z", "endDate": None,
            "noEndingDateFlag": True, "parentAgreement": None, "prorateFlag": True,
            "billingCycle": {"id": 1, "name": "Monthly"}, "applicationUnits": "Amount",
            "billAmount": 0.0, "customerPO": "", "_info": dict(INFO)}


def _addition(add_id: int, agreement_id: int, p: Product, qty: int) -> dict[str, Any]:
    return {"id": add_id, "product": {"id": p.id, "identifier": p.sku}, "quantity": float(qty),
            "lessIncluded": 0.0, "unitPrice": p.price, "unitCost": round(p.price * 0.8, 2),
            "billCustomer": "Billable", "effectiveDate": "2024-07-01T00:00:00Z",
            "cancelledDate": "", "taxableFlag": True, "description": p.description,
            "invoiceDescription": p.description, "agreementId": agreement_id,
            "agreementStatus": "Active", "extPrice": round(p.price * qty, 2),
            "extCost": round(p.price * 0.8 * qty, 2), "uom": "Each",
            "purchaseItemFlag": False, "specialOrderFlag": False, "_info": dict(INFO)}


def cw_seed(data: DataSet) -> dict[str, Any]:
    types = [{"id": 1, "name": "Managed Services"}, {"id": 2, "name": "Block Time"},
             {"id": 3, "name": CW_TYPE}]
    for t in types:
        t.update({"defaultFlag": t["id"] == 1, "inactiveFlag": False, "_info": dict(INFO)})
    companies, agreements, additions = [], [], []
    add_id = 100_000
    for c in data.customers:
        if not c.in_psa:
            continue
        company = _company(10_000 + c.n, c.cw_identifier, c.name)
        companies.append(company)
        agreement = _agreement(50_000 + c.n, company, 3, CW_TYPE)
        agreements.append(agreement)
        if c.n % 4 == 0:  # a Managed Services agreement beside it, as many MSPs have
            agreements.append(_agreement(70_000 + c.n, company, 1, "Managed Services"))
        for ln in c.lines:
            add_id += 1
            additions.append(_addition(add_id, agreement["id"], ln.product, ln.psa_qty))
    for k in range(1, data.unbilled + 1):  # PSA-only companies: half have a hosting agreement
        company = _company(90_000 + k, f"Other{k:05d}", f"Other client {k:05d}")
        companies.append(company)
        type_id, type_name = (3, CW_TYPE) if k % 2 else (1, "Managed Services")
        agreement = _agreement(95_000 + k, company, type_id, type_name)
        agreements.append(agreement)
        add_id += 1
        additions.append(_addition(add_id, agreement["id"], data.catalog[k % 10], 3))
    catalog = [{"id": p.id, "identifier": p.sku, "description": p.description,
                "inactiveFlag": False, "subcategory": {"id": 12, "name": "Cloud Services"},
                "type": {"id": 3, "name": "Recurring"}, "productClass": "Agreement",
                "unitOfMeasure": {"id": 1, "name": "Each"}, "price": p.price,
                "cost": round(p.price * 0.8, 2), "taxableFlag": True,
                "customerDescription": p.description, "_info": dict(INFO)}
               for p in data.catalog]
    return {"agreementTypes": types, "companies": companies, "agreements": agreements,
            "additions": additions, "catalog": catalog}


# --- Kaseya seed --------------------------------------------------------------------------


def ks_seed(data: DataSet, user: dict[str, str]) -> dict[str, Any]:
    services = [{"id": 1000 + p.id, "name": p.sku, "description": f"{p.sku}: {p.description}",
                 "unitPrice": p.price, "unitCost": round(p.price * 0.8, 2), "isActive": True,
                 "category": "Cloud"} for p in data.catalog]
    accounts = []
    line_id = 500_000

    def contract(cid: int, name: str, ctype: str, lines: list[dict[str, Any]]
                 ) -> dict[str, Any]:
        return {"id": cid, "contractName": name, "contractType": ctype, "status": "Active",
                "contractNumber": f"CN-{cid}", "billingCycle": "Monthly",
                "startDate": "2025-01-01T00:00:00", "endDate": "2099-12-31T00:00:00",
                "lines": lines}

    for c in data.customers:
        if not c.in_psa:
            continue
        lines = []
        for ln in c.lines:
            line_id += 1
            lines.append({"id": line_id, "serviceId": 1000 + ln.product.id,
                          "units": ln.psa_qty})
        contracts = [contract(200_000 + c.n, f"{c.name} Recurring", KS_TYPE, lines)]
        if c.n % 4 == 0:
            contracts.append(contract(300_000 + c.n, f"{c.name} Block Hours", "Block Hours",
                                      []))
        accounts.append({"id": 100_000 + c.n, "accountCode": c.ks_code, "accountName": c.name,
                         "isActive": True, "contracts": contracts})
    for k in range(1, data.unbilled + 1):
        line_id += 1
        ctype = KS_TYPE if k % 2 else "Block Hours"
        lines = [{"id": line_id, "serviceId": 1000 + data.catalog[k % 10].id, "units": 3}]
        accounts.append({"id": 190_000 + k, "accountCode": f"OTHER{k:05d}",
                         "accountName": f"Other client {k:05d}", "isActive": True,
                         "contracts": [contract(390_000 + k, f"Other {k:05d}", ctype, lines)]})
    return {"users": [user], "services": services, "accounts": accounts}


# --- job files ----------------------------------------------------------------------------


def job(task: str, billing: Path, parameters: dict[str, Any]) -> dict[str, Any]:
    return {"label": f"Benchmark: {task}", "task": task, "log_level": "verbose",
            "cron": "0 22 26 * *", "enabled": True, "period_start_day": 26,
            "source": {"kind": "file", "path": billing.name},
            "parameters": {"BillingPeriod": BILLING_PERIOD, "CustomersFilter": [],
                           **parameters},
            "options": {"concurrency": 6, "call_budget_per_hour": 1500}}


def generate(out: Path, customers: int = 2000, seed: int = 1,
             api_base: str = PLACEHOLDER_BASE) -> Generated:
    """Write both seeds, both billing exports and both job files into `out`."""
    from atria_tui.sandbox.kaseya.state import DEMO_SECRETS as KS_SECRETS

    out.mkdir(parents=True, exist_ok=True)
    data = build(customers, seed)
    user = {"userName": KS_SECRETS["UserName"], "password": KS_SECRETS["Password"],
            "tenant": KS_SECRETS["Tenant"]}
    paths = {name: out / name for name in (
        "cw-seed.json", "ks-seed.json", "cw-billing.csv", "ks-billing.csv", "cw-job.toml",
        "ks-job.toml")}
    paths["cw-seed.json"].write_text(json.dumps(cw_seed(data)), encoding="utf-8")
    paths["ks-seed.json"].write_text(json.dumps(ks_seed(data, user)), encoding="utf-8")
    cw_rows = billing_rows(data, "cw", seed)
    write_csv(paths["cw-billing.csv"], cw_rows)
    write_csv(paths["ks-billing.csv"], billing_rows(data, "ks", seed))
    cw_job = job("connectwise-manage", paths["cw-billing.csv"], {
        "ApiUrl": f"{api_base}/connectwise/v4_6_release/apis/3.0", "AgreementType": CW_TYPE,
        "AllowAtriaCreateAdditions": True})
    ks_job = job("kaseya-bms", paths["ks-billing.csv"], {
        "ApiUrl": f"{api_base}/kaseya", "ContractType": KS_TYPE, "SKUFieldMatch": "ServiceName"})
    paths["cw-job.toml"].write_text(tomli_w.dumps(cw_job), encoding="utf-8")
    paths["ks-job.toml"].write_text(tomli_w.dumps(ks_job), encoding="utf-8")
    current = sum(1 for r in cw_rows if r[-1] == PERIOD_END)
    return Generated(out, paths["cw-seed.json"], paths["ks-seed.json"],
                     paths["cw-billing.csv"], paths["ks-billing.csv"], paths["cw-job.toml"],
                     paths["ks-job.toml"], customers, current,
                     sum(len(c.lines) for c in data.customers))


@dataclass(frozen=True)
class Variant:
    """The same PSA data, billed with ~5% more customers missing their Billing Identifier."""

    cw_billing: Path
    ks_billing: Path
    cw_job: Path
    ks_job: Path
    blanked: int


def with_missing_identifiers(gen: Generated, every: int = MISSING_EVERY) -> Variant:
    """Blank the identifier of every `every`-th customer in copies of both exports.

    Why a variant of the export, not of the PSA: a missing identifier is an Atria-side gap,
    so the PSA (and the server) stay the same and only the job files differ. Each job has
    its own file stem, so its runs, mappings and locks are its own.
    """
    blanked: set[str] = set()
    out: dict[str, Path] = {}
    for psa, billing in (("cw", gen.cw_billing), ("ks", gen.ks_billing)):
        with billing.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        for row in rows[1:]:
            if int(row[0].lstrip("C")) % every == every // 2:
                row[2] = ""
                blanked.add(row[0])
        target = gen.folder / f"{psa}-billing-missing.csv"
        with target.open("w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows(rows)
        out[psa] = target
        source = gen.cw_job if psa == "cw" else gen.ks_job
        job_text = source.read_text("utf-8").replace(f'"{billing.name}"',
                                                     f'"{target.name}"')
        out[psa + "_job"] = gen.folder / f"{psa}-missing.toml"
        out[psa + "_job"].write_text(job_text, encoding="utf-8")
    return Variant(out["cw"], out["ks"], out["cw_job"], out["ks_job"], len(blanked))


def point_jobs(folder: Path, base: str) -> None:
    """Every job file in `folder` aimed at the server actually started (its port is free
    only once it runs, after the seeds were written)."""
    for path in folder.glob("*.toml"):
        text = path.read_text("utf-8")
        path.write_text(text.replace(PLACEHOLDER_BASE, base), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--api-base", default="http://127.0.0.1:8765",
                    help="where the sandbox will be served (the job files' ApiUrl)")
    args = ap.parse_args(argv)
    if args.customers < 1:
        ap.error("--customers must be at least 1")
    g = generate(args.out, args.customers, args.seed, args.api_base)
    print(f"{g.customers} customers, {g.records} current-period records, {g.lines} contract "
          f"lines -> {g.folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
