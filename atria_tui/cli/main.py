"""`atria-tui`: the console, and the same engine headless for cron and scripts.

Exit status: 0 completed (warnings allowed); 2 the run ended on an error-level code or a
change could not be written; 1 bad usage or configuration; 130 Ctrl-C, 143 SIGTERM. Bad
input is reported as one line naming the file, line and field; a traceback would be a bug.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import signal
import sys
from pathlib import Path

from atria_tui.cli import notify as cli_notify
from atria_tui.cli import schedule as cli_schedule
from atria_tui.cli import serve as cli_serve
from atria_tui.cli.errors import UsageError

# Start-up time is the user's: `--help` and the parser import nothing beyond the standard
# library, each command imports what it runs when it runs, and no headless command loads
# Textual, the console or the emulators (tests/unit/test_startup.py holds that). Not even
# `typing` (5 ms): mypy reads any name TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from atria_tui.job.file import JobConfig
    from atria_tui.services.engine import RunResult
    from atria_tui.services.runtime import Runtime

# `import-job --task` choices: Task's values, spelled here so the parser needs no model
# import (tests/unit/test_startup.py checks they stay equal).
TASK_CHOICES = ("connectwise-manage", "kaseya-bms", "autotask-psa")

_signals = {"terminated": False}


def _on_sigterm(signum: int, frame: object) -> None:
    """SIGTERM (a service manager stopping a cron job, `kill`) is handed on as SIGINT, so it
    unwinds exactly like Ctrl-C: asyncio cancels the run, which leaves an apply's journal
    resumable, and the same hint is printed."""
    _signals["terminated"] = True
    if callable(signal.getsignal(signal.SIGINT)):
        signal.raise_signal(signal.SIGINT)
    else:  # SIGINT ignored (a background job of a script): interrupt directly
        raise KeyboardInterrupt


def _sigterm_like_ctrl_c() -> None:
    """By default SIGTERM kills the process mid-write with no word; this makes it a Ctrl-C
    (the exit status says which: 143, not 130). `demo` installs its own handler later."""
    _signals["terminated"] = False
    # Only the main thread may set handlers; an embedding program keeps its own.
    with contextlib.suppress(ValueError, OSError):
        signal.signal(signal.SIGTERM, _on_sigterm)


def _interrupted_status() -> int:
    return 128 + int(signal.SIGTERM) if _signals["terminated"] else 130


class CommandFailed(Exception):
    """The command could not finish for a reason outside its input (a full disk): printed
    as one line, exit status 2."""


# A disk that is full or failing is not the user's typing: exit 2. Any other reason a file
# cannot be written (a folder, a missing folder, no permission) is a bad path: exit 1.
_NOT_USAGE = {errno.ENOSPC, errno.EDQUOT, errno.EIO}


def _write_failed(flag: str, path: Path, what: str, exc: OSError) -> Exception:
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        reason += " (disk full)"
    text = f"{flag} {path}: cannot write {what}: {reason}"
    return CommandFailed(text) if exc.errno in _NOT_USAGE else UsageError(text)


def services() -> Runtime:
    """The runtime of every command: `sandbox://` URLs reach the embedded emulators (the
    CLI is the edge that wires them in; they are built only when such a URL is used)."""
    from atria_tui.cli.emulators import EMULATORS
    from atria_tui.services.runtime import default_runtime

    return default_runtime(embedded=EMULATORS)


def _job(path: str) -> JobConfig:
    from atria_tui.job.file import load_job
    from atria_tui.job.parameters import ConfigError

    try:
        return load_job(Path(path))
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def _emit(args: argparse.Namespace, res: RunResult) -> int:
    from atria_tui.cli import output as out

    fmt = getattr(args, "format", "table")
    period = res.plan.period.end.isoformat() if res.plan else ""
    held = out.held_reasons(res.plan, res.job.options.swing_threshold)
    if fmt == "json":
        extra = {"run_id": res.run_id, "status": res.status, "requests": res.requests}
        out.write_result_json(sys.stdout, res.job.task.value, period, res.plan, res.entries,
                              held=held, **extra)
    elif fmt == "csv":
        sys.stdout.write(out.plan_csv(res.plan, held))
        # The CSV holds rows only; how the run ended goes where a script's log goes.
        out.print_outcome(sys.stderr, res.run_id, res.status, res.requests, res.fatal)
    else:
        con = out.console()
        if res.plan and res.plan.items:
            out.print_plan(con, res.plan)
        out.print_log(con, res.entries)
        con.print(f"Run {res.run_id}: {res.status} ({res.requests} PSA request(s))")
    if res.fatal is not None:  # for cron mail and scripts: why the run ended, in one line
        _say(f"run {res.run_id} failed: {res.fatal.code} {res.fatal.message}")
    if res.job.notify.targets:
        from atria_tui.services.notify import notify_run

        for failed in notify_run(services(), res, args.command):  # never changes the exit
            _say(f"{failed.code} {failed.message}")
    return res.exit_code


def cmd_plan(args: argparse.Namespace) -> int:
    import asyncio

    from atria_tui.services.engine import plan_job

    job = _job(args.job)
    return _emit(args, asyncio.run(plan_job(services(), job)))


def cmd_doctor(args: argparse.Namespace) -> int:
    import asyncio
    import json

    from atria_tui.cli import output as out
    from atria_tui.services.doctor import doctor_job

    job = _job(args.job)
    report = asyncio.run(doctor_job(services(), job))
    if args.format == "json":
        print(json.dumps(report.to_json(), indent=2))
    else:
        out.print_doctor(out.console(), report)
    return 0 if report.ok else 2


def cmd_apply(args: argparse.Namespace) -> int:
    import asyncio

    from atria_tui.services.engine import StoredPlanError, apply_job, stored_plan

    job = _job(args.job)
    if not args.yes:
        raise UsageError("apply writes to the PSA: run `atria-tui plan` to review, then add "
                         "--yes to apply")
    svc = services()
    reviewed = None
    if args.plan is not None:
        run = svc.store.run(args.plan)
        if run is None or run.kind != "plan" or run.job_id != job.key:
            raise UsageError(f"run {args.plan}: not a plan run of job {job.key!r} "
                             "(see `atria-tui runs`)")
        try:
            reviewed = stored_plan(svc, args.plan)
        except StoredPlanError as exc:
            raise UsageError(str(exc)) from None
        if reviewed is None:
            raise UsageError(f"run {args.plan} ended before it had a plan; plan again")
        if args.approve_all:
            for item in reviewed.items:
                item.approved = True
    return _emit(args, asyncio.run(apply_job(svc, job, reviewed=reviewed,
                                             resume=not args.no_resume,
                                             approve_all=args.approve_all,
                                             of_run=args.plan)))


def cmd_revert(args: argparse.Namespace) -> int:
    import asyncio

    from atria_tui.services import history
    from atria_tui.services.engine import revert_run

    svc = services()
    run = svc.store.run(args.run)
    if run is None or run.kind != "apply":
        raise UsageError(f"run {args.run}: no apply run with that number (see `atria-tui runs`)")
    if not args.yes:
        raise UsageError(f"revert writes to the PSA: add --yes to revert run {args.run}")
    job = _job(args.job) if args.job else _find_job(run.job_id)
    earlier = history.reverted_by(svc, args.run)
    if earlier is not None:
        _say(f"run {args.run} was already reverted by run {earlier}: each line is re-read "
             "and only one holding this run's quantity again is written")
    return _emit(args, asyncio.run(revert_run(svc, job, args.run)))


def _find_job(job_id: str) -> JobConfig:
    from atria_tui.core.paths import config_dir
    from atria_tui.services.jobs import find_job

    job = find_job(config_dir(), job_id)
    if job is None:
        raise UsageError(f"job {job_id!r} not found in {config_dir()}: pass --job JOB.toml")
    return job


def cmd_runs(args: argparse.Namespace) -> int:
    from atria_tui.cli import output as out
    from atria_tui.services import history

    svc = services()
    job_id = (_job(args.job)).key if args.job else None
    rows = svc.store.runs(job_id, args.limit)
    reverts = {r.id: by for r in rows if r.kind == "apply"
               and (by := history.reverted_by(svc, r.id)) is not None}
    out.print_runs(out.console(), rows, reverts)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    import getpass

    from atria_tui.services.report import ReportError, default_name, render_report, write_report

    svc = services()
    try:
        html = render_report(svc, args.run, prepared_by=args.by or getpass.getuser())
    except ReportError as exc:
        raise UsageError(str(exc)) from None
    run = svc.store.run(args.run)
    assert run is not None  # render_report checked it
    target = Path(args.out) if args.out else Path(default_name(run))
    if target.exists() and not args.force:
        raise UsageError(f"--out {target}: exists; pass --force to replace it, or another "
                         "--out")
    try:
        write_report(target, html)
    except OSError as exc:
        raise _write_failed("--out", target, "the sign-off summary", exc) from None
    print(f"Sign-off summary of run {args.run} written to {target} (open it in a browser "
          "and print to A4/Letter or PDF)")
    return 0


def cmd_log(args: argparse.Namespace) -> int:
    from atria_tui.cli import output as out
    from atria_tui.core.export import LOG_HEADER, log_rows, write_csv
    from atria_tui.services.engine import stored_notes, stored_places

    svc = services()
    if svc.store.run(args.run) is None:
        raise UsageError(f"run {args.run}: no such run (see `atria-tui runs`)")
    entries = svc.store.log(args.run)
    if args.csv:
        target = Path(args.csv)
        try:
            notes: dict[tuple[str, str], str] = {}
            with contextlib.suppress(ValueError, KeyError, TypeError):  # a damaged plan
                notes = stored_notes(svc, args.run)
            n = write_csv(target, LOG_HEADER,
                          log_rows(entries, notes, stored_places(svc, args.run)))
        except OSError as exc:
            raise _write_failed("--csv", target, "the log export", exc) from None
        print(f"{n} log entries written to {args.csv}")
    elif args.format == "json":
        print(out.result_json("", "", None, entries, run_id=args.run))
    else:
        out.print_log(out.console(), entries)
    return 0


def cmd_import_job(args: argparse.Namespace) -> int:
    from atria_tui.core.model import Task
    from atria_tui.engine.secret_store import SecretStore
    from atria_tui.job.file import new_job, save_job
    from atria_tui.job.guide_import import import_blocks
    from atria_tui.job.parameters import ConfigError

    task = Task(args.task)
    target = Path(args.out)
    if target.is_dir():
        raise UsageError(f"--out {target}: is a folder; give the job file to write, e.g. "
                         f"{target / 'job.toml'}")
    if not target.parent.is_dir():
        raise UsageError(f"--out {target}: the folder {target.parent} does not exist")
    params_text = _read_arg(args.params)
    secrets_text = _read_arg(args.secrets) if args.secrets else "{}"
    try:
        params, secrets = import_blocks(task, params_text, secrets_text)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    job = new_job(task, args.label or "")
    job.parameters.update(params)
    if args.source:
        job.source.path = Path(args.source).resolve()
    job.id = target.stem
    try:
        save_job(job, target)
    except OSError as exc:
        raise _write_failed("--out", target, "the job file", exc) from None
    store = SecretStore()
    for name, value in secrets.items():
        store.set(job.id, name, str(value))
    print(f"Job written to {target}; {len(secrets)} secret(s) stored encrypted "
          f"({', '.join(sorted(secrets)) or 'none'})")
    return 0


def cmd_secret(args: argparse.Namespace) -> int:
    import getpass

    from atria_tui.engine.secret_store import SecretStore

    job = _job(args.job)
    value = sys.stdin.readline().rstrip("\n") if args.stdin else getpass.getpass(
        f"{args.name} (input hidden): ")
    if not value:
        raise UsageError(f"{args.name}: empty value, nothing stored")
    SecretStore().set(job.key, args.name, value)
    print(f"{args.name} stored encrypted for job {job.key!r}")
    return 0


def _read_arg(value: str) -> str:
    if value == "-":
        return sys.stdin.read()
    try:
        return Path(value).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{value}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{value}: not UTF-8 text (byte {exc.start})") from None


def cmd_sandbox(args: argparse.Namespace) -> int:
    from atria_tui.sandbox.server import serve

    serve(args.host, args.port, latency_ms=args.latency_ms, kaseya_lines=args.kaseya_lines)
    return 0


def cmd_console(args: argparse.Namespace) -> int:
    from atria_tui.console.app import make_app
    from atria_tui.core.paths import config_dir

    jobs = Path(args.jobs).expanduser() if args.jobs else config_dir()
    if jobs.exists() and not jobs.is_dir():
        raise UsageError(f"--jobs {jobs}: not a folder")
    make_app(jobs_dir=jobs.absolute(), services=services(), open_run=args.run).run()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from atria_tui.cli.demo import DemoError, cleanup, demo_home
    from atria_tui.console.app import make_app
    from atria_tui.job.parameters import ConfigError

    try:
        jobs = demo_home()
    except (DemoError, ConfigError) as exc:
        raise UsageError(f"demo: {exc}") from None
    app = make_app(jobs_dir=jobs, demo=True, services=services())
    # A closed terminal (SIGHUP) or a kill (SIGTERM) must still remove the throwaway home.
    for name in ("SIGHUP", "SIGTERM"):  # SIGHUP does not exist on Windows
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), lambda *_: app.exit())
    try:
        app.run()
    finally:
        cleanup(jobs)
    return 0


class _Formatter(argparse.HelpFormatter):
    """argparse's own, given the width up front: its default asks `shutil`, whose import
    (with zlib, bz2 and lzma) is a tenth of what `--help` costs."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        if width is None:  # shutil.get_terminal_size's rule: COLUMNS, the terminal, 80
            try:
                width = int(os.environ.get("COLUMNS", "").strip() or 0)
            except ValueError:
                width = 0
            if width <= 0:
                try:
                    width = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
                except (AttributeError, ValueError, OSError):
                    width = 0
            width = (width or 80) - 2  # as argparse does
        super().__init__(prog, indent_increment, max_help_position, width)


