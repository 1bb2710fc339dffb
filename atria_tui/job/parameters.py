"""The seed's task parameters: names, spellings, types, and the error users see.

Users copy parameter blocks from two guides that spell keys inconsistently (`apiUrl`,
`ApiUrl`; `ClientID`, `ClientId`) and write booleans as strings ("False"), so keys are
matched case-insensitively and values are coerced here, once, for the job file, the seed
import and the form alike. Emptiness of ApiUrl and the meaning of BillingPeriod are *not*
judged here: the run reports those with the seed's own codes (CW17/KS20, CW19/KS10).
The one-line ConfigError (and the TOML syntax-error helper) live here too, because both
the job file and the mappings file report through them. `config.py` re-exports the
public names; the split only keeps modules small.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal, TypeVar, cast
from urllib.parse import urlsplit

from atria_tui.core.model import Task
from atria_tui.psa import PROFILES

_T = TypeVar("_T")

_UNSET: Any = object()


class ConfigError(Exception):
    """One user-facing line: `<file>: line <n>: <field>: <expected>, got <value>`.

    Parts that are unknown are left out, so the same class serves the job file, the
    mappings file and pasted JSON blocks (`source` names the block in place of a file;
    they also have a column).
    """

    def __init__(self, expected: str, *, field: str = "", path: Path | None = None,
                 line: int | None = None, column: int | None = None,
                 got: Any = _UNSET, source: str = "") -> None:
        self.expected = expected
        self.source = source
        self.field = field
        self.path = path
        self.line = line
        self.column = column
        self.got = got
        super().__init__(self.message)

    @property
    def message(self) -> str:
        parts: list[str] = []
        if self.path is not None or self.source:
            parts.append(str(self.path) if self.path is not None else self.source)
        if self.line is not None:
            where = f"line {self.line}"
            if self.column is not None:
                where += f", column {self.column}"
            parts.append(where)
        if self.field:
            parts.append(self.field)
        text = self.expected
        if self.got is not _UNSET:
            text += f", got {show(self.got)}"
        parts.append(text)
        # Keys and values may hold line breaks (a quoted TOML key, a pasted block): the
        # message is printed as one line all the same.
        return " ".join(": ".join(parts).splitlines())

    def __str__(self) -> str:
        return self.message

    def located(self, path: Path | None = None, line: int | None = None,
                source: str = "") -> ConfigError:
        """The same error with a file and line filled in by the caller that knows them."""
        return ConfigError(self.expected, field=self.field, path=path or self.path,
                           line=line if line is not None else self.line,
                           column=self.column, got=self.got, source=source or self.source)


class Verbatim(str):
    """Text shown after "got" as it is (a source line), not as a quoted value."""


def show(value: Any) -> str:
    """A value as the user typed it in TOML/JSON terms, short enough for one line."""
    if isinstance(value, Verbatim):
        text = str(value)
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = '"' + value.replace("\n", "\\n") + '"'
    elif isinstance(value, dict):
        text = "a table"
    elif isinstance(value, date):
        text = value.isoformat()
    else:
        try:
            text = repr(value)
        except (RecursionError, ValueError):  # nested past repr's depth, or a huge int
            text = f"a nested {type(value).__name__}"
    return text if len(text) <= 80 else text[:77] + "..."


def line_of(text: str | None, key: str, table: str | None = None) -> int | None:
    """1-based line where `key = …` is written (inside `[table]` when given).

    The exact spelling wins over a different case, so of `ApiUrl` and `apiurl` each
    finds its own line.
    """
    if not text:
        return None
    return _find_key(text, key, table, 0) or _find_key(text, key, table, re.IGNORECASE)


def _find_key(text: str, key: str, table: str | None, flags: int) -> int | None:
    k = re.escape(key)
    pattern = re.compile(rf"""^\s*(?:"{k}"|'{k}'|{k})\s*=""", flags)
    header = re.compile(r"^\s*\[+\s*([^\]]+?)\s*\]+")
    current: str | None = None
    fallback: int | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        found = header.match(raw)
        if found:
            current = found.group(1).strip("\"'").lower()
            if table is None and re.fullmatch(k, current, flags | re.IGNORECASE):
                fallback = fallback or number  # `[key]` itself: the table is the value
            continue
        if pattern.match(raw):
            if current == (table.lower() if table else None):
                return number
            fallback = fallback or number
    return fallback


def load_toml(path: Path, what: str, parse: Callable[[dict[str, Any], str], _T], *,
              missing: Callable[[], _T] | None = None) -> _T:
    """Read a TOML file people edit by hand (a job, its mappings) and `parse(data, text)`
    it; every problem, from the disk to the parser's limits, is one `ConfigError` naming
    the file (and line). `missing`, if given, answers for a file that does not exist."""
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except FileNotFoundError as err:
        if missing is not None:
            return missing()
        raise ConfigError(f"a readable {what}", path=path,
                          got=Verbatim(err.strerror or str(err))) from None
    except OSError as err:
        raise ConfigError(f"a readable {what}", path=path,
                          got=Verbatim(err.strerror or str(err))) from None
    except UnicodeDecodeError:
        raise ConfigError("a UTF-8 text file", path=path) from None
    except ValueError as err:  # a NUL byte in the path
        raise ConfigError(f"a readable {what}", path=path, got=Verbatim(str(err))) from None
    try:
        return parse(tomllib.loads(text), text)
    except tomllib.TOMLDecodeError as err:
        raise toml_error(err, path, text) from None
    except (RecursionError, ValueError) as err:
        raise toml_limit_error(err, path) from None


def toml_limit_error(err: Exception, path: Path) -> ConfigError:
    """What tomllib raises past its limits (not a TOMLDecodeError): values nested deeper than
    Python's recursion allows, integers longer than its 4300-digit conversion limit."""
    if isinstance(err, RecursionError):
        return ConfigError("valid TOML (lists or tables nested too deeply to read)", path=path)
    return ConfigError(f"valid TOML ({' '.join(str(err).split())[:120]})", path=path)


