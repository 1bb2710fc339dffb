"""`atria-tui jobs` and `atria-tui schedule`: the jobs folder and its scheduler, headless.

`schedule --once` is made for the system's own cron (run it every few minutes): it runs
what became due since the last pass and exits. `schedule` stays up and does the same at
each fire time. Neither marks other processes' runs as interrupted (the console's
start-up does), because a second scheduler or a console may be running one right now.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

TYPE_CHECKING = False  # `typing` itself costs `--help` 5 ms; mypy reads the name as True
if TYPE_CHECKING:  # each command imports what it runs: `--help` builds this parser too
    from typing import Any

    from atria_tui.services.runtime import Runtime
    from atria_tui.services.schedule import ScheduledResult

__all__ = ["register", "result_line"]


def register(sub: Any) -> None:
    """Add `jobs` and `schedule` to the CLI's subparsers (argparse's _SubParsersAction)."""
    sp = sub.add_parser("jobs", help="list the jobs: cron, next run, last result",
                        description="list the jobs: cron, next run, last result")
    sp.add_argument("--jobs", dest="jobs_dir", metavar="DIR",
                    help="jobs folder (default: the configured jobs folder)")
    sp.set_defaults(fn=cmd_jobs)
    help_ = "run jobs when their cron says (Ctrl-C stops); --once: run what is due, exit"
    sp = sub.add_parser("schedule", help=help_, description=help_ + ". A job is first "
                        "watched from the moment a scheduler first sees it; missed slots "
                        "run once; disabled jobs never run.")
    sp.add_argument("--once", action="store_true",
                    help="run every enabled job that is due since its last run, then exit "
                    "(exit 2 if a run failed)")
    sp.add_argument("--jobs", dest="jobs_dir", metavar="DIR",
                    help="jobs folder (default: the configured jobs folder)")
    how = sp.add_mutually_exclusive_group()
    how.add_argument("--print-cron", action="store_true",
                     help="print the crontab line that runs `schedule --once` for the folder")
    how.add_argument("--print-systemd", action="store_true",
                     help="print the systemd .service + .timer pair that runs it")
    sp.add_argument("--out", metavar="DIR",
                    help="with --print-systemd: write the two unit files into DIR instead")
    sp.set_defaults(fn=cmd_schedule)


def _folder(args: argparse.Namespace) -> Path | None:
    """The jobs folder, or None after printing why it is unusable."""
    from atria_tui.core.paths import config_dir

    given = getattr(args, "jobs_dir", None) or getattr(args, "jobs", None)
    folder = Path(given).expanduser() if given else config_dir()
    if folder.exists() and not folder.is_dir():
        print(f"atria-tui: --jobs {folder}: not a folder", file=sys.stderr)
        return None
    if given and not folder.exists():
        print(f"atria-tui: --jobs {folder}: no such folder", file=sys.stderr)
        return None
    return folder.absolute()


def _services() -> Runtime:
    from atria_tui.cli.emulators import EMULATORS  # sandbox:// jobs: the demo's emulators
    from atria_tui.services.runtime import default_runtime

    return default_runtime(embedded=EMULATORS)


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else ""


def cmd_jobs(args: argparse.Namespace) -> int:
    from rich.table import Table

    from atria_tui.cli import output as out
    from atria_tui.core.paths import db_path
    from atria_tui.engine.store import Store
    from atria_tui.job.file import load_job
    from atria_tui.job.folder import job_files
    from atria_tui.job.parameters import ConfigError
    from atria_tui.services.schedule import local_now, next_fire

    folder = _folder(args)
    if folder is None:
        return 1
    store = Store(db_path())
    con = out.console()
    files = job_files(folder)
    if not files:
        con.print(f"No job files in {folder}")
        return 0
    table = Table(title=f"Jobs in {folder}", header_style="bold")
    for col in ("Label", "Task", "Cron", "Next run", "Enabled", "Last result"):
        table.add_column(col)
    problems: list[str] = []
    now = local_now()
    for path in files:
        try:
            job = load_job(path)
        except ConfigError as exc:
            table.add_row(path.name, "", "", "", "", "invalid job file (see below)")
            problems.append(str(exc))
            continue
        runs = store.runs(job.key, 1)
        last = f"{runs[0].status} ({runs[0].kind} #{runs[0].id})" if runs else "never run"
        upcoming = next_fire(job.cron, now) if job.enabled else None
        table.add_row(job.label or path.stem, job.task.value, job.cron, _when(upcoming),
                      "yes" if job.enabled else "no", last)
    con.print(table)
    for text in problems:
        con.print(text, style="red", markup=False)
    return 0


def _print_units(args: argparse.Namespace, folder: Path) -> int:
    from atria_tui.cli import units

    if args.print_cron:
        sys.stdout.write(units.cron_text(folder))
        return 0
    pair = units.systemd_units(folder)
    if not args.out:
        for name, text in pair.items():
            sys.stdout.write(f"# --- {name} ---\n{text}\n")
        return 0
    target = Path(args.out).expanduser()
    taken = [target / n for n in pair if (target / n).exists()]
    if taken:
        print(f"atria-tui: --out {target}: {taken[0].name} exists; remove it or choose "
              "another folder", file=sys.stderr)
        return 1
    target.mkdir(parents=True, exist_ok=True)
    for name, text in pair.items():
        (target / name).write_text(text, encoding="utf-8")
    print(f"Wrote {', '.join(pair)} to {target}. Then: systemctl --user daemon-reload && "
          f"systemctl --user enable --now {units.UNIT}.timer")
    return 0


def result_line(r: ScheduledResult) -> str:
    """One line per job for `schedule`: what happened, with the run id when it ran."""
    from atria_tui.services.schedule import INVALID, NOT_DUE, RAN

    if r.outcome == INVALID:  # the message names the file, line and field already
        return f"invalid job file: {r.message}"
    name = f"{r.label} [{r.job_id}]"
    if r.outcome == RAN:
        return f"{name}: run {r.run_id} {r.status} (slot {_when(r.slot)})"
    if r.outcome == NOT_DUE:
        extra = f"; {r.message}" if r.message else ""
        return f"{name}: not due (next run {_when(r.next_run) or 'never'}){extra}"
    return f"{name}: {r.outcome}: {r.message}"


def cmd_schedule(args: argparse.Namespace) -> int:
    import asyncio

    from atria_tui.services.schedule import local_now, run_due

    folder = _folder(args)
    if folder is None:
        return 1
    if args.print_cron or args.print_systemd:
        return _print_units(args, folder)
    svc = _services()
    if args.once:
        results = asyncio.run(run_due(svc, folder, local_now()))
        if not results:
            print(f"No job files in {folder}")
        for r in results:
            print(result_line(r), flush=True)
        return 2 if any(r.exit_code == 2 for r in results) else 0
    return asyncio.run(_serve(svc, folder))


def _report(r: ScheduledResult) -> None:
    from atria_tui.services.schedule import CRASHED, INVALID, LOCKED, local_now

    stream = sys.stderr if r.outcome in (INVALID, LOCKED, CRASHED) else sys.stdout
    print(f"{local_now():%Y-%m-%d %H:%M:%S} {result_line(r)}", file=stream, flush=True)


async def _serve(svc: Runtime, folder: Path) -> int:
    """First Ctrl-C: finish the run in progress, then stop. Second: interrupt it."""
    import asyncio

    from atria_tui.job.folder import job_files
    from atria_tui.services.schedule import local_now, serve

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()

    def on_signal() -> None:
        if stop.is_set():
            if main is not None:
                main.cancel()
            return
        stop.set()
        print("Stopping after the current run (Ctrl-C again to interrupt it)", flush=True)

    handled: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, on_signal)
            handled.append(sig)
        except (NotImplementedError, RuntimeError):  # not on this platform/thread
            pass
    print(f"Scheduler watching {folder} ({len(job_files(folder))} job file(s)); "
          "Ctrl-C to stop", flush=True)
    try:
        await serve(svc, folder, local_now, asyncio.sleep, stop, report=_report)
    except asyncio.CancelledError:
        print("Scheduler interrupted; an interrupted apply resumes on the job's next run",
              file=sys.stderr, flush=True)
        return 130
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
    print("Scheduler stopped", flush=True)
    return 0