class _Parser(argparse.ArgumentParser):
    """Every parser of the table with `_Formatter` (subparsers are made of this class too,
    those that `schedule`, `serve` and `notify` register included)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="atria-tui", description=__doc__.splitlines()[0],
                epilog="Without a command, the console opens on the jobs folder.")
    p.add_argument("--jobs", metavar="DIR",
                   help="jobs folder for the console (default: the configured jobs folder)")
    p.add_argument("--run", type=int, metavar="RUN",
                   help="open the console on this run's log (as a run summary's link says)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, fn: object, help_: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.set_defaults(fn=fn)
        return sp

    sp = add("plan", cmd_plan, "dry run: compare Atria with the PSA, write nothing")
    sp.add_argument("job", help="job file (TOML)")
    sp.add_argument("--format", choices=("table", "json", "csv"), default="table")
    sp = add("doctor", cmd_doctor, "first contact, read-only: host, TLS, login and every "
             "route the job uses (with the shipped alternatives); writes nothing")
    sp.add_argument("job", help="job file (TOML)")
    sp.add_argument("--format", choices=("table", "json"), default="table")
    sp = add("apply", cmd_apply, "apply the plan's changes to the PSA")
    sp.add_argument("job")
    sp.add_argument("--yes", action="store_true", help="confirm the writes")
    sp.add_argument("--format", choices=("table", "json"), default="table")
    sp.add_argument("--plan", type=int, metavar="RUN",
                    help="apply exactly the plan of an earlier `plan` run (re-checked per line)")
    sp.add_argument("--no-resume", action="store_true",
                    help="plan afresh even if an earlier apply was interrupted")
    sp.add_argument("--approve-all", action="store_true",
                    help="also write decreases and large swings (held for review otherwise, "
                    "as in the console's preview)")
    sp = add("revert", cmd_revert, "restore the quantities an apply run changed")
    sp.add_argument("run", type=int)
    sp.add_argument("--yes", action="store_true")
    sp.add_argument("--job", help="job file (default: found by the run's job id)")
    sp.add_argument("--format", choices=("table", "json"), default="table")
    sp = add("runs", cmd_runs, "list past runs")
    sp.add_argument("--job")
    sp.add_argument("--limit", type=int, default=50)
    sp = add("log", cmd_log, "show or export a run's log")
    sp.add_argument("run", type=int)
    sp.add_argument("--csv", metavar="FILE", help="write the log as CSV")
    sp.add_argument("--format", choices=("table", "json"), default="table")
    sp = add("report", cmd_report, "write a run's month-end sign-off summary: a "
             "self-contained HTML page that prints to A4/Letter")
    sp.add_argument("run", type=int)
    sp.add_argument("--out", metavar="FILE",
                    help="the HTML file (default JOB-run-N-signoff.html here)")
    sp.add_argument("--by", metavar="NAME", help="who prepared it (default: your login)")
    sp.add_argument("--force", action="store_true", help="replace an existing file")
    sp = add("import-job", cmd_import_job, "make a job from the guide's JSON blocks")
    sp.add_argument("--task", choices=TASK_CHOICES, required=True)
    sp.add_argument("--params", required=True, help="parameters JSON file, or - for stdin")
    sp.add_argument("--secrets", help="secrets JSON file, or - for stdin")
    sp.add_argument("--label")
    sp.add_argument("--source", help="billing export file (CSV or JSON)")
    sp.add_argument("--out", required=True, help="job file to write")
    sp = add("secret", cmd_secret, "store one secret for a job (write-only, encrypted)")
    sp.add_argument("job")
    sp.add_argument("name")
    sp.add_argument("--stdin", action="store_true", help="read the value from stdin")
    sp = add("sandbox", cmd_sandbox, "serve the PSA and Atria emulators over HTTP")
    sp.add_argument("--host", default="127.0.0.1")
    sp.add_argument("--port", type=int, default=8765)
    sp.add_argument("--latency-ms", type=int, default=0)
    sp.add_argument("--kaseya-lines", choices=("none", "v2", "ui-api2", "v1"), default="none",
                    help="which guessed Kaseya route set lists a contract's lines and changes "
                    "Units (default none: only what the vendor's swagger documents, so GET on "
                    "the POST-only route answers 405)")
    add("demo", cmd_demo, "the console on the embedded sandbox with the demo jobs "
        "(throwaway data, no account, no network)")
    cli_schedule.register(sub)
    cli_serve.register(sub)
    cli_notify.register(sub)
    return p


def _spelling(p: argparse.ArgumentParser, command: str | None) -> dict[str, str]:
    """dest → the argument as typed (`--csv`, `JOB`), for the command that was parsed."""
    parsers = [p]
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            parsers.append(action.choices[command])
    return {a.dest: a.option_strings[-1] if a.option_strings else a.dest.upper()
            for q in parsers for a in q._actions}


def _check_input(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Paths with a NUL byte and a home that is not a folder fail deep inside os calls
    with errors that name neither the argument nor the variable: refuse them here."""
    for dest, value in vars(args).items():
        if isinstance(value, str) and "\0" in value:
            name = _spelling(p, getattr(args, "command", None)).get(dest, dest)
            raise UsageError(f"{name}: contains a NUL byte ({value[:60]!r})")
    from atria_tui.core.paths import HOME_ENV

    home = os.environ.get(HOME_ENV, "").strip()
    if home and "\0" not in home:
        folder = Path(home).expanduser()
        if folder.exists() and not folder.is_dir():
            raise UsageError(f"{HOME_ENV}={home}: not a folder; point it at a folder (or "
                             "unset it)")


