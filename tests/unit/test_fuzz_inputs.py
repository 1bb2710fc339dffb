"""Fuzzing the files people hand to atria-tui: job TOML, billing CSV and JSON, mappings TOML
and the guides' pasted JSON blocks. Whatever the bytes, the answer is a value or one clear
line (a ConfigError / RecordsError, or one line on stderr with exit 1 or 2), never a
traceback, never a run left "Running", and never a quantity a PSA should not be sent.

A few hundred examples by default so CI stays quick; ATRIA_FUZZ_EXAMPLES=N runs N per test.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atria_tui.cli.main import main
from atria_tui.core.model import DEFAULT_MAX_QUANTITY, Task
from atria_tui.core.paths import db_path
from atria_tui.core.records import RecordsError, parse_records
from atria_tui.engine.store import RUNNING, Store
from atria_tui.job.file import job_params, load_job
from atria_tui.job.guide_import import import_blocks
from atria_tui.job.mappings import load_mappings
from atria_tui.job.parameters import ConfigError

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"
_ON_DEMAND = int(os.environ.get("ATRIA_FUZZ_EXAMPLES", "0") or 0)


def fuzz(default: int) -> settings:
    return settings(max_examples=_ON_DEMAND or default, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.large_base_example])


CW_JOB = (SAMPLES / "demo-connectwise.toml").read_text(encoding="utf-8")
KS_JOB = (SAMPLES / "demo-kaseya.toml").read_text(encoding="utf-8")
CSV_LINES = (SAMPLES / "demo-connectwise-billing.csv").read_text(encoding="utf-8").splitlines()
CSV_HEAD, CSV_ROWS = CSV_LINES[0], CSV_LINES[1:13]
SUMMARY = ("Customer Code,Customer Name,Customer Account Code,Product SKU,Billable Flag,"
           "Summary Grouping,Last Month Count,Difference,This Month Count\n"
           "ASP,Acme Services Pty,AcmeServices,M365-BP,Yes,Microsoft 365,10,2,12\n")
MAPPINGS = ('managed = ["101", 102]\n[customers]\nASP = "AcmeServices"\n'
            '[skus]\n"M365-BP" = "M365-BP"\n[descriptions]\n"Microsoft 365" = "M365-BP"\n')
PARAMS = ('{\n  "ApiUrl": "https://psa.example.com/v4_6_release/apis/3.0",\n'
          '  "AgreementType": "Hosting and Cloud Services",\n'
          '  "AllowAtriaCreateAdditions": "False",\n  "BillingPeriod": "Previous",\n'
          '  "CustomersFilter": ""\n}')

DEEP = "[" * 3000 + "]" * 3000
# Pieces that have broken parsers before, or might: delimiters, quotes, escapes, numbers
# Python reads and JSON/TOML do not, limits of int conversion and recursion.
PIECES = ['"', "'", '"""', "[", "]", "[[", "{", "}", "=", ",", ";", "\t", "\n", "\r\n", "#",
          "\\", "\\u0000", "\x00", "\ufeff", "\u2028", "é", "-3", "-0", "0", "+1", "1.5",
          "NaN", "nan", "inf", "-inf", "Infinity", "1e309", "1e-400", "9" * 400, "9" * 5000,
          "1,5", "1,234.5", "true", "null", "1979-05-27", "24:00", DEEP, "[options]",
          "[source]", "[parameters]", "x = 1", 'path = "/dev/null"', "max_quantity = 0"]
TOML_VALUES = ["-3", "0", "1e309", "nan", "-inf", "9" * 5000, '"x"', '""', "true",
               "1979-05-27T07:32:00Z", "[1, 2]", '["a", 1]', "[[1], [[2]]]", "{a = 1}",
               "{}", '"\\u0000"', '"' + "x" * 2000 + '"', DEEP, '"sandbox://nowhere"',
               '"http://127.0.0.1:99999/x"', '"https://psa example.com"', "{a.b.c = 1}"]
QUANTITIES = ["-3", "-0.5", "0", "1", "2.5", "100000", "100001", "1e309", "NaN", "inf",
              "9" * 400, "1,234", "1,234.5", "1,234,567", " 7 ", "", "x", "0x10", "١٢"]


