"""Job files: one TOML file per scheduled job, as in design.md "Job configuration".

Job files are hand-edited as often as they are written by the form, so loading is strict
about types and names (a typo in `log_level` or `[options]` should not silently fall back
to a default) and every error names the file, line and field. Parameters are the
exception: unknown parameter keys are kept as written, because the seed lets users carry
their own, and `validate_parameters` reports them for the form to show.
Comments in a hand-edited file are not preserved when the console saves it (tomli_w).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import tomli_w
from cronsim import CronSim, CronSimError

from atria_tui.core.model import DEFAULT_MAX_QUANTITY, Level, Task
from atria_tui.core.paths import atomic_write, config_dir
from atria_tui.job.folder import free_path
from atria_tui.job.parameters import (
    PARAMETER_NAMES,
    ConfigError,
    JobParams,
    canonical_name,
    canonical_parameters,
    line_of,
    load_toml,
    params_for,
    to_bool,
    validate_parameters,
)
from atria_tui.psa import profile_of

__all__ = [
    "JobConfig", "Options", "SourceConfig", "job_params", "job_to_toml", "load_job",
    "new_job", "next_runs", "save_job", "validate_cron",
]

DEFAULT_CRON = "0 22 26 * *"


@dataclass(slots=True)
class SourceConfig:
    """Where Atria billing records come from; `path` is absolute once loaded."""

    kind: Literal["file", "api"] = "file"
    path: Path | None = None
    url: str = ""


@dataclass(slots=True)
class Options:
    """This tool's own knobs (the seed has none of these); all optional."""

    # Requests at once to the PSA: where the adaptive bound starts, and its ceiling (it
    # grows while the PSA answers as fast as when idle, halves on a 429 or a slowdown).
    concurrency: int = 6
    max_concurrency: int = 24
    page_size: int = 1000
    zero_mode: Literal["quantity", "cancel"] = "quantity"
    swing_threshold: float = 0.25
    call_budget_per_hour: int = 1500
    timeout_seconds: float = 30.0
    retries: int = 4
    max_quantity: int = DEFAULT_MAX_QUANTITY
    # A run still reading the PSA after this long stops (a server paging forever, a tenant
    # far bigger than expected) instead of holding the next cron run back.
    run_deadline_minutes: float = 240.0
    # ConnectWise's `Accept: …; version=2025.1`; empty sends the unversioned media type
    # (the API's current version). Kaseya jobs ignore it.
    connectwise_api_version: str = ""
    # Kaseya's Units is a whole number: how a fractional Atria quantity is rounded
    # ("up", "down", "nearest"); empty refuses it (TU16) so nobody is billed a guess.
    units_rounding: Literal["", "up", "down", "nearest"] = ""
    # When a unit change takes effect in Kaseya (it prorates): the billing period's first
    # day, or the day of the run.
    unit_change_effective: Literal["period_start", "today"] = "period_start"
    # A plan reuses the contract lines a plan of the same period read this many hours ago
    # or less (an interrupted Kaseya read resumes instead of spending the budget again);
    # 0 reads everything every time. Only PSAs with an hourly call budget keep them.
    line_cache_hours: float = 6.0
    # Kaseya's hourly budget is "per endpoint": per route template (the safe reading) or
    # per concrete path.
    call_budget_scope: Literal["template", "path"] = "template"
    # Autotask jobs (what Atria's guide does not say, so the job says it):
    # where a blank BaseUrl is looked up ("" = the vendor's zone lookup; the demo and tests
    # point it at the sandbox); the Company field holding the Billing Identifier and the
    # Service field a SKU matches ("" = the adapter's defaults, companyNumber and name);
    # the share of the database's hourly request threshold this job may use; and when a
    # change takes effect: "first_unposted" (the start of the first Autotask period after
    # the Atria period with nothing approved and posted) or a date (YYYY-MM-DD).
    zone_url: str = ""
    company_field: str = ""
    service_field: str = ""
    budget_share: float = 0.5
    effective_date: str = "first_unposted"
    # The symbol shown in front of money in the console and the report ("$", "€", "A$");
    # empty shows none. Display only: nothing is converted.
    currency: str = ""


