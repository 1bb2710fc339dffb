import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from atria_tui.core.model import BillingRecord
from atria_tui.core.records import (
    RecordsError,
    iter_records,
    parse_records,
    read_records,
    sniff_format,
    sum_records,
)

DETAIL_HEADER = ("CustomerCode,CustomerName,BillingIdentifier,Sku,LineDescription,"
                 "SummaryDescription,Quantity,Billable,PeriodEnd,Action")
SUMMARY_HEADER = ("Customer Code,Customer Name,Customer Account Code,Product SKU,Billable Flag,"
                  "Summary Grouping,Last Month Count,Difference,This Month Count")
END, PREV = date(2026, 11, 25), date(2026, 10, 25)


def _csv(text: str, **kw: object) -> list[BillingRecord]:
    return parse_records(text, name="billing.csv", fmt="csv", **kw)  # type: ignore[arg-type]


def _json(data: object, **kw: object) -> list[BillingRecord]:
    return parse_records(json.dumps(data), name="billing.json", fmt="json",
                         **kw)  # type: ignore[arg-type]


def _error(fn, *args, **kw) -> RecordsError:  # type: ignore[no-untyped-def]
    with pytest.raises(RecordsError) as info:
        fn(*args, **kw)
    return info.value


# --- detail shape ----------------------------------------------------------------------------


def test_detail_csv_reads_every_field() -> None:
    text = (DETAIL_HEADER + "\n"
            'ASP,"Acme, Inc",C100,MS-365,"Exchange Mailbox, 50GB Plan - Jane Doe",'
            '"Exchange Mailbox, 50GB Plan",1,true,2026-11-25,Added\n'
            " FR1 , Fresh ,  , , Backup ,,2.5,No,,Carried\n")
    a, b = _csv(text)
    assert a == BillingRecord("ASP", "Acme, Inc", "C100", "MS-365",
                              "Exchange Mailbox, 50GB Plan - Jane Doe",
                              "Exchange Mailbox, 50GB Plan", Decimal("1"), True, END, 2)
    assert (b.customer_code, b.customer_name, b.billing_identifier, b.sku) == ("FR1", "Fresh",
                                                                               "", "")
    assert b.quantity == Decimal("2.5") and b.billable is False and b.period_end is None
    assert b.summary_description == "Backup"  # empty summary falls back to the line text
    assert b.source_line == 3


def test_detail_optional_columns_fall_back() -> None:
    only_summary = "CustomerCode,CustomerName,BillingIdentifier,Sku,SummaryDescription,Quantity,"\
                   "Billable\nA,Alpha,C1,S1,Mailbox,3,1\n"
    (r,) = _csv(only_summary)
    assert r.line_description == r.summary_description == "Mailbox" and r.period_end is None
    only_line = only_summary.replace("SummaryDescription", "LineDescription")
    (r,) = _csv(only_line)
    assert r.line_description == r.summary_description == "Mailbox"


def test_header_spelling_is_forgiving_and_semicolons_and_bom_work() -> None:
    text = ("\ufeffcustomer_code;Customer Name;BILLING IDENTIFIER;sku;Line Description;"
            "quantity;billable;period_end\r\n"
            'ASP;"Acme; Inc";C1;S1;"Mail, ""big""";1,234.5;Y;2026-11-25T00:00:00\r\n')
    (r,) = _csv(text)
    assert r.customer_code == "ASP" and r.customer_name == "Acme; Inc"
    assert r.line_description == 'Mail, "big"'
    assert r.quantity == Decimal("1234.5") and r.billable and r.period_end == END


@pytest.mark.parametrize(("cell", "expected"), [
    ("true", True), ("FALSE", False), ("Yes", True), ("no", False), ("y", True), ("N", False),
    ("1", True), ("0", False)])
def test_billable_spellings(cell: str, expected: bool) -> None:
    (r,) = _csv(f"CustomerCode,CustomerName,BillingIdentifier,Sku,LineDescription,Quantity,"
                f"Billable\nA,B,C,D,E,1,{cell}\n")
    assert r.billable is expected


