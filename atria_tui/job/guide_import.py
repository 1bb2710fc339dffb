"""Import of the seed guides' JSON parameter and secrets blocks, as users paste them.

The guides print their blocks with line numbers (`  2. "apiUrl":" https://…",`), trailing
commas, curly quotes from the web page, a leading space inside a value and keys spelled
three ways. Rejecting any of that would make the first thing a user does fail, so it is
cleaned up here, keeping every character in its column so json's line/column still point
at the user's own text when something else is wrong. Error messages for the secrets block
never quote the offending text: it may be a key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from atria_tui.core.model import Task
from atria_tui.job.parameters import (
    PARAMETER_NAMES,
    SECRET_NAMES,
    ConfigError,
    Verbatim,
    all_known_names,
    canonical_name,
    normalize_parameters,
)

__all__ = ["PARAMETER_NAMES", "SECRET_NAMES", "import_blocks", "parse_block"]

_NUMBER_PREFIX = re.compile(r"^(\s*)(\d{1,3})\.(?=\s|$)")
_DOUBLE = '"\u201c\u201d\u201e\u201f'  # " “ ” „ ‟
_SINGLE = "'\u2018\u2019\u201a\u201b"  # ' ‘ ’ ‚ ‛
_WORDS = {"True": "true", "False": "false", "None": "null"}  # same lengths on purpose
_PLACEHOLDER = re.compile(r"^X{3,}$", re.IGNORECASE)

_FRIENDLY = (
    ("Expecting ',' delimiter", "a comma between entries"),
    ("Expecting ':' delimiter", "a colon after the name"),
    ("Expecting property name", "a name in quotes"),
    ("Expecting value", "a value"),
    ("Unterminated string", "a closing quote"),
    ("Invalid control character", "a closing quote on the same line"),
    ("Extra data", "nothing after the closing }"),
    ("Invalid \\escape", "a valid backslash escape"),
)


def _clean(text: str) -> str:
    """Make pasted guide text JSON without moving any character to another line/column."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\ufeff", " ").replace("\u00a0", " ")
    lines = [_NUMBER_PREFIX.sub(lambda m: m.group(1) + " " * (len(m.group(2)) + 1), line)
             for line in text.split("\n")]
    src = "\n".join(lines)
    out: list[str] = []
    closer = ""
    i, n = 0, len(src)
    while i < n:
        ch = src[i]
        if closer:
            if ch == "\\" and i + 1 < n:
                out.append(src[i : i + 2])
                i += 2
                continue
            if ch in closer and not (closer is _SINGLE and src[i + 1 : i + 2].isalnum()):
                out.append('"')
                closer = ""
            elif ch == '"':  # a plain quote inside a 'single-quoted' value
                out.append('\\"')
            else:
                out.append(ch)
            if ch == "\n":
                closer = ""
        elif ch in _DOUBLE or ch in _SINGLE:
            closer = _DOUBLE if ch in _DOUBLE else _SINGLE
            out.append('"')
        elif ch == ",":
            j = i + 1
            while j < n and src[j].isspace():
                j += 1
            out.append(" " if j < n and src[j] in "}]" else ",")
        elif ch.isalpha() and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")):
            j = i
            while j < n and (src[j].isalnum() or src[j] == "_"):
                j += 1
            word = src[i:j]
            out.append(_WORDS.get(word, word))
            i = j
            continue
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def _trim(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list):
        return [_trim(v) for v in value]
    if isinstance(value, dict):
        return {k: _trim(v) for k, v in value.items()}
    return value


def key_line(text: str, key: str) -> int | None:
    """1-based line of `"key":` in a pasted block (any quote style, any case)."""
    quotes = re.escape(_DOUBLE + _SINGLE)
    pattern = re.compile(rf"[{quotes}]\s*{re.escape(key)}\s*[{quotes}]\s*:", re.IGNORECASE)
    for number, line in enumerate(text.splitlines(), 1):
        if pattern.search(line):
            return number
    return None