# name -> (type, low, high) for numbers, the allowed words for text options, or the
# pattern a text option must match (with what to say when it does not).
_OPTION_RULES: dict[str, tuple[type, float, float] | tuple[str, ...]
                   | tuple[re.Pattern[str], str]] = {
    "concurrency": (int, 1, 32),
    "max_concurrency": (int, 1, 64),
    "page_size": (int, 1, 1000),
    "zero_mode": ("quantity", "cancel"),
    "swing_threshold": (float, 0.0, 100.0),
    "call_budget_per_hour": (int, 1, 1_000_000),
    "timeout_seconds": (float, 0.1, 3600.0),
    "retries": (int, 0, 20),
    "max_quantity": (int, 1, 1_000_000_000),
    "run_deadline_minutes": (float, 0.01, 10080.0),
    "connectwise_api_version": (re.compile(r"(\d{4}\.\d{1,3})?"),
                                'an API version such as "2025.1" (year.release), or "" for '
                                "none"),
    "units_rounding": ("", "up", "down", "nearest"),
    "unit_change_effective": ("period_start", "today"),
    "call_budget_scope": ("template", "path"),
    "line_cache_hours": (float, 0.0, 168.0),
    "zone_url": (re.compile(r"((https?|sandbox)://\S+)?"),
                 "a zone lookup URL (https://…/zoneInformation), or \"\" for the vendor's"),
    "company_field": (re.compile(r"(udf:[^\n]{1,100}|[A-Za-z][A-Za-z0-9]{0,63})?"),
                      'a Company field name such as "companyNumber" or "id", or '
                      '"udf:<name>"'),
    "service_field": (re.compile(r"([A-Za-z][A-Za-z0-9]{0,63})?"),
                      'a Service field name such as "name" or "sku"'),
    "budget_share": (float, 0.01, 1.0),
    "effective_date": (re.compile(r"first_unposted|\d{4}-\d{2}-\d{2}"),
                       '"first_unposted" or a date (YYYY-MM-DD)'),
    "currency": (re.compile(r"[^\s\d]{0,4}"), 'a currency symbol of up to 4 characters such '
                 'as "$" or "€", or "" for none'),
}


NOTIFY_WHEN = ("always", "warnings", "errors")
# A notification target is a secret (its URL holds a token); its name says it is one.
NOTIFY_TARGET = re.compile(r"Notify[A-Za-z0-9_]{1,40}")


@dataclass(slots=True)
class NotifyConfig:
    """Where a headless or scheduled run's summary goes, and when.

    `targets` name secrets (`NotifyTeams`, `NotifyMail`): each holds an apprise URL, which
    carries a token or a password, so it is stored encrypted like the PSA secrets and
    never written to the job file or a log. `when`: always, or only when the run ended
    with warnings (or worse), or only with errors.
    """

    targets: tuple[str, ...] = ()
    when: str = "warnings"


@dataclass(slots=True)
class JobConfig:
    label: str
    task: Task
    log_level: Level = Level.VERBOSE
    cron: str = DEFAULT_CRON
    enabled: bool = True
    period_start_day: int = 1
    source: SourceConfig = field(default_factory=SourceConfig)
    parameters: dict[str, Any] = field(default_factory=dict)
    options: Options = field(default_factory=Options)
    path: Path | None = None
    id: str = ""
    # The PSA routes this job corrects (see the PSA's route table); checked at run start.
    endpoints: dict[str, Any] = field(default_factory=dict)
    notify: NotifyConfig = field(default_factory=NotifyConfig)

    @property
    def key(self) -> str:
        """What runs, secrets, locks and mappings are filed under: the id, else the file's
        stem, else the label (one rule, everywhere)."""
        return self.id or (self.path.stem if self.path else self.label)

    def param(self, name: str, default: Any = None) -> Any:
        """A parameter by any spelling (`apiurl`, `ApiUrl`), as stored."""
        folded = name.casefold()
        for key, value in self.parameters.items():
            if key.casefold() == folded:
                return value
        return default


_TOP_KEYS = ("id", "label", "task", "log_level", "cron", "enabled", "period_start_day",
             "source", "parameters", "options", "endpoints", "notify")


def job_params(job: JobConfig) -> JobParams:
    """Typed parameters for the engine; ConfigError (with file and line) on a bad value."""
    try:
        return params_for(job.task, job.parameters)
    except ConfigError as err:
        text = _read_text(job.path) if job.path else None
        raise err.located(job.path, line_of(text, err.field, "parameters")) from None


# --- cron ------------------------------------------------------------------------------


def _cron_problem(expr: str) -> str | None:
    text = expr.strip()
    if not text:
        return "empty"
    try:
        next(CronSim(text, datetime(2000, 1, 1)))
    except CronSimError as err:
        return str(err) or "not understood"
    except (StopIteration, ValueError):
        return "it never runs"
    return None


def validate_cron(expr: str) -> str | None:
    """Why `expr` is not a usable 5-field cron expression (for the form), or None."""
    problem = _cron_problem(expr)
    if problem is None:
        return None
    if problem == "empty":
        return 'enter a cron expression, e.g. "0 22 26 * *" (10pm on the 26th)'
    return f"invalid cron expression {expr.strip()!r}: {problem}"