_TOML_POS = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


def toml_error(err: tomllib.TOMLDecodeError, path: Path, text: str) -> ConfigError:
    """A TOML syntax error as a ConfigError with line, column and the line's text."""
    msg = str(err)
    line = getattr(err, "lineno", None)
    column = getattr(err, "colno", None)
    found = _TOML_POS.search(msg)
    if found:
        line, column = int(found.group(1)), int(found.group(2))
        msg = msg[: found.start()]
    lines = text.splitlines()
    got = Verbatim(lines[line - 1].strip()) if line and 0 < line <= len(lines) else None
    error = ConfigError(f"valid TOML ({msg.strip() or 'syntax error'})", path=path,
                        line=line, column=column)
    if got is not None:
        error = ConfigError(error.expected, path=path, line=line, column=column, got=got)
    return error


# --- names ---------------------------------------------------------------------------

PARAMETER_NAMES: dict[Task, tuple[str, ...]] = {
    t: p.parameter_names for t, p in PROFILES.items()}
# A job's secrets: its PSA's, and the Atria API token for an `api` source.
SECRET_NAMES: dict[Task, tuple[str, ...]] = {
    t: (*p.secret_names, "AtriaToken") for t, p in PROFILES.items()}
# The Kaseya guide's code table calls the parameter "SKUMatchField" once; accept it.
_ALIASES = {"skumatchfield": "SKUFieldMatch"}

SkuFieldMatch = Literal["ServiceName", "Description", "SKUDescription"]
SKU_FIELD_MATCHES: tuple[SkuFieldMatch, ...] = ("ServiceName", "Description", "SKUDescription")
DEFAULT_CONTRACT_TYPE = {t: p.default_contract_type for t, p in PROFILES.items()}
CONTRACT_TYPE_PARAM = {t: p.contract_type_param for t, p in PROFILES.items()}
API_URL_PARAM = {t: p.api_url_param for t, p in PROFILES.items()}


def canonical_name(key: str, names: Iterable[str]) -> str | None:
    """The canonical spelling of `key` among `names`, or None when it is not one of them."""
    folded = key.strip().casefold()
    folded = _ALIASES.get(folded, folded).casefold()
    for name in names:
        if name.casefold() == folded:
            return name
    return None


def all_known_names() -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for table in (PARAMETER_NAMES, SECRET_NAMES):
        for names in table.values():
            seen.update(dict.fromkeys(names))
    return tuple(seen)


# --- value coercion --------------------------------------------------------------------

_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off", ""}


def to_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        key = value.strip().casefold()
        if key in _TRUE:
            return True
        if key in _FALSE:
            return False
    raise ConfigError("true or false", field=name, got=value)


def to_str(value: Any, name: str) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, date):  # TOML date literal, e.g. BillingPeriod = 2024-05-25
        return value.isoformat()
    raise ConfigError("a text value in quotes", field=name, got=value)


def to_customer_list(value: Any, name: str = "CustomersFilter") -> list[str]:
    """A list, a comma-separated string, or "" (all customers), as the guides allow."""
    if value is None:
        return []
    if isinstance(value, str):
        items: list[Any] = value.split(",")
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise ConfigError('a list of customer codes, e.g. ["ASP", "FR1"]', field=name,
                          got=value)
    result: dict[str, None] = {}
    for item in items:
        if not isinstance(item, str):
            raise ConfigError("customer codes in quotes", field=name, got=item)
        if item.strip():
            result[item.strip()] = None
    return list(result)


def to_sku_field_match(value: Any, name: str = "SKUFieldMatch") -> SkuFieldMatch:
    if isinstance(value, str):
        folded = value.strip().casefold()
        if not folded:
            return "ServiceName"
        for choice in SKU_FIELD_MATCHES:
            if choice.casefold() == folded:
                return choice
    raise ConfigError("one of " + ", ".join(SKU_FIELD_MATCHES), field=name, got=value)


