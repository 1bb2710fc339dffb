"""Value semantics and expression tree for the sandbox's `conditions` evaluator.

Kept apart from the parser (`conditions.py`) because this is the part that must mirror the
real service's SQL behaviour: case-insensitive string collation, NULL (and the service's
`""` for unset dates) making a comparison *unknown*, and Kleene three-valued logic for
`and`/`or`/`not`, so a filter keeps only rows where the whole expression is TRUE.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any


class ConditionError(ValueError):
    """A malformed `conditions` expression; the text is what the API returns in its 400."""


def parse_datetime(text: str, pos: int) -> datetime:
    raw = text.strip()
    try:
        if len(raw) == 10:
            return datetime.combine(date.fromisoformat(raw), datetime.min.time(), UTC)
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ConditionError(
            f"conditions: invalid date [{text}] at position {pos + 1} "
            "(expected [YYYY-MM-DDTHH:MM:SSZ])"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# --------------------------------------------------------------------------- values


NULL = object()


def resolve(record: Mapping[str, Any], path: str) -> Any:
    """Walk a `/`-separated path through nested objects; a missing step is NULL (None)."""
    cur: Any = record
    for part in path.split("/"):
        if not isinstance(cur, Mapping):
            return None
        cur = _get_ci(cur, part)
        if cur is None:
            return None
    return cur


def _get_ci(obj: Mapping[str, Any], key: str) -> Any:
    """Field names are case-insensitive on the service (SQL column names)."""
    if key in obj:
        return obj[key]
    low = key.lower()
    for k, v in obj.items():
        if k.lower() == low:
            return v
    return None


def _is_null(value: Any) -> bool:
    # Unset dates come back as "" from the service: they are NULL in its database.
    return value is None or value == ""


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            return parse_datetime(value, 0)
        except ConditionError:
            return None
    return None


def _as_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value))
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            return None
    return None


def _coerce(field: Any, literal: Any) -> tuple[Any, Any] | None:
    """Bring a field value and a literal to one comparable type, or None if impossible."""
    if isinstance(literal, datetime):
        dt = _as_datetime(field)
        return None if dt is None else (dt, literal)
    if isinstance(literal, bool):
        if isinstance(field, bool):
            return field, literal
        if isinstance(field, str) and field.lower() in ("true", "false"):
            return field.lower() == "true", literal
        return None
    if isinstance(literal, Decimal):
        num = _as_decimal(field)
        return None if num is None else (num, literal)
    # string literal
    if isinstance(field, bool):
        return str(field).lower(), literal.casefold()
    if isinstance(field, int | float | Decimal):
        num = _as_decimal(literal)
        return None if num is None else (Decimal(str(field)), num)
    if isinstance(field, str):
        return field.casefold(), literal.casefold()
    return None


def _compare(field: Any, op: str, literal: Any) -> bool | None:
    if literal is NULL:
        if op == "=":
            return _is_null(field)
        if op == "!=":
            return not _is_null(field)
        return None
    if _is_null(field) and not (isinstance(literal, str) and field == ""):
        return None
    pair = _coerce(field, literal)
    if pair is None:
        return None
    a, b = pair
    if op == "=":
        return bool(a == b)
    if op == "!=":
        return bool(a != b)
    if isinstance(a, bool):
        return None
    try:
        if op == "<":
            return bool(a < b)
        if op == "<=":
            return bool(a <= b)
        if op == ">":
            return bool(a > b)
        return bool(a >= b)
    except TypeError:
        return None


def _like_regex(pattern: str) -> re.Pattern[str]:
    parts = [".*" if ch in "*%" else re.escape(ch) for ch in pattern]
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


# --------------------------------------------------------------------------- AST


class Condition:
    """A parsed expression. `evaluate` gives SQL three-valued logic; `matches` gives a row
    filter (only TRUE keeps a row)."""

    def evaluate(self, record: Mapping[str, Any]) -> bool | None:
        raise NotImplementedError

    def matches(self, record: Mapping[str, Any]) -> bool:
        return self.evaluate(record) is True

    def paths(self) -> set[str]:
        raise NotImplementedError


@dataclass(frozen=True)
class Compare(Condition):
    path: str
    op: str
    value: Any

    def evaluate(self, record: Mapping[str, Any]) -> bool | None:
        return _compare(resolve(record, self.path), self.op, self.value)

    def paths(self) -> set[str]:
        return {self.path}


@dataclass(frozen=True)
class Text(Condition):
    path: str
    op: str  # "contains" or "like"
    value: str

    def evaluate(self, record: Mapping[str, Any]) -> bool | None:
        field = resolve(record, self.path)
        if field is None:
            return None
        text = str(field).lower() if isinstance(field, bool) else str(field)
        if self.op == "contains":
            return self.value.casefold() in text.casefold()
        return _like_regex(self.value).fullmatch(text) is not None

    def paths(self) -> set[str]:
        return {self.path}


@dataclass(frozen=True)
class In(Condition):
    path: str
    values: tuple[Any, ...]

    def evaluate(self, record: Mapping[str, Any]) -> bool | None:
        field = resolve(record, self.path)
        results = [_compare(field, "=", v) for v in self.values]
        if any(r is True for r in results):
            return True
        return None if any(r is None for r in results) else False

    def paths(self) -> set[str]:
        return {self.path}


@dataclass(frozen=True)
class Not(Condition):
    inner: Condition

    def evaluate(self, record: Mapping[str, Any]) -> bool | None:
        r = self.inner.evaluate(record)
        return None if r is None else not r

    def paths(self) -> set[str]:
        return self.inner.paths()


@dataclass(frozen=True)
class And(Condition):
    left: Condition
    right: Condition

    def evaluate(self, record: Mapping[str, Any]) -> bool | None:
        a, b = self.left.evaluate(record), self.right.evaluate(record)
        if a is False or b is False:
            return False
        return None if a is None or b is None else True

    def paths(self) -> set[str]:
        return self.left.paths() | self.right.paths()


@dataclass(frozen=True)
class Or(Condition):
    left: Condition
    right: Condition

    def evaluate(self, record: Mapping[str, Any]) -> bool | None:
        a, b = self.left.evaluate(record), self.right.evaluate(record)
        if a is True or b is True:
            return True
        return None if a is None or b is None else False

    def paths(self) -> set[str]:
        return self.left.paths() | self.right.paths()


class Everything(Condition):
    def evaluate(self, record: Mapping[str, Any]) -> bool | None:
        return True

    def paths(self) -> set[str]:
        return set()