@pytest.mark.parametrize(("cell", "expected"), [
    ("3", "3"), ("+2", "2"), ("0.10", "0.10"), ('"1,234.5"', "1234.5"),
    ('"1,234,567"', "1234567"), (".5", "0.5")])
def test_quantities(cell: str, expected: str) -> None:
    (r,) = _csv(f"CustomerCode,CustomerName,BillingIdentifier,Sku,LineDescription,Quantity,"
                f"Billable\nA,B,C,D,E,{cell},yes\n", max_quantity=10**7)
    assert r.quantity == Decimal(expected)


def test_source_line_counts_physical_lines() -> None:
    text = (DETAIL_HEADER + "\n\n"
            'A,B,C,D,"two\nlines",S,1,yes,,\n'
            "A,B,C,D,E,S,2,yes,,\n"
            ",,,,,,,,,\n"
            "A,B,C,D,E,S,3,yes,,\n")
    assert [r.source_line for r in _csv(text)] == [3, 5, 7]


def test_empty_file_or_header_only_gives_no_records() -> None:
    assert _csv("") == []
    assert _csv("\ufeff  \n\n") == []
    assert _csv(DETAIL_HEADER + "\n") == []
    assert _json([]) == []
    assert parse_records("", name="x.json", fmt="json") == []
    assert _json({"records": []}) == []


# --- summary shape ---------------------------------------------------------------------------


def test_summary_csv_gives_this_and_previous_period_records() -> None:
    text = (SUMMARY_HEADER + "\n"
            'ASP,Acme,C1,MS-365,True,"Exchange Mailbox, 50GB",3,-1,2\n'
            "ASP,Acme,C1,NEW-1,yes,New thing,0,4,4\n"
            "FR1,Fresh,,GONE,true,Gone thing,5,-5,0\n")
    recs = _csv(text, period_end=END, previous_end=PREV)
    assert [(r.sku, r.quantity, r.period_end, r.source_line) for r in recs] == [
        ("MS-365", Decimal(2), END, 2), ("MS-365", Decimal(3), PREV, 2),
        ("NEW-1", Decimal(4), END, 3),
        ("GONE", Decimal(0), END, 4), ("GONE", Decimal(5), PREV, 4)]
    first = recs[0]
    assert first.billing_identifier == "C1" and first.customer_name == "Acme"
    assert first.line_description == first.summary_description == "Exchange Mailbox, 50GB"
    assert recs[3].billing_identifier == ""


def test_summary_without_difference_column_is_read() -> None:
    text = SUMMARY_HEADER.replace(",Difference", "") + "\nA,B,C,S,no,G,0,1\n"
    (r,) = _csv(text, period_end=END)
    assert r.billable is False and r.quantity == 1


def test_summary_json_and_wrapped_lists() -> None:
    row = {"Customer Code": "ASP", "Customer Name": "Acme", "Customer Account Code": "C1",
           "Product SKU": "S1", "Billable Flag": True, "Summary Grouping": "Mail",
           "Last Month Count": 1, "Difference": 1, "This Month Count": 2}
    for data in ([row], {"records": [row]}, {"Items": [row]}, {"data": [row]}):
        recs = _json(data, period_end=END, previous_end=PREV)
        assert [(r.quantity, r.period_end, r.source_line) for r in recs] == [
            (2, END, 1), (1, PREV, 1)]


def test_detail_json_types() -> None:
    data = [{"CustomerCode": "A", "CustomerName": "Alpha", "BillingIdentifier": 12345,
             "Sku": None, "SummaryDescription": "Mail", "Quantity": 0.1, "Billable": "yes",
             "PeriodEnd": "2026-11-25"},
            {"customer_code": "B", "customer_name": "Beta", "billing_identifier": "X",
             "sku": "S", "line_description": "L", "quantity": "2", "billable": 1}]
    a, b = _json(data)
    assert a.billing_identifier == "12345" and a.sku == "" and a.quantity == Decimal("0.1")
    assert a.line_description == "Mail" and a.period_end == END and a.source_line == 1
    assert b.quantity == 2 and b.billable and b.source_line == 2


