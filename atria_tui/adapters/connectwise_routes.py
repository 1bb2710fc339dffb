"""Every ConnectWise Manage route the adapter uses, as data a job can correct.

All of them are in the vendor's public OpenAPI document, so there is one shipped set; a
job's `[endpoints]` table may still move a route (a proxy that prefixes paths, a tenant on
another codebase path) without a release: `method` and `path` per route, with the
placeholders `{agreementId}` and `{additionId}`. Field names stay in the adapter: they are
documented and the same on every tenant.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    documented: bool = True

    def label(self) -> str:
        return f"{self.method} {self.path}"


ROUTES: dict[str, Route] = {
    "agreement_types": Route("GET", "/finance/agreements/types"),
    "agreements": Route("GET", "/finance/agreements"),
    "companies": Route("GET", "/company/companies"),
    "catalog": Route("GET", "/procurement/catalog"),
    "additions": Route("GET", "/finance/agreements/{agreementId}/additions"),
    "addition": Route("GET", "/finance/agreements/{agreementId}/additions/{additionId}"),
    "set_quantity": Route("PATCH", "/finance/agreements/{agreementId}/additions/{additionId}"),
    "add_addition": Route("POST", "/finance/agreements/{agreementId}/additions"),
}
PLACEHOLDERS = ("agreementId", "additionId")


class RouteError(ValueError):
    """An `[endpoints]` table that cannot be used: says which key and what was expected."""


def routes_for(endpoints: Mapping[str, Any] | None) -> dict[str, Route]:
    out = dict(ROUTES)
    for name, value in (endpoints or {}).items():
        if name not in ROUTES:
            raise RouteError(f"[endpoints] {name}: not a ConnectWise route; expected one of "
                             f"{', '.join(ROUTES)}")
        if not isinstance(value, Mapping):
            raise RouteError(f"[endpoints.{name}]: expected a table (method, path)")
        unknown = set(value) - {"method", "path"}
        if unknown:
            raise RouteError(f"[endpoints.{name}] {sorted(unknown)[0]}: unknown key; expected "
                             "method, path")
        changes: dict[str, Any] = {}
        if "method" in value:
            method = str(value["method"]).strip().upper()
            if method not in ("GET", "POST", "PUT", "PATCH"):
                raise RouteError(f"[endpoints.{name}] method: expected GET, POST, PUT or PATCH")
            changes["method"] = method
        if "path" in value:
            path = value["path"]
            if not isinstance(path, str) or not path.strip().startswith("/"):
                raise RouteError(f"[endpoints.{name}] path: expected a path starting with /")
            for found in re.findall(r"\{(\w+)\}", path):
                if found not in PLACEHOLDERS:
                    raise RouteError(f"[endpoints.{name}]: unknown placeholder {{{found}}}; "
                                     "expected {agreementId} or {additionId}")
            changes["path"] = path.strip()
        out[name] = replace(out[name], **changes)
    return out
