"""Read Atria billing exports (detail or summary shape, CSV or JSON) into BillingRecords.

These files come from people's disks: saved from Excel, semicolon-separated in some
locales, with a BOM or without, header spelled "Customer Code" or "customer_code". The
reader is lenient about spelling and strict about values: a quantity that could mean two
numbers, or a row whose cells shifted because a description held an unquoted comma, stops
the run with the file, line and column named, because a silently wrong number becomes a
wrong invoice.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import io
import itertools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Literal, TypeVar

from atria_tui.core.model import DEFAULT_MAX_QUANTITY, BillingRecord

Format = Literal["csv", "json"]
_T = TypeVar("_T")


class RecordsError(Exception):
    """A problem in a billing file, located well enough to fix it in a text editor."""

    def __init__(self, path: str, line: int | None, column: str | None, expected: str,
                 value: str | None = None, *, unit: str = "line") -> None:
        super().__init__(path, line, column, expected, value)
        self.path = path
        self.line = line
        self.column = column
        self.expected = expected
        self.value = value
        self.unit = unit

    def __str__(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"{self.unit} {self.line}")
        if self.column is not None:
            where.append(f"column {self.column}")
        text = f"{self.path}: " + (", ".join(where) + ": " if where else "") + self.expected
        if self.value is not None:
            # One line on a terminal: a 400-digit "quantity" is shown by its start.
            shown = self.value if len(self.value) <= 60 else self.value[:57] + "..."
            text += f", got '{shown}'"
        # A header cell may hold a quoted line break; the message stays one line.
        return " ".join(text.splitlines())


# --- the two shapes ------------------------------------------------------------------------

_DROP = str.maketrans("", "", " _-\t")


def _key(name: str) -> str:
    return name.strip().translate(_DROP).casefold()


DETAIL_COLUMNS = ("CustomerCode", "CustomerName", "BillingIdentifier", "Sku", "LineDescription",
                  "SummaryDescription", "Quantity", "Billable", "PeriodEnd", "Action")
SUMMARY_COLUMNS = ("Customer Code", "Customer Name", "Customer Account Code", "Product SKU",
                   "Billable Flag", "Summary Grouping", "Last Month Count", "Difference",
                   "This Month Count")
_DETAIL_REQUIRED = ("CustomerCode", "CustomerName", "BillingIdentifier", "Sku", "Quantity",
                    "Billable")
# Difference is derivable (This - Last) and unused, so a file without it is still read.
_SUMMARY_REQUIRED = tuple(c for c in SUMMARY_COLUMNS if c != "Difference")
_DETAIL_ONLY = {_key(c) for c in DETAIL_COLUMNS} - {_key(c) for c in SUMMARY_COLUMNS}
_SUMMARY_ONLY = {_key(c) for c in SUMMARY_COLUMNS} - {_key(c) for c in DETAIL_COLUMNS}
_DESCRIPTIONS = ("linedescription", "summarydescription")
# A header with none of these is not an export: echoing it could print a private file.
_KNOWN = {_key(c) for c in DETAIL_COLUMNS + SUMMARY_COLUMNS}
_NOT_EXPORT = "none known (is this an Atria billing export?)"


def _shape_of(keys: set[str]) -> Literal["detail", "summary"]:
    return "summary" if len(keys & _SUMMARY_ONLY) > len(keys & _DETAIL_ONLY) else "detail"


def _missing(shape: str, keys: set[str]) -> list[str]:
    required = _SUMMARY_REQUIRED if shape == "summary" else _DETAIL_REQUIRED
    missing = [c for c in required if _key(c) not in keys]
    if shape == "detail" and not keys.intersection(_DESCRIPTIONS):
        missing.append("LineDescription or SummaryDescription")
    return missing


# --- cell values -----------------------------------------------------------------------------

_PLAIN = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
# A comma is a thousands separator only where it cannot be a decimal comma: with a decimal
# point after it (1,234.5) or repeated (1,234,567). "1,234" and "1,5" are refused.
_GROUPED = re.compile(r"[+-]?[0-9]{1,3}(?:,[0-9]{3})+\.[0-9]+|[+-]?[0-9]{1,3}(?:,[0-9]{3}){2,}")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TRUE = frozenset({"true", "yes", "y", "1"})
_FALSE = frozenset({"false", "no", "n", "0"})


class _CellError(Exception):
    def __init__(self, expected: str, value: str | None) -> None:
        super().__init__(expected)
        self.expected = expected
        self.value = value


def _text(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return v.strip()
    if isinstance(v, int | Decimal | float) and not isinstance(v, bool):
        return str(v)
    raise _CellError("text", json.dumps(v, default=str))


def _quantity(v: object) -> Decimal:
    if isinstance(v, Decimal):
        if v.is_finite():
            return v
        raise _CellError("a finite number", str(v))
    elif isinstance(v, float):  # JSON's NaN / Infinity (every other number is a Decimal)
        raise _CellError("a finite number", _show(v))
    elif isinstance(v, int) and not isinstance(v, bool):
        return Decimal(v)
    elif isinstance(v, str):
        s = v.strip()
        if _PLAIN.fullmatch(s):
            return Decimal(s)
        if _GROUPED.fullmatch(s):
            return Decimal(s.replace(",", ""))
        if "," in s:
            raise _CellError("a number with '.' for decimals (a comma is read only as an "
                             "unambiguous thousands separator, as in 1,234.5)", s)
        raise _CellError("a number", s)
    raise _CellError("a number", _show(v))


def _billable(v: object) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, int) and v in (0, 1):
        return v == 1
    if isinstance(v, str):
        s = v.strip().casefold()
        if s in _TRUE:
            return True
        if s in _FALSE:
            return False
        raise _CellError("true or false (also yes/no, y/n, 1/0)", v.strip())
    raise _CellError("true or false (also yes/no, y/n, 1/0)", _show(v))


def _period_end(v: object) -> date | None:
    if v is None:
        return None
    if not isinstance(v, str):
        raise _CellError("a date YYYY-MM-DD", _show(v))
    s = v.strip()
    if not s:
        return None
    try:
        if _ISO_DATE.fullmatch(s):
            return date.fromisoformat(s)
        if _ISO_DATE.match(s) and s[10] in "T ":
            return datetime.fromisoformat(s).date()
    except ValueError:
        pass
    raise _CellError("a date YYYY-MM-DD", s)


def _show(v: object) -> str:
    try:
        return "" if v is None else json.dumps(v, default=str)
    except (RecursionError, ValueError):
        return type(v).__name__  # nested past json's limit: say what it is, not all of it


def _clip(text: str, width: int = 200) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _show_number(v: object) -> str:
    return v.strip() if isinstance(v, str) else str(v)


# --- rows → records ------------------------------------------------------------------------


@dataclass(slots=True)
class _Reader:
    """What every row of one file shares: where errors point and which shape it is."""

    name: str
    unit: str
    shape: Literal["detail", "summary"]
    period_end: date | None
    previous_end: date | None
    max_quantity: Decimal
    # Parsed cells by their text: 100,000 rows repeat a few quantities, two period ends and
    # "true"/"false"; each is checked and converted once (a bad one raises every time).
    seen: dict[tuple[str, str], object] = field(default_factory=dict)

    def quantity(self, v: object) -> Decimal:
        """A billed count: a negative one or one past the cap is a broken export, and
        writing it would set a PSA line to a credit or to an absurd invoice."""
        q = _quantity(v)
        if q < 0:
            raise _CellError("a quantity of 0 or more", _show_number(v))
        if q > self.max_quantity:
            raise _CellError(f"a quantity of at most {self.max_quantity} (the job's [options] "
                             "max_quantity)", _show_number(v))
        return q

    def records(self, cells: Mapping[str, object], names: Mapping[str, str],
                line: int) -> list[BillingRecord]:
        seen = self.seen

        def get(key: str, parse: Callable[[object], _T]) -> _T:
            raw = cells.get(key)
            if type(raw) is str and parse is not _text:
                hit = seen.get((key, raw), seen)
                if hit is not seen:
                    return hit  # type: ignore[return-value]
            try:
                value = parse(raw)
            except _CellError as exc:
                raise self.error(line, names.get(key, key), exc.expected, exc.value) from None
            if type(raw) is str and parse is not _text and len(seen) < 4096:
                seen[(key, raw)] = value
            return value

        code, name = get("customercode", _text), get("customername", _text)
        if self.shape == "summary":
            ident, sku = get("customeraccountcode", _text), get("productsku", _text)
            grouping = get("summarygrouping", _text)
            billable = get("billableflag", _billable)
            this = get("thismonthcount", self.quantity)
            last = get("lastmonthcount", self.quantity)
            out = [BillingRecord(code, name, ident, sku, grouping, grouping, this, billable,
                                 self.period_end, line)]
            if last != 0:
                out.append(BillingRecord(code, name, ident, sku, grouping, grouping, last,
                                         billable, self.previous_end, line))
            return out
        ident, sku = get("billingidentifier", _text), get("sku", _text)
        line_desc, summary = get("linedescription", _text), get("summarydescription", _text)
        qty, billable = get("quantity", self.quantity), get("billable", _billable)
        end = get("periodend", _period_end)
        return [BillingRecord(code, name, ident, sku, line_desc or summary, summary or line_desc,
                              qty, billable, end, line)]

    def error(self, line: int | None, column: str | None, expected: str,
              value: str | None = None) -> RecordsError:
        return RecordsError(self.name, line, column, expected, value, unit=self.unit)


# --- CSV -------------------------------------------------------------------------------------


def _sniff_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _parse_csv(text: str, name: str, period_end: date | None,
               previous_end: date | None, cap: Decimal) -> list[BillingRecord]:
    return list(_csv_records(io.StringIO(text, newline=""), name, period_end, previous_end,
                             cap))


def _csv_records(lines: Iterable[str], name: str, period_end: date | None,
                 previous_end: date | None, cap: Decimal) -> Iterator[BillingRecord]:
    """The records of CSV `lines`, one row at a time: a 200 MB export is never held whole."""
    lines = iter(lines)
    skipped: list[str] = []
    for ln in lines:
        skipped.append(ln)
        if ln.strip():
            break
    else:
        return
    reader = csv.reader(itertools.chain(skipped, lines), delimiter=_sniff_delimiter(skipped[-1]))
    rows = iter(reader)
    try:
        header = next(row for row in rows if any(c.strip() for c in row))
        header_line = reader.line_num
        index: dict[str, int] = {}
        names: dict[str, str] = {}
        for i, raw in enumerate(header):
            spelled, key = raw.strip(), _key(raw)
            if not key:
                continue
            if key in index:
                raise RecordsError(name, header_line, spelled,
                                   f"a single column of that name (also column {index[key] + 1})")
            index[key], names[key] = i, spelled
        keys = set(index)
        shape = _shape_of(keys)
        missing = _missing(shape, keys)
        if missing:
            found = (_clip(", ".join(names.values())) or "none") if keys & _KNOWN \
                else _NOT_EXPORT
            raise RecordsError(name, header_line, None,
                               f"missing required column(s) {', '.join(missing)} for the "
                               f"{shape} export; columns found: {found}")
        rd = _Reader(name, "line", shape, period_end, previous_end, cap)
        width = len(header)
        wanted = list(index.items())
        previous = reader.line_num
        for row in rows:
            line = previous + 1
            previous = reader.line_num
            if not any(c.strip() for c in row):
                continue
            # Strict on purpose: an extra cell is usually an unquoted comma in a
            # description, which shifts a number into the wrong column.
            if len(row) != width:
                raise rd.error(line, None,
                               f"{width} cells as in the header, found {len(row)} (a value that "
                               f"contains the separator must be in double quotes, and every "
                               f"opening quote closed)")
            cells = {k: row[i] for k, i in wanted}
            yield from rd.records(cells, names, line)
    except StopIteration:
        return
    except csv.Error as exc:
        raise RecordsError(name, reader.line_num, None, f"well-formed CSV ({exc})") from None


# --- JSON ------------------------------------------------------------------------------------


def _parse_json(text: str, name: str, period_end: date | None,
                previous_end: date | None, cap: Decimal) -> list[BillingRecord]:
    if not text.strip():
        return []
    try:
        data = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise RecordsError(name, exc.lineno, None, f"valid JSON ({exc.msg})") from None
    except RecursionError:
        raise RecordsError(name, None, None, "JSON nested a few hundred levels deep at "
                           "most (lists or objects inside each other)") from None
    except ValueError as exc:  # an integer past Python's digit limit
        raise RecordsError(name, None, None, f"valid JSON numbers ({exc})") from None
    items = data
    if isinstance(data, dict):
        lists = {_key(k): v for k, v in data.items() if _key(k) in ("records", "items", "data")}
        items = next((lists[k] for k in ("records", "items", "data") if k in lists), None)
    if not isinstance(items, list):
        raise RecordsError(name, None, None, 'a JSON list of records, or an object with the '
                           'list under "records", "items" or "data"')
    out: list[BillingRecord] = []
    rd: _Reader | None = None
    for n, obj in enumerate(items, start=1):
        if not isinstance(obj, dict):
            raise RecordsError(name, n, None, "an object with the record's fields", _show(obj),
                               unit="record")
        cells = {_key(str(k)): v for k, v in obj.items()}
        names = {_key(str(k)): str(k) for k in obj}
        if rd is None:
            rd = _Reader(name, "record", _shape_of(set(cells)), period_end, previous_end, cap)
        missing = _missing(rd.shape, set(cells))
        if missing:
            found = (_clip(", ".join(names.values())) or "none") if set(cells) & _KNOWN \
                else _NOT_EXPORT
            raise rd.error(n, None, f"missing required field(s) {', '.join(missing)} for the "
                           f"{rd.shape} export; fields found: {found}")
        out.extend(rd.records(cells, names, n))
    return out


# --- entry points ----------------------------------------------------------------------------


def sniff_format(text: str) -> Format:
    stripped = text.lstrip("\ufeff \t\r\n")
    return "json" if stripped[:1] in ("[", "{") else "csv"


def parse_records(text: str, *, name: str, fmt: Format, period_end: date | None = None,
                  previous_end: date | None = None,
                  max_quantity: int | Decimal = DEFAULT_MAX_QUANTITY) -> list[BillingRecord]:
    """Records of `text`; summary rows are dated with the two period ends given here.

    Quantities below 0 or above `max_quantity` are refused with their line.
    """
    text = text.removeprefix("\ufeff")
    cap = Decimal(max_quantity)
    if fmt == "json":
        return _parse_json(text, name, period_end, previous_end, cap)
    return _parse_csv(text, name, period_end, previous_end, cap)


def decode(data: bytes, name: str) -> str:
    """Excel saves "CSV UTF-8" with a BOM and "Unicode Text" as UTF-16; both are read."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise RecordsError(name, None, None, "valid UTF-16 text") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise RecordsError(name, line, None, "UTF-8 text (save the export as 'CSV UTF-8')",
                           data[exc.start:exc.end].hex(" ")) from None


