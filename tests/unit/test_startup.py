"""Headless commands start without the console or the emulators.

Start-up time is paid by every cron run and every script line: `--help` and the headless
commands must not import Textual, the console or the sandbox (the emulators are loaded only
for `sandbox://` URLs). Each check runs in a fresh interpreter, because this test process
has imported everything already; what is asserted is which modules got loaded, not a time.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from atria_tui.cli.main import TASK_CHOICES
from atria_tui.core.model import Task

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"
HEAVY = ("textual", "atria_tui.console", "atria_tui.sandbox")


def loaded_after(code: str, env: dict[str, str] | None = None) -> dict[str, bool]:
    """Run `code` in a child interpreter; which of HEAVY (and httpx, rich, asyncio) it
    loaded, prefixes included (`atria_tui.sandbox.server` counts as the sandbox)."""
    probe = ("\nimport json, sys\nnames = " + repr((*HEAVY, "httpx", "rich", "asyncio")) +
             "\nprint(json.dumps({n: any(m == n or m.startswith(n + '.') for m in sys.modules)"
             " for n in names}))\n")
    proc = subprocess.run([sys.executable, "-c", code + probe], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout.splitlines()[-1]))


def closed_port() -> int:
    """A local port nobody listens on: a request there is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_help_imports_neither_the_console_nor_the_engine() -> None:
    loaded = loaded_after(
        "import contextlib\n"
        "from atria_tui.cli.main import main\n"
        "for argv in (['--help'], ['plan', '--help'], ['schedule', '--help']):\n"
        "    with contextlib.suppress(SystemExit), contextlib.redirect_stdout(None):\n"
        "        main(argv)\n")
    assert loaded == {n: False for n in loaded}


# What `--help` used to load and needs not: `typing` (the annotations are strings), the
# sockets, hashing and prompts of `serve`, and `shutil` (argparse's default formatter asks
# it for the terminal's width; with zlib, bz2 and lzma it was a tenth of `--help`).
NOT_FOR_HELP = ("typing", "socket", "hmac", "hashlib", "getpass", "ipaddress", "shutil",
                "json", "sqlite3", "decimal", "datetime", "atria_tui.core", "atria_tui.job")


def test_help_loads_only_argparse_and_the_command_table() -> None:
    # Compared with what the interpreter had before (site, a .pth file may load some).
    code = ("import contextlib, sys\n"
            "before = set(sys.modules)\n"
            "from atria_tui.cli.main import main\n"
            "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(None):\n"
            "    main(['--help'])\n"
            f"names = {NOT_FOR_HELP!r}\n"
            "print(sorted(n for n in names if any(m == n or m.startswith(n + '.')\n"
            "                                     for m in set(sys.modules) - before)))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_headless_commands_never_import_textual_the_console_or_the_sandbox(
        tmp_path: Path) -> None:
    # The ConnectWise demo job pointed at a real (refusing) host instead of sandbox://.
    text = (SAMPLES / "demo-connectwise.toml").read_text()
    text = text.replace('path = "demo-connectwise-billing.csv"',
                        f'path = "{SAMPLES / "demo-connectwise-billing.csv"}"')
    text = text.replace("sandbox://connectwise",
                        f"http://127.0.0.1:{closed_port()}").replace("retries = 2",
                                                                      "retries = 0")
    job = tmp_path / "job.toml"
    job.write_text(text)
    env = {"ATRIA_TUI_COMPANYNAME": "acme", "ATRIA_TUI_PUBLICKEY": "pub",
           "ATRIA_TUI_PRIVATEKEY": "priv", "ATRIA_TUI_CLIENTID": "client"}
    code = (
        "import contextlib, io\n"
        "from atria_tui.cli.main import main\n"
        f"job = {str(job)!r}\n"
        "codes = []\n"
        "for argv in (['plan', job], ['plan', job, '--format', 'json'], ['apply', job, '--yes'],\n"
        "             ['runs'], ['log', '1'], ['doctor', job], ['jobs', '--jobs', "
        f"{str(tmp_path)!r}],\n"
        f"             ['schedule', '--once', '--jobs', {str(tmp_path)!r}]):\n"
        "    with contextlib.redirect_stdout(io.StringIO()), "
        "contextlib.redirect_stderr(io.StringIO()):\n"
        "        codes.append(main(argv))\n"
        "assert codes[3:5] == [0, 0], codes  # the runs were recorded and read back\n"
        "import atria_tui.services.engine, atria_tui.services.doctor\n"
        "import atria_tui.services.schedule, atria_tui.cli.output\n")
    loaded = loaded_after(code, env)
    assert loaded["httpx"] and loaded["rich"]  # the commands did run
    assert {n: loaded[n] for n in HEAVY} == {n: False for n in HEAVY}


def test_a_sandbox_url_loads_the_emulators_on_first_use() -> None:
    loaded = loaded_after(
        "from atria_tui.cli.main import services\n"
        "from atria_tui.core.model import Task\n"
        "svc = services()\n"
        "assert not svc.embedded_secrets(Task.KASEYA, 'https://example.com')\n"
        "import sys; assert 'atria_tui.sandbox' not in sys.modules\n"
        "assert svc.embedded_secrets(Task.KASEYA, 'sandbox://kaseya')\n")
    assert loaded["atria_tui.sandbox"] and not loaded["textual"]


def test_the_parsers_task_choices_are_the_tasks() -> None:
    assert tuple(t.value for t in Task) == TASK_CHOICES


def test_sniffio_is_installed() -> None:
    """httpcore looks sniffio up on every request; a failed import each time costs CPU."""
    import sniffio

    assert sniffio.current_async_library