# --- errors: file, line, column, what was expected -------------------------------------------


def test_missing_columns_are_listed_together_with_those_found() -> None:
    err = _error(_csv, "CustomerCode,Name,Qty\nA,B,1\n")
    text = str(err)
    assert text.startswith("billing.csv: line 1: missing required column(s) ")
    for col in ("CustomerName", "BillingIdentifier", "Sku", "Quantity", "Billable",
                "LineDescription or SummaryDescription"):
        assert col in err.expected
    assert "columns found: CustomerCode, Name, Qty" in text
    assert err.line == 1 and err.column is None


def test_missing_summary_column() -> None:
    header = SUMMARY_HEADER.replace(",This Month Count", "")
    err = _error(_csv, header + "\n")
    assert "This Month Count" in str(err) and "summary export" in str(err)


@pytest.mark.parametrize(("cell", "column", "fragment"), [
    ('"1,5"', "Quantity", "got '1,5'"),
    ('"1,234"', "Quantity", "got '1,234'"),
    ("", "Quantity", "a number, got ''"),
    ("abc", "Quantity", "a number, got 'abc'"),
    ("NaN", "Quantity", "a number, got 'NaN'"),
])
def test_bad_quantity(cell: str, column: str, fragment: str) -> None:
    err = _error(_csv, DETAIL_HEADER + "\nA,B,C,D,E,S,1,yes,,\n" + f"A,B,C,D,E,S,{cell},yes,,\n")
    assert str(err).startswith(f"billing.csv: line 3, column {column}: ")
    assert fragment in str(err)
    assert (err.path, err.line, err.column) == ("billing.csv", 3, column)


def test_decimal_comma_message_explains_what_is_accepted() -> None:
    err = _error(_csv, DETAIL_HEADER + '\nA,B,C,D,E,S,"1,5",yes,,\n')
    assert "'.' for decimals" in str(err) and "1,234.5" in str(err)


def test_bad_billable_and_date_name_the_column_as_spelled_in_the_file() -> None:
    header = "customer code;customer name;billing id;sku;line description;quantity;billable flag"
    # "billing id" is not a known column → BillingIdentifier missing
    assert "BillingIdentifier" in str(_error(_csv, header + "\n"))
    header = ("customer code;customer name;billing identifier;sku;line description;quantity;"
              "BILLABLE;Period End")
    err = _error(_csv, header + "\nA;B;C;D;E;1;;\n")
    assert str(err) == ("billing.csv: line 2, column BILLABLE: true or false (also yes/no, y/n, "
                        "1/0), got ''")
    err = _error(_csv, header + "\nA;B;C;D;E;1;maybe;\n")
    assert "got 'maybe'" in str(err)
    err = _error(_csv, header + "\nA;B;C;D;E;1;yes;25/11/2026\n")
    assert str(err) == ("billing.csv: line 2, column Period End: a date YYYY-MM-DD, "
                        "got '25/11/2026'")
    err = _error(_csv, header + "\nA;B;C;D;E;1;yes;2026-02-30\n")
    assert "got '2026-02-30'" in str(err)


def test_shifted_row_is_caught_not_misread() -> None:
    text = DETAIL_HEADER + "\nA,B,C,D,Exchange Mailbox, 50GB,S,1,yes,,\n"
    err = _error(_csv, text)
    assert err.line == 2 and "10 cells as in the header, found 11" in str(err)
    assert "double quotes" in str(err)
    short = _error(_csv, DETAIL_HEADER + "\nA,B,C\n")
    assert short.line == 2 and "found 3" in str(short)


def test_unclosed_quote_is_reported() -> None:
    err = _error(_csv, DETAIL_HEADER + '\nA,B,C,D,"E,S,1,yes,,\nA,B,C,D,E,S,1,yes,,\n')
    assert err.line == 2 and "quote" in str(err)


