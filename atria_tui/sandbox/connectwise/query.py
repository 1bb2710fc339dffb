"""List-query semantics of the ConnectWise sandbox: conditions, orderBy, fields, paging.

Split out of the HTTP module because this is where strictness pays: a client that forgets
to page, builds `Link` URLs by hand, quotes a condition badly or asks for a field that does
not exist must fail here the way it would against the real service, not silently succeed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from atria_tui.sandbox.connectwise.conditions import Condition, ConditionError, parse, resolve
from atria_tui.sandbox.connectwise.state import CwError

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 1000


def bad_request(message: str, field: str | None = None) -> CwError:
    errors = None
    if field is not None:
        errors = [{"code": "InvalidField", "message": message, "resource": "query", "field": field}]
    return CwError(400, "InvalidObject", message, errors)


@dataclass(frozen=True)
class ListQuery:
    condition: Condition
    fields: tuple[str, ...] | None
    order: tuple[tuple[str, bool], ...]  # (path, descending)
    page: int
    page_size: int
    page_id: int | None
    forward_only: bool


def known_paths(rows: Iterable[Mapping[str, Any]]) -> dict[str, set[str] | None]:
    """Top-level field -> known sub-fields (lower-case); None = any sub-field (null objects)."""
    out: dict[str, set[str] | None] = {}
    for row in rows:
        for key, value in row.items():
            low = key.lower()
            if isinstance(value, Mapping):
                subs = out.get(low)
                merged = set(subs) if subs else set()
                merged.update(k.lower() for k in value)
                out[low] = merged
            else:
                out.setdefault(low, None)
    return out


def _check_path(path: str, schema: Mapping[str, set[str] | None], what: str) -> None:
    if not schema:
        return
    head, _, rest = path.partition("/")
    if head.lower() not in schema:
        raise bad_request(f"{what}: unknown field '{path}'", what)
    subs = schema[head.lower()]
    if rest and subs is not None and rest.split("/")[0].lower() not in subs:
        raise bad_request(f"{what}: unknown field '{path}'", what)


def _int_param(params: Mapping[str, str], name: str, default: int | None) -> int | None:
    raw = params.get(name.lower())
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise bad_request(f"{name} must be an integer, got '{raw}'", name) from None


def parse_list_query(
    params: Mapping[str, str],
    headers: Mapping[str, str],
    schema: Mapping[str, set[str] | None],
) -> ListQuery:
    """`params` keys must be lower-cased already (the service ignores parameter case)."""
    try:
        condition = parse(params.get("conditions"))
    except ConditionError as exc:
        raise bad_request(str(exc), "conditions") from None
    for path in condition.paths():
        _check_path(path, schema, "conditions")

    fields = None
    if params.get("fields"):
        fields = tuple(f.strip() for f in params["fields"].split(",") if f.strip())

    order: list[tuple[str, bool]] = []
    for part in (params.get("orderby") or "").split(","):
        words = part.split()
        if not words:
            continue
        if len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise bad_request(
                f"orderBy: expected 'field asc' or 'field desc', got '{part}'", "orderBy"
            )
        _check_path(words[0], schema, "orderBy")
        order.append((words[0], len(words) == 2 and words[1].lower() == "desc"))

    page = _int_param(params, "page", 1)
    page_size = _int_param(params, "pageSize", DEFAULT_PAGE_SIZE)
    assert page is not None and page_size is not None
    if page < 1:
        raise bad_request(f"page must be 1 or greater, got {page}", "page")
    if page_size < 1 or page_size > MAX_PAGE_SIZE:
        raise bad_request(
            f"pageSize must be between 1 and {MAX_PAGE_SIZE}, got {page_size}", "pageSize"
        )
    page_id = _int_param(params, "pageId", None)
    forward = headers.get("pagination-type", "").strip().lower() == "forward-only"
    return ListQuery(condition, fields, tuple(order), page, page_size, page_id, forward)


def _sort_key(value: Any) -> tuple[int, Any]:
    # SQL Server puts NULLs first in ascending order; strings compare case-insensitively.
    if value is None or value == "":
        return (0, 0)
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, int | float):
        return (1, value)
    return (2, str(value).casefold())


def select(rows: Iterable[dict[str, Any]], q: ListQuery) -> list[dict[str, Any]]:
    """Filter and order (id asc unless told otherwise, always id asc in forward-only)."""
    out = [r for r in rows if q.condition.matches(r)]
    out.sort(key=lambda r: int(r.get("id", 0)))
    if q.forward_only:
        if q.page_id is not None:
            out = [r for r in out if int(r.get("id", 0)) > q.page_id]
        return out
    for path, desc in reversed(q.order):

        def key(row: dict[str, Any], p: str = path) -> tuple[int, Any]:
            return _sort_key(resolve(row, p))

        out.sort(key=key, reverse=desc)
    return out


def project(row: Mapping[str, Any], fields: tuple[str, ...] | None) -> dict[str, Any]:
    """Apply `fields=a,b/c`: keep only those (nested) fields, spelled as the record spells
    them; unknown names are ignored, as the service does."""
    if fields is None:
        return dict(row)
    out: dict[str, Any] = {}
    for spec in fields:
        src: Any = row
        dst = out
        parts = spec.split("/")
        for i, part in enumerate(parts):
            if not isinstance(src, Mapping):
                break
            key = next((k for k in src if k.lower() == part.lower()), None)
            if key is None:
                break
            if i == len(parts) - 1 or not isinstance(src[key], Mapping):
                dst[key] = src[key]
                break
            dst = dst.setdefault(key, {})
            src = src[key]
    return out


def _url_with(url: str, query_items: list[tuple[str, str]], **replace: int) -> str:
    drop = {k.lower() for k in replace}
    kept = [(k, v) for k, v in query_items if k.lower() not in drop]
    kept.extend((k, str(v)) for k, v in replace.items())
    return f"{url}?{urlencode(kept)}"


def paginate(
    rows: list[dict[str, Any]],
    q: ListQuery,
    base_url: str,
    query_items: list[tuple[str, str]],
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of rows and the `Link` header value (None when there is nothing to link).

    `base_url` is the absolute request URL without its query (including any mount prefix),
    so the links work wherever the app is mounted.
    """
    if q.forward_only:
        chunk = rows[: q.page_size]
        if len(rows) > q.page_size:
            nxt = _url_with(base_url, query_items, pageId=int(chunk[-1]["id"]))
            return chunk, f'<{nxt}>; rel="next"'
        return chunk, None
    last = max(1, -(-len(rows) // q.page_size))
    start = (q.page - 1) * q.page_size
    chunk = rows[start : start + q.page_size]
    links: list[str] = []
    if q.page > 1:
        links.append(f'<{_url_with(base_url, query_items, page=1)}>; rel="first"')
        prev = min(q.page - 1, last)
        links.append(f'<{_url_with(base_url, query_items, page=prev)}>; rel="prev"')
    if q.page < last:
        links.append(f'<{_url_with(base_url, query_items, page=q.page + 1)}>; rel="next"')
    links.append(f'<{_url_with(base_url, query_items, page=last)}>; rel="last"')
    return chunk, ", ".join(links)
