from collections.abc import Iterator
from datetime import date, timedelta

import pytest

from atria_tui.core.model import Period
from atria_tui.core.periods import PeriodError, period_containing, previous_period, resolve_period


def _days(first: date, last: date) -> Iterator[date]:
    d = first
    while d <= last:
        yield d
        d += timedelta(days=1)


def test_start_day_26_runs_26th_to_25th() -> None:
    assert period_containing(date(2026, 11, 1), 26) == Period(date(2026, 10, 26),
                                                              date(2026, 11, 25))
    assert period_containing(date(2026, 10, 26), 26).end == date(2026, 11, 25)
    assert period_containing(date(2026, 11, 25), 26).start == date(2026, 10, 26)
    assert str(period_containing(date(2026, 11, 25), 26)) == "2026-11-25"


def test_start_day_1_is_the_calendar_month() -> None:
    assert period_containing(date(2024, 2, 10), 1) == Period(date(2024, 2, 1), date(2024, 2, 29))
    assert period_containing(date(2026, 12, 31), 1) == Period(date(2026, 12, 1),
                                                              date(2026, 12, 31))


def test_year_boundaries() -> None:
    assert period_containing(date(2027, 1, 5), 26) == Period(date(2026, 12, 26),
                                                             date(2027, 1, 25))
    assert period_containing(date(2026, 12, 27), 26) == Period(date(2026, 12, 26),
                                                               date(2027, 1, 25))
    jan = period_containing(date(2027, 1, 10), 15)
    assert previous_period(jan, 15) == Period(date(2026, 11, 15), date(2026, 12, 14))
    assert previous_period(period_containing(date(2027, 1, 1), 1), 1) == Period(
        date(2026, 12, 1), date(2026, 12, 31))


def test_every_day_of_2024_to_2027_for_every_start_day() -> None:
    """The property test (hypothesis is not installed): exhaustive over four years."""
    for start_day in range(1, 29):
        seen: dict[date, Period] = {}
        for d in _days(date(2024, 1, 1), date(2027, 12, 31)):
            p = period_containing(d, start_day)
            assert p.start <= d <= p.end
            assert p.start.day == start_day
            assert period_containing(p.end + timedelta(days=1), start_day).start == (
                p.end + timedelta(days=1))  # contiguous: the next one starts the day after
            prev = previous_period(p, start_day)
            assert prev.end == p.start - timedelta(days=1)
            assert 28 <= (p.end - p.start).days + 1 <= 31
            assert seen.setdefault(d, p) == p
        # exactly one period per date: periods do not overlap
        periods = sorted(set(seen.values()), key=lambda p: p.start)
        for a, b in zip(periods, periods[1:], strict=False):
            assert b.start == a.end + timedelta(days=1)


@pytest.mark.parametrize("spec", ["Current", "current", "  CURRENT \t"])
def test_current(spec: str) -> None:
    assert resolve_period(spec, 26, date(2026, 11, 30)) == Period(date(2026, 11, 26),
                                                                  date(2026, 12, 25))


def test_previous_on_the_first_day_of_a_period_is_the_one_that_just_closed() -> None:
    # The seed's schedule: job runs on the 26th with "Previous" → the period ending 25th.
    assert resolve_period("Previous", 26, date(2026, 11, 26)) == Period(date(2026, 10, 26),
                                                                        date(2026, 11, 25))
    assert resolve_period(" previous ", 26, date(2027, 1, 3)) == Period(date(2026, 11, 26),
                                                                        date(2026, 12, 25))


def test_a_date_selects_the_period_containing_it() -> None:
    assert resolve_period("2026-11-25", 26, date(2020, 1, 1)).end == date(2026, 11, 25)
    assert resolve_period("2026-11-26", 26, date(2020, 1, 1)).end == date(2026, 12, 25)
    assert resolve_period("2024-02-29", 1, date(2020, 1, 1)).end == date(2024, 2, 29)


@pytest.mark.parametrize("spec", ["", "   ", "Last", "2026-02-30", "2026-13-01", "2026-11",
                                  "26/11/2026", "20261125", "2026-11-25T00:00:00",
                                  "Current month", "٢٠٢٦-١١-٢٥"])
def test_anything_else_is_a_period_error(spec: str) -> None:
    with pytest.raises(PeriodError) as info:
        resolve_period(spec, 26, date(2026, 11, 30))
    assert "BillingPeriod" in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("start_day", [0, 29, 31, -1])
def test_start_day_out_of_range(start_day: int) -> None:
    with pytest.raises(PeriodError, match="1 to 28"):
        period_containing(date(2026, 1, 1), start_day)
    with pytest.raises(PeriodError, match="1 to 28"):
        resolve_period("Current", start_day, date(2026, 1, 1))


def test_edges_of_the_calendar_are_errors_not_crashes() -> None:
    with pytest.raises(PeriodError):
        resolve_period("9999-12-30", 26, date(2026, 1, 1))
    with pytest.raises(PeriodError):
        resolve_period("0001-01-03", 26, date(2026, 1, 1))
