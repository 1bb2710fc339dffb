"""What the API allows at best for a data set, and the Markdown table of a run.

The minimum is computed from the seeds the server was given, independently of the
adapters: pages of each bulk read at the API's largest page size, plus one request per
contract whose lines the plan needs (neither PSA has a cross-contract line read). For
apply, writes cannot be batched, and design.md requires a re-read before each write
(conflict check), so the minimum is one line read per contract touched plus one write per
change; the "blind" figure (writes only) is shown beside it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from atria_tui.core.model import norm

CW_PAGE = 1000
KS_PAGE = 100


def pages(rows: int, size: int) -> int:
    return max(1, math.ceil(rows / size))


def _single_live(owners: Iterable[str]) -> set[str]:
    counts = Counter(owners)
    return {o for o, n in counts.items() if n == 1}


def cw_plan_minimum(seed: Mapping[str, Any], identifiers: Iterable[str],
                    skus: Iterable[str], agreement_type: str) -> dict[str, int]:
    wanted = {norm(i) for i in identifiers}
    codes = {norm(s) for s in skus}
    of_type = [a for a in seed["agreements"]
               if norm(a["type"]["name"]) == norm(agreement_type)]
    live = [a for a in of_type if not a.get("cancelledFlag")
            and str(a.get("agreementStatus", "Active")).lower() == "active"]
    single = _single_live(norm(a["company"]["identifier"]) for a in live)
    needed = [a for a in live if norm(a["company"]["identifier"]) in wanted & single]
    catalog = [c for c in seed["catalog"] if norm(c["identifier"]) in codes]
    return {"agreement type": 1, "agreements (pages)": pages(len(of_type), CW_PAGE),
            "catalog (pages)": pages(len(catalog), CW_PAGE),
            "additions (1 per agreement)": len(needed)}


def ks_plan_minimum(seed: Mapping[str, Any], identifiers: Iterable[str],
                    contract_type: str) -> dict[str, int]:
    wanted = {norm(i) for i in identifiers}
    accounts = seed["accounts"]
    of_type = [(a, c) for a in accounts for c in a["contracts"]
               if norm(c["contractType"]) == norm(contract_type)]
    live = [(a, c) for a, c in of_type if norm(c.get("status", "Active")) == "active"]
    single = _single_live(norm(a["accountCode"]) for a, _ in live)
    needed = [c for a, c in live if norm(a["accountCode"]) in wanted & single]
    return {"login": 1, "contracts (pages)": pages(len(of_type), KS_PAGE),
            "accounts (pages)": min(pages(len(accounts), KS_PAGE), max(1, len(wanted))),
            "services (pages)": pages(len(seed["services"]), KS_PAGE),
            "lines (1 per contract)": len(needed)}


@dataclass
class Phase:
    seconds: float = 0.0
    client: int = 0
    server: int = 0
    minimum: int = 0
    minimum_blind: int = 0
    waited: float = 0.0  # virtual seconds the call budget imposed (Kaseya)
    throttled: int = 0   # 429s the server answered
    by_endpoint: dict[str, int] = field(default_factory=dict)
    detail: str = ""
    ended: str = ""  # why the run stopped before finishing, if it did

    @property
    def ratio(self) -> float:
        return self.server / self.minimum if self.minimum else 0.0


@dataclass
class PsaRun:
    name: str
    plan: Phase = field(default_factory=Phase)
    apply: Phase = field(default_factory=Phase)
    naive: Phase = field(default_factory=Phase)
    replan_ms: list[float] = field(default_factory=list)
    replan_requests: int = -1
    fix: str = ""
    changes: int = 0
    codes: dict[str, int] = field(default_factory=dict)
    kinds: dict[str, int] = field(default_factory=dict)
    rss_mb: float = 0.0
    budget: int = 0
    failed: str = ""


def hours(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    h, rest = divmod(int(round(seconds)), 3600)
    return f"{h} h {rest // 60:02d} min" if h else f"{rest // 60} min {rest % 60:02d} s"


def _n(x: int) -> str:
    return f"{x:,}"


def _time(p: Phase) -> str:
    text = f"{p.seconds:.1f} s"
    if p.waited > 0.5:
        text += f" + {hours(p.waited)} budget wait"
    return text


def _cells(runs: list[PsaRun], fn: Any, always: bool) -> str:
    return " | ".join(str(fn(r)) if always or not r.failed else "—" for r in runs)


def table(runs: list[PsaRun], *, customers: int, records: int, lines: int, latency_ms: int,
          command: str, peak_rss_mb: float, total_seconds: float) -> str:
    """The RESULTS.md body: the run's parameters, the main table, the targets, endpoints."""
    head = " | ".join(r.name for r in runs)
    rows: list[tuple[str, Any]] = [
        ("plan: wall time", lambda r: _time(r.plan) + (f", **failed**: {r.failed}"
                                                       if r.failed else "")),
        ("plan: HTTP requests (server / client)",
         lambda r: f"{_n(r.plan.server)} / {_n(r.plan.client)}"),
        ("plan: minimum the API allows", lambda r: f"{_n(r.plan.minimum)} ({r.plan.detail})"),
        ("plan: requests ÷ minimum", lambda r: f"{r.plan.ratio:.3f}"),
        ("plan: changes found", lambda r: f"{_n(r.changes)} (" + ", ".join(
            f"{_n(v)} {k}" for k, v in sorted(r.kinds.items())) + ")"),
        ("apply 1,000 changes: wall time", lambda r: _time(r.apply)),
        ("apply: HTTP requests (server / client)",
         lambda r: f"{_n(r.apply.server)} / "
         + (_n(r.apply.client) if r.apply.client >= 0 else "n/a (run ended)")),
        ("apply: minimum (re-read per contract + write; blind writes)",
         lambda r: f"{_n(r.apply.minimum)} ({_n(r.apply.minimum_blind)})"),
        ("apply: requests ÷ minimum", lambda r: f"{r.apply.ratio:.3f}"),
        ("apply: outcome", lambda r: r.apply.detail),
        ("429s from the server (plan / apply)",
         lambda r: f"{r.plan.throttled} / {r.apply.throttled}"),
        ("re-plan after a fix: time (median / max of 5)",
         lambda r: f"{_median(r.replan_ms):.0f} ms / {max(r.replan_ms, default=0):.0f} ms"),
        ("re-plan: PSA requests", lambda r: str(r.replan_requests)),
        ("re-plan: the fix took effect", lambda r: r.fix),
        ("naive per-line: requests", lambda r: _n(r.naive.server)),
        ("naive per-line: wall time", lambda r: _time(r.naive)),
        ("naive ÷ tool (plan + apply): requests",
         lambda r: f"{_ratio(r.naive.server, r.plan.server + r.apply.server):.2f}×"),
        ("naive ÷ tool (plan + apply): time incl. budget wait",
         lambda r: f"{_ratio(_total(r.naive), _total(r.plan) + _total(r.apply)):.2f}×"),
        ("peak RSS of the client process after this PSA", lambda r: f"{r.rss_mb:.0f} MB"),
    ]
    out = [f"Data: {_n(customers)} customers, {_n(records)} current-period billing records, "
           f"{_n(lines)} contract lines; {latency_ms} ms latency per request. "
           f"Whole run {hours(total_seconds)} real time; peak RSS {peak_rss_mb:.0f} MB.", "",
           f"| measure | {head} |", "|---|" + "---|" * len(runs)]
    always = {"plan: wall time", "plan: HTTP requests (server / client)",
              "429s from the server (plan / apply)", "peak RSS of the client process after "
              "this PSA"} | {label for label, _ in rows if label.startswith("naive")}
    out += [f"| {label} | {_cells(runs, fn, label in always)} |" for label, fn in rows]
    return "\n".join(out) + "\n"


