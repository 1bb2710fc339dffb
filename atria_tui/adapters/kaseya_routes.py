"""Every Kaseya BMS route and answer field the adapter uses, as data a job can correct.

No public source shows how a tenant lists a contract's service lines with their units, or
changes `Units` on one (the v2 swagger has only POST on `…/services`). So the routes are
data: shipped route sets (the v2 guesses on the API host; the same v2 paths under the UI
host's `/api2`, which the web app itself calls; V1 under the UI host's `/api`) and a job's
`[endpoints]` table that overrides any route without a release. `atria-tui doctor` finds
out, read-only, which of them a tenant answers.

A route names the host it lives on (`api`: the API host the ApiUrl maps to; `ui`: the
ApiUrl's own host), how it signs in (`v2`: `POST /v2/security/authenticate`; `v1`:
`POST /api/token`), its body template for writes and the answer's field names.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

Host = Literal["api", "ui"]
Sign = Literal["v2", "v1", "none"]
Envelope = Literal["v2", "plain"]

ROUTE_NAMES = ("login", "refresh", "accounts", "contracts", "services", "add_lines",
               "list_lines", "set_units", "login_v1")
# What each route's body template may use, and the answer fields the adapter reads.
PLACEHOLDERS = {
    "set_units": ("units", "effectiveDate", "lineId", "contractId", "serviceId"),
    "add_lines": ("serviceId", "serviceName", "description", "units", "unitCost", "unitPrice",
                  "effectiveDate"),
}
LINE_FIELDS = ("id", "serviceId", "serviceName", "description", "units", "unitPrice")
KEYS = {"method", "path", "host", "sign", "envelope", "body", "fields", "documented"}


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    documented: bool = True   # in the vendor's public swagger
    host: Host = "api"
    sign: Sign = "v2"
    envelope: Envelope = "v2"
    body: Any = None          # JSON template: "{units}" alone is the typed value
    fields: Mapping[str, str] = field(default_factory=dict)

    def label(self) -> str:
        return f"{self.method} {self.path}"

    def answer_field(self, name: str) -> str:
        """The answer's field for our `name` (compared case-insensitively)."""
        return self.fields.get(name, name).casefold()


_V2 = "/v2/finance/contracts/recurringservices/{contractId}/services"
_LINES_V2 = Route("GET", _V2, documented=False)
_UNITS_V2 = Route("PUT", _V2 + "/{lineId}", documented=False,
                  body={"Units": "{units}", "EffectiveDate": "{effectiveDate}"})

V2: dict[str, Route] = {
    "login": Route("POST", "/v2/security/authenticate", sign="none"),
    "refresh": Route("POST", "/v2/security/refreshtoken", sign="none"),
    "accounts": Route("GET", "/v2/crm/accounts/summary"),
    "contracts": Route("GET", "/v2/finance/contracts/summary"),
    "services": Route("POST", "/v2/admin/finance/services/search"),
    "add_lines": Route("POST", _V2, body=[{
        "ServiceId": "{serviceId}", "ServiceName": "{serviceName}",
        "ServiceDescription": "{description}", "Units": "{units}", "UnitCost": "{unitCost}",
        "UnitPrice": "{unitPrice}", "EffectiveDate": "{effectiveDate}"}]),
    "list_lines": _LINES_V2,
    "set_units": _UNITS_V2,
    "login_v1": Route("POST", "/api/token", documented=False, host="ui", sign="none",
                      envelope="plain"),
}


def _on_ui(route: Route, prefix: str) -> Route:
    return replace(route, host="ui", path=prefix + route.path)


# The web app calls V2 through its own host under /api2 (seen in the browser).
UI_API2: dict[str, Route] = {name: _on_ui(r, "/api2") if name != "login_v1" else r
                             for name, r in V2.items()}
UI_API2 = {name: replace(r, documented=False) if name in ("list_lines", "set_units") else r
           for name, r in UI_API2.items()}

# V1 under the UI host's /api ("can still be implemented when there is an endpoint available
# in V1 but not in V2"): only the two routes v2 does not document; PascalCase, no envelope.
V1_LINES: dict[str, Route] = {
    **V2,
    "list_lines": Route("GET", "/api/finance/contracts/recurringservices/{contractId}/services",
                        documented=False, host="ui", sign="v1", envelope="plain",
                        fields={"id": "Id", "serviceId": "ServiceId",
                                "serviceName": "ServiceName", "description": "Description",
                                "units": "Units", "unitPrice": "UnitPrice"}),
    "set_units": Route("PUT",
                       "/api/finance/contracts/recurringservices/{contractId}/services/{lineId}",
                       documented=False, host="ui", sign="v1", envelope="plain",
                       body={"Units": "{units}", "EffectiveDate": "{effectiveDate}"}),
}

