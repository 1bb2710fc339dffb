"""The job form: inline checks, write-only secrets, seed JSON paste, saving as TOML."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widgets import Button, Input, Static, Switch, TextArea

from atria_tui.console.app import AtriaApp
from atria_tui.console.screens.confirm import ConfirmScreen
from atria_tui.console.screens.form_modals import SeedPasteScreen
from atria_tui.console.screens.job_form import JobFormScreen
from atria_tui.console.screens.jobs import JobsScreen
from atria_tui.job.file import load_job
from atria_tui.services.runtime import Runtime

AppFactory = Callable[..., AtriaApp]
CW = "demo-connectwise.toml"


def hint(form: JobFormScreen, hint_id: str) -> str:
    return str(form.query_one(f"#{hint_id}", Static).render())


async def open_form(app: AtriaApp, pilot: object, row: int = 0) -> JobFormScreen:
    if row:
        await pilot.press("down")  # type: ignore[attr-defined]
    await pilot.press("e")  # type: ignore[attr-defined]
    assert isinstance(app.screen, JobFormScreen)
    return app.screen


async def test_fields_are_checked_as_typed_and_block_saving(app_factory: AppFactory,
                                                            jobs_dir: Path) -> None:
    before = (jobs_dir / CW).read_text()
    app = app_factory()
    async with app.run_test(size=(140, 40)) as pilot:
        form = await open_form(app, pilot)
        assert hint(form, "h-cron") == ("next: Thu 2026-11-26 22:00, Sat 2026-12-26 22:00, "
                                        "Tue 2027-01-26 22:00")
        cron = form.query_one("#f-cron", Input)
        cron.value = "0 22 32 * *"
        await pilot.pause()
        assert "invalid cron expression" in hint(form, "h-cron")
        assert cron.has_class("-invalid")
        form.query_one("#p-BillingPeriod", Input).value = "Last"
        await pilot.pause()
        assert "Current, Previous or a date YYYY-MM-DD" in hint(form, "hp-BillingPeriod")
        form.query_one("#p-BillingPeriod", Input).value = "previous"
        await pilot.pause()
        assert hint(form, "hp-BillingPeriod") == ("today that is the period 2026-09-26 to "
                                                   "2026-10-25")
        form.query_one("#p-ApiUrl", Input).value = "ftp://psa.example.com"
        await pilot.pause()
        assert "https://" in hint(form, "hp-ApiUrl")
        form.query_one("#p-CustomersFilter", Input).value = "ASP, FR1,,ASP"
        await pilot.pause()
        assert hint(form, "hp-CustomersFilter") == "2 customers: ASP, FR1"
        form.query_one("#f-day", Input).value = "30"
        await pilot.pause()
        assert "from 1 to 28" in hint(form, "h-day")
        form.query_one("#f-label", Input).focus()
        await pilot.press("ctrl+s")
        assert app.screen is form  # refused, focus on the first wrong field
        assert cron.has_focus
        assert (jobs_dir / CW).read_text() == before


async def test_saved_as_toml_with_parameters_typed(app_factory: AppFactory,
                                                   jobs_dir: Path) -> None:
    text = (jobs_dir / CW).read_text().replace("[parameters]\n", "[parameters]\nMyOwn = 7\n")
    (jobs_dir / CW).write_text(text)
    app = app_factory()
    async with app.run_test(size=(140, 40)) as pilot:
        form = await open_form(app, pilot)
        assert "MyOwn" in hint(form, "other-params")
        form.query_one("#f-cron", Input).value = "0  6 1 * *"
        form.query_one("#p-CustomersFilter", Input).value = "ASP, FR1"
        form.query_one("#p-BillingPeriod", Input).value = "current"
        form.query_one("#p-AllowAtriaCreateAdditions", Switch).value = False
        form.query_one("#f-enabled", Switch).value = False
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, JobsScreen)
    data = tomllib.loads((jobs_dir / CW).read_text())
    assert data["cron"] == "0 6 1 * *"
    assert data["enabled"] is False
    assert data["source"]["path"] == "demo-connectwise-billing.csv"  # stays relative
    assert data["parameters"]["CustomersFilter"] == ["ASP", "FR1"]
    assert data["parameters"]["BillingPeriod"] == "Current"
    assert data["parameters"]["AllowAtriaCreateAdditions"] is False
    assert data["parameters"]["MyOwn"] == 7  # a user's own key survives the form
    assert load_job(jobs_dir / CW).task.value == "connectwise-manage"


async def test_secrets_are_write_only(app_factory: AppFactory, services: Runtime) -> None:
    services.secrets.set("demo-connectwise", "PublicKey", "old-public-key")
    app = app_factory()
    async with app.run_test(size=(140, 40)) as pilot:
        form = await open_form(app, pilot)
        public = form.query_one("#s-PublicKey", Input)
        assert public.password and public.value == ""  # never pre-filled
        assert hint(form, "hs-PublicKey").startswith("set")
        assert hint(form, "hs-PrivateKey").startswith("not set")
        form.query_one("#s-PrivateKey", Input).value = "new-private-key"
        await pilot.pause()
        assert hint(form, "hs-PrivateKey").startswith("typed · stored encrypted when you save")
        await pilot.press("ctrl+s")
        await pilot.pause()
        resolved = services.secrets.resolve("demo-connectwise", ["PublicKey", "PrivateKey"],
                                            env={})
        assert dict(resolved) == {"PublicKey": "old-public-key",
                                  "PrivateKey": "new-private-key"}
        form = await open_form(app, pilot)
        assert hint(form, "hs-PrivateKey").startswith("set")
        assert form.query_one("#s-PrivateKey", Input).value == ""


async def test_paste_seed_json_reports_line_and_column_then_fills(
        app_factory: AppFactory, services: Runtime) -> None:
    app = app_factory()
    async with app.run_test(size=(140, 40)) as pilot:
        form = await open_form(app, pilot)
        await pilot.press("f2")
        dialog = app.screen
        assert isinstance(dialog, SeedPasteScreen)
        params = dialog.query_one("#seed-parameters", TextArea)
        params.text = '{\n  "apiUrl": "https://na.example.com/v4_6_release/apis/3.0"\n  "x": 1\n}'
        await pilot.press("ctrl+s")
        error = str(dialog.query_one("#seed-error", Static).render())
        assert error.startswith("parameters block: line 3, column 3")
        assert params.cursor_location == (2, 2)
        params.text = ('  1. {\n  2.  "apiUrl":" https://na.example.com/v4_6_release/apis/3.0",\n'
                       '  3.  "customersFilter": "ASP,FR1",\n  4. }')
        dialog.query_one("#seed-secrets", TextArea).text = '{"ClientID": "abc-123",}'
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is form
        assert form.query_one("#p-ApiUrl", Input).value == (
            "https://na.example.com/v4_6_release/apis/3.0")
        assert form.query_one("#p-CustomersFilter", Input).value == "ASP, FR1"
        assert form.query_one("#s-ClientId", Input).value == "abc-123"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, JobsScreen)
    assert services.secrets.names_set("demo-connectwise") == {"ClientId"}


async def test_cancel_with_changes_asks_to_discard(app_factory: AppFactory,
                                                  jobs_dir: Path) -> None:
    before = (jobs_dir / CW).read_text()
    app = app_factory()
    async with app.run_test(size=(140, 40)) as pilot:
        form = await open_form(app, pilot)
        await pilot.press("escape")
        assert isinstance(app.screen, JobsScreen)  # unchanged: closes at once
        form = await open_form(app, pilot)
        form.query_one("#f-label", Input).value = "Renamed"
        await pilot.press("escape")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert app.screen is form
        await pilot.press("escape", "y")
        assert isinstance(app.screen, JobsScreen)
    assert (jobs_dir / CW).read_text() == before


async def test_kaseya_form_has_its_own_parameters(app_factory: AppFactory) -> None:
    app = app_factory()
    async with app.run_test(size=(140, 40)) as pilot:
        form = await open_form(app, pilot, row=1)
        assert form.query("#p-SKUFieldMatch") and form.query("#p-ContractType")
        assert not form.query("#p-AgreementType")
        assert {w.id for w in form.query("Input.-textual-compact")} >= {"s-UserName",
                                                                        "s-Tenant"}


async def test_test_connection_runs_doctor_on_the_form_as_it_stands(
        app_factory: AppFactory) -> None:
    import time

    from textual.widgets import DataTable

    from atria_tui.console.screens.doctor import DoctorScreen
    from atria_tui.sandbox.server import shared

    async def checked(app: AtriaApp, pilot: object) -> DoctorScreen:
        screen = app.screen
        assert isinstance(screen, DoctorScreen)
        end = time.monotonic() + 20
        while "Checking" in str(screen.query_one("#doctor-status", Static).render()):
            assert time.monotonic() < end, "doctor did not finish"
            await pilot.pause(0.05)  # type: ignore[attr-defined]
        return screen

    app = app_factory()
    async with app.run_test(size=(140, 40)) as pilot:
        form = await open_form(app, pilot)
        form.query_one("#s-PrivateKey", Input).value = "not-the-key"   # typed, not saved
        await pilot.press("f5")
        screen = await checked(app, pilot)
        status = str(screen.query_one("#doctor-status", Static).render())
        assert status.startswith("Not ready: login")
        rows = screen.query_one(DataTable)
        assert rows.row_count == 1 and "refused" in str(rows.get_row_at(0)[4])
        await pilot.press("escape")
        assert app.screen is form
        form.query_one("#s-PrivateKey", Input).value = ""                # the stored one
        form.query_one("#test-connection", Button).press()
        await pilot.pause()
        screen = await checked(app, pilot)
        assert str(screen.query_one("#doctor-status", Static).render()) == \
            "Every route this job needs answers."
        verdicts = [str(screen.query_one(DataTable).get_row_at(i)[4])
                    for i in range(screen.query_one(DataTable).row_count)]
        assert verdicts.count("works") >= 6 and "exists" in verdicts
        await pilot.press("escape")
    # Read-only: the sandbox's quantities are the seed's.
    assert shared().connectwise.quantity_of("AcmeServices", "M365-BP") == [10]


async def test_switches_say_on_or_off(app_factory: AppFactory) -> None:
    app = app_factory()
    async with app.run_test(size=(140, 40)) as pilot:
        form = await open_form(app, pilot)
        switch = form.query_one("#f-enabled", Switch)
        state = switch.parent.query_one(".switch-state", Static)  # type: ignore[union-attr]
        assert str(state.render()) == "on"
        switch.toggle()
        await pilot.pause()
        assert str(state.render()) == "off"


async def test_typing_after_a_burst_of_backspaces_keeps_every_character(
        app_factory: AppFactory) -> None:
    """Review defect 25 (characters lost after 60 backspaces in tmux): keys in, value out."""
    app = app_factory()
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(app, pilot)
        box = form.query_one("#f-path", Input)
        box.focus()
        await pilot.press("end", *["backspace"] * 60)
        assert box.value == ""
        text = "billing/exports/2026-11/connectwise-billing-final.csv"  # 51 characters
        await pilot.press(*[{"/": "slash", "-": "minus", ".": "full_stop"}.get(c, c)
                            for c in text])
        assert box.value == text


async def test_test_connection_rows_keep_their_widths_when_painted_before_measured(
        app_factory: AppFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first row painted between the rows going in and the table measuring them (the
    cursor row, at times) is drawn at the final column widths, not the headers' widths."""
    import time

    from textual.widgets import DataTable

    from atria_tui.console.screens.doctor import DoctorScreen

    checked = DoctorScreen.on_doctor_screen_checked

    def checked_then_painted(screen: DoctorScreen, event: DoctorScreen.Checked) -> None:
        checked(screen, event)
        screen.query_one(DataTable).render_line(1)  # what an early repaint of row 0 does

    monkeypatch.setattr(DoctorScreen, "on_doctor_screen_checked", checked_then_painted)
    app = app_factory()
    async with app.run_test(size=(140, 40)) as pilot:
        await open_form(app, pilot)
        await pilot.press("f5")
        screen = app.screen
        assert isinstance(screen, DoctorScreen)
        table = screen.query_one(DataTable)
        end = time.monotonic() + 20
        while not table.row_count:
            assert time.monotonic() < end, "doctor did not finish"
            await pilot.pause(0.05)
        await pilot.pause()
        request = str(table.get_row_at(0)[2])
        assert len(request) > len("Request") and request in table.render_line(1).text