def next_runs(expr: str, after: datetime, n: int) -> list[datetime]:
    """The next `n` run times after `after`; [] when `expr` is invalid (see validate_cron)."""
    if validate_cron(expr) is not None:
        return []
    it = CronSim(expr.strip(), after)
    runs: list[datetime] = []
    for _ in range(n):
        try:
            runs.append(next(it))
        except StopIteration:
            break
    return runs


# --- loading ---------------------------------------------------------------------------

_Fail = Callable[..., ConfigError]


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def load_job(path: Path) -> JobConfig:
    """Read and check a job file; every problem is a one-line ConfigError."""
    return load_toml(Path(path), "job file",
                     lambda data, text: _parse_job(data, Path(path), text))


def _parse_job(data: dict[str, Any], path: Path, text: str) -> JobConfig:
    def fail(expected: str, key: str, value: Any, table: str | None = None) -> ConfigError:
        name = f"{table}.{key}" if table else key
        return ConfigError(expected, field=name, path=path, line=line_of(text, key, table),
                           got=value)

    for key, value in data.items():
        if key not in _TOP_KEYS:
            raise fail("unknown setting (expected one of " + ", ".join(_TOP_KEYS) + ")",
                       key, value)

    def text_value(key: str, default: str) -> str:
        value = data.get(key, default)
        if not isinstance(value, str):
            raise fail("a text value in quotes", key, value)
        return value.strip()

    task_text = text_value("task", "")
    task = next((t for t in Task if t.value == task_text.casefold()), None)
    if task is None:
        raise fail(" or ".join(f'"{t.value}"' for t in Task), "task", data.get("task", ""))
    try:
        level = Level.parse(text_value("log_level", "verbose"))
    except ValueError:
        raise fail("verbose, info, warning or error", "log_level", data["log_level"]) \
            from None
    cron = text_value("cron", DEFAULT_CRON)
    problem = _cron_problem(cron)
    if problem:
        raise fail(f"a cron expression: minute hour day month weekday ({problem})", "cron",
                   cron)
    try:
        enabled = to_bool(data.get("enabled", True), "enabled")
    except ConfigError:
        raise fail("true or false", "enabled", data["enabled"]) from None
    day = data.get("period_start_day", 1)
    if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= 28:
        raise fail("a day of the month from 1 to 28", "period_start_day", day)

    params = data.get("parameters", {})
    if not isinstance(params, dict):
        raise fail("a [parameters] table", "parameters", params)
    parameters = canonical_parameters(task, params)
    problems = [e for e in validate_parameters(task, params, path=path, text=text)
                if not e.expected.startswith("unknown parameter")]
    if problems:
        raise problems[0]

    endpoints = data.get("endpoints", {})
    if not isinstance(endpoints, dict):
        raise fail("an [endpoints] table", "endpoints", endpoints)
    return JobConfig(
        label=text_value("label", ""), task=task, log_level=level, cron=cron,
        enabled=enabled, period_start_day=day, source=_parse_source(data, path, fail),
        parameters=parameters, options=_parse_options(data, fail), path=path.absolute(),
        id=text_value("id", "") or path.stem, endpoints=endpoints,
        notify=_parse_notify(data, fail))


def _parse_notify(data: dict[str, Any], fail: _Fail) -> NotifyConfig:
    raw = data.get("notify", {})
    if not isinstance(raw, dict):
        raise fail("a [notify] table", "notify", raw)
    for key, value in raw.items():
        if key not in ("targets", "when"):
            raise fail("unknown setting (expected targets or when)", key, value, "notify")
    targets = raw.get("targets", [])
    if not isinstance(targets, list) or not all(
            isinstance(t, str) and NOTIFY_TARGET.fullmatch(t) for t in targets):
        raise fail('a list of secret names starting with Notify, such as ["NotifyTeams", '
                   '"NotifyMail"] (each secret holds the apprise URL)', "targets", targets,
                   "notify")
    when = raw.get("when", "warnings")
    if when not in NOTIFY_WHEN:
        raise fail(" or ".join(f'"{w}"' for w in NOTIFY_WHEN), "when", when, "notify")
    return NotifyConfig(tuple(dict.fromkeys(targets)), when)


