"""Parser and evaluator for ConnectWise Manage's `conditions` query grammar.

The sandbox must reject what the real service rejects and match what it matches, otherwise
a client that quotes values badly (an apostrophe in `O'Brien`, a `"` inside an identifier)
passes its tests and breaks in production. So this is a real tokenizer and recursive-descent
parser rather than a regex, and evaluation follows the service's SQL semantics:

* string comparisons are case-insensitive (the service's SQL collation);
* a comparison against a missing/NULL field is *unknown*, not false, and unknown propagates
  through `and`/`or`/`not` with three-valued logic, so `not (x = 1)` does not match rows
  where `x` is NULL, exactly as in SQL;
* only `\\"` and `\\\\` escapes exist inside double-quoted strings; any other backslash
  sequence is an error, which catches clients that do not escape backslashes.

Grammar (keywords case-insensitive)::

    expr       := and_expr ("or" and_expr)*
    and_expr   := unary ("and" unary)*
    unary      := "not" unary | "(" expr ")" | comparison
    comparison := PATH op VALUE
                | PATH ["not"] ("contains" | "like") STRING
                | PATH ["not"] "in" "(" VALUE ("," VALUE)* ")"
    op         := "=" | "!=" | "<>" | "<" | "<=" | ">" | ">="
    VALUE      := STRING | NUMBER | "true" | "false" | "null" | "[" DATETIME "]"
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from atria_tui.sandbox.connectwise.condition_tree import (
    NULL,
    And,
    Compare,
    Condition,
    ConditionError,
    Everything,
    In,
    Not,
    Or,
    Text,
    parse_datetime,
    resolve,
)

__all__ = [
    "Condition",
    "ConditionError",
    "matches",
    "parse",
    "resolve",
]


# --------------------------------------------------------------------------- tokens


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # "op", "punct", "string", "number", "date", "word", "end"
    value: Any
    pos: int
    text: str


_KEYWORDS = {"and", "or", "not", "in", "contains", "like", "true", "false", "null"}
_OPS = ("!=", "<>", "<=", ">=", "=", "<", ">")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*")


def _read_string(src: str, start: int) -> tuple[str, int]:
    """Read a double-quoted string starting at `start`; return (value, index after it)."""
    out: list[str] = []
    i = start + 1
    while i < len(src):
        ch = src[i]
        if ch == "\\":
            nxt = src[i + 1] if i + 1 < len(src) else ""
            if nxt not in ('"', "\\"):
                raise ConditionError(
                    f"conditions: invalid escape '\\{nxt}' at position {i + 1} "
                    '(only \\" and \\\\ are allowed inside a string)'
                )
            out.append(nxt)
            i += 2
            continue
        if ch == '"':
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise ConditionError(f"conditions: unterminated string starting at position {start + 1}")


def _tokenize(src: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i = 0
    while i < len(src):
        ch = src[i]
        if ch.isspace():
            i += 1
            continue
        if ch in "(),":
            toks.append(_Tok("punct", ch, i, ch))
            i += 1
            continue
        op = next((o for o in _OPS if src.startswith(o, i)), None)
        if op is not None:
            toks.append(_Tok("op", "!=" if op == "<>" else op, i, op))
            i += len(op)
            continue
        if ch == '"':
            value, end = _read_string(src, i)
            toks.append(_Tok("string", value, i, src[i:end]))
            i = end
            continue
        if ch == "[":
            end = src.find("]", i)
            if end < 0:
                raise ConditionError(f"conditions: unterminated date starting at position {i + 1}")
            toks.append(_Tok("date", parse_datetime(src[i + 1 : end], i), i, src[i : end + 1]))
            i = end + 1
            continue
        m = _NUMBER.match(src, i)
        if m and (ch != "-" or len(m.group()) > 1):
            toks.append(_Tok("number", Decimal(m.group()), i, m.group()))
            i = m.end()
            continue
        m = _WORD.match(src, i)
        if m:
            word = m.group()
            if src.startswith("/", m.end()):
                raise ConditionError(
                    f"conditions: invalid field path '{src[i : m.end() + 1]}' at position {i + 1}"
                )
            toks.append(_Tok("word", word, i, word))
            i = m.end()
            continue
        if ch == "'":
            raise ConditionError(
                f"conditions: unexpected ' at position {i + 1} "
                "(string values must be enclosed in double quotes)"
            )
        raise ConditionError(f"conditions: unexpected character {ch!r} at position {i + 1}")
    toks.append(_Tok("end", None, len(src), "end of expression"))
    return toks


# --------------------------------------------------------------------------- parser


class _Parser:
    def __init__(self, src: str) -> None:
        self.toks = _tokenize(src)
        self.i = 0

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def _kw(self, word: str) -> bool:
        t = self.tok
        return t.kind == "word" and str(t.value).lower() == word

    def _fail(self, expected: str) -> ConditionError:
        t = self.tok
        where = "at end of expression" if t.kind == "end" else f"at position {t.pos + 1}"
        found = "" if t.kind == "end" else f", found '{t.text}'"
        return ConditionError(f"conditions: expected {expected} {where}{found}")

    def parse(self) -> Condition:
        node = self._or()
        if self.tok.kind != "end":
            raise self._fail("'and', 'or' or end of expression")
        return node

    def _or(self) -> Condition:
        node = self._and()
        while self._kw("or"):
            self.i += 1
            node = Or(node, self._and())
        return node

    def _and(self) -> Condition:
        node = self._unary()
        while self._kw("and"):
            self.i += 1
            node = And(node, self._unary())
        return node

    def _unary(self) -> Condition:
        if self._kw("not"):
            self.i += 1
            return Not(self._unary())
        if self.tok.kind == "punct" and self.tok.value == "(":
            self.i += 1
            node = self._or()
            if not (self.tok.kind == "punct" and self.tok.value == ")"):
                raise self._fail("')'")
            self.i += 1
            return node
        return self._comparison()

    def _comparison(self) -> Condition:
        t = self.tok
        if t.kind != "word" or str(t.value).lower() in _KEYWORDS:
            raise self._fail("a field name")
        path = str(t.value)
        self.i += 1
        negate = False
        if self._kw("not"):
            negate = True
            self.i += 1
            if not (self._kw("in") or self._kw("like") or self._kw("contains")):
                raise self._fail("'in', 'like' or 'contains' after 'not'")
        node: Condition
        if self._kw("in"):
            self.i += 1
            node = In(path, self._value_list())
        elif self._kw("like") or self._kw("contains"):
            op = str(self.tok.value).lower()
            self.i += 1
            if self.tok.kind != "string":
                raise self._fail(f"a double-quoted string after '{op}'")
            node = Text(path, op, str(self.tok.value))
            self.i += 1
        elif self.tok.kind == "op":
            op = str(self.tok.value)
            self.i += 1
            node = Compare(path, op, self._value(op))
        else:
            raise self._fail(f"an operator after '{path}'")
        return Not(node) if negate else node

    def _value(self, after: str) -> Any:
        t = self.tok
        if t.kind in ("string", "number", "date"):
            self.i += 1
            return t.value
        if t.kind == "word":
            word = str(t.value).lower()
            if word in ("true", "false"):
                self.i += 1
                return word == "true"
            if word == "null":
                self.i += 1
                return NULL
        raise self._fail(
            f"a value after '{after}' (a double-quoted string, number, true, false, null or [date])"
        )

    def _value_list(self) -> tuple[Any, ...]:
        if not (self.tok.kind == "punct" and self.tok.value == "("):
            raise self._fail("'(' after 'in'")
        self.i += 1
        values = [self._value("(")]
        while self.tok.kind == "punct" and self.tok.value == ",":
            self.i += 1
            values.append(self._value(","))
        if not (self.tok.kind == "punct" and self.tok.value == ")"):
            raise self._fail("',' or ')' in the 'in' list")
        self.i += 1
        if any(v is NULL for v in values):
            raise ConditionError("conditions: null is not allowed in an 'in' list")
        return tuple(values)


def parse(text: str | None) -> Condition:
    """Parse a `conditions` value; empty or missing means "every row"."""
    if text is None or not text.strip():
        return Everything()
    return _Parser(text).parse()


def matches(text: str | None, record: Mapping[str, Any]) -> bool:
    return parse(text).matches(record)