def targets(runs: list[PsaRun], peak_rss_mb: float) -> str:
    """The issue's targets, each with what was measured and whether it was met."""
    out = ["| target | measured | met |", "|---|---|---|"]

    def row(target: str, measured: str, ok: bool) -> None:
        out.append(f"| {target} | {measured} | {'yes' if ok else '**no**'} |")

    for r in runs:
        if r.failed:
            row(f"{r.name}: plan completes", r.failed, False)
        for label, ph in (("plan", r.plan), ("apply", r.apply)):
            if r.failed:
                continue
            row(f"{r.name} {label}: requests ≤ 1.1 × minimum",
                f"{_n(ph.server)} ÷ {_n(ph.minimum)} = {ph.ratio:.3f}"
                + (f" ({ph.ended})" if ph.ended else ""), ph.ratio <= 1.1 and not ph.ended)
        if r.budget:
            row(f"{r.name}: never exceeds the {_n(r.budget)}/h call budget",
                f"{r.plan.throttled + r.apply.throttled} requests refused with 429 "
                f"(plan {r.plan.throttled}, apply {r.apply.throttled})",
                r.plan.throttled + r.apply.throttled == 0)
            row(f"{r.name} plan: says how long the budget makes it take",
                f"{r.plan.seconds:.1f} s of work + {hours(r.plan.waited)} waiting for the "
                f"budget", not r.failed)
        else:
            row(f"{r.name} plan ≤ 15 s", f"{r.plan.seconds:.1f} s", r.plan.seconds <= 15)
        if r.failed:
            continue
        mid, worst = _median(r.replan_ms), max(r.replan_ms, default=0.0)
        row(f"{r.name}: re-plan after a fix makes no PSA request and takes < 300 ms",
            f"{r.replan_requests} requests, median {mid:.0f} ms (worst of 5: {worst:.0f} ms)",
            r.replan_requests == 0 and mid < 300)
    row("peak RSS < 400 MB", f"{peak_rss_mb:.0f} MB", peak_rss_mb < 400)
    return "\n".join(out) + "\n"