def parse_block(text: str, *, what: str = "parameters", sensitive: bool = False
                ) -> dict[str, Any]:
    """A pasted JSON object; known keys in canonical spelling, text values trimmed.

    `what` names the block in errors; `sensitive` keeps the offending text out of them.
    """
    if not text.strip():
        return {}
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        folded: set[str] = set()
        for key, value in items:
            if key.strip().casefold() in folded:
                duplicates.append(key)
            folded.add(key.strip().casefold())
            result[key.strip()] = value
        return result

    where = f"{what} block"
    try:
        data = json.loads(_clean(text), object_pairs_hook=pairs)
    except json.JSONDecodeError as err:
        friendly = next((f for m, f in _FRIENDLY if err.msg.startswith(m)), err.msg)
        if sensitive:
            raise ConfigError(f"valid JSON: expected {friendly}", source=where,
                              line=err.lineno, column=err.colno) from None
        lines = text.splitlines()
        got = Verbatim(lines[err.lineno - 1].strip() if 0 < err.lineno <= len(lines) else "")
        raise ConfigError(f"valid JSON: expected {friendly}", source=where, line=err.lineno,
                          column=err.colno, got=got) from None
    except RecursionError:
        raise ConfigError("valid JSON: lists or objects nested less deeply", source=where) \
            from None
    except ValueError:  # an integer past Python's 4300-digit conversion limit
        raise ConfigError("valid JSON: numbers of at most 4300 digits", source=where) \
            from None
    if not isinstance(data, dict):
        raise ConfigError('a JSON object in braces: { "Name": "value", … }', source=where)
    if duplicates:
        raise ConfigError(f"{duplicates[0]} is given twice; keep one", source=where,
                          line=_last_line(text, duplicates[0]))
    known = all_known_names()
    try:
        return {canonical_name(k, known) or k: _trim(v) for k, v in data.items()}
    except RecursionError:  # a value nested just short of json's own limit
        raise ConfigError("valid JSON: lists or objects nested less deeply",
                          source=where) from None


def _last_line(text: str, key: str) -> int | None:
    lines = text.splitlines()
    for back in range(len(lines), 0, -1):
        if key_line(lines[back - 1], key):
            return back
    return None


def import_blocks(task: Task, params_text: str, secrets_text: str
                  ) -> tuple[dict[str, Any], dict[str, str]]:
    """(parameters, secrets) from the two pasted blocks, checked against the task's names.

    A secret pasted into the parameters block (or the reverse) goes where it belongs.
    Parameters come back normalized for the job file (booleans, lists, canonical
    spellings); empty secrets are left out, so they read as "not set".
    Raises ConfigError (with line) for unknown names, wrong types or XXXX placeholders.
    """
    blocks = {"parameters": params_text, "secrets": secrets_text}
    raw = {"parameters": parse_block(params_text, what="parameters"),
           "secrets": parse_block(secrets_text, what="secrets", sensitive=True)}
    params: dict[str, Any] = {}
    secrets: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for block, values in raw.items():
        for key, value in values.items():
            secret = canonical_name(key, SECRET_NAMES[task])
            param = canonical_name(key, PARAMETER_NAMES[task])
            if block == "secrets" and secret is None and param is None:
                raise ConfigError(
                    f"unknown secret for {task.psa_name} (expected one of "
                    f"{', '.join(SECRET_NAMES[task])})", field=key, source="secrets block",
                    line=key_line(secrets_text, key))
            target, name = (secrets, secret) if secret else (params, param or key)
            if name in target:
                raise ConfigError(f"given in both blocks ({origin[name]} and {block}); keep "
                                  "one", field=name, line=key_line(blocks[block], key),
                                  source=f"{block} block")
            target[name] = value
            origin[name] = block
    try:
        normalized = normalize_parameters(task, params)
    except ConfigError as err:
        block = origin.get(canonical_name(err.field, PARAMETER_NAMES[task]) or err.field,
                           "parameters")
        raise err.located(line=key_line(blocks[block], err.field),
                          source=f"{block} block") from None
    return normalized, _check_secrets(secrets, origin, blocks)


def _check_secrets(secrets: Mapping[str, Any], origin: Mapping[str, str],
                   blocks: Mapping[str, str]) -> dict[str, str]:
    result: dict[str, str] = {}
    for name, value in secrets.items():
        line = key_line(blocks[origin[name]], name)
        where = f"{origin[name]} block"
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ConfigError("a text value in quotes", field=name, line=line, source=where)
        text = str(value).strip()
        if _PLACEHOLDER.match(text):
            raise ConfigError("replace the XXXX placeholder with your value", field=name,
                              line=line, source=where)
        if text:
            result[name] = text
    return result
