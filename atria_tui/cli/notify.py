"""`atria-tui notify-test JOB.toml`: one test message to each of the job's `[notify]`
targets, so the URLs are known to work before the night's scheduled run needs them."""

from __future__ import annotations

import argparse
from pathlib import Path

from atria_tui.cli.errors import UsageError

TYPE_CHECKING = False  # `--help` builds this parser too: no `typing` import for it
if TYPE_CHECKING:
    from typing import Any

__all__ = ["register"]


def register(sub: Any) -> None:
    help_ = "send a test message to the job's [notify] targets"
    sp = sub.add_parser("notify-test", help=help_, description=help_ + "; exit 0 when every "
                        "target took it, 2 otherwise")
    sp.add_argument("job", help="job file (TOML)")
    sp.set_defaults(fn=cmd_notify_test)


def cmd_notify_test(args: argparse.Namespace) -> int:
    from atria_tui.cli.main import services
    from atria_tui.job.file import load_job
    from atria_tui.job.parameters import ConfigError
    from atria_tui.services.notify import send_test

    try:
        job = load_job(Path(args.job))
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    if not job.notify.targets:
        raise UsageError(f"{args.job}: no [notify] targets; add e.g.\n[notify]\ntargets = "
                         '["NotifyTeams"]\nwhen = "warnings"\nand store the URL with '
                         f"`atria-tui secret {args.job} NotifyTeams`")
    sent = send_test(services(), job)
    for s in sent:
        print(f"{s.target}: {'sent' if s.ok else 'not sent: ' + s.error}")
    return 0 if all(s.ok for s in sent) else 2
