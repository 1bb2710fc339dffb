"""The Autotask demo job in the console: preview, approve, apply, by keys, with no screen
knowing which PSA it is (everything goes through the profile)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from atria_tui.adapters import autotask
from atria_tui.cli.demo import SAMPLES
from atria_tui.console.app import AtriaApp, make_app
from atria_tui.console.screens.apply import ApplyScreen
from atria_tui.console.screens.confirm import ConfirmScreen
from atria_tui.core.model import Action
from atria_tui.sandbox.server import reset_shared, shared
from tests.functional.test_preview_flow import open_preview, until
from tests.support import fixed, runtime

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def at_app(tmp_path: Path, _isolated_home: Path) -> Iterator[AtriaApp]:
    folder = tmp_path / "jobs"
    folder.mkdir()
    for name in ("demo-autotask.toml", "demo-autotask-billing.csv"):
        shutil.copy(SAMPLES / name, folder / name)
    reset_shared()  # a fresh embedded tenant: other tests' writes must not show here
    autotask._ZONES.clear()
    svc = runtime(_isolated_home, environ={}, now=fixed())
    yield make_app(jobs_dir=folder, services=svc, demo=True)
    svc.store.close()
    reset_shared()


def units_on(cs_id: int, day: date) -> int:
    state = shared().autotask
    rows = [r for r in state.units_of(cs_id)
            if r["startDate"][:10] <= day.isoformat() <= r["endDate"][:10]]
    return int(max(rows, key=lambda r: r["startDate"])["units"])


async def test_preview_and_apply_the_autotask_demo(at_app: AtriaApp) -> None:
    app = at_app
    async with app.run_test(size=(140, 40)) as pilot:
        preview = await open_preview(app, pilot)
        codes = {(i.customer_code, i.sku): i.code for i in preview.items}
        assert codes[("ASP", "M365-BP")] == "AP07" and codes[("ASP", "AV-EDR")] == "AP08"
        assert codes[("FRC", "M365-BP")] == "AP26" and codes[("TWN", "")] == "AP31"
        await pilot.press("A")                       # approve all shown, after asking
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        approved = [i for i in preview.items if i.action.writes and i.approved]
        assert {(i.customer_code, i.sku) for i in approved} >= {
            ("ASP", "M365-BP"), ("ASP", "EXO-50"), ("ASP", "AV-EDR"), ("PST", "M365-BP")}
        await pilot.press("a")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        apply = app.screen
        assert isinstance(apply, ApplyScreen)
        await until(pilot, lambda: not apply.running, "the apply")
        assert apply.result is not None and apply.result.outcome is not None
        zero = [i for i in approved if i.action is Action.ZERO]
        assert apply.result.outcome.applied == len(approved) - len(zero)
    dec = date(2026, 12, 1)
    assert units_on(6001, dec) == 12 and units_on(6002, dec) == 3   # M365-BP up, EXO-50 down
    assert units_on(6004, dec) == 4                                  # 0 refused: left
    assert units_on(6051, date(2027, 1, 1)) == 6                     # posted December
    assert len(shared().autotask.adjustments) == 4
