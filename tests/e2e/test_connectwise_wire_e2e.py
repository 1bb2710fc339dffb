"""ConnectWise wire details (issue 10, point 6) through the CLI against the served sandbox."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from tests.e2e.conftest import CW_API, SAMPLES, Cli, Server, cw_job, edit_job

TYPE = "Hosting and Cloud Services"
MEDIA = "application/vnd.connectwise.com+json"
ODD = 'é"\\ü"€漢"😀ñ"'  # quotes, a backslash, 2-, 3- and 4-byte UTF-8
HEADER = ["CustomerCode", "CustomerName", "BillingIdentifier", "Sku", "LineDescription",
          "SummaryDescription", "Quantity", "Billable", "PeriodEnd"]


def odd(prefix: str, n: int, width: int = 40) -> str:
    return (f"{prefix}{n:03d}" + ODD * width)[:width]


def job_for(tmp_path: Path, server: Server, billing: Path, name: str = "cw",
            **options: Any) -> Path:
    return edit_job(SAMPLES / "demo-connectwise.toml", tmp_path / f"{name}.toml",
                    parameters={"ApiUrl": server.base + CW_API},
                    source={"kind": "file", "path": str(billing)}, options=options or None)


def write_billing(path: Path, rows: list[list[Any]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def stats(server: Server) -> dict[str, Any]:
    result: dict[str, Any] = server.get(CW_API + "/_sandbox/stats")
    return result


def plan_items(out: dict[str, Any]) -> list[tuple[Any, ...]]:
    return sorted((i["customer_code"], i["sku"], i["action"], i["code"], i["contract_id"],
                   i["line_id"], i["psa_quantity"]) for i in out["items"])


def test_500_customers_with_long_quoted_unicode_codes_stay_within_2000_characters(
        tmp_path: Path, server: Server, cli: Cli) -> None:
    n = 500
    seed: dict[str, Any] = {
        "agreementTypes": [{"id": 3, "name": TYPE}], "companies": [], "agreements": [],
        "additions": [], "catalog": []}
    rows = []
    for i in range(n):
        ident, sku = odd("C", i), odd("S", i)
        seed["companies"].append({"id": 1000 + i, "identifier": ident, "name": f"Co {i}",
                                  "deletedFlag": False})
        seed["agreements"].append({
            "id": 5000 + i, "name": f"Hosting {i}", "type": {"id": 3, "name": TYPE},
            "company": {"id": 1000 + i, "identifier": ident, "name": f"Co {i}"},
            "agreementStatus": "Active", "cancelledFlag": False})
        seed["catalog"].append({"id": 9000 + i, "identifier": sku, "description": f"Item {i}",
                                "inactiveFlag": False, "productClass": "Agreement",
                                "price": 2.0})
        rows.append([f"K{i:03d}", f"Co {i}", ident, sku, f"Item {i}", f"Item {i}", 3, "true",
                     "2026-11-25"])
    assert server.post(CW_API + "/_sandbox/seed", seed)["catalog"] == n
    job = job_for(tmp_path, server, write_billing(tmp_path / "billing.csv", rows))
    code, out = cli.json("plan", str(job))
    assert code == 0, out["log"][-3:]
    adds = [i for i in out["items"] if i["code"] == "CW08"]
    assert len(adds) == n and len(out["items"]) == n        # every SKU found in one catalog read
    assert {i["sku"] for i in adds} == {odd("S", i) for i in range(n)}
    s = stats(server)
    catalog_reads = s["requests"]["GET /procurement/catalog"]
    print(f"longest URL {s['longest_url']}, catalog requests {catalog_reads}, "
          f"total {s['total']} (CLI counted {out['requests']})")
    assert 1900 < s["longest_url"] <= 2000                   # packed, and never refused (414)
    assert 10 < catalog_reads < n and s["total"] == out["requests"]


def test_a_link_that_drops_conditions_is_not_followed(tmp_path: Path, server: Server,
                                                      cli: Cli) -> None:
    job = str(cw_job(tmp_path, server))
    small = edit_job(Path(job), tmp_path / "small.toml", options={"page_size": 10})
    code, expected = cli.json("plan", str(small))
    assert code == 0
    server.post(CW_API + "/_sandbox/reset")
    server.post(CW_API + "/_sandbox/config", {"link_omits": ["conditions"]})
    code, out = cli.json("plan", str(small))
    assert code == 0
    assert plan_items(out) == plan_items(expected)
    reads = stats(server)["requests"]["GET /finance/agreements"]
    assert reads > 2                                       # paged, with our own conditions


def test_a_server_ignoring_conditions_does_not_touch_other_agreements(
        tmp_path: Path, server: Server, cli: Cli) -> None:
    job = str(cw_job(tmp_path, server))
    code, expected = cli.json("plan", job)
    assert code == 0
    server.post(CW_API + "/_sandbox/config", {"ignore_conditions": True})
    code, out = cli.json("plan", job)
    assert code == 0 and plan_items(out) == plan_items(expected)

    def others() -> list[Any]:
        return [a for a in server.get(CW_API + "/_sandbox/state")["agreements"]
                if a["type"]["name"] != TYPE]

    before = others()
    assert before                      # Managed Services agreements of the same companies
    code, applied = cli.json("apply", job, "--yes", "--approve-all")
    assert code == 0
    assert others() == before
    assert server.cw_additions()[("AcmeServices", "M365-BP")] == [12]


def test_accept_version_is_a_job_option_unversioned_by_default(
        tmp_path: Path, server: Server, cli: Cli) -> None:
    job = cw_job(tmp_path, server)
    code, _ = cli.json("plan", str(job))
    assert code == 0 and set(stats(server)["accept"]) == {MEDIA}
    server.post(CW_API + "/_sandbox/reset")
    versioned = edit_job(job, tmp_path / "v.toml",
                         options={"connectwise_api_version": "2025.1"})
    code, _ = cli.json("plan", str(versioned))
    assert code == 0 and set(stats(server)["accept"]) == {f"{MEDIA}; version=2025.1"}
    bad = edit_job(job, tmp_path / "bad.toml", options={"connectwise_api_version": "v2025"})
    res = cli.run("plan", str(bad))
    line = next(n for n, text in enumerate(bad.read_text().splitlines(), 1)
                if text.startswith("connectwise_api_version"))
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert (f'bad.toml: line {line}: options.connectwise_api_version: an API version such '
            f'as "2025.1"') in res.stderr and 'got "v2025"' in res.stderr


def test_a_new_addition_keeps_its_whole_description(tmp_path: Path, server: Server,
                                                    cli: Cli) -> None:
    long = ("Endpoint Protection EDR — managed detection and response, 24/7 monitoring, "
            "incident handling and a monthly report (ünïcode ✓)")
    assert len(long) > 100
    source = SAMPLES / "demo-connectwise-billing.csv"
    text = source.read_text(encoding="utf-8").replace(",Endpoint Protection EDR,",
                                                      f',"{long}",')
    billing = tmp_path / "billing.csv"
    billing.write_text(text, encoding="utf-8")
    code, out = cli.json("apply", str(job_for(tmp_path, server, billing)), "--yes", "--approve-all")
    assert code == 0, out["log"][-3:]
    added = [ad for a in server.get(CW_API + "/_sandbox/state")["agreements"]
             if a["company"]["identifier"] == "AcmeServices" and a["type"]["name"] == TYPE
             for ad in a["additions"] if ad["sku"] == "AV-EDR"]
    assert [ad["description"] for ad in added] == [long]