@st.composite
def mutated(draw: st.DrawFn, base: str) -> str:
    """`base` with a few splices of interesting or arbitrary text."""
    text = base
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        piece = draw(st.one_of(st.sampled_from(PIECES), st.text(max_size=12)))
        how = draw(st.sampled_from(("insert", "delete", "replace")))
        if how == "insert":
            text = text[:at] + piece + text[at:]
        elif how == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 40)):]
        else:
            text = text[:at] + piece + text[at + len(piece):]
    return text


@st.composite
def toml_edit(draw: st.DrawFn, base: str) -> str:
    """`base` with one `key = value` line given another (TOML-valid or not) value."""
    lines = base.splitlines()
    settable = [i for i, ln in enumerate(lines) if re.match(r"^\s*[\w\"-]+\s*=", ln)]
    if not settable:
        return base
    i = draw(st.sampled_from(settable))
    value = draw(st.one_of(st.sampled_from(TOML_VALUES), st.text(max_size=20)))
    lines[i] = lines[i].split("=", 1)[0] + "= " + value
    if draw(st.booleans()):
        key = draw(st.sampled_from(["max_quantity", "concurrency", "retries", "page_size",
                                    "zero_mode", "period_start_day", "unknown"]))
        lines += ["[options]" if "[options]" not in lines else "", f"{key} = {value}"]
    return "\n".join(lines) + "\n"


def as_bytes(text: str, junk: bytes) -> bytes:
    data = text.encode("utf-8", "surrogatepass")
    return data + junk if junk else data


JUNK = st.one_of(st.just(b""), st.just(b""), st.binary(max_size=16))


def one_line(message: str) -> None:
    assert message and "\n" not in message and "Traceback" not in message, message


# --- job files ------------------------------------------------------------------------------


@fuzz(120)
@given(text=st.one_of(mutated(CW_JOB), mutated(KS_JOB), toml_edit(CW_JOB), toml_edit(KS_JOB),
                      st.text(max_size=200)),
       junk=JUNK)
def test_job_files_load_or_fail_in_one_line(tmp_path: Path, text: str, junk: bytes) -> None:
    path = tmp_path / "job.toml"
    path.write_bytes(as_bytes(text, junk))
    try:
        job = load_job(path)
    except ConfigError as exc:
        one_line(str(exc))
        assert str(exc).startswith(str(path))
        return
    assert job.options.max_quantity >= 1
    try:
        job_params(job)
    except ConfigError as exc:
        one_line(str(exc))


# --- billing files --------------------------------------------------------------------------


def check_records(text: str, fmt: str, name: str) -> None:
    try:
        records = parse_records(text, name=name, fmt=fmt)  # type: ignore[arg-type]
    except RecordsError as exc:
        one_line(str(exc))
        assert str(exc).startswith(name) and len(str(exc)) < 600
        return
    for r in records:  # what a run may send on: finite, not negative, under the cap
        assert r.quantity.is_finite() and 0 <= r.quantity <= DEFAULT_MAX_QUANTITY, r


@st.composite
def csv_with_cells(draw: st.DrawFn) -> str:
    rows = [row.split(",") for row in CSV_ROWS[:draw(st.integers(0, len(CSV_ROWS)))]]
    for row in rows:
        if draw(st.booleans()) and len(row) > 6:
            row[6] = draw(st.one_of(st.sampled_from(QUANTITIES), st.text(max_size=8)))
    sep = draw(st.sampled_from([",", ";", "\t"]))
    return "\n".join([CSV_HEAD.replace(",", sep)] + [sep.join(r) for r in rows]) + "\n"


@fuzz(120)
@given(text=st.one_of(csv_with_cells(), mutated("\n".join([CSV_HEAD, *CSV_ROWS[:4]])),
                      mutated(SUMMARY), st.text(max_size=300)))
def test_billing_csv_is_read_or_refused_in_one_line(text: str) -> None:
    check_records(text, "csv", "billing.csv")


JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=10),
                         st.floats(allow_nan=True, allow_infinity=True))
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=8)