def read_records(path: Path, *, period_end: date | None = None,
                 previous_end: date | None = None,
                 max_quantity: int | Decimal = DEFAULT_MAX_QUANTITY) -> list[BillingRecord]:
    return list(iter_records(path, period_end=period_end, previous_end=previous_end,
                             max_quantity=max_quantity))


def iter_records(path: Path, *, period_end: date | None = None,
                 previous_end: date | None = None,
                 max_quantity: int | Decimal = DEFAULT_MAX_QUANTITY) -> Iterator[BillingRecord]:
    """The records of a billing file; a CSV one is read as a stream, row by row.

    A 200 MB export read whole (bytes, then text, then a record per row) took 3 GB; read
    as a stream and summed (`sum_records`) it takes what its distinct lines take.
    """
    name = str(path)
    cap = Decimal(max_quantity)
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise RecordsError(name, None, None, "a readable billing file "
                           f"({getattr(exc, 'strerror', None) or exc})") from None
    utf16 = head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    suffix = Path(path).suffix.casefold()
    if suffix == ".json" or (suffix != ".csv" and not utf16 and
                             sniff_format(head.decode("utf-8", "ignore")) == "json"):
        yield from _whole(path, name, period_end, previous_end, cap)
        return
    if utf16 and suffix != ".csv":
        try:
            probe = head.decode("utf-16", "ignore")
        except UnicodeDecodeError:  # pragma: no cover - "ignore" never raises
            probe = ""
        if sniff_format(probe) == "json":
            yield from _whole(path, name, period_end, previous_end, cap)
            return
    try:
        with open(path, encoding="utf-16" if utf16 else "utf-8-sig", newline="") as fh:
            yield from _csv_records(fh, name, period_end, previous_end, cap)
    except UnicodeDecodeError:
        # Rare, and an error either way: read it whole once to name the exact line.
        yield from _whole(path, name, period_end, previous_end, cap)
    except OSError as exc:
        raise RecordsError(name, None, None,
                           f"a readable billing file ({exc.strerror or exc})") from None


