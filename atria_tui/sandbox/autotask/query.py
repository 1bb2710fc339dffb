"""The Autotask query grammar: a `QueryModel` body checked and turned into a predicate.

Everything a tenant refuses is an `AtError` (HTTP 500 with an `errors` array, as the API
answers request errors). Field names and body keys are case-insensitive; a filter is
mandatory; at most 500 OR conditions, an `in`/`notIn` list counting one per value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from atria_tui.sandbox.autotask.types import FIELDS, field_of

Row = Mapping[str, Any]
Predicate = Callable[[Row], bool]

OPERATORS = ("eq", "noteq", "gt", "gte", "lt", "lte", "beginswith", "endswith", "contains",
             "exist", "notexist", "in", "notin")
GROUPS = ("and", "or")
MAX_OR = 500
TOO_MANY_OR = ("Invalid query syntax. Queries are limited to 500 or fewer 'OR' conditions.")
MAX_RECORDS = "maxCountOfRecordsToReturn must be between 1 and 500"


class AtError(Exception):
    """A request the tenant refuses: `{"errors": [message]}` with `status`."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None
                 ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def bad(message: str) -> AtError:
    return AtError(500, message)


def folded(body: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k).casefold(): v for k, v in body.items()}


def parse_when(text: Any) -> datetime:
    """An API date-time: ISO 8601, `Z`/offset or none (= UTC); returned naive UTC."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"not a date-time: {text!r}")
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


@dataclass(frozen=True, slots=True)
class Query:
    entity: str
    predicate: Predicate
    max_records: int | None
    include: tuple[str, ...] | None  # canonical names; None = every field


def parse_query(entity: str, body: Any) -> Query:
    if not isinstance(body, Mapping):
        raise bad("The query body must be a JSON object.")
    keys = folded(body)
    raw_filter = keys.get("filter")
    if not isinstance(raw_filter, list) or not raw_filter:
        raise bad("A query must contain a filter with at least one condition.")
    counter = [0]
    udfs = [0]
    parts = [_condition(entity, item, counter, udfs) for item in raw_filter]
    if counter[0] > MAX_OR:
        raise bad(TOO_MANY_OR)
    if udfs[0] > 1:
        raise bad("Only one user-defined field condition is allowed per query.")
    max_records = keys.get("maxrecords")
    if max_records is not None and (
        isinstance(max_records, bool) or not isinstance(max_records, int)
        or not 1 <= max_records <= 500
    ):
        raise bad(MAX_RECORDS)
    include = keys.get("includefields")
    names: tuple[str, ...] | None = None
    if include is not None:
        if not isinstance(include, list) or not all(isinstance(f, str) for f in include):
            raise bad("IncludeFields must be a list of field names.")
        resolved = []
        for name in include:
            spec = field_of(entity, name)
            if spec is None:
                raise bad(f"Unable to find {name} in the {entity} Entity")
            resolved.append(spec[0])
        names = tuple(dict.fromkeys(resolved)) or None
    return Query(entity, lambda row: all(p(row) for p in parts), max_records, names)


def _condition(entity: str, raw: Any, counter: list[int], udfs: list[int]) -> Predicate:
    if not isinstance(raw, Mapping):
        raise bad(f"Invalid query syntax. A filter condition must be an object, got {raw!r}.")
    item = folded(raw)
    op = item.get("op")
    if not isinstance(op, str) or op.casefold() not in OPERATORS + GROUPS:
        raise bad(f"Invalid query syntax. Unknown operator {op!r}.")
    op = op.casefold()
    if op in GROUPS:
        children = item.get("items")
        if not isinstance(children, list) or not children:
            raise bad(f"Invalid query syntax. An '{op}' group needs a list of items.")
        parts = [_condition(entity, child, counter, udfs) for child in children]
        if op == "or":
            counter[0] += len(parts)
            return lambda row: any(p(row) for p in parts)
        return lambda row: all(p(row) for p in parts)
    name = item.get("field")
    if not isinstance(name, str) or not name:
        raise bad("Invalid query syntax. A condition needs a field.")
    if item.get("udf") is True:
        udfs[0] += 1
        return _udf_condition(name, op, item.get("value"), counter)
    if entity not in FIELDS or (spec := field_of(entity, name)) is None:
        raise bad(f"Unable to find {name} in the {entity} Entity")
    field, kind = spec[0], spec[1]
    if op in ("exist", "notexist"):
        want = op == "exist"
        return lambda row: (row.get(field) not in (None, "")) == want
    if "value" not in item:
        raise bad(f"Invalid query syntax. The '{op}' condition on {field} needs a value.")
    value = item["value"]
    if op in ("in", "notin"):
        if not isinstance(value, list) or not value:
            raise bad(f"Invalid query syntax. '{op}' on {field} needs a non-empty list.")
        counter[0] += len(value)
        wanted = [_typed(field, kind, v) for v in value]
        inside = op == "in"
        return lambda row: (any(_eq(row.get(field), w) for w in wanted)) == inside
    target = _typed(field, kind, value)
    if op in ("beginswith", "endswith", "contains"):
        if kind != "string":
            raise bad(f"Invalid query syntax. '{op}' works on text fields, not {field}.")
        return _text_op(field, op, str(target))
    return _compare(field, op, target)


def _typed(field: str, kind: str, value: Any) -> Any:
    """The filter value as the field's type; a mismatch is refused, not coerced."""
    wrong = bad(f"Invalid value {value!r} for field {field} ({kind}).")
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong
        return value
    if kind == "double":
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
                value):
            raise wrong
        return float(value)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise wrong
        return value
    if kind == "datetime":
        try:
            return parse_when(value)
        except ValueError as exc:
            raise wrong from exc
    if not isinstance(value, str):
        raise wrong
    return value


