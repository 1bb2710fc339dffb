"""The job's mappings file: fixes saved from the console, beside the job file.

A separate file (`<job stem>.mappings.toml`) rather than a table in the job: the console
writes it often while the user works through the unmapped queue, and keeping it apart
means a hand-edited job file is never rewritten (and its comments never lost) just
because a customer was mapped. Missing file = no mappings yet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomli_w

from atria_tui.core.model import Mappings
from atria_tui.core.paths import atomic_write
from atria_tui.job.parameters import ConfigError, line_of, load_toml

__all__ = ["load_mappings", "mappings_path", "save_mappings"]

_TABLES = ("customers", "skus", "descriptions")
_WHAT = {
    "customers": "Atria customer code = PSA Billing Identifier",
    "skus": "Atria SKU = PSA product code",
    "descriptions": "summary description = PSA product code",
}


def mappings_path(job_path: Path) -> Path:
    return job_path.with_name(f"{job_path.stem}.mappings.toml")


def load_mappings(path: Path) -> Mappings:
    return load_toml(path, "mappings file", lambda data, text: _parse(data, path, text),
                     missing=Mappings)


def _parse(data: dict[str, Any], path: Path, text: str) -> Mappings:
    result = Mappings()
    for key, value in data.items():
        if key == "managed":
            result.managed = _managed(value, path, text)
        elif key == "saved":
            result.saved = _saved(value)
        elif key in _TABLES:
            if not isinstance(value, dict):
                raise ConfigError(f"a [{key}] table of {_WHAT[key]}", field=key, path=path,
                                  line=line_of(text, key), got=value)
            table: dict[str, str] = getattr(result, key)
            for source, target in value.items():
                if not isinstance(target, str) or not target.strip():
                    raise ConfigError(f"a non-empty text value ({_WHAT[key]})",
                                      field=f"{key}.{source}", path=path,
                                      line=line_of(text, source, key), got=target)
                table[source] = target.strip()
        else:
            raise ConfigError("unknown setting (expected customers, skus, descriptions, "
                              "managed or saved)", field=key, path=path, line=line_of(text, key),
                              got=value)
    return result


def _managed(value: Any, path: Path, text: str) -> set[str]:
    expected = 'a list of PSA line ids, e.g. managed = ["123", "456"]'
    if not isinstance(value, list):
        raise ConfigError(expected, field="managed", path=path,
                          line=line_of(text, "managed"), got=value)
    ids: set[str] = set()
    for item in value:
        if isinstance(item, bool) or not isinstance(item, str | int):
            raise ConfigError(expected, field="managed", path=path,
                              line=line_of(text, "managed"), got=item)
        if str(item).strip():
            ids.add(str(item).strip())
    return ids


def _saved(value: Any) -> dict[tuple[str, str], tuple[str, str]]:
    """`[saved.<table>] key = {by = "…", at = "…"}`; anything else there is ignored: it
    only says who saved a fix, and a hand-edited entry must not stop a run."""
    out: dict[tuple[str, str], tuple[str, str]] = {}
    if not isinstance(value, dict):
        return out
    for table, entries in value.items():
        if table not in _TABLES or not isinstance(entries, dict):
            continue
        for key, who in entries.items():
            if isinstance(who, dict):
                out[(table, key)] = (str(who.get("by", "")), str(who.get("at", "")))
    return out


def _id_order(line_id: str) -> tuple[int, int, str]:
    """Numeric ids in numeric order (PSA ids are numbers), anything else after them."""
    return (0, int(line_id), "") if line_id.isdigit() else (1, 0, line_id)


def save_mappings(m: Mappings, path: Path) -> None:
    data: dict[str, Any] = {
        "managed": sorted(m.managed, key=_id_order),
        "customers": dict(sorted(m.customers.items())),
        "skus": dict(sorted(m.skus.items())),
        "descriptions": dict(sorted(m.descriptions.items())),
    }
    saved: dict[str, dict[str, dict[str, str]]] = {}
    for (table, key), (by, at) in sorted(m.saved.items()):
        if key in getattr(m, table, {}):  # a removed fix takes its line here with it
            saved.setdefault(table, {})[key] = {"by": by, "at": at}
    if saved:
        data["saved"] = saved
    atomic_write(path, tomli_w.dumps(data).encode("utf-8"))
