"""What the shell's screens look like (SVG snapshots; update with --snapshot-update)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from atria_tui.console.app import AtriaApp

SIZE = (140, 40)  # the contract's fixed size
Build = Callable[[], AtriaApp]


def test_jobs_screen(snap_compare: Any, shell_app: Build) -> None:
    assert snap_compare(shell_app(), terminal_size=SIZE)


def test_job_form_with_inline_errors(snap_compare: Any, shell_app: Build) -> None:
    async def break_fields(pilot: Pilot[None]) -> None:
        await pilot.press("e")
        form = pilot.app.screen
        form.query_one("#f-cron", Input).value = "0 22 31 2 *"
        form.query_one("#f-day", Input).value = "31"
        await pilot.pause()

    assert snap_compare(shell_app(), terminal_size=SIZE, run_before=break_fields)


def test_job_form_secrets_section(snap_compare: Any, shell_app: Build) -> None:
    async def scroll_down(pilot: Pilot[None]) -> None:
        await pilot.press("down", "e")
        pilot.app.screen.query_one("#form").scroll_end(animate=False)
        await pilot.pause()

    assert snap_compare(shell_app(), terminal_size=SIZE, run_before=scroll_down)


def test_test_connection_of_the_kaseya_demo_job(snap_compare: Any, shell_app: Build) -> None:
    async def test(pilot: Pilot[None]) -> None:
        import time

        from textual.widgets import Static

        await pilot.press("down", "e", "f5")
        end = time.monotonic() + 20
        while "Checking" in str(pilot.app.screen.query_one("#doctor-status",
                                                          Static).render()):
            assert time.monotonic() < end
            await pilot.pause(0.05)
        await pilot.pause()

    assert snap_compare(shell_app(), terminal_size=SIZE, run_before=test)


def test_delete_confirmation(snap_compare: Any, shell_app: Build) -> None:
    assert snap_compare(shell_app(), press=["down", "d"], terminal_size=SIZE)


def test_seed_paste_error(snap_compare: Any, shell_app: Build) -> None:
    async def paste(pilot: Pilot[None]) -> None:
        await pilot.press("e", "f2")
        pilot.app.screen.query_one("#seed-parameters", TextArea).text = (
            '{\n  "ApiUrl": "https://na.example.com"\n  "BillingPeriod": "Previous"\n}')
        await pilot.press("ctrl+s")
        await pilot.pause()

    assert snap_compare(shell_app(), terminal_size=SIZE, run_before=paste)


def test_help_screen(snap_compare: Any, shell_app: Build) -> None:
    assert snap_compare(shell_app(), press=["question_mark", "down", "down"],
                        terminal_size=SIZE)
