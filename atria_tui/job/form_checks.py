"""Checks the job form runs on every keystroke, kept free of Textual so they are unit tested.

Each check returns a `Check`: an error (the field blocks saving) or a hint (what the
value will mean: the next runs of a cron, the period a BillingPeriod resolves to). The
hint matters as much as the error: "0 22 26 * *" is valid either way, but seeing
"Thu 2026-11-26 22:00" is how a user notices they meant the 25th.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from atria_tui.core.periods import PeriodError, resolve_period
from atria_tui.job.file import next_runs, validate_cron
from atria_tui.job.parameters import check_api_url

__all__ = ["Check", "api_url", "billing_period", "contract_type", "cron", "customers",
           "fmt_when", "label", "parse_customers", "source_path", "start_day"]

SANDBOX = "sandbox://"


@dataclass(frozen=True, slots=True)
class Check:
    error: str | None = None
    hint: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None


def fmt_when(when: datetime) -> str:
    return when.strftime("%a %Y-%m-%d %H:%M")


def label(text: str) -> Check:
    if not text.strip():
        return Check("enter a label, e.g. \"Transfer Billing Data to ConnectWise\"")
    return Check()


def cron(text: str, now: datetime) -> Check:
    problem = validate_cron(text)
    if problem:
        return Check(problem)
    runs = next_runs(text, now, 3)
    return Check(hint="next: " + ", ".join(fmt_when(r) for r in runs))


def start_day(text: str) -> tuple[Check, int | None]:
    value = text.strip()
    if not value.isdigit() or not 1 <= int(value) <= 28:
        return Check("a day of the month from 1 to 28 (the day Atria's periods start)"), None
    return Check(), int(value)


def billing_period(text: str, day: int | None, today: date) -> Check:
    value = text.strip()
    if not value:
        return Check("Current, Previous or a date YYYY-MM-DD")
    try:
        period = resolve_period(value, day or 1, today)
    except PeriodError as exc:
        return Check(str(exc))
    if day is None:
        return Check(hint="the period shows once the start day is valid")
    span = f"the period {period.start.isoformat()} to {period.end.isoformat()}"
    relative = value.casefold() in ("current", "previous")
    return Check(hint=f"today that is {span}" if relative else span)


def api_url(text: str) -> Check:
    """The seed's URL rules, plus the embedded sandbox the demo jobs use."""
    value = text.strip()
    if value.casefold().startswith(SANDBOX):
        rest = value[len(SANDBOX):]
        if rest.split("/")[0] in ("connectwise", "kaseya", "autotask"):
            return Check(hint="embedded sandbox: nothing leaves this machine")
        return Check("sandbox URLs are sandbox://connectwise/…, sandbox://kaseya or "
                     "sandbox://autotask/…")
    problem = check_api_url(value)
    return Check(problem) if problem else Check()


def contract_type(text: str, default: str) -> Check:
    if not text.strip():
        return Check(hint=f"empty means {default!r}")
    return Check()


def parse_customers(text: str) -> list[str]:
    """`ASP, FR1,,asp` → ["ASP", "FR1", "asp"]: order kept, empties and repeats dropped."""
    seen: dict[str, None] = {}
    for part in text.split(","):
        if part.strip():
            seen.setdefault(part.strip(), None)
    return list(seen)


def customers(text: str) -> Check:
    if any(ch in text for ch in "\"'[]{}"):
        return Check("customer codes separated by commas, without quotes or brackets: "
                     "ASP, FR1")
    codes = parse_customers(text)
    if not codes:
        return Check(hint="empty: every customer")
    noun = "customer" if len(codes) == 1 else "customers"
    return Check(hint=f"{len(codes)} {noun}: {', '.join(codes)}")


def source_path(text: str, folder: Path | None) -> Check:
    """Required for a file source; a missing file only warns (it may be mounted later)."""
    value = text.strip()
    if not value:
        return Check("enter the Atria billing export (CSV or JSON), e.g. billing.csv")
    path = Path(value).expanduser()
    if not path.is_absolute() and folder is not None:
        path = folder / path
    if path.is_dir():
        return Check(f"{value} is a folder; enter the billing export file")
    if not path.exists():
        return Check(hint=f"not found yet: {path}")
    return Check(hint=f"found: {path.name}")