_COERCE = {
    "ApiUrl": to_str,
    "BaseUrl": to_str,
    "ZoneUser": to_str,
    "AgreementType": to_str,
    "ContractType": to_str,
    "BillingPeriod": to_str,
    "AllowAtriaCreateAdditions": to_bool,
    "CustomersFilter": to_customer_list,
    "SKUFieldMatch": to_sku_field_match,
}


def canonical_parameters(task: Task, params: Mapping[str, Any]) -> dict[str, Any]:
    """Keys in canonical spelling (unknown keys kept as written); values untouched."""
    result: dict[str, Any] = {}
    for key, value in params.items():
        result[canonical_name(key, PARAMETER_NAMES[task]) or key] = value
    return result


def validate_parameters(task: Task, params: Mapping[str, Any], *, path: Path | None = None,
                        text: str | None = None, table: str | None = "parameters"
                        ) -> list[ConfigError]:
    """Every problem with a parameter table: unknown names, duplicates, wrong types.

    `text` (the file or pasted block) lets each error carry the line it is on.
    """
    names = PARAMETER_NAMES[task]
    errors: list[ConfigError] = []
    seen: dict[str, str] = {}

    def add(err: ConfigError, key: str) -> None:
        errors.append(err.located(path, line_of(text, key, table)))

    for key, value in params.items():
        name = canonical_name(key, names)
        if name is None:
            hint = ""
            owners = [t.psa_name for t, other in PARAMETER_NAMES.items()
                      if t is not task and canonical_name(key, other)]
            if owners:
                hint = f"; {key} is a {' and '.join(owners)} parameter"
            add(ConfigError(f"unknown parameter for {task.psa_name} (expected one of "
                            f"{', '.join(names)}{hint})", field=key), key)
            continue
        if name in seen:
            add(ConfigError(f"given twice (also as {seen[name]}); keep one", field=key), key)
            continue
        seen[name] = key
        try:
            _COERCE[name](value, key)
        except ConfigError as err:
            add(err, key)
    return errors


def normalize_parameters(task: Task, params: Mapping[str, Any]) -> dict[str, Any]:
    """Canonical keys and canonical value types, ready to be written to the job file.

    Raises the first ConfigError (unknown keys included): used by the seed import, where
    a misspelt key would otherwise be silently ignored by the run.
    """
    errors = validate_parameters(task, params)
    if errors:
        raise errors[0]
    result: dict[str, Any] = {}
    for key, value in params.items():
        name = canonical_name(key, PARAMETER_NAMES[task])
        assert name is not None  # validated above
        result[name] = _COERCE[name](value, key)
    return result


@dataclass(slots=True)
class JobParams:
    """The parameters as the engine uses them, defaults applied (seed note 3 for CW)."""

    api_url: str = ""
    contract_type: str = ""
    allow_create: bool = False
    billing_period: str = "Current"
    customers_filter: list[str] = field(default_factory=list)
    sku_field_match: SkuFieldMatch = "ServiceName"


def params_for(task: Task, params: Mapping[str, Any]) -> JobParams:
    """Typed parameters; raises ConfigError on a value of the wrong type."""
    canon = canonical_parameters(task, params)

    def get(name: str) -> Any:
        return canon.get(name)

    names = PARAMETER_NAMES[task]
    contract_name = CONTRACT_TYPE_PARAM[task]
    contract = to_str(get(contract_name), contract_name) if get(contract_name) else ""
    period = to_str(get("BillingPeriod"), "BillingPeriod") if get("BillingPeriod") else ""
    url_name = API_URL_PARAM[task]
    return JobParams(
        api_url=to_str(get(url_name), url_name) if get(url_name) is not None else "",
        contract_type=contract or DEFAULT_CONTRACT_TYPE[task],
        allow_create=("AllowAtriaCreateAdditions" in names
                      and get("AllowAtriaCreateAdditions") is not None
                      and to_bool(get("AllowAtriaCreateAdditions"),
                                  "AllowAtriaCreateAdditions")),
        billing_period=period or "Current",
        customers_filter=to_customer_list(get("CustomersFilter")),
        sku_field_match=(to_sku_field_match(get("SKUFieldMatch"))
                         if "SKUFieldMatch" in names and get("SKUFieldMatch") is not None
                         else cast(SkuFieldMatch, "ServiceName")),
    )


def check_api_url(url: str) -> str | None:
    """A message for the form when `url` cannot be a PSA API base URL, else None."""
    text = url.strip()
    if not text:
        return "enter the PSA API base URL (https://…, as your PSA vendor gives it)"
    if any(ch.isspace() for ch in text):
        return "the URL must not contain spaces"
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as err:
        return f"not a valid URL: {text} ({err})"
    if parts.scheme.lower() not in ("http", "https"):
        return "the URL must start with https:// (or http:// for a local sandbox)"
    if not parts.hostname:
        return "the URL has no host name after https://"
    return None
