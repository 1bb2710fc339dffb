"""The month-end sign-off summary: one run as a self-contained, printable HTML page.

A finance lead signs off a billing run on paper or as a PDF, not in a terminal. The page
holds everything they check, from the store alone (no PSA request): the period and job,
who prepared it, totals by customer, every change with its approval, outcome and note,
and the warnings by code with the guide's resolution. It has no script, no external
style sheet or font and no image, so it opens offline, attaches to an email, and prints
to A4 or Letter from any browser (`@page`, table headers repeated on each page).

Times are shown in the local zone with its name (the store keeps UTC).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from html import escape
from pathlib import Path

from atria_tui.core import codes
from atria_tui.core.model import ZERO, Level, LogEntry, Plan, PlanItem, Status
from atria_tui.engine.store import CONFLICT, DONE, ERROR, GONE, RunRow
from atria_tui.services.engine import StoredPlanError, stored_plan
from atria_tui.services.history import reverted_by
from atria_tui.services.runtime import Runtime

__all__ = ["ReportError", "default_name", "render_report", "save_report", "write_report"]


class ReportError(Exception):
    """The run cannot be summarised (no such run, no plan): one line for the clerk."""


_OUTCOME = {DONE: "written", CONFLICT: "conflict: left alone", ERROR: "failed",
            GONE: "line gone"}


@dataclass(frozen=True, slots=True)
class _Row:
    item: PlanItem
    decision: str   # approved / not approved
    outcome: str    # written, held, … ("" for a plan run)


def _local(stamp: str | datetime | None) -> str:
    if not stamp:
        return ""
    try:
        when = stamp if isinstance(stamp, datetime) else datetime.fromisoformat(stamp)
    except ValueError:
        return str(stamp)
    here = when.astimezone() if when.tzinfo is not None else when
    return f"{here:%Y-%m-%d %H:%M} {here.tzname() or ''}".rstrip()


def _num(value: Decimal | None, *, signed: bool = False, money: bool = False) -> str:
    if value is None:
        return ""
    if money:
        return f"{value:+,.2f}" if signed else f"{value:,.2f}"
    text = f"{value.normalize():f}" if value == value.to_integral_value() else f"{value:f}"
    return f"+{text}" if signed and value > 0 else text


def _rows(svc: Runtime, run: RunRow, plan: Plan) -> list[_Row]:
    states = {j.item_key: j.state for j in svc.store.journal(run.id)}
    out: list[_Row] = []
    for i in plan.changes:
        decision = "approved" if i.approved else "not approved"
        if run.kind == "apply":
            state = states.get(i.key)
            outcome = _OUTCOME.get(state or "", "pending") if state else "not written"
            if state == DONE:
                i.status = Status.APPLIED
        else:
            outcome = "to write" if i.approved else "held"
        out.append(_Row(i, decision, outcome))
    return out


def render_report(svc: Runtime, run_id: int, *, prepared_by: str,
                  now: datetime | None = None) -> str:
    """The sign-off page of run `run_id` (a plan or apply run) as HTML text."""
    run = svc.store.run(run_id)
    if run is None:
        raise ReportError(f"run {run_id}: no such run (see `atria-tui runs`)")
    if run.kind not in ("plan", "apply"):
        raise ReportError(f"run {run_id} is a {run.kind}: a sign-off summary is of a plan "
                          f"or apply run (its apply is run {run.of_run})")
    try:
        plan = stored_plan(svc, run_id)
    except StoredPlanError as exc:
        raise ReportError(str(exc)) from None
    if plan is None:
        raise ReportError(f"run {run_id} ended before it had a plan; nothing to sign off")
    rows = _rows(svc, run, plan)
    log = svc.store.log(run_id)
    back = reverted_by(svc, run_id) if run.kind == "apply" else None
    return _page(run, plan, rows, log, prepared_by, now or svc.now(), back)


def default_name(run: RunRow) -> str:
    return f"{run.job_id}-run-{run.id}-signoff.html"


def write_report(path: Path, html: str) -> None:
    """Written whole or not at all (a temp file beside it, then renamed)."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(html, encoding="utf-8")
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def save_report(svc: Runtime, run_id: int, folder: Path, *, prepared_by: str) -> Path:
    """The console's key: the page written into `folder` under a name not yet taken
    (…-signoff-2.html), so an earlier summary is never overwritten."""
    html = render_report(svc, run_id, prepared_by=prepared_by)
    run = svc.store.run(run_id)
    assert run is not None  # render_report checked it
    first = folder / default_name(run)
    target, n = first, 2
    while target.exists():
        target = first.with_name(f"{first.stem}-{n}{first.suffix}")
        n += 1
    write_report(target, html)
    return target


