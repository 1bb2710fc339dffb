"""The checks a run makes before it touches the PSA, and how a failure ends a run.

In the guides' order (billing period, ApiUrl, secrets, Atria, PSA), each failure is a
`RunAbort` carrying the PSA profile's code for it; a remote failure becomes the code for
what failed (unreachable, refused login, used-up budget, unreadable answer) with a hint
where one helps (use https://, run apply again).
"""

from __future__ import annotations

import importlib
from dataclasses import replace

import httpx

from atria_tui.adapters.tls import host_port, looks_like_tls, speaks_tls
from atria_tui.core import codes
from atria_tui.core.model import LogEntry, Mappings, Task
from atria_tui.core.periods import PeriodError, previous_period, resolve_period
from atria_tui.engine.reconcile import ReconcileParams
from atria_tui.engine.secret_store import SecretError, redact
from atria_tui.job.file import JobConfig, job_params
from atria_tui.job.mappings import load_mappings, mappings_path
from atria_tui.job.parameters import ConfigError, check_api_url
from atria_tui.psa import profile_of
from atria_tui.psa.errors import RemoteError
from atria_tui.services.psa import (
    PsaSession,
    RedactingSession,
    open_session,
    secret_texts,
)
from atria_tui.services.runtime import SANDBOX_SCHEME, Runtime, is_sandbox


class RunAbort(Exception):
    """Ends a run with one of the seed's run-ending codes."""

    def __init__(self, entry: LogEntry) -> None:
        super().__init__(entry.message)
        self.entry = entry


def resolve_secrets(svc: Runtime, job: JobConfig, api_url: str) -> dict[str, str]:
    """The PSA secrets of a run (store, env overrides, demo credentials for sandbox URLs)."""
    task = job.task
    names = profile_of(task).secret_names
    try:
        found = dict(svc.secrets.resolve(job.key, names, env=svc.environ))
    except SecretError as exc:
        raise RunAbort(codes.entry(profile_of(task).codes.secrets_unreadable,
                                   error=str(exc))) from None
    for name, value in svc.embedded_secrets(task, api_url).items():
        found.setdefault(name, value)
    for name in names:
        if not str(found.get(name, "")).strip():
            raise RunAbort(codes.entry(profile_of(task).codes.secret_missing, field=name))
    return found


RERUN_HINT = ("; nothing was sent twice: run `atria-tui apply` again to finish, it re-reads "
              "each line before writing")


def psa_abort(task: Task, exc: RemoteError, *, writing: bool = False) -> RunAbort:
    if writing and (exc.maybe_landed or exc.kind in ("connect", "timeout")):
        return RunAbort(codes.entry(profile_of(task).codes.psa_unreachable,
                                    error=exc.message + RERUN_HINT))
    if exc.code and not exc.maybe_landed:  # the adapter knew what this failure is
        return RunAbort(codes.entry(exc.code, error=exc.message))
    if exc.kind == "decode":
        return RunAbort(codes.entry(profile_of(task).codes.invalid_answer, error=exc.message))
    profile = profile_of(task)
    if exc.kind == "auth" and profile.codes.auth_refused:
        return RunAbort(codes.entry(profile.codes.auth_refused, error=exc.message))
    if exc.kind == "budget" and profile.call_budget:
        return RunAbort(codes.entry(
            profile.codes.psa_unreachable,
            error=f"{exc.message}. Run again later, and set [options] call_budget_per_hour "
                  "no higher than the tenant's hourly limit so runs pace themselves"))
    return RunAbort(codes.entry(profile_of(task).codes.psa_unreachable, error=exc.message))


async def connect_hint(exc: RemoteError, api_url: str) -> RemoteError:
    """`exc`, saying "use https://" when an http:// ApiUrl points at a TLS port.

    The client's own message (a reset connection, an "illegal status line") does not say
    so; the adapters' HTTP client is left alone, so this is decided here, where the job's
    URL is known, by the message's TLS bytes or a handshake with the same port.
    """
    where = host_port(api_url)
    if exc.kind != "connect" or where is None:
        return exc
    if not (looks_like_tls(exc.message) or await speaks_tls(api_url)):
        return exc
    host, port = where
    return exc.reworded(f"the server at {host}:{port} speaks TLS: use https:// in ApiUrl, "
                        f"not http:// ({exc.message})")


def _with_detail(entry: LogEntry, detail: str) -> LogEntry:
    """The seed's sentence kept as the guides print it, with what to fix after it."""
    return replace(entry, message=f"{entry.message}: {detail}")