def test_summary_errors_name_the_summary_column() -> None:
    err = _error(_csv, SUMMARY_HEADER + "\nA,B,C,S,yes,G,x,0,1\n", period_end=END)
    assert str(err) == "billing.csv: line 2, column Last Month Count: a number, got 'x'"


def test_json_errors_point_at_the_record() -> None:
    good = {"CustomerCode": "A", "CustomerName": "B", "BillingIdentifier": "C", "Sku": "S",
            "LineDescription": "L", "Quantity": 1, "Billable": True}
    err = _error(_json, [good, good, {**good, "Quantity": "1,5"}])
    assert str(err).startswith("billing.json: record 3, column Quantity: ")
    assert err.line == 3 and err.column == "Quantity"
    err = _error(_json, [good, {"CustomerCode": "A"}])
    assert str(err).startswith("billing.json: record 2: missing required field(s) ")
    assert "fields found: CustomerCode" in str(err)
    err = _error(_json, [good, 5])
    assert "record 2" in str(err) and "got '5'" in str(err)
    err = _error(_json, [{**good, "Billable": None}])
    assert "column Billable" in str(err)
    err = _error(_json, [{**good, "Quantity": True}])
    assert "column Quantity: a number, got 'true'" in str(err)
    err = _error(_json, {"rows": [good]})
    assert '"records", "items" or "data"' in str(err)
    err = _error(parse_records, '[\n{"a": 1},\n{oops}\n]', name="b.json", fmt="json")
    assert str(err).startswith("b.json: line 3: valid JSON")


# --- files on disk -----------------------------------------------------------------------------


def test_read_records_by_extension_and_sniffing(tmp_path: Path) -> None:
    detail = DETAIL_HEADER + "\nA,B,C,D,E,S,1,yes,2026-11-25,\n"
    (tmp_path / "a.csv").write_bytes(b"\xef\xbb\xbf" + detail.encode())
    assert read_records(tmp_path / "a.csv")[0].quantity == 1
    rows = [{"CustomerCode": "A", "CustomerName": "B", "BillingIdentifier": "C", "Sku": "S",
             "LineDescription": "L", "Quantity": 2, "Billable": True}]
    (tmp_path / "b.json").write_text(json.dumps(rows))
    (tmp_path / "export.txt").write_text("  \n" + json.dumps({"data": rows}))
    (tmp_path / "export").write_text(detail)
    assert read_records(tmp_path / "b.json")[0].quantity == 2
    assert read_records(tmp_path / "export.txt")[0].quantity == 2
    assert read_records(tmp_path / "export")[0].period_end == END
    (tmp_path / "u16.txt").write_bytes(detail.replace(",", "\t").encode("utf-16"))
    assert read_records(tmp_path / "u16.txt")[0].customer_code == "A"
    assert sniff_format("\ufeff [") == "json" and sniff_format("a,b") == "csv"


def test_unreadable_and_non_utf8_files(tmp_path: Path) -> None:
    err = _error(read_records, tmp_path / "nope.csv")
    assert str(err).startswith(f"{tmp_path / 'nope.csv'}: a readable billing file")
    bad = tmp_path / "latin.csv"
    bad.write_bytes((DETAIL_HEADER + "\nA,Caf").encode() + b"\xe9,C,D,E,S,1,yes,,\n")
    err = _error(read_records, bad)
    assert err.line == 2 and "UTF-8" in str(err)


def test_summary_period_ends_come_from_the_caller(tmp_path: Path) -> None:
    p = tmp_path / "summary.csv"
    p.write_text(SUMMARY_HEADER + "\nA,B,C,S,yes,G,1,0,1\n")
    recs = read_records(p, period_end=END, previous_end=PREV)
    assert [r.period_end for r in recs] == [END, PREV]