_CSS = """
@page { size: auto; margin: 14mm 12mm; }
* { box-sizing: border-box; }
body { font: 10pt/1.35 "DejaVu Sans", Arial, Helvetica, sans-serif; color: #111;
       margin: 0 auto; max-width: 190mm; padding: 8mm 0; }
h1 { font-size: 16pt; margin: 0 0 2mm; }
h2 { font-size: 12pt; margin: 6mm 0 2mm; border-bottom: 1px solid #999; }
.meta { display: grid; grid-template-columns: max-content 1fr; gap: 0.5mm 5mm; margin: 2mm 0; }
.meta dt { color: #555; } .meta dd { margin: 0; font-weight: 600; }
.totals { display: flex; gap: 4mm; flex-wrap: wrap; margin: 3mm 0; }
.totals div { border: 1px solid #bbb; padding: 1.5mm 3mm; border-radius: 1mm; }
.totals b { display: block; font-size: 12pt; }
table { width: 100%; border-collapse: collapse; margin: 1mm 0 3mm; }
thead { display: table-header-group; }
tr { page-break-inside: avoid; break-inside: avoid; }
th, td { border-bottom: 1px solid #ccc; padding: 0.8mm 1.5mm; text-align: left;
         vertical-align: top; }
th { background: #eee; font-size: 8.5pt; }
td { font-size: 8.5pt; }
td.n, th.n { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
.no { color: #a00; } .ok { color: #060; } .warn { color: #8a5a00; }
td.ok, td.no, td.o { white-space: nowrap; }
.note { font-style: italic; }
.sign { margin-top: 10mm; display: grid; grid-template-columns: 1fr 1fr; gap: 10mm; }
.sign div { border-top: 1px solid #000; padding-top: 1mm; color: #555; }
.small { color: #555; font-size: 8pt; }
"""


