"""`atria-tui doctor JOB.toml`: a read-only first contact with a job's PSA.

Before the first month end, a billing admin wants to know that the job will reach its
tenant: the host resolves, TLS is trusted, the login works, and each route the run uses
answers (for an unverified route, which of the shipped alternatives does). Nothing is
written: the adapter's probes read the smallest page they can and look write routes up
with a GET. The same report feeds the CLI table, `--format json` and the console's "Test
connection".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from atria_tui.adapters.tls import host_checks
from atria_tui.engine.secret_store import env_name, redact
from atria_tui.job.file import JobConfig
from atria_tui.psa.doctor import Probe
from atria_tui.psa.errors import RemoteError
from atria_tui.services.psa import RedactingSession, open_session, secret_texts
from atria_tui.services.run_checks import RunAbort, prepare, resolve_secrets
from atria_tui.services.runtime import Runtime, is_sandbox


@dataclass
class DoctorReport:
    job: JobConfig
    api_url: str = ""
    probes: list[Probe] = field(default_factory=list)
    fatal: str = ""  # what stopped the check before any route was tried
    bases: list[tuple[str, str]] = field(default_factory=list)  # ("API base", url) …

    @property
    def ok(self) -> bool:
        """Every route the job needs answers (a write route: its path exists)."""
        needed = [p for p in self.probes if p.needed]
        return not self.fatal and bool(needed) and all(p.ok for p in needed)

    @property
    def alternatives(self) -> list[Probe]:
        """Shipped alternatives that work where the job's own route does not."""
        failing = {p.step for p in self.probes if p.needed and not p.ok}
        return [p for p in self.probes if not p.needed and p.step in failing and p.ok
                and p.verdict != "skipped"]

    def to_json(self) -> dict[str, Any]:
        return {"job": self.job.label, "task": self.job.task.value, "api_url": self.api_url,
                "ok": self.ok, "fatal": self.fatal, "bases": dict(self.bases),
                "probes": [p.to_json() for p in self.probes]}


async def doctor_job(svc: Runtime, job: JobConfig,
                     typed: Mapping[str, str] | None = None) -> DoctorReport:
    """`typed`: secrets entered in the console's job form and not saved yet; they win over
    the stored ones, as the environment's do."""
    report = DoctorReport(job)
    if typed:
        overrides = {env_name(k): v for k, v in typed.items() if v.strip()}
        svc = replace(svc, environ={**svc.environ, **overrides})
    try:
        params, api_url = prepare(svc, job)
        report.api_url = api_url
        if not api_url.strip():
            report.fatal = "ApiUrl is empty: set it in the job's [parameters]"
            return report
        secrets = resolve_secrets(svc, job, api_url)
    except RunAbort as abort:
        report.fatal = f"{abort.entry.code}: {abort.entry.message}"
        return report
    texts = secret_texts(job.task, secrets)
    session = RedactingSession(
        open_session(job, api_url, secrets, today=svc.today(),
                     transport=svc.psa_transport(api_url)),
        lambda text: redact(text, texts))
    try:
        probe_routes = getattr(session.inner, "doctor", None)
        if probe_routes is None:
            report.fatal = f"doctor has no route checks for {job.task.psa_name} yet"
            return report
        note = getattr(session.inner, "connection_note", None)
        bases = [api_url]
        if isinstance(note, tuple) and len(note) == 2:
            report.bases.append(("API base", f"{note[0]} ({note[1]})"))
            if note[0] != api_url.strip().rstrip("/"):
                bases.insert(0, note[0])
        if not is_sandbox(api_url) and svc.transport is None:
            for base in bases:
                report.probes += await host_checks(base)
            if not all(p.ok for p in report.probes):
                return report
        try:
            report.probes += await probe_routes(params.contract_type)
        except RemoteError as exc:
            report.fatal = redact(exc.message, texts)
    finally:
        await session.aclose()
    report.probes = [_redacted(p, texts) for p in report.probes]
    return report


def _redacted(p: Probe, texts: list[str]) -> Probe:
    return replace(p, url=redact(p.url, texts), advice=redact(p.advice, texts))
