"""`atria-tui` itself, with Kaseya's waits on the benchmark's virtual clock.

    python -m benchmarks.virtual_cli CLOCK_FILE plan JOB.toml --format json

Why a wrapper: a 5,000-customer Kaseya plan waits hours for the 1,500 calls/hour budget,
and the measured process is the CLI, not the benchmark. This runs the CLI's own `main` in
this process (so its wall time, peak RSS and requests are the CLI's), after giving every
Kaseya session the call budget, token clock and sleep of the shared virtual clock
(`benchmarks/vclock.py`), and the runtime a transport that tells the clock when requests
are in flight. Nothing else about the command changes; ConnectWise runs need none of this
and are measured on the real `atria-tui` entry point.
"""

from __future__ import annotations

import sys
from typing import Any


def main(argv: list[str]) -> int:
    from benchmarks.vclock import SharedOffset, VirtualClock

    clock = VirtualClock(SharedOffset(argv[0]))

    from atria_tui.adapters.http import CallBudget
    from atria_tui.cli import main as cli
    from atria_tui.core.model import Task
    from atria_tui.services import engine as runs

    real_open = runs.open_session

    def open_session(job: Any, api_url: str, secrets: Any, **kw: Any) -> Any:
        if job.task is Task.KASEYA:
            kw.setdefault("sleep", clock.sleep)
            kw.setdefault("clock", clock.utcnow)
            kw.setdefault("budget", CallBudget(job.options.call_budget_per_hour,
                                               clock=clock.monotonic, sleep=clock.sleep))
        return real_open(job, api_url, secrets, **kw)

    real_services = cli.services

    def services() -> Any:
        runtime = real_services()
        runtime.transport = clock.transport()
        return runtime

    runs.open_session = open_session
    cli.services = services
    return cli.main(argv[1:])


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
