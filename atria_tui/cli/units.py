"""What installs the scheduler into the system's own timers: `schedule --print-cron` and
`schedule --print-systemd`.

`schedule --once` is made for cron or a systemd timer (run every few minutes, it runs what
became due and exits). Writing that crontab line or unit pair by hand is where the
interpreter path, the jobs folder and the environment get lost, so the CLI prints them.
Secrets are named, never filled in: each job's secrets come from the encrypted store, and
where its key is not reachable from a timer (no desktop keyring at night) the variables
listed override them.
"""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path

from atria_tui.core.paths import HOME_ENV
from atria_tui.engine.secret_store import env_name
from atria_tui.job.file import JobConfig, load_job
from atria_tui.job.folder import job_files
from atria_tui.job.parameters import ConfigError
from atria_tui.psa import profile_of

__all__ = ["UNIT", "command", "cron_text", "secret_variables", "systemd_units"]

UNIT = "atria-tui-schedule"
EVERY_MINUTES = 5


def command(folder: Path) -> list[str]:
    """`atria-tui schedule --once --jobs FOLDER`, by the absolute path of this install."""
    beside = Path(sys.executable).parent / "atria-tui"  # the script of this very install
    exe = str(beside) if beside.is_file() else shutil.which("atria-tui")
    head = [str(Path(exe).absolute())] if exe else [sys.executable, "-m", "atria_tui.cli.main"]
    return [*head, "schedule", "--once", "--jobs", str(folder)]


def secret_variables(folder: Path) -> list[tuple[str, str]]:
    """(variable, the jobs that use it) for every secret the folder's jobs need."""
    wanted: dict[str, list[str]] = {}
    for path in job_files(folder):
        try:
            job: JobConfig = load_job(path)
        except ConfigError:
            continue  # `atria-tui jobs` says what is wrong with it
        names = [*profile_of(job.task).secret_names, *job.notify.targets]
        if job.source.kind == "api":
            names.append("AtriaToken")
        for name in names:
            wanted.setdefault(env_name(name), []).append(job.key)
    return sorted((var, ", ".join(dict.fromkeys(keys))) for var, keys in wanted.items())


def _home_line() -> list[str]:
    import os

    home = os.environ.get(HOME_ENV, "").strip()
    return [f"{HOME_ENV}={home}"] if home else []


def cron_text(folder: Path) -> str:
    """A crontab entry (with the variables to set named in comments)."""
    lines = [f"# atria-tui: run the jobs in {folder} when due (checked every "
             f"{EVERY_MINUTES} minutes).",
             "# Secrets come from the encrypted store; where its key is not reachable from "
             "cron, set these", "# (values not shown here), e.g. in the crontab above the "
             "line:"]
    lines += [f"#   {var}=…    (jobs: {jobs})" for var, jobs in secret_variables(folder)]
    env = " ".join(_home_line())
    lines.append(f"*/{EVERY_MINUTES} * * * * {env + ' ' if env else ''}"
                 f"{shlex.join(command(folder))} >> {folder / 'schedule.log'} 2>&1")
    return "\n".join(lines) + "\n"


def systemd_units(folder: Path) -> dict[str, str]:
    """The `.service` and `.timer` pair (user units: `~/.config/systemd/user/`)."""
    env_file = "%h/.config/atria-tui/schedule.env"
    variables = secret_variables(folder)
    service = ["[Unit]", f"Description=atria-tui: run the billing jobs in {folder} when due",
               "After=network-online.target", "Wants=network-online.target", "",
               "[Service]", "Type=oneshot",
               *(f"Environment={shlex.quote(v)}" for v in _home_line()),
               "# Secrets: the encrypted store, or these variables in the file below "
               "(mode 600; values not shown):",
               *(f"#   {var}=…    (jobs: {jobs})" for var, jobs in variables),
               f"EnvironmentFile=-{env_file}",
               f"ExecStart={shlex.join(command(folder))}", ""]
    timer = ["[Unit]", f"Description=atria-tui: check the billing jobs every "
             f"{EVERY_MINUTES} minutes", "", "[Timer]",
             f"OnCalendar=*:0/{EVERY_MINUTES}", "Persistent=true", f"Unit={UNIT}.service", "",
             "[Install]", "WantedBy=timers.target", ""]
    return {f"{UNIT}.service": "\n".join(service), f"{UNIT}.timer": "\n".join(timer)}
