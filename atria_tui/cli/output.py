"""How the CLI prints plans, logs and runs: a table for people, JSON/CSV for machines."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TextIO

from rich.console import COLOR_SYSTEMS, Console
from rich.control import strip_control_codes
from rich.style import Style
from rich.table import Table
from rich.text import Text

from atria_tui.core import numbers
from atria_tui.core.export import (
    LOG_HEADER,
    PLAN_HEADER,
    csv_text,
    item_message,
    log_rows,
    plan_rows,
)
from atria_tui.core.localtime import zone_name
from atria_tui.core.model import Level, LogEntry, Plan, PlanItem
from atria_tui.core.serialize import entry_dict, item_dict
from atria_tui.engine.reconcile import review_reason
from atria_tui.engine.store import RunRow
from atria_tui.services import history
from atria_tui.services.doctor import DoctorReport

LEVEL_STYLE = {Level.VERBOSE: "dim", Level.INFO: "", Level.WARNING: "yellow",
               Level.ERROR: "bold red"}


def console(stream: TextIO | None = None) -> Console:
    """Piped output gets a wide fixed width: logs and tables are read in files, not 80 cols."""
    stream = stream or sys.stdout
    width = None if stream.isatty() else 200
    return Console(file=stream, highlight=False, soft_wrap=False, width=width)


def held_reasons(plan: Plan | None, swing_threshold: float) -> dict[str, str]:
    """Item key → why the write is held (decrease, swing), for the unapproved ones: the
    status the console's preview shows, so a script reads the same review state."""
    if plan is None:
        return {}
    return {i.key: review_reason(i, swing_threshold) or "not approved"
            for i in plan.items if i.action.writes and not i.approved and i.status is None}


def result_json(task: str, period_end: str, plan: Plan | None,
                entries: Sequence[LogEntry], *, held: Mapping[str, str] | None = None,
                **extra: Any) -> str:
    buffer = io.StringIO()
    write_result_json(buffer, task, period_end, plan, entries, held=held, **extra)
    return buffer.getvalue().removesuffix("\n")


def write_result_json(stream: TextIO, task: str, period_end: str, plan: Plan | None,
                      entries: Sequence[LogEntry], *, held: Mapping[str, str] | None = None,
                      **extra: Any) -> None:
    """One JSON document, written a row at a time, one row a line, with C's encoder.

    `json.dumps(..., indent=2)` of a 44,000-row plan took the pure-Python encoder,
    millions of small strings and a 26 MB text printed whole: most of the run's time and
    peak memory at a big MSP (issue 12)."""
    held = held or {}

    def item(i: PlanItem) -> dict[str, Any]:
        d = {**item_dict(i), "message": item_message(i)}
        if "status" not in d and i.key in held:
            d["status"] = held[i.key]
        return d

    def listed(name: str, rows: Iterable[dict[str, Any]], last: bool) -> None:
        stream.write(f'  "{name}": [')
        sep = "\n    "
        for r in rows:
            stream.write(sep + json.dumps(r))
            sep = ",\n    "
        stream.write(("\n  ]" if sep != "\n    " else "]") + ("\n" if last else ",\n"))

    stream.write("{\n")
    for k, v in {"task": task, "period_end": period_end}.items():
        stream.write(f"  {json.dumps(k)}: {json.dumps(v)},\n")
    listed("items", map(item, plan.items) if plan else (), last=False)
    listed("log", map(entry_dict, entries), last=not extra)
    for n, (k, v) in enumerate(extra.items(), start=1):
        stream.write(f"  {json.dumps(k)}: {json.dumps(v)}" +
                     ("\n" if n == len(extra) else ",\n"))
    stream.write("}\n")


def plan_csv(plan: Plan | None, held: Mapping[str, str] | None = None) -> str:
    return csv_text(PLAN_HEADER, plan_rows(plan.items if plan else [], held or {}))


def log_csv(entries: Iterable[LogEntry]) -> str:
    return csv_text(LOG_HEADER, log_rows(entries))


PLAN_COLUMNS = (("Customer", "<"), ("SKU", "<"), ("Description", "<"), ("Atria", ">"),
                ("PSA", ">"), ("Δ", ">"), ("Δ money", ">"), ("Action", "<"), ("Code", "<"))


def shown_in_table(item: PlanItem) -> bool:
    """A row the table lists: a change, a problem, or a row with an outcome. Unchanged lines
    are counted, not drawn: at a big MSP they are 40,000 rows nobody reads on a terminal,
    and JSON, CSV and the log below the table still list every one."""
    return item.action.writes or item.status is not None or \
        item.level.rank >= Level.WARNING.rank


def _styled(out: Console, text: str, style: str) -> str:
    """`text` with its level's colour when the console draws colour, else as it is."""
    if not style or out.color_system is None or out.no_color:
        return text
    return Style.parse(style).render(text, color_system=COLOR_SYSTEMS[out.color_system])