def _norm(value: Any) -> Any:
    if isinstance(value, str):
        try:
            if len(value) >= 10 and value[4] == "-" and value[7] == "-":
                return parse_when(value)
        except ValueError:
            pass
        return value.casefold()
    return value


def _eq(left: Any, right: Any) -> bool:
    if left is None:
        return False
    return bool(_norm(left) == _norm(right))


def _compare(field: str, op: str, target: Any) -> Predicate:
    def check(row: Row) -> bool:
        left = row.get(field)
        if op == "noteq":
            return not _eq(left, target)
        if left is None:
            return False
        a, b = _norm(left), _norm(target)
        try:
            return bool({"eq": a == b, "gt": a > b, "gte": a >= b, "lt": a < b,
                         "lte": a <= b}[op])
        except TypeError:
            return False

    return check


def _text_op(field: str, op: str, target: str) -> Predicate:
    needle = target.casefold()

    def check(row: Row) -> bool:
        text = row.get(field)
        if not isinstance(text, str):
            return False
        hay = text.casefold()
        if op == "beginswith":
            return hay.startswith(needle)
        if op == "endswith":
            return hay.endswith(needle)
        return needle in hay

    return check


def _udf_condition(name: str, op: str, value: Any, counter: list[int]) -> Predicate:
    def udf(row: Row) -> Any:
        for entry in row.get("userDefinedFields") or []:
            if str(entry.get("name", "")).casefold() == name.casefold():
                return entry.get("value")
        return None

    if op in ("exist", "notexist"):
        want = op == "exist"
        return lambda row: (udf(row) not in (None, "")) == want
    if op in ("in", "notin"):
        if not isinstance(value, list) or not value:
            raise bad(f"Invalid query syntax. '{op}' on {name} needs a non-empty list.")
        counter[0] += len(value)
        inside = op == "in"
        return lambda row: any(_eq(udf(row), v) for v in value) == inside
    if op in ("beginswith", "endswith", "contains"):
        inner = _text_op("v", op, str(value))
        return lambda row: inner({"v": udf(row)})
    inner_cmp = _compare("v", op, value)
    return lambda row: inner_cmp({"v": udf(row)})