def _say(text: str) -> None:
    """One line on stderr, whatever line breaks a file name or a value brought along."""
    print("atria-tui: " + " ".join(text.splitlines()), file=sys.stderr)


def _crash(exc: BaseException) -> int:
    """A bug: one line for the terminal, the traceback kept in a file for the report."""
    import traceback
    from datetime import UTC, datetime

    from atria_tui.core.paths import data_dir

    details = "".join(traceback.format_exception(exc))
    try:
        log = data_dir() / "crash.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a", encoding="utf-8") as fh:
            fh.write(f"--- {datetime.now(UTC).isoformat(timespec='seconds')} atria-tui "
                     f"{sys.argv[1:2]}\n{details}\n")
        where = f"details written to {log}"
    except (OSError, ValueError) as err:
        where = f"details could not be written: {err}"
    text = " ".join(str(exc).split())
    text = text if len(text) <= 200 else text[:197] + "..."
    _say(f"unexpected error: {type(exc).__name__}: {text} ({where})")
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    _sigterm_like_ctrl_c()
    p = parser()
    args = p.parse_args(argv)
    fn = getattr(args, "fn", None) or cmd_console
    try:
        _check_input(p, args)
        return int(fn(args))
    except KeyboardInterrupt:
        print("atria-tui: interrupted; run `atria-tui apply` again to finish pending writes",
              file=sys.stderr)
        return _interrupted_status()
    except Exception as exc:
        return _failed(exc)


def _failed(exc: Exception) -> int:
    """The exit status of a command that raised, and its one line on stderr. The error
    classes are imported here, not at the top: `--help` must not pay for the engine."""
    from atria_tui.engine.joblock import JobLocked
    from atria_tui.engine.secret_store import SecretError
    from atria_tui.engine.store import StoreError
    from atria_tui.job.parameters import ConfigError

    if isinstance(exc, UsageError | ConfigError):
        _say(str(exc))
        return 1
    if isinstance(exc, SecretError):
        _say(f"secrets: {exc}")
        return 1
    if isinstance(exc, JobLocked):
        print(f"atria-tui: {exc}", file=sys.stderr)
        return 1
    if isinstance(exc, StoreError | CommandFailed):
        _say(str(exc))
        return 2
    if isinstance(exc, BrokenPipeError):
        # The reader went away (`| head`): what it wanted it has; say nothing more, and
        # keep Python from complaining about the closed stdout at exit.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    return _crash(exc)  # the last resort: a bug, still never a bare traceback


if __name__ == "__main__":
    sys.exit(main())
