"""Atria billing periods: monthly, starting on a configured day, named by their end date.

Atria closes a period the day before the next one starts (start day 26 → 26th..25th), so
"Previous" on the 26th already means the period that closed last night. Start days stop at
28 because every month has a 28th; a 30th would make February's period undefined.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from atria_tui.core.model import Period

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class PeriodError(ValueError):
    """The BillingPeriod parameter (or the start day) cannot name a period (CW19 / KS10)."""


def _check_start_day(start_day: int) -> None:
    if isinstance(start_day, bool) or not isinstance(start_day, int) or not 1 <= start_day <= 28:
        raise PeriodError(
            f"period start day must be a whole number from 1 to 28, got {start_day!r}"
        )


def _shift_month(year: int, month: int, by: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + by
    return index // 12, index % 12 + 1


def period_containing(d: date, start_day: int) -> Period:
    _check_start_day(start_day)
    year, month = d.year, d.month
    if d.day < start_day:
        year, month = _shift_month(year, month, -1)
    next_year, next_month = _shift_month(year, month, 1)
    try:
        start = date(year, month, start_day)
        end = date(next_year, next_month, start_day) - timedelta(days=1)
    except (ValueError, OverflowError) as exc:
        raise PeriodError(f"no billing period contains {d.isoformat()} ({exc})") from None
    return Period(start, end)


def previous_period(p: Period, start_day: int) -> Period:
    try:
        day_before = p.start - timedelta(days=1)
    except OverflowError:
        raise PeriodError(f"no billing period precedes {p.start.isoformat()}") from None
    return period_containing(day_before, start_day)


def resolve_period(spec: str, start_day: int, today: date) -> Period:
    """Turn the seed's BillingPeriod value into a period.

    Only the three spellings the seeds document are accepted; guessing at "Last" or
    "2026-11" would push a month's quantities into the wrong invoice.
    """
    _check_start_day(start_day)
    text = spec.strip() if isinstance(spec, str) else ""
    key = text.casefold()
    if key == "current":
        return period_containing(today, start_day)
    if key == "previous":
        return previous_period(period_containing(today, start_day), start_day)
    if _ISO_DATE.fullmatch(text):
        try:
            d = date.fromisoformat(text)
        except ValueError:
            raise PeriodError(f"BillingPeriod {spec!r} is not a real date") from None
        return period_containing(d, start_day)
    raise PeriodError(
        f"BillingPeriod must be Current, Previous or a date YYYY-MM-DD, got {spec!r}"
    )