SHIPPED: dict[str, dict[str, Route]] = {"v2": V2, "ui-api2": UI_API2, "v1-lines": V1_LINES}
DEFAULT_SET = "v2"
# The routes a plan and an apply use (login_v1 only when a route signs in with V1).
NEEDED = ("login", "accounts", "contracts", "services", "list_lines", "set_units")


class RouteError(ValueError):
    """An `[endpoints]` table that cannot be used: says which key and what was expected."""


def routes_for(endpoints: Mapping[str, Any] | None) -> dict[str, Route]:
    """The shipped set the job names (`routes = "…"`, default v2) with its overrides."""
    table = dict(endpoints or {})
    name = table.pop("routes", DEFAULT_SET)
    if not isinstance(name, str) or name not in SHIPPED:
        raise RouteError(f"[endpoints] routes = {name!r}: expected one of "
                         f"{', '.join(repr(n) for n in SHIPPED)}")
    out = dict(SHIPPED[name])
    for key, value in table.items():
        if key not in ROUTE_NAMES:
            raise RouteError(f"[endpoints] {key}: not a Kaseya route; expected one of "
                             f"{', '.join(ROUTE_NAMES)} (or routes = …)")
        if not isinstance(value, Mapping):
            raise RouteError(f"[endpoints.{key}]: expected a table (method, path, …)")
        out[key] = _override(key, out[key], value)
    return out


def _override(name: str, base: Route, value: Mapping[str, Any]) -> Route:
    unknown = set(value) - KEYS
    if unknown:
        raise RouteError(f"[endpoints.{name}] {sorted(unknown)[0]}: unknown key; expected "
                         f"{', '.join(sorted(KEYS))}")
    changes: dict[str, Any] = {}
    for key in ("method", "path", "host", "sign", "envelope"):
        if key in value:
            if not isinstance(value[key], str) or not value[key].strip():
                raise RouteError(f"[endpoints.{name}] {key}: expected a non-empty string")
            changes[key] = value[key].strip()
    if "method" in changes:
        changes["method"] = changes["method"].upper()
        if changes["method"] not in ("GET", "POST", "PUT", "PATCH"):
            raise RouteError(f"[endpoints.{name}] method: expected GET, POST, PUT or PATCH")
    if "path" in changes and not changes["path"].startswith("/"):
        raise RouteError(f"[endpoints.{name}] path: expected a path starting with /")
    for key, allowed in (("host", ("api", "ui")), ("sign", ("v2", "v1", "none")),
                         ("envelope", ("v2", "plain"))):
        if key in changes and changes[key] not in allowed:
            raise RouteError(f"[endpoints.{name}] {key}: expected one of {', '.join(allowed)}")
    if "path" in changes:
        _check_placeholders(name, changes["path"], ("contractId", "lineId"))
    if "body" in value:
        _check_placeholders(name, json.dumps(value["body"]), PLACEHOLDERS.get(name, ()))
        changes["body"] = copy.deepcopy(value["body"])
    if "fields" in value:
        fields = value["fields"]
        if not isinstance(fields, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) and v for k, v in fields.items()):
            raise RouteError(f"[endpoints.{name}] fields: expected a table of names, e.g. "
                             "{ units = \"Units\" }")
        if set(fields) - set(LINE_FIELDS):
            raise RouteError(f"[endpoints.{name}] fields: unknown name "
                             f"{sorted(set(fields) - set(LINE_FIELDS))[0]!r}; expected "
                             f"{', '.join(LINE_FIELDS)}")
        changes["fields"] = dict(fields)
    if "documented" in value:
        changes["documented"] = bool(value["documented"])
    return replace(base, **changes)


def _check_placeholders(name: str, text: str, allowed: tuple[str, ...]) -> None:
    for found in re.findall(r"\{(\w+)\}", text):
        if found not in allowed:
            raise RouteError(f"[endpoints.{name}]: unknown placeholder {{{found}}}; this route "
                             f"knows {', '.join('{' + a + '}' for a in allowed) or 'none'}")


def fill(template: Any, values: Mapping[str, Any]) -> Any:
    """A body template with its placeholders filled: a string that is exactly one
    placeholder becomes the typed value (Units stays a number), others are formatted."""
    if isinstance(template, str):
        whole = re.fullmatch(r"\{(\w+)\}", template)
        if whole:
            return values[whole.group(1)]
        return re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), template)
    if isinstance(template, list):
        return [fill(v, values) for v in template]
    if isinstance(template, dict):
        return {k: fill(v, values) for k, v in template.items()}
    return template


def path_of(route: Route, **ids: str) -> str:
    return route.path.format(**ids)
