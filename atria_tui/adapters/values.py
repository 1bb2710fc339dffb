"""What a PSA answer must hold before a run trusts it: finite, sane numbers and usable ids.

A run plans from the PSA's answer and writes back to the lines it read, so an answer is
checked like any other input: a quantity of NaN or 1e999 would be compared and written
as it is, and a row without an id cannot be written back at all (and an id such as
"../12", spliced into a URL, would address some other record). Both adapters read numbers
and ids through here; anything else becomes `RemoteError("decode")`, which the services turn
into CW13/KS13 before any write.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from atria_tui.core.model import ZERO
from atria_tui.psa.errors import RemoteError

# No contract line carries a trillion of anything, nor costs a trillion a unit; a value
# past this is a corrupt (or hostile) answer, not a customer.
LIMIT = Decimal(10) ** 12
_NAME_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")
_DIGITS = re.compile(r"-?[0-9]{1,30}")


def clip(value: Any, width: int = 60) -> str:
    """A value as JSON, short enough for one log line."""
    try:
        text = json.dumps(value, default=str)
    except (RecursionError, ValueError):
        text = type(value).__name__
    return text if len(text) <= width else text[: width - 3] + "..."


def psa_number(value: Any, what: str) -> Decimal:
    """A quantity or price; unset (null or "") reads as 0, as both PSAs leave it."""
    if value is None or value == "":
        return ZERO
    number = Decimal("NaN")
    if not isinstance(value, bool) and isinstance(value, int | float | Decimal | str):
        with contextlib.suppress(InvalidOperation, ValueError):
            number = Decimal(str(value).strip())
    if not number.is_finite():
        raise RemoteError("decode", f"{what}: expected a finite number, got {clip(value)}")
    if abs(number) >= LIMIT:
        raise RemoteError("decode", f"{what}: {clip(value)} is beyond any real quantity or "
                       f"price (the answer looks corrupt)")
    return number


def psa_id_value(value: Any, what: str, *, numeric: bool = False,
                 optional: bool = False) -> str:
    """An id as text: a whole number, or (unless `numeric`) a plain name of letters,
    digits, '-' and '_'. `optional` lets a missing one (null, "") read as ""."""
    if optional and (value is None or value == ""):
        return ""
    text: str | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    elif isinstance(value, float | Decimal) and _whole(value):
        text = str(int(value))
    elif isinstance(value, str):
        stripped = value.strip()
        if (_DIGITS if numeric else _NAME_ID).fullmatch(stripped):
            text = stripped
    if text is None or len(text) > 100:
        kind = "a whole number" if numeric else "a number or a plain name"
        raise RemoteError("decode", f"{what}: expected {kind} as the id, got {clip(value)}")
    return text


def psa_id(row: Mapping[str, Any], what: str, *, numeric: bool = False) -> str:
    """The row's own `id`, which every write to it needs."""
    if "id" not in row:
        raise RemoteError("decode", f"{what}: a row has no id: {clip(dict(row), 120)}")
    return psa_id_value(row["id"], what, numeric=numeric)


def _whole(value: float | Decimal) -> bool:
    try:
        if isinstance(value, Decimal):
            return value.is_finite() and value == value.to_integral_value()
        return value.is_integer()
    except (InvalidOperation, OverflowError, ValueError):
        return False