def endpoint_table(run: PsaRun) -> str:
    """Kaseya: calls per endpoint against the hourly budget, and the hours it imposes."""
    names = sorted(set(run.plan.by_endpoint) | set(run.apply.by_endpoint)
                   | set(run.naive.by_endpoint))
    out = ["| endpoint | plan | apply | naive | budget/h | plan+apply ÷ budget (h) | "
           "naive ÷ budget (h) |", "|---|---|---|---|---|---|---|"]
    for name in names:
        p, a, n = (ph.by_endpoint.get(name, 0) for ph in (run.plan, run.apply, run.naive))
        out.append(f"| `{name}` | {_n(p)} | {_n(a)} | {_n(n)} | {_n(run.budget)} | "
                   f"{(p + a) / run.budget:.2f} | {n / run.budget:.2f} |")
    return "\n".join(out) + "\n"


def _median(xs: list[float]) -> float:
    s = sorted(xs)
    return s[len(s) // 2] if s else 0.0


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def _total(p: Phase) -> float:
    return p.seconds + p.waited


NOTES = """## How it is measured

- **Data** (`benchmarks/generate.py`, seed 1): per customer ~5 contract lines and ~20
  current-period records (per-user rows), plus one previous-period row per line (last month
  the PSA matched Atria). Per line: ~88% unchanged, ~10% quantity change, ~2% billed last
  period only (rule 6 zeroes it); ~1.5% of (customer, SKU) pairs are billed with no line
  (ConnectWise adds it, AllowAtriaCreateAdditions = true; Kaseya reports KS06). 0.5% of
  customers have no Billing Identifier, 0.25% are unknown to the PSA, 5% extra PSA
  companies are not billed (half with an agreement of the type), every 4th customer has a
  second agreement of another type.
- **Server**: both emulators (`atria_tui.sandbox.server.build`) in a child process, uvicorn
  on 127.0.0.1, each request delayed by the injected latency. The emulators scan whole
  tables per request (ConnectWise: `query.known_paths` over every addition and
  `CwState.additions_of`; Kaseya: `KsState.lines_of` per contract, also inside every
  contract summary row; every `conditions` query evaluated on every row), which at 10,000
  lines costs 0.03-0.4 s of server CPU per request; `benchmarks/server.py` replaces those
  scans with indexes giving the same answers, so what is timed is the tool plus the
  latency, not the emulator.
- **Requests**: the server's counters are the reference (they include retries, 401s and
  429s); the client's are `RunResult.requests`. The *minimum* is computed from the seeds:
  pages of each bulk read at the largest page size (ConnectWise 1,000, Kaseya 100) plus
  one line read per contract the plan needs (neither API reads lines across contracts).
  For apply: one re-read per contract touched (the conflict check) plus one write per
  change; the blind figure (writes only) is in brackets.
- **Kaseya's budget** (1,500 calls per hour per endpoint) is enforced by the emulator
  against a clock shared with the client's `CallBudget`, token clock and sleeps
  (`VirtualClock`): when everything left is waiting, the clock jumps instead of sleeping.
  The jump is reported as "budget wait": the time the budget adds to a real run.
- **Apply**: the first 1,000 changes of the plan approved, the rest rejected, applied right
  after the plan (same tenant hour, as when a reviewer approves straight away, or as
  `apply` from cron plans and applies in one go); `--review-minutes N` lets N minutes of
  review pass on the budget's clock first.
- **Re-plan**: the console's fix for the first customer without a Billing Identifier
  (CW04/KS09) saved as a customer mapping, then `PlanContext.replan`, timed 5 times; the
  server's counters before and after show whether any request was made.
- **Naive**: `benchmarks/naive.py`, per customer: company, agreement, additions, then one
  PATCH per line that differs, sequentially, up to the same 1,000 writes; Kaseya likewise
  (account, contract, lines, PUT), honouring 429 Retry-After however long. Both PSAs run
  at once (each sequential) after the sandbox is reset to the seeds; only Kaseya's time
  includes budget waits.
- **Peak RSS**: `ru_maxrss` of the benchmark process, i.e. the client only (the server is
  another process), read before the seeds are loaded to compute the minimum.
- A 5-customer run is part of the test suite (`tests/unit/test_benchmarks_smoke.py`); no
  number is asserted there.
"""
