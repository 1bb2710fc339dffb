"""Kaseya BMS sessions: the response envelope, bearer tokens, and the one-retry-on-401 rule.

Kept apart from the adapter so the rules that decide whether a call may be trusted (what a
failed envelope means, when a token is renewed, when to give up) are stated once. Kaseya
tokens are short-lived (minutes), so a long run always renews: proactively shortly before
`accessTokenExpireOn`, and reactively after a 401 (a token revoked or expired server-side).
Many concurrent calls can see the same 401; a lock plus a generation counter makes sure
the token is renewed once, not once per caller.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from atria_tui.adapters.http import HttpClient
from atria_tui.psa.errors import ErrorKind, RemoteError

Clock = Callable[[], datetime]
MAX_MARGIN = timedelta(seconds=60)
ROUTE_HINT = ("; this host does not serve the route: run `atria-tui doctor` on the job to "
              "find the route the tenant answers, and set it in the job's [endpoints]")


def utcnow() -> datetime:
    return datetime.now(UTC)


def lower_keys(obj: Any) -> dict[str, Any]:
    """A JSON object with case-folded keys: tenants answer camelCase, the swagger PascalCase."""
    if not isinstance(obj, dict):
        return {}
    return {str(k).casefold(): v for k, v in obj.items()}


def secret(secrets: Mapping[str, str], name: str) -> str:
    """Secrets pasted from the seed may spell `Username` or `UserName`."""
    for key, value in secrets.items():
        if key.casefold() == name.casefold():
            return str(value).strip()
    return ""


def _page_text(resp: httpx.Response) -> str:
    """A few words of a non-JSON answer (an HTML error page's title), for the message."""
    text = resp.text[:2000]
    title = re.search(r"<title[^>]*>(.*?)</title>", text, re.I | re.S)
    words = title.group(1) if title else re.sub(r"<[^>]+>", " ", text)
    words = " ".join(words.split())[:80]
    kind = resp.headers.get("content-type", "").split(";")[0].strip() or "no content type"
    return f"{kind}" + (f": {words!r}" if words else "")


def parse_body(resp: httpx.Response, what: str) -> Any:
    """The JSON answer. An error answered with a page that is not JSON (a proxy's or the
    web server's HTML 404/405/502) is an HTTP error that names the status and the route,
    not a decoding failure: on a host that does not serve the route that is the answer."""
    if not resp.content:
        return None
    try:
        return json.loads(resp.content, parse_float=Decimal)  # money: no binary floats
    except ValueError as exc:
        status = resp.status_code
        if not 200 <= status < 300:
            kind: ErrorKind = "route" if status in (404, 405) else "http"
            raise RemoteError(kind, f"HTTP {status} from {what}: the answer is not the API's "
                              f"JSON ({_page_text(resp)})" + (ROUTE_HINT if kind == "route"
                                                             else ""), status) from None
        raise RemoteError("decode", f"invalid JSON from {what} (HTTP {resp.status_code}): {exc}",
                       resp.status_code) from exc
    except RecursionError:
        raise RemoteError("decode", f"invalid JSON from {what} (HTTP {resp.status_code}): nested "
                       "too deeply to read", resp.status_code) from None


def error_text(body: Any) -> str:
    """`error.message` plus details and sub-errors, whichever the tenant filled in."""
    env = lower_keys(body)
    err = env.get("error")
    if isinstance(err, str):
        return err
    e = lower_keys(err)
    parts = [str(e[k]) for k in ("message", "details") if e.get(k)]
    subs = e.get("suberrors")
    if isinstance(subs, list) and subs:
        parts.append("; ".join(str(s) for s in subs[:3]))
    return " - ".join(parts)


def unwrap(resp: httpx.Response, body: Any, what: str, envelope: str = "v2"
           ) -> tuple[Any, int | None]:
    """(result, totalRecords) of a `{success, error, result}` envelope, or a RemoteError.
    A `plain` answer (V1) is the result itself, or an OData `{"value": […]}`."""
    status = resp.status_code
    if envelope == "plain":
        if not 200 <= status < 300:
            detail = error_text(body) if isinstance(body, dict) else ""
            kind: ErrorKind = "route" if status == 405 else "http"
            raise RemoteError(kind, f"HTTP {status} from {what}: {detail or 'no details'}",
                              status, body)
        if isinstance(body, dict) and isinstance(lower_keys(body).get("value"), list):
            return lower_keys(body)["value"], None
        return body, None
    if not isinstance(body, dict):
        if 200 <= status < 300:
            raise RemoteError("decode", f"{what}: expected a JSON object envelope, got "
                           f"{type(body).__name__}", status, body)
        raise RemoteError("http", f"HTTP {status} from {what}: no details", status, body)
    env = lower_keys(body)
    if not (200 <= status < 300) or env.get("success") is False:
        msg = error_text(body) or "no details"
        # 405 is the route refusing the method whatever the body: not a per-record error.
        raise RemoteError("route" if status == 405 else "http",
                          f"HTTP {status} from {what}: {msg}" + (ROUTE_HINT if status == 405
                                                                 else ""), status, body)
    total = env.get("totalrecords")
    if total is not None and (isinstance(total, bool) or not isinstance(total, int)):
        raise RemoteError("decode", f"{what}: totalRecords is not an integer: {total!r}", status)
    return env.get("result"), total


def _expiry(value: Any) -> datetime | None:
    """Absolute expiry; a missing or odd value means "renew only when refused"."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


class KaseyaAuth:
    """Holds the bearer token and performs every authenticated call."""

    def __init__(self, http: HttpClient, secrets: Mapping[str, str], *, login_path: str,
                 refresh_path: str, clock: Clock = utcnow) -> None:
        self.http = http
        self.secrets = secrets
        self._creds = {"GrantType": "password", "UserName": secret(secrets, "UserName"),
                       "Password": secret(secrets, "Password"),
                       "Tenant": secret(secrets, "Tenant")}
        self.login_path = login_path
        self.refresh_path = refresh_path
        self.clock = clock
        self._lock = asyncio.Lock()
        self._access = ""
        self._refresh = ""
        self._expires: datetime | None = None
        self._margin = MAX_MARGIN
        self.generation = 0
        self.logins = 0
        self.refreshes = 0

    # -- token lifecycle ---------------------------------------------------------------

    def _stale(self) -> bool:
        if not self._access:
            return True
        return self._expires is not None and self.clock() >= self._expires - self._margin

    async def token(self) -> tuple[str, int]:
        """A usable access token and its generation, renewed first if it is about to lapse."""
        if self._stale():
            async with self._lock:
                if self._stale():
                    await self._renew()
        return self._access, self.generation

    async def refused(self, generation: int) -> None:
        """A call with token `generation` got 401: renew, unless another caller already did."""
        async with self._lock:
            if generation == self.generation:
                await self._renew()

    async def _renew(self) -> None:
        if self._refresh and await self._try_refresh():
            return
        await self._login()

    async def _login(self) -> None:
        what = f"POST {self.login_path}"
        resp = await self.http.request("POST", self.login_path, unlimited=True, form=self._creds,
                                       endpoint=self.login_path, idempotent=True)
        try:
            result = self._token_result(resp, what)
        except RemoteError as exc:
            raise RemoteError("auth", f"Kaseya login failed for user {self._creds['UserName']!r} "
                           f"on tenant {self._creds['Tenant']!r}: {exc}", exc.status) from None
        self.logins += 1
        self._store(result)

    async def _try_refresh(self) -> bool:
        what = f"POST {self.refresh_path}"
        form = {"AccessToken": self._access, "RefreshToken": self._refresh}
        resp = await self.http.request("POST", self.refresh_path, unlimited=True, form=form,
                                       endpoint=self.refresh_path, idempotent=True)
        try:
            result = self._token_result(resp, what)
        except RemoteError:
            return False  # refresh token spent or expired: a fresh login follows
        self.refreshes += 1
        self._store(result)
        return True

    def _token_result(self, resp: httpx.Response, what: str) -> dict[str, Any]:
        result, _ = unwrap(resp, parse_body(resp, what), what)
        fields = lower_keys(result)
        if not isinstance(fields.get("accesstoken"), str) or not fields["accesstoken"]:
            raise RemoteError("auth", f"{what}: the answer holds no accessToken", resp.status_code)
        return fields

    def _store(self, fields: dict[str, Any]) -> None:
        self._access = fields["accesstoken"]
        refresh = fields.get("refreshtoken")
        self._refresh = refresh if isinstance(refresh, str) else ""
        self._expires = _expiry(fields.get("accesstokenexpireon"))
        if self._expires is not None:
            ttl = self._expires - self.clock()
            self._margin = max(min(MAX_MARGIN, ttl / 4), timedelta(0))
        self.generation += 1

    # -- calls -----------------------------------------------------------------------------

    async def call(self, method: str, path: str, *, endpoint: str,
                   params: Mapping[str, Any] | None = None,
                   json_body: Any = None,
                   idempotent: bool | None = None, http: HttpClient | None = None,
                   envelope: str = "v2") -> tuple[Any, int | None]:
        """(result, totalRecords) of one authenticated call; one renewal and retry on 401.

        `idempotent` marks a POST that only reads (a search), so it may be retried; `http`
        sends it to another host than the login's (the UI host's routes)."""
        client = http or self.http
        what = f"{method} {endpoint}"
        generation = 0

        async def bearer() -> dict[str, str]:
            # Taken per attempt, after any budget wait, so a paced call never sends a token
            # that lapsed while it waited.
            nonlocal generation
            access, generation = await self.token()
            return {"Authorization": f"Bearer {access}"}

        for attempt in (1, 2):
            resp = await client.request(method, path, endpoint=endpoint, params=params,
                                        json_body=json_body, auth=bearer,
                                        idempotent=idempotent)
            if resp.status_code != 401:
                return unwrap(resp, parse_body(resp, what), what, envelope)
            if attempt == 2:
                break
            await self.refused(generation)
        raise RemoteError("auth", f"HTTP 401 from {what} again after renewing the token: the "
                       "API user may lack permission or the token is being refused", 401)


class V1Auth(KaseyaAuth):
    """The V1 API's token (`POST /api/token`, form `grant_type=password`, `username`,
    `password`, `tenant` → `access_token`, `expires_in` seconds) on the UI host, for the
    routes v2 does not document. No refresh token: a lapsed token means a new login."""

    async def _renew(self) -> None:
        what = f"POST {self.login_path}"
        form = {"grant_type": "password", "username": self._creds["UserName"],
                "password": self._creds["Password"], "tenant": self._creds["Tenant"]}
        resp = await self.http.request("POST", self.login_path, unlimited=True, form=form,
                                       endpoint=self.login_path, idempotent=True)
        body = parse_body(resp, what)
        fields = lower_keys(body)
        token = fields.get("access_token")
        if not 200 <= resp.status_code < 300 or not isinstance(token, str) or not token:
            detail = str(fields.get("error_description") or fields.get("error") or "no token")
            raise RemoteError("auth", f"Kaseya V1 login failed for user "
                              f"{self._creds['UserName']!r} on tenant {self._creds['Tenant']!r}: "
                              f"HTTP {resp.status_code} from {what}: {detail}", resp.status_code)
        self.logins += 1
        seconds = fields.get("expires_in")
        expires = (self.clock() + timedelta(seconds=float(seconds))
                   if isinstance(seconds, int | float | Decimal) and not isinstance(seconds, bool)
                   else None)
        self._store({"accesstoken": token, "accesstokenexpireon":
                     expires.isoformat() if expires else None})