def job_session(svc: Runtime, job: JobConfig) -> tuple[PsaSession, str]:
    """A job's PSA session outside a run (the console's catalog picker): ApiUrl checked,
    secrets resolved, errors redacted. Runs open theirs with `_Run.psa`."""
    _, api_url = prepare(svc, job)
    found = resolve_secrets(svc, job, api_url)
    texts = secret_texts(job.task, found)
    session = open_session(job, api_url, found, today=svc.today(),
                           transport=svc.psa_transport(api_url))
    return RedactingSession(session, lambda text: redact(text, texts)), api_url


def prepare(svc: Runtime, job: JobConfig) -> tuple[ReconcileParams, str]:
    """Checks that need no network: billing period, ApiUrl, parameter types."""
    task = job.task
    try:
        jp = job_params(job)
    except ConfigError as exc:
        raise RunAbort(codes.entry(profile_of(task).codes.invalid_answer, error=str(exc))) from None
    try:
        period = resolve_period(jp.billing_period, job.period_start_day, svc.today())
    except PeriodError as exc:
        where = f"job file {job.path}" if job.path else f"job {job.label!r}"
        raise RunAbort(_with_detail(codes.entry(profile_of(task).codes.period_invalid),
                                    f"{exc} ({where})")) from None
    url = jp.api_url.strip()
    problem = check_api_url(url) if url and not is_sandbox(url) else None
    if problem:
        # Refused before secrets are read or anything is sent: ftp://, file:// or a bare
        # host cannot be a PSA API, and guessing a scheme could send credentials in clear.
        raise RunAbort(codes.entry(profile_of(task).codes.invalid_answer,
                                   error=f"ApiUrl {url!r}: {problem}"))
    params = ReconcileParams(task, period, previous_period(period, job.period_start_day),
                             tuple(jp.customers_filter), jp.allow_create, jp.sku_field_match,
                             jp.contract_type, job.options.units_rounding)
    _check_api_url(task, jp.api_url)
    _check_endpoints(job)
    return params, run_url(job, jp.api_url)


def run_url(job: JobConfig, api_url: str) -> str:
    """The URL a run starts from: the job's API URL, or for a PSA that finds its API
    itself (Autotask's zone lookup) what a blank one stands for."""
    profile = profile_of(job.task)
    if api_url.strip() or not profile.blank_api_url:
        return api_url
    return job.options.zone_url or profile.blank_api_url


def _check_endpoints(job: JobConfig) -> None:
    """A job's [endpoints] table is checked before anything is sent (KS13/CW13: the job's
    settings cannot be read), naming the key and what was expected."""
    profile = profile_of(job.task)
    if not job.endpoints:
        return
    where = f" (job file {job.path})" if job.path else ""
    if profile.endpoints_check is None:
        raise RunAbort(codes.entry(profile.codes.invalid_answer, error=(
            f"[endpoints]: {job.task.psa_name} routes are the documented ones and cannot be "
            f"overridden; remove the table{where}")))
    module, _, name = profile.endpoints_check.partition(":")
    try:
        getattr(importlib.import_module(module), name)(job.endpoints)
    except ValueError as exc:
        raise RunAbort(codes.entry(profile.codes.invalid_answer,
                                   error=f"{exc}{where}")) from None


def _check_api_url(task: Task, url: str) -> None:
    """An ApiUrl that cannot be parsed (port 99999, a space, no host) ends the run before
    any connection, naming ApiUrl. CW13/KS13 rather than CW17/KS20: those two say only
    "api url is not available" (and KS20 is Info level), so they fit an empty ApiUrl, which
    `_plan` reports with them; CW13/KS13 are the seeds' codes for job task parameters that
    cannot be read, and carry the reason."""
    if not url.strip():
        return
    if is_sandbox(url):  # served in-process, but still made into an httpx URL
        rest = url.strip()[len(SANDBOX_SCHEME):]
        problem = "the URL must not contain spaces" if any(c.isspace() for c in rest) else None
        candidate = "http://sandbox.invalid/" + rest
    else:
        problem, candidate = check_api_url(url), url.strip()
    if problem is None:
        try:
            httpx.URL(candidate).host  # noqa: B018 - decoding the host is what can fail
        except (httpx.InvalidURL, ValueError) as exc:  # ValueError: also IDNA (xn--)
            problem = f"not a valid URL ({exc})"
    if problem is not None:
        raise RunAbort(codes.entry(profile_of(task).codes.invalid_answer,
                                   error=f"ApiUrl: {problem}"[:300]))


def load_job_mappings(svc: Runtime, job: JobConfig) -> Mappings:
    m = load_mappings(mappings_path(job.path)) if job.path else Mappings()
    m.managed |= svc.store.managed_lines(job.key)
    return m