def print_plan(out: Console, plan: Plan) -> None:
    """Plain fixed-width lines, measured once: rich's Table measured every cell of every
    row, which cost 33 s of CPU at 44,000 rows (issue 12); this costs what the text does."""
    shown = [i for i in plan.items if shown_in_table(i)]
    rows = [(strip_control_codes(i.customer_code), strip_control_codes(i.sku),
             strip_control_codes(i.description[:40]), numbers.qty(i.atria_quantity),
             numbers.qty(i.psa_quantity), numbers.signed_qty(i.delta) if i.delta else "",
             numbers.signed_money(i.money_delta) if i.delta else "",
             i.action.value + (f" ({i.status.value})" if i.status else ""), i.code)
            for i in shown]
    widths = [max([len(name), *(len(r[n]) for r in rows)])
              for n, (name, _) in enumerate(PLAN_COLUMNS)]
    write = out.file.write
    title = f"{plan.task.psa_name} plan — billing period ending {plan.period.end}"
    write(_styled(out, title, "italic") + "\n")
    head = "  ".join(f"{name:{align}{w}}" for (name, align), w in zip(PLAN_COLUMNS, widths,
                                                                    strict=True))
    write(_styled(out, head.rstrip(), "bold") + "\n")
    write("  ".join("─" * w for w in widths) + "\n")
    aligns = [a for _, a in PLAN_COLUMNS]
    for item, row in zip(shown, rows, strict=True):
        cells = [f"{c:{a}{w}}" for c, a, w in zip(row[:-1], aligns, widths, strict=False)]
        write("  ".join(cells) + "  " + _styled(out, row[-1], LEVEL_STYLE[item.level]) + "\n")
    unchanged = len(plan.items) - len(shown)
    if unchanged:
        write(f"{unchanged} unchanged row(s) not listed (--format json or csv lists every "
              "row)\n")
    out.file.flush()
    out.print(f"{len(plan.changes)} change(s), money Δ "
              f"{numbers.signed_money(plan.money_delta)} per period; {len(plan.items)} row(s)")


def print_log(out: Console, entries: Iterable[LogEntry]) -> None:
    """One entry a line, written as text (rich's per-line rendering cost seconds at 44,000
    entries). Piped, a line is never wrapped or cut however long: scripts grep and count
    log lines, and a message folded at the console width would be two entries; on a
    terminal a line is cut at its width, as before."""
    piped = not out.is_terminal
    width = out.width
    write = out.file.write
    for e in entries:
        when = local_time(e.time) if e.time else "---------- --:--:--"
        head = f"{when} {e.level.value:<7} {e.code} "
        message = strip_control_codes(e.message)
        if not piped:
            message = message.replace("\n", " ")[:max(0, width - len(head))]
        write(head + _styled(out, message, LEVEL_STYLE[e.level]) + "\n")
    out.file.flush()


def local_time(when: datetime) -> str:
    """A stored UTC time in the reader's zone, labelled: "2026-11-28 14:39:04 AEDT"."""
    here = when.astimezone() if when.tzinfo is not None else when
    return f"{here:%Y-%m-%d %H:%M:%S} {here.tzname() or ''}".rstrip()


def print_outcome(stream: TextIO, run_id: int, status: str, requests: int,
                  fatal: LogEntry | None) -> None:
    """How a run ended, in one or two plain lines (for stderr beside machine output)."""
    if fatal is not None:
        print(f"atria-tui: {fatal.code} {fatal.message}", file=stream)
    print(f"atria-tui: run {run_id}: {status} ({requests} PSA request(s))", file=stream)


def print_runs(out: Console, runs: Sequence[RunRow],
               reverted: Mapping[int, int] | None = None) -> None:
    """The run history; an apply whose writes were put back says by which revert, and the
    times are the reader's local ones (stored UTC), with the zone in the header."""
    zone = zone_name()
    t = Table(header_style="bold")
    for col in ("Run", "Job", "Task", "Kind", "Period", "Status", "Written", "Δ money",
                f"Started ({zone})", f"Finished ({zone})"):
        t.add_column(col, justify="right" if col in ("Written", "Δ money") else "left")
    for r in runs:
        kind = " ".join(filter(None, (r.kind, history.related_text(r))))
        if reverted and r.id in reverted:
            kind += f", reverted by {reverted[r.id]}"
        t.add_row(str(r.id), r.label, r.task, kind, r.period_end, r.status,
                  *history.totals_text(r), _stamp(r.started_at), _stamp(r.finished_at))
    out.print(t)


def _stamp(stamp: str | None) -> str:
    if not stamp:
        return ""
    try:
        return f"{datetime.fromisoformat(stamp).astimezone():%Y-%m-%d %H:%M:%S}"
    except ValueError:
        return stamp


VERDICT_STYLE = {"works": "green", "exists": "green", "skipped": "dim"}


def print_doctor(out: Console, report: DoctorReport) -> None:
    """The doctor's table: one row per check; alternatives dimmed unless they are the fix."""
    job = report.job
    out.print(Text(f"{job.label} · {job.task.psa_name} · URL {report.api_url or '(empty)'}",
                   "bold"))
    for name, base in report.bases:
        out.print(Text(f"{name}: {base}", "dim"))
    if report.fatal:
        out.print(Text(f"Stopped: {report.fatal}", "bold red"))
        return
    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    for name in ("Check", "Candidate", "Request", "HTTP", "Verdict", "Next"):
        table.add_column(name, overflow="fold")
    fixes = {id(p) for p in report.alternatives}
    for p in report.probes:
        style = VERDICT_STYLE.get(p.verdict, "bold red" if p.needed else "yellow")
        row_style = "" if p.needed or id(p) in fixes else "dim"
        request = f"{p.method} {p.url}".strip()
        table.add_row(p.step, p.candidate, Text(request), str(p.status or ""),
                      Text(p.verdict, style), Text(p.advice), style=row_style)
    out.print(table)
    if report.ok:
        out.print(Text("Every route this job needs answers.", "green"))
    else:
        failing = sorted({p.step for p in report.probes if p.needed and not p.ok})
        out.print(Text(f"Not ready: {', '.join(failing)}.", "bold red"))
        for p in report.alternatives:
            out.print(Text(f"  {p.step}: the shipped route set {p.candidate!r} works here: set "
                           f'[endpoints] routes = "{p.candidate}" in the job file.'))
