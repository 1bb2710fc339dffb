"""CSV files for people who open them in Excel: the log export, the fixes, the plan.

Billing staff double-click these files, so two things matter more than CSV purity: text
that Excel would run as a formula (a customer named "=HYPERLINK(...)" coming from Atria or
the PSA) is neutralised, and the file is written atomically, because a half-written export
of a billing run looks complete and is worse than none.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from types import MappingProxyType
from typing import IO

from atria_tui.core import codes
from atria_tui.core.model import LogEntry, PlanItem, Status, norm
from atria_tui.core.numbers import money_value, qty_value

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str | int | float:
    """One cell as written: numbers stay numbers, text cannot start a formula.

    Numbers are not neutralised on purpose: a quantity of -3 must stay a number people can
    sum. Only text gets the leading apostrophe, which Excel hides and treats as "this is text".
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    text = value.value if isinstance(value, Enum) else value
    text = text if isinstance(text, str) else str(text)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def _write(stream: IO[str], header: Sequence[str], rows: Iterable[Sequence[object]],
           line_end: str) -> int:
    writer = csv.writer(stream, lineterminator=line_end)
    writer.writerow([safe_cell(h) for h in header])
    count = 0
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
        count += 1
    return count


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    """Write to a temp file beside `path`, then swap it in; returns the number of data rows.

    The temp file lives in the same folder so os.replace is a rename on one file system;
    if `rows` raises (a generator reading the store, a disk filling up) the temp file is
    removed and whatever `path` held before is untouched.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder, not a file", str(path))
    if path.exists() and not path.is_file():
        # A device or a pipe (/dev/stdout, a FIFO) is written in place: swapping in a temp
        # file would replace the device node itself with a plain file.
        with path.open("w", encoding="utf-8-sig", newline="") as stream:
            return _write(stream, header, rows, "\r\n")
    folder = path.parent
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8-sig", newline="") as stream:
            count = _write(stream, header, rows, "\r\n")
            stream.flush()
            os.fsync(stream.fileno())
        _copy_mode(path, tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return count


def _copy_mode(target: Path, tmp: Path) -> None:
    """mkstemp makes 0600 files; an export should get the permissions a plain save would."""
    try:
        mode = target.stat().st_mode & 0o777
    except OSError:
        mode = 0o644
    with contextlib.suppress(OSError):
        os.chmod(tmp, mode)


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]], *,
             line_end: str = "\r\n", bom: bool = True) -> str:
    """The same cells and bytes as `write_csv` (BOM, CRLF: Excel opens a redirected
    `plan --format csv` as cleanly as a console export), as text for stdout."""
    stream = io.StringIO()
    if bom:
        stream.write("\ufeff")
    _write(stream, header, rows, line_end)
    return stream.getvalue()


# --- the log ---------------------------------------------------------------------------------

LOG_HEADER = ["time", "level", "code", "customer", "sku", "message", "note", "psa_product",
              "agreement"]
_NO_NOTES: Mapping[tuple[str, str], str] = MappingProxyType({})
_NO_PLACES: Mapping[tuple[str, str], tuple[str, str]] = MappingProxyType({})


def log_rows(entries: Iterable[LogEntry],
             notes: Mapping[tuple[str, str], str] = _NO_NOTES,
             places: Mapping[tuple[str, str], tuple[str, str]] = _NO_PLACES
             ) -> Iterator[list[object]]:
    """Log entries as rows; a note typed on a (customer, SKU) row follows it into the file,
    and so does where it was written in the PSA (`places`: product code and agreement or
    contract name, from the run's plan), so a SKU fix shows in the paper trail.

    Notes are matched the way customers and SKUs are compared everywhere (trimmed,
    case-insensitive), so a note saved against "asp"/"ms-365" still lands on "ASP"/"MS-365".
    """
    keyed = {(norm(c), norm(s)): note for (c, s), note in notes.items()}
    where = {(norm(c), norm(s)): p for (c, s), p in places.items()}
    for e in entries:
        key = (norm(e.customer), norm(e.sku))
        note = keyed.get(key, "") if keyed else ""
        product, agreement = where.get(key, ("", "")) if e.sku else ("", "")
        yield [_local(e.time), e.level.value, e.code, e.customer, e.sku, e.message, note,
               product, agreement]


def places_of(items: Iterable[PlanItem]) -> dict[tuple[str, str], tuple[str, str]]:
    """(customer, SKU) → (PSA product code, agreement/contract name) of a plan's rows."""
    return {(i.customer_code, i.sku): (i.product_code, i.contract_name)
            for i in items if i.sku and (i.product_code or i.contract_name)}


def _local(when: datetime | None) -> datetime | None:
    """A stored (UTC) time as the clerk reads it: in the machine's local zone, with its
    offset, so Excel users in Sydney see their own clock and the file still says which."""
    return when.astimezone() if when is not None and when.tzinfo is not None else when


# --- the plan --------------------------------------------------------------------------------

PLAN_HEADER = ["customer_code", "customer_name", "billing_identifier", "sku", "description",
               "atria_quantity", "psa_quantity", "delta", "unit_price", "money_delta", "action",
               "code", "level", "message", "status", "approved", "note", "psa_product",
               "agreement"]


def item_message(i: PlanItem) -> str:
    """A row's message as true as the row: "updated" once applied, "would be updated"
    while it is only planned (a preview, a dry run, a change held or rejected)."""
    if i.action.writes and i.status is not Status.APPLIED:
        return codes.planned(i.code, i.message)
    return i.message


def plan_rows(items: Iterable[PlanItem], held: Mapping[str, str] | None = None
              ) -> Iterator[list[object]]:
    """A plan's rows; `held` (item key → why) fills the status of writes held for review."""
    for i in items:
        status = i.status.value if i.status is not None else (held or {}).get(i.key, "")
        yield [i.customer_code, i.customer_name, i.billing_identifier, i.sku, i.description,
               qty_value(i.atria_quantity), qty_value(i.psa_quantity), qty_value(i.delta),
               money_value(i.unit_price), money_value(i.money_delta),
               i.action.value, i.code, i.level.value, item_message(i), status, i.approved,
               i.note,
               i.product_code, i.contract_name]
