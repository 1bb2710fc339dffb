"""The sandbox's `conditions` grammar: what it matches and what it must reject."""

from __future__ import annotations

from typing import Any

import pytest

from atria_tui.sandbox.connectwise.conditions import ConditionError, matches, parse, resolve

COMPANY = {"id": 253, "identifier": "O'Brien", "name": "O'Brien & Sons", "deletedFlag": False}
QUOTED = {"id": 254, "identifier": 'Say "Hi" Ltd', "name": "Quote Test Ltd"}
AGREEMENT = {
    "id": 600,
    "name": "Acme Hosting",
    "type": {"id": 3, "name": "Hosting and Cloud Services"},
    "company": {"id": 250, "identifier": "AcmeServices"},
    "cancelledFlag": False,
    "parentAgreement": None,
}
ADDITION = {
    "id": 3000,
    "product": {"id": 1, "identifier": "M365-BP"},
    "quantity": 10.0,
    "cancelledDate": None,
    "effectiveDate": "2024-07-01T00:00:00Z",
}


def ids(expr: str, rows: list[dict[str, Any]]) -> list[int]:
    cond = parse(expr)
    return [r["id"] for r in rows if cond.matches(r)]


def test_equality_is_case_insensitive_like_the_service_collation() -> None:
    assert matches('identifier="o\'brien"', COMPANY)
    assert matches('IDENTIFIER = "O\'BRIEN"', COMPANY)
    assert not matches('identifier="OBrien"', COMPANY)


def test_apostrophe_inside_double_quotes_is_an_ordinary_character() -> None:
    assert matches('identifier="O\'Brien" and name="O\'Brien & Sons"', COMPANY)


def test_escaped_double_quote_and_backslash() -> None:
    assert matches('identifier="Say \\"Hi\\" Ltd"', QUOTED)
    assert matches('name="C:\\\\temp"', {"name": "C:\\temp"})
    assert not matches('identifier="Say \\"Hi\\""', QUOTED)


@pytest.mark.parametrize(
    ("expr", "fragment"),
    [
        ('identifier="Say ""Hi"" Ltd"', "position"),  # doubled quotes are not an escape
        ('identifier="C:\\temp"', "invalid escape"),
        ('identifier="unterminated', "unterminated string"),
        ("identifier='ABC'", "double quotes"),
        ("identifier=", "expected a value"),
        ('identifier="A" and', "expected a field name"),
        ('(identifier="A"', "expected ')'"),
        ('identifier="A")', "end of expression"),
        ("id in ()", "expected a value"),
        ("id in 1, 2", "'(' after 'in'"),
        ('identifier "A"', "expected an operator"),
        ('identifier not = "A"', "'in', 'like' or 'contains' after 'not'"),
        ("id like 5", "double-quoted string"),
        ("effectiveDate > [2025-13-01]", "invalid date"),
        ("effectiveDate > [2025-01-01", "unterminated date"),
        ('type/ = "x"', "invalid field path"),
        ("id = 5 ; drop", "unexpected character"),
        ("id in (1, null)", "null is not allowed"),
    ],
)
def test_malformed_expressions_raise_clear_errors(expr: str, fragment: str) -> None:
    with pytest.raises(ConditionError) as info:
        parse(expr)
    assert fragment in str(info.value)
    assert str(info.value).startswith("conditions:")


def test_in_and_not_in_with_strings_and_numbers() -> None:
    rows = [COMPANY, QUOTED, {"id": 250, "identifier": "AcmeServices"}]
    assert ids('identifier in ("acmeservices", "O\'Brien")', rows) == [253, 250]
    assert ids("id in (250, 254)", rows) == [254, 250]
    assert ids("id not in (250, 254)", rows) == [253]


def test_like_with_star_and_percent_and_not_like() -> None:
    rows = [COMPANY, QUOTED, {"id": 250, "identifier": "AcmeServices"}]
    assert ids('identifier like "acme*"', rows) == [250]
    assert ids('identifier like "%Hi%"', rows) == [254]
    assert ids('identifier not like "%Hi%"', rows) == [253, 250]
    # like is anchored: a bare word is an exact match, not a substring
    assert ids('identifier like "Acme"', rows) == []


def test_contains_and_not_contains() -> None:
    rows = [COMPANY, QUOTED]
    assert ids('name contains "& son"', rows) == [253]
    assert ids('name not contains "& son"', rows) == [254]


def test_nested_paths() -> None:
    assert matches('type/name="Hosting and Cloud Services" and company/id in (250, 256)', AGREEMENT)
    assert matches('product/identifier = "m365-bp"', ADDITION)
    assert resolve(AGREEMENT, "company/identifier") == "AcmeServices"
    assert resolve(AGREEMENT, "parentAgreement/id") is None
    assert not matches("parentAgreement/id = 5", AGREEMENT)


def test_and_binds_tighter_than_or_and_parentheses_override() -> None:
    row = {"id": 1, "a": 1, "b": 2, "c": 3}
    assert matches("a = 9 and b = 9 or c = 3", row)  # (F and F) or T
    assert not matches("a = 9 and (b = 9 or c = 3)", row)  # F and (F or T)
    assert matches("a = 1 or b = 9 and c = 9", row)  # T or (F and F)
    assert matches("not (a = 9) and not b = 9", row)
    assert matches("A = 1 AND (B = 2 OR C = 4)", row)  # keywords are case-insensitive


def test_numbers_booleans_and_comparisons() -> None:
    assert matches("quantity >= 10 and quantity < 10.5 and quantity != 3", ADDITION)
    assert matches("quantity = -0 or quantity > -1", ADDITION)
    assert matches("cancelledFlag = false", AGREEMENT)
    assert not matches("cancelledFlag = true", AGREEMENT)
    assert matches("id > 599 and id <= 600", AGREEMENT)


def test_dates_and_null_semantics() -> None:
    live = dict(ADDITION)
    blank = dict(ADDITION, id=3001, cancelledDate="")
    ended = dict(ADDITION, id=3002, cancelledDate="2025-03-31T00:00:00Z")
    rows = [live, blank, ended]
    assert ids("cancelledDate = null", rows) == [3000, 3001]  # "" is how unset dates come back
    assert ids("cancelledDate != null", rows) == [3002]
    assert ids("cancelledDate < [2026-01-01T00:00:00Z]", rows) == [3002]
    # SQL three-valued logic: NOT(unknown) is still unknown, so NULL rows stay out.
    assert ids("not cancelledDate < [2026-01-01T00:00:00Z]", rows) == []
    assert ids("cancelledDate = null or cancelledDate > [2026-01-01]", rows) == [3000, 3001]
    assert ids("effectiveDate >= [2024-07-01]", rows) == [3000, 3001, 3002]


def test_type_mismatch_is_unknown_not_an_exception() -> None:
    assert not matches('quantity = "lots"', ADDITION)
    assert matches('quantity = "10"', ADDITION)
    assert not matches("identifier > 5", COMPANY)


def test_empty_conditions_match_everything_and_paths_are_reported() -> None:
    assert matches("", COMPANY)
    assert matches(None, COMPANY)
    assert parse("   ").paths() == set()
    expr = 'type/name="x" and (company/id in (1) or not name like "a*")'
    assert parse(expr).paths() == {"type/name", "company/id", "name"}
