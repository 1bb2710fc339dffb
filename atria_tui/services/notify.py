"""Run summaries where billing staff read them: e-mail, Teams, Slack, webhooks (apprise).

The scheduled month-end run happens at night on a server; today it tells nobody what it
did. After a headless or scheduled run, one message goes to each of the job's `[notify]`
targets (when the run's result calls for it): job, period, result, counts, Δ money, the
warnings grouped by code, and the commands that open the run.

A target's apprise URL carries a token or a password, so it is a secret: resolved from
the secret store or the environment when sending, never logged, and every text apprise
reports is redacted with it. A failed send is logged (TU20) and printed, but it never
changes the billing run's result or exit status.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import unquote, urlsplit

from atria_tui.core import codes, numbers
from atria_tui.core.model import Level, LogEntry
from atria_tui.engine.secret_store import SecretError, redact
from atria_tui.engine.store import ERRORS, FAILED, INTERRUPTED, SUCCESS
from atria_tui.job.file import JobConfig
from atria_tui.services.engine import RunResult
from atria_tui.services.runtime import Runtime

__all__ = ["Sent", "message_for", "notify_run", "send_test", "should_send"]


@dataclass(frozen=True, slots=True)
class Sent:
    """What happened to one target: sent, or why not (redacted)."""

    target: str
    ok: bool
    error: str = ""


def should_send(when: str, status: str) -> bool:
    """`always`; `warnings`: a run that ended with warnings or worse; `errors`: only one
    that ended with errors, failed or was interrupted."""
    if when == "always":
        return True
    if when == "errors":
        return status in (ERRORS, FAILED, INTERRUPTED)
    return status != SUCCESS  # warnings, or worse


def message_for(result: RunResult, kind: str) -> tuple[str, str]:
    """(title, body) of a run's summary: plain text that reads the same in a mail, a
    Teams card and a webhook's JSON."""
    job, plan, outcome = result.job, result.plan, result.outcome
    currency = job.options.currency
    period = plan.period.end.isoformat() if plan else "(not planned)"
    title = f"atria-tui: {job.label} · {kind} · {result.status}"
    lines = [f"Job: {job.label} ({job.key}, {job.task.psa_name})",
             f"Period ending: {period}",
             f"Result: {result.status} (run {result.run_id}, {kind})"]
    if plan is not None:
        changes = [i for i in plan.items if i.action.writes]
        blocked = sum(1 for i in plan.items
                      if i.level.rank >= Level.WARNING.rank and not i.action.writes)
        if outcome is not None:
            written = outcome.applied
            money = sum((i.money_delta for i in changes if i.status is not None
                         and i.status.value == "applied"), Decimal(0))
            lines.append(f"Written: {written} · changes planned: {len(changes)} · held or "
                         f"skipped: {outcome.skipped} · conflicts: {outcome.conflicts} · "
                         f"failed: {outcome.failed} · blocked: {blocked}")
            lines.append(f"Δ money written: {numbers.signed_money(money, currency)} per "
                         "period")
        else:
            money = sum((i.money_delta for i in changes), Decimal(0))
            lines.append(f"Written: 0 (a preview) · changes found: {len(changes)} · "
                         f"blocked: {blocked}")
            lines.append(f"Δ money if applied: {numbers.signed_money(money, currency)} per "
                         "period")
    if result.fatal is not None:
        lines.append(f"Stopped: {result.fatal.code} {result.fatal.message}")
    counts = Counter(e.code for e in result.entries
                     if e.level.rank >= Level.WARNING.rank)
    if counts:
        lines.append("Warnings and errors by code:")
        for code, n in sorted(counts.items()):
            what = codes.CATALOG[code].when if code in codes.CATALOG else ""
            lines.append(f"  {code} ×{n}  {what}".rstrip())
    else:
        lines.append("No warnings.")
    lines.append(f"Open it: atria-tui --run {result.run_id}   (console)   ·   "
                 f"atria-tui log {result.run_id}   ·   atria-tui report {result.run_id}")
    return title, "\n".join(lines)


def _secrets_of(url: str) -> list[str]:
    """The parts of a target URL that must never be shown: the whole URL, its password
    and user, and every path segment and query value long enough to be a token."""
    parts = [url]
    try:
        split = urlsplit(url)
    except ValueError:
        return parts
    parts += [unquote(p) for p in (split.password, split.username) if p]
    parts += [unquote(seg) for seg in split.path.split("/") if len(seg) >= 8]
    parts += [unquote(kv.partition("=")[2]) for kv in split.query.split("&")
              if len(kv.partition("=")[2]) >= 8]
    return parts


def _send(targets: Sequence[str], urls: dict[str, str], title: str, body: str
          ) -> list[Sent]:
    import apprise  # loaded only when something is sent

    out: list[Sent] = []
    for target in targets:
        url = urls.get(target, "")
        if not url:
            out.append(Sent(target, False, f"no URL stored; run `atria-tui secret JOB.toml "
                                           f"{target}` or set ATRIA_TUI_{target.upper()}"))
            continue
        hidden = _secrets_of(url)
        box = apprise.Apprise()
        if not box.add(url):
            out.append(Sent(target, False, "not a notification URL apprise knows (see "
                                           "https://github.com/caronc/apprise/wiki)"))
            continue
        with apprise.LogCapture(level=apprise.logging.WARNING) as logs:
            ok = bool(box.notify(title=title, body=body,
                                 body_format=apprise.NotifyFormat.TEXT))
        if ok:
            out.append(Sent(target, True))
        else:
            said = " ".join(line.split(" - ", 2)[-1].strip()
                            for line in logs.getvalue().splitlines() if line.strip())
            out.append(Sent(target, False, redact(said or "the service did not accept it",
                                                  hidden)[:300]))
    return out


def _urls(svc: Runtime, job: JobConfig) -> dict[str, str]:
    return dict(svc.secrets.resolve(job.key, list(job.notify.targets), env=svc.environ))


def notify_run(svc: Runtime, result: RunResult, kind: str) -> list[LogEntry]:
    """Send the run's summary to the job's targets when `when` says so; the failures as
    TU20 entries, also added to the run's log. Never raises for a send that fails."""
    job = result.job
    if not job.notify.targets or not should_send(job.notify.when, result.status):
        return []
    try:
        urls = _urls(svc, job)
    except SecretError as exc:
        sent = [Sent(t, False, str(exc)) for t in job.notify.targets]
    else:
        sent = _send(job.notify.targets, urls, *message_for(result, kind))
    failed = [codes.entry("TU20", target=s.target, error=s.error) for s in sent if not s.ok]
    if failed:
        svc.store.add_log(result.run_id, failed)
    return failed


def send_test(svc: Runtime, job: JobConfig) -> list[Sent]:
    """`atria-tui notify-test`: one test message to every target of the job."""
    title = f"atria-tui: test message for {job.label}"
    body = (f"This is a test of the run summaries of job {job.label} ({job.key}).\n"
            f"They are sent after headless and scheduled runs when: {job.notify.when}.")
    try:
        urls = _urls(svc, job)
    except SecretError as exc:
        return [Sent(t, False, str(exc)) for t in job.notify.targets]
    return _send(job.notify.targets, urls, title, body)