def _whole(path: Path, name: str, period_end: date | None, previous_end: date | None,
           cap: Decimal) -> list[BillingRecord]:
    try:
        data = Path(path).read_bytes()
    except (OSError, ValueError) as exc:
        raise RecordsError(name, None, None, "a readable billing file "
                           f"({getattr(exc, 'strerror', None) or exc})") from None
    text = decode(data, name)
    suffix = Path(path).suffix.casefold()
    fmt: Format = "json" if suffix == ".json" else "csv" if suffix == ".csv" else sniff_format(text)
    return parse_records(text, name=name, fmt=fmt, period_end=period_end,
                         previous_end=previous_end, max_quantity=cap)


def sum_records(records: Iterable[BillingRecord]) -> list[BillingRecord]:
    """Records that differ only in quantity (and line text the plan never reads), summed.

    The plan sums per customer and product anyway (rule 3) and reads a record's
    identity, SKU, description, billable flag and period; a detail export repeats those on
    every seat. Summed in the order each first appears, so "the first record" (a
    customer's name, its Billing Identifier, a product's description) is the same record
    as before: the plan made from the sum is the plan made from every row.
    """
    first: dict[tuple[object, ...], BillingRecord] = {}
    total: dict[tuple[object, ...], Decimal] = {}
    # A kept record's text is the one string of its value: a customer's name and code
    # repeat on each of its records, a SKU and description on every customer's (issue 12:
    # 5,000 customers held 300,000 strings for a few thousand values).
    pool: dict[str, str] = {}
    one = pool.setdefault
    for r in records:
        code, name, ident, sku, line, summary = (
            one(t, t) for t in (r.customer_code, r.customer_name, r.billing_identifier,
                                r.sku, r.line_description, r.summary_description))
        key = (code, name, ident, sku, summary or line, summary, r.billable, r.period_end)
        if key in total:
            total[key] += r.quantity
        else:
            first[key] = BillingRecord(code, name, ident, sku, line, summary, r.quantity,
                                       r.billable, r.period_end, r.source_line)
            total[key] = r.quantity
    return [r if total[k] == r.quantity else dataclasses.replace(r, quantity=total[k])
            for k, r in first.items()]