@st.composite
def json_records(draw: st.DrawFn) -> str:
    base = {"CustomerCode": "ASP", "CustomerName": "Acme", "BillingIdentifier": "AcmeServices",
            "Sku": "M365-BP", "LineDescription": "M365 - Jane", "Quantity": 1,
            "Billable": True}
    records = []
    for _ in range(draw(st.integers(0, 4))):
        rec: dict[str, object] = dict(base)
        for key in draw(st.lists(st.sampled_from(sorted(base)), max_size=3)):
            rec[key] = draw(JSON_VALUES)
        if draw(st.booleans()):
            rec["Quantity"] = "@RAW@"
        records.append(rec)
    text = json.dumps(draw(st.sampled_from([records, {"records": records}, {"x": records}])))
    return text.replace('"@RAW@"', draw(st.sampled_from(QUANTITIES[:11])).strip() or "0")


@fuzz(120)
@given(text=st.one_of(json_records(), st.builds(json.dumps, JSON_VALUES),
                      mutated('[{"CustomerCode": "A", "CustomerName": "B", '
                              '"BillingIdentifier": "C", "Sku": "D", "LineDescription": "E", '
                              '"Quantity": 3, "Billable": true}]')))
def test_billing_json_is_read_or_refused_in_one_line(text: str) -> None:
    check_records(text, "json", "billing.json")


# --- mappings files and pasted blocks ---------------------------------------------------------


@fuzz(80)
@given(text=st.one_of(mutated(MAPPINGS), toml_edit(MAPPINGS), st.text(max_size=200)),
       junk=JUNK)
def test_mappings_files_load_or_fail_in_one_line(tmp_path: Path, text: str,
                                                 junk: bytes) -> None:
    path = tmp_path / "job.mappings.toml"
    path.write_bytes(as_bytes(text, junk))
    try:
        m = load_mappings(path)
    except ConfigError as exc:
        one_line(str(exc))
        assert str(exc).startswith(str(path))
        return
    assert all(isinstance(v, str) and v for v in m.customers.values())


@fuzz(60)
@given(params=st.one_of(mutated(PARAMS), st.text(max_size=100)),
       secrets=st.one_of(st.just("{}"), mutated('{"CompanyName": "x", "PublicKey": "y"}')))
def test_pasted_blocks_import_or_fail_in_one_line(params: str, secrets: str) -> None:
    try:
        import_blocks(Task.CONNECTWISE, params, secrets)
    except ConfigError as exc:
        one_line(str(exc))


# --- the CLI, end to end in-process ----------------------------------------------------------


def cli(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, err.getvalue()


@fuzz(30)
@given(job=st.one_of(st.just(CW_JOB), mutated(CW_JOB), toml_edit(CW_JOB), toml_edit(KS_JOB)),
       billing=st.one_of(csv_with_cells(), json_records(),
                         mutated("\n".join([CSV_HEAD, *CSV_ROWS]))),
       mappings=st.one_of(st.none(), mutated(MAPPINGS), st.just(DEEP)))
def test_plan_through_the_cli_is_one_line_or_a_result(job: str, billing: str,
                                                      mappings: str | None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        name = "billing.json" if billing.lstrip().startswith(("[", "{")) else "billing.csv"
        (root / name).write_text(billing, encoding="utf-8")
        job = job.replace("demo-connectwise-billing.csv", name)
        (root / "job.toml").write_text(job.replace("demo-kaseya-billing.csv", name),
                                       encoding="utf-8", errors="surrogatepass")
        if mappings is not None:
            (root / "job.mappings.toml").write_text(mappings, encoding="utf-8",
                                                    errors="surrogatepass")
        code, err = cli("plan", str(root / "job.toml"), "--format", "json")
    assert code in (0, 1, 2)
    if code == 0:
        assert err == ""
    else:
        assert err.startswith("atria-tui: ") and err.count("\n") == 1, err
        assert "unexpected error" not in err and "Traceback" not in err, err
    if db_path().exists():
        store = Store(db_path())
        try:
            assert RUNNING not in {r.status for r in store.runs()}
        finally:
            store.close()