def _parse_source(data: dict[str, Any], path: Path, fail: _Fail) -> SourceConfig:
    raw = data.get("source", {})
    if not isinstance(raw, dict):
        raise fail("a [source] table", "source", raw)
    for key, value in raw.items():
        if key not in ("kind", "path", "url"):
            raise fail("unknown setting (expected kind, path or url)", key, value, "source")
    kind = raw.get("kind", "file")
    if kind not in ("file", "api"):
        raise fail('"file" or "api"', "kind", kind, "source")
    source = SourceConfig(kind=kind)
    file = raw.get("path", "")
    if not isinstance(file, str):
        raise fail("a file path in quotes", "path", file, "source")
    if file.strip():
        resolved = Path(file.strip()).expanduser()
        source.path = resolved if resolved.is_absolute() else path.parent.absolute() / resolved
    url = raw.get("url", "")
    if not isinstance(url, str):
        raise fail("a URL in quotes", "url", url, "source")
    source.url = url.strip()
    return source


def _parse_options(data: dict[str, Any], fail: _Fail) -> Options:
    raw = data.get("options", {})
    if not isinstance(raw, dict):
        raise fail("an [options] table", "options", raw)
    options = Options()
    for key, value in raw.items():
        rule = _OPTION_RULES.get(key)
        if rule is None:
            raise fail("unknown option (expected one of " + ", ".join(_OPTION_RULES) + ")",
                       key, value, "options")
        if isinstance(rule[0], re.Pattern):
            pattern, expected = rule
            if not isinstance(value, str) or not pattern.fullmatch(value.strip()):
                raise fail(str(expected), key, value, "options")
            value = value.strip()
        elif isinstance(rule[0], type):
            kind, low, high = rule
            numeric = (int, float) if kind is float else (int,)
            if (isinstance(value, bool) or not isinstance(value, numeric)
                    or not low <= value <= high):
                what = "a whole number" if kind is int else "a number"
                raise fail(f"{what} from {low:g} to {high:g}", key, value, "options")
            value = kind(value)
        elif value not in rule:
            raise fail(" or ".join(f'"{w}"' for w in rule), key, value, "options")
        setattr(options, key, value)
    return options


# --- writing ---------------------------------------------------------------------------


def _job_dict(job: JobConfig, target: Path | None) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if job.id and (target is None or job.id != target.stem):
        data["id"] = job.id
    data.update(label=job.label, task=job.task.value, log_level=job.log_level.value.lower(),
                cron=job.cron, enabled=job.enabled, period_start_day=job.period_start_day)
    source: dict[str, Any] = {"kind": job.source.kind}
    if job.source.path is not None:
        source["path"] = _relative(job.source.path, target)
    if job.source.url:
        source["url"] = job.source.url
    data["source"] = source
    data["parameters"] = {k: v for k, v in job.parameters.items() if v is not None}
    defaults = Options()
    changed = {f.name: getattr(job.options, f.name) for f in fields(Options)
               if getattr(job.options, f.name) != getattr(defaults, f.name)}
    if changed:
        data["options"] = changed
    if job.endpoints:
        data["endpoints"] = job.endpoints
    if job.notify != NotifyConfig():
        data["notify"] = {"targets": list(job.notify.targets), "when": job.notify.when}
    return data


def _relative(file: Path, target: Path | None) -> str:
    """Relative to the job file's folder when inside it, so a jobs folder can move."""
    if target is not None and file.is_absolute():
        try:
            return file.relative_to(target.parent.absolute()).as_posix()
        except ValueError:
            pass
    return file.as_posix()


def job_to_toml(job: JobConfig) -> str:
    return tomli_w.dumps(_job_dict(job, job.path))


def save_job(job: JobConfig, path: Path | None = None) -> Path:
    """Write atomically to `path`, the job's own path, or a new file in config_dir().

    Updates `job.path` (and `job.id` when it was empty) to what was written.
    """
    target = Path(path) if path is not None else job.path
    if target is None:
        target = free_path(config_dir(), job.label or job.task.value)
    target = target.absolute()
    atomic_write(target, tomli_w.dumps(_job_dict(job, target)).encode("utf-8"))
    job.path = target
    if not job.id:
        job.id = target.stem
    return target


def new_job(task: Task, label: str = "") -> JobConfig:
    """A job as the guide's "Example Monthly Billing Process" sets one up.

    Periods start on the 26th, the job runs at 10pm on the 26th and transfers the period
    that has just closed ("Previous"), with the seed's defaults for the rest.
    """
    profile = profile_of(task)
    params: dict[str, Any] = {profile.api_url_param: "", **profile.new_job_parameters}
    params.update(BillingPeriod="Previous", CustomersFilter=[])
    return JobConfig(
        label=label or f"Transfer Billing Data to {task.psa_name} on 26th of each month",
        task=task, log_level=Level.VERBOSE, cron=DEFAULT_CRON, enabled=True,
        period_start_day=26, parameters=params)


def known_parameter(task: Task, key: str) -> str | None:
    """Canonical spelling of a parameter name for `task`, or None (for the form)."""
    return canonical_name(key, PARAMETER_NAMES[task])