def test_a_big_export_is_streamed_and_summed(tmp_path: Path) -> None:
    """Every row is read (and checked) one at a time; the seats of one customer and
    product are summed into one record, the first of them (its speed and memory:
    benchmarks/)."""
    lines = [DETAIL_HEADER]
    lines += [f'C{i % 300},"Customer {i % 300}, Ltd",ID{i % 300},SKU-{i % 50},'
              f'"Exchange Mailbox, 50GB - User {i}","Exchange Mailbox, 50GB",1,true,2026-11-25,'
              for i in range(40_000)]
    p = tmp_path / "big.csv"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    recs = read_records(p)
    assert len(recs) == 40_000 and recs[-1].source_line == 40_001
    summed = sum_records(iter_records(p))
    assert len(summed) == len({(i % 300, i % 50) for i in range(40_000)}) == 300
    assert sum(r.quantity for r in summed) == 40_000
    first = summed[0]
    assert (first.customer_code, first.sku, first.source_line) == ("C0", "SKU-0", 2)
    assert first.quantity == sum(1 for i in range(40_000) if i % 300 == 0)
    assert first.line_description == "Exchange Mailbox, 50GB - User 0"


# --- absurd quantities -----------------------------------------------------------------------

_ROW = "ASP,Acme,C100,MS-365,Mailbox - Jane,Mailbox,{q},true,2026-11-25,Added\n"


@pytest.mark.parametrize("quantity, expected", [
    ("-3", "a quantity of 0 or more"),
    ("-0.5", "a quantity of 0 or more"),
    ("100001", "a quantity of at most 100000"),
    ("9" * 400, "a quantity of at most 100000"),
])
def test_negative_and_absurd_csv_quantities_are_refused_with_their_line(
        quantity: str, expected: str) -> None:
    text = DETAIL_HEADER + "\n" + _ROW.format(q=1) + _ROW.format(q=quantity)
    err = _error(_csv, text)
    assert (err.path, err.line, err.column) == ("billing.csv", 3, "Quantity")
    assert expected in str(err) and len(str(err)) < 250 and "\n" not in str(err)


def test_the_cap_is_the_jobs_max_quantity() -> None:
    text = DETAIL_HEADER + "\n" + _ROW.format(q=150_000)
    assert _csv(text, max_quantity=200_000)[0].quantity == 150_000
    err = _error(_csv, text, max_quantity=1000)
    assert "at most 1000" in str(err) and "max_quantity" in str(err)
    assert _csv(DETAIL_HEADER + "\n" + _ROW.format(q=0))[0].quantity == 0


def test_summary_counts_are_bounded_too() -> None:
    text = SUMMARY_HEADER + "\nASP,Acme,C100,MS-365,Yes,Mailbox,-2,4,2\n"
    err = _error(_csv, text)
    assert (err.line, err.column) == (2, "Last Month Count") and "0 or more" in str(err)


@pytest.mark.parametrize("raw, expected", [
    ("NaN", "a finite number"),
    ("Infinity", "a finite number"),
    ("-Infinity", "a finite number"),
    ("1e309", "a quantity of at most 100000"),
    ("-3", "a quantity of 0 or more"),
    ("1" + "0" * 399, "a quantity of at most 100000"),
])
def test_json_non_finite_negative_and_overflowing_quantities_are_refused(
        raw: str, expected: str) -> None:
    record = ('{"CustomerCode": "ASP", "CustomerName": "Acme", "BillingIdentifier": "C1", '
              '"Sku": "S1", "LineDescription": "x", "Billable": true, "Quantity": %s}')
    text = "[" + record % "1" + ",\n" + record % raw + "]"
    err = _error(parse_records, text, name="b.json", fmt="json")
    assert (err.path, err.unit, err.line, err.column) == ("b.json", "record", 2, "Quantity")
    assert expected in str(err)


def test_deeply_nested_json_is_a_records_error_not_a_crash() -> None:
    err = _error(parse_records, "[" * 100_000 + "]" * 100_000, name="deep.json", fmt="json")
    assert "nested" in str(err) and err.path == "deep.json"


def test_a_json_integer_past_pythons_digit_limit_is_a_records_error() -> None:
    err = _error(parse_records, '[{"Quantity": ' + "9" * 5000 + "}]", name="b.json",
                 fmt="json")
    assert err.path == "b.json" and "valid JSON" in str(err)