def _page(run: RunRow, plan: Plan, rows: list[_Row], log: list[LogEntry], prepared_by: str,
          now: datetime, back: int | None) -> str:
    psa = plan.task.psa_name
    e = escape
    approved = [r for r in rows if r.item.approved]
    written = [r for r in rows if r.outcome == "written"]
    net = sum((r.item.money_delta for r in approved), ZERO)
    kind = "Applied run" if run.kind == "apply" else "Preview (nothing written)"
    meta = [("Job", run.label), ("PSA", psa), ("Billing period", f"{plan.period.start} – "
                                                               f"{plan.period.end}"),
            ("Run", f"{run.id} · {kind} · {run.status}"),
            ("Started", _local(run.started_at)), ("Finished", _local(run.finished_at)),
            ("Prepared by", f"{prepared_by}, {_local(now)}")]
    if back is not None:
        meta.append(("Reverted", f"by run {back}: the quantities below were put back"))
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>Billing sign-off · {e(run.label)} · {plan.period.end}</title>",
           f"<style>{_CSS}</style></head><body>",
           f"<h1>Billing sign-off — {e(run.label)}</h1>", '<dl class="meta">']
    out += [f"<dt>{e(k)}</dt><dd>{e(str(v))}</dd>" for k, v in meta]
    out.append("</dl>")
    totals = [("Changes", str(len(rows))), ("Approved", str(len(approved))),
              ("Not approved", str(len(rows) - len(approved))),
              ("Net Δ money (approved)", _num(net, signed=True, money=True))]
    if run.kind == "apply":
        totals.insert(2, ("Written", str(len(written))))
    out.append('<div class="totals">' + "".join(
        f"<div>{e(k)}<b>{e(v)}</b></div>" for k, v in totals) + "</div>")

    out.append("<h2>Totals by customer</h2>")
    out.append('<table><thead><tr><th>Customer</th><th class="n">Changes</th>'
               '<th class="n">Approved</th><th class="n">Δ qty (approved)</th>'
               '<th class="n">Δ money (approved)</th><th class="n">Warnings</th></tr>'
               "</thead><tbody>")
    by: dict[str, list[_Row]] = defaultdict(list)
    for r in rows:
        by[r.item.customer_code].append(r)
    warn_by = Counter(i.customer_code for i in plan.items
                      if i.level.rank >= Level.WARNING.rank)
    names = {i.customer_code: i.customer_name for i in plan.items}
    for cust in sorted(set(by) | set(warn_by)):
        rs = by.get(cust, [])
        ok = [r for r in rs if r.item.approved]
        cash = _num(sum((r.item.money_delta for r in ok), ZERO), signed=True, money=True)
        out.append(
            f"<tr><td>{e(cust)} · {e(names.get(cust, ''))}</td><td class=n>{len(rs)}</td>"
            f"<td class=n>{len(ok)}</td>"
            f"<td class=n>{_num(sum((r.item.delta for r in ok), ZERO), signed=True)}</td>"
            f"<td class=n>{cash}</td>"
            f"<td class=n>{warn_by.get(cust, 0) or ''}</td></tr>")
    out.append("</tbody></table>")

    out.append("<h2>Every change</h2>")
    out.append('<table><thead><tr><th>Customer</th><th>Atria SKU</th><th>PSA product · '
               'agreement</th><th class="n">PSA</th><th class="n">Atria</th>'
               '<th class="n">Δ qty</th><th class="n">Δ money</th><th>Decision</th>'
               "<th>Outcome</th><th>Note</th></tr></thead><tbody>")
    for r in rows:
        i = r.item
        cls = "ok" if i.approved else "no"
        out.append(
            f"<tr><td>{e(i.customer_code)}</td><td>{e(i.sku or i.description)}</td>"
            f"<td>{e(i.product_code)}<br><span class=small>{e(i.contract_name)}</span></td>"
            f"<td class=n>{_num(i.psa_quantity)}</td><td class=n>{_num(i.target_quantity)}</td>"
            f"<td class=n>{_num(i.delta, signed=True)}</td>"
            f"<td class=n>{_num(i.money_delta, signed=True, money=True)}</td>"
            f'<td class="{cls}">{e(r.decision)}</td><td class="o">{e(r.outcome)}</td>'
            f'<td class="note">{e(i.note)}</td></tr>')
    if not rows:
        out.append('<tr><td colspan="10">No change: the PSA already matched Atria.</td></tr>')
    out.append("</tbody></table>")

    counts = Counter(x.code for x in log if x.level.rank >= Level.WARNING.rank)
    counts.update(i.code for i in plan.items if i.level.rank >= Level.WARNING.rank
                  and not log)
    out.append("<h2>Warnings and errors by code</h2>")
    if counts:
        out.append('<table><thead><tr><th>Code</th><th class="n">Count</th><th>What</th>'
                   "<th>Resolution (the integration guide)</th></tr></thead><tbody>")
        for code, n in sorted(counts.items()):
            d = codes.CATALOG.get(code)
            out.append(f"<tr><td class=warn>{e(code)}</td><td class=n>{n}</td>"
                       f"<td>{e(d.when if d else '')}</td>"
                       f"<td>{e(codes.resolution(code) or 'No resolution in the guide')}</td>"
                       "</tr>")
        out.append("</tbody></table>")
    else:
        out.append("<p>None.</p>")
    blocked = [i for i in plan.items
               if not i.action.writes and i.level.rank >= Level.WARNING.rank]
    if blocked:
        out.append(f"<p class=small>{len(blocked)} Atria row(s) could not be matched and are "
                   "not billed in the PSA; they are listed in the run's log.</p>")
    out.append('<div class="sign"><div>Reviewed and approved by (name, signature)</div>'
               "<div>Date</div></div>")
    out.append(f"<p class=small>atria-tui · run {run.id} · from the run history, no PSA "
               "request made for this page</p>")
    out.append("</body></html>")
    return "\n".join(out)
