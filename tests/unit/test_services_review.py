"""Review services: approvals, the fix queue, picker ranking, saving a fix and re-planning."""

from __future__ import annotations

import asyncio
import copy
import shutil
import tomllib
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from atria_tui.cli.demo import SAMPLES
from atria_tui.core.model import Action, Level, Period, Plan, PlanItem, Task
from atria_tui.core.numbers import signed_money
from atria_tui.job.file import load_job, save_job
from atria_tui.job.mappings import mappings_path
from atria_tui.sandbox.server import reset_shared, shared
from atria_tui.services import fixes as fx
from atria_tui.services import review as rv
from atria_tui.services import review_session as rs
from atria_tui.services.engine import RunResult, plan_job
from atria_tui.services.runtime import Runtime
from tests.support import runtime


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ATRIA_TUI_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ATRIA_TUI_KEYRING", "0")
    reset_shared()
    yield
    reset_shared()


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[Runtime]:
    svc = runtime(tmp_path / "home", db="atria.db", environ={})
    yield svc
    svc.store.close()


def demo_job(folder: Path, name: str = "demo-connectwise") -> Path:
    """The demo job beside its billing file; no retries (the sandbox's faulty agreement
    would otherwise cost 7.5 s of backoff)."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(SAMPLES / f"{name}-billing.csv", folder / f"{name}-billing.csv")
    job = load_job(SAMPLES / f"{name}.toml")
    job.source.path = folder / f"{name}-billing.csv"
    job.options.retries = 0
    job.path = None
    return save_job(job, folder / f"{name}.toml")


@pytest.fixture(scope="module")
def _planned_once(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """One plan of the demo for the module (planning is the slow part); tests get copies."""
    folder = tmp_path_factory.mktemp("review-plan")
    svc = runtime(folder, db="atria.db", environ={})
    store = svc.store
    reset_shared()
    result = asyncio.run(plan_job(svc, load_job(demo_job(folder / "jobs"))))
    store.close()
    assert result.plan is not None and result.context is not None
    return result


@pytest.fixture
def planned(_planned_once: RunResult, tmp_path: Path) -> RunResult:
    result = copy.deepcopy(_planned_once)
    result.job.path = demo_job(tmp_path / "jobs")  # this test's own mappings file
    if result.context is not None:
        result.context.job = result.job
    assert result.plan is not None
    rv.initial_review(result.plan, result.job.options.swing_threshold)
    return result


def item(code: str, action: Action, atria: str | None, psa: str | None, key: str = "k",
         price: str = "10") -> PlanItem:
    return PlanItem(key=key, customer_code="ASP", customer_name="Acme", billing_identifier="A",
                    sku="M365", description="M365", code=code, level=Level.INFO, message="",
                    atria_quantity=Decimal(atria) if atria else None,
                    psa_quantity=Decimal(psa) if psa else None, action=action,
                    unit_price=Decimal(price))


def test_decreases_and_big_swings_start_unapproved() -> None:
    from datetime import date

    plan = Plan(Task.CONNECTWISE, Period(date(2026, 10, 26), date(2026, 11, 25)), [
        item("CW07", Action.UPDATE, "12", "10", "up-small"),    # +20 %: fine
        item("CW07", Action.UPDATE, "20", "10", "up-big"),      # +100 %: review
        item("CW07", Action.UPDATE, "9", "10", "down"),         # decrease: review
        item("CW20", Action.ZERO, "0", "3", "zero"),            # to 0: review
        item("CW08", Action.ADD, "5", "0", "add"),              # new line: fine
        item("CW09", Action.NONE, "5", "5", "same"),
    ])
    rv.initial_review(plan, 0.25)
    assert {i.key: i.approved for i in plan.items} == {
        "up-small": True, "up-big": False, "down": False, "zero": False, "add": True,
        "same": True}
    s = rv.summarize(plan.items, 0.25)
    assert (s.changes, s.approved, s.to_review) == (5, 2, 3)
    assert s.approved_money == Decimal("70") and s.money == Decimal("130")
    assert s.at_stake == Decimal("70")
    assert rv.set_approved(plan.items, True) == 3  # the no-change row is not "approved"
    plan.items[2].note = "customer shrank"
    assert rv.notes_of(plan.items) == {("ASP", "M365"): "customer shrank"}
    assert signed_money(Decimal("-12.5")) == "-12.50" and signed_money(Decimal(0)) == "0.00"


def test_carry_review_keeps_decisions_and_notes() -> None:
    from datetime import date

    period = Period(date(2026, 10, 26), date(2026, 11, 25))
    old = Plan(Task.CONNECTWISE, period, [item("CW07", Action.UPDATE, "9", "10", "a"),
                                          item("CW07", Action.UPDATE, "11", "10", "b")])
    rv.initial_review(old, 0.25)
    old.items[0].approved = True
    old.items[1].approved = False
    old.items[1].note = "wait for the PO"
    new = Plan(Task.CONNECTWISE, period, [item("CW07", Action.UPDATE, "9", "10", "a"),
                                          item("CW07", Action.UPDATE, "11", "10", "b"),
                                          item("CW07", Action.UPDATE, "5", "10", "c")])
    rv.carry_review(old, new, 0.25)
    assert [(i.approved, i.note) for i in new.items] == [
        (True, ""), (False, "wait for the PO"), (False, "")]


def test_fix_queue_of_the_demo_is_grouped_by_code(planned: RunResult) -> None:
    assert planned.plan is not None
    queue = fx.fix_queue(planned.plan)
    assert [(f.group, f.code, f.customer_code, f.kind) for f in queue] == [
        ("Missing Billing Identifier", "CW04", "UJA", "customer"),
        ("Missing SKU", "CW05", "FR1", "description"),
        ("SKU unknown to the PSA", "CW06", "FR1", "sku"),
        ("No account or agreement", "CW14", "GHO", "customer"),
        ("No account or agreement", "CW14", "NOA", "customer"),
    ]
    assert queue[0].subject == "Ujala Traders" and queue[2].source == "LEGACY-FAX"
    assert [f.fix_with for f in queue] == ["company", "product", "product", "company",
                                           "company"]
    assert queue[1].source == "Custom Support Plan"
    assert "Billing Identifier" in queue[0].resolution
    rows = list(fx.fix_rows(queue))
    assert len(rows) == 5 and len(rows[0]) == len(fx.FIX_HEADER) and rows[0][2] == "UJA"


def test_account_suggestions_rank_the_atria_name_first(planned: RunResult) -> None:
    assert planned.context is not None and planned.plan is not None
    choices = fx.account_choices(planned.context.snapshot, planned.plan)
    best = fx.rank(choices, "", "Ujala Traders", limit=3)
    assert best[0].value == "UjalaTraders" and best[0].score == 100
    assert fx.rank(choices, "ujala", "Ujala Traders")[0].value == "UjalaTraders"
    assert fx.rank(choices, "zzzzqqq", "") == []
    dup = next(c for c in choices if c.value == "DupAgree")
    assert not dup.usable and "2 live contracts" in dup.detail and "DUP" in dup.detail


def test_full_catalog_is_read_once_and_offered_as_products(planned: RunResult,
                                                           svc: Runtime) -> None:
    assert planned.context is not None
    before = shared().connectwise.request_seq
    items = asyncio.run(fx.full_catalog(svc, planned.job, planned.context.snapshot))
    assert shared().connectwise.request_seq > before
    assert len(items) > len(planned.context.snapshot.catalog)
    products = fx.product_choices(items)
    assert any(c.value == "SPAM-FLT" for c in products)
    assert fx.rank(products, "spam", "")[0].value == "SPAM-FLT"


def test_a_fix_reads_only_the_chosen_accounts_lines_then_replans(
        planned: RunResult, tmp_path: Path, svc: Runtime) -> None:
    """The plan read no unclaimed agreement (issue 12): the fix reads the one it picks,
    once; fixing to an account already read costs no request."""
    assert planned.context is not None and planned.plan is not None and planned.job.path
    path = mappings_path(planned.job.path)
    path.write_text('[skus]\n"other-sku" = "X"\n', encoding="utf-8")  # kept by the save
    asp_zero = next(i for i in planned.plan.items if i.code == "CW20" and i.customer_code == "ASP")
    asp_zero.note = "check with Acme"
    session = rs.ReviewSession(planned.job, planned.context, planned.plan, planned.run_id)
    uja = session.fixes()[0]
    choice = fx.rank(session.choices(uja), "ujala", uja.subject, limit=1)[0]
    before = shared().connectwise.request_seq
    plan = asyncio.run(session.fix_reading(svc, uja, choice))
    assert shared().connectwise.request_seq == before + 1  # that agreement's additions
    uja_rows = [(i.code, i.sku, i.atria_quantity, i.psa_quantity, i.contract_name)
                for i in plan.items if i.customer_code == "UJA"]
    assert uja_rows == [("CW09", "M365-BP", Decimal(2), Decimal(2), "Ujala Hosting")]
    assert all(f.customer_code != "UJA" for f in session.fixes())
    kept = next(i for i in plan.items if i.key == asp_zero.key)
    assert kept.note == "check with Acme" and not kept.approved
    saved = tomllib.loads(path.read_text(encoding="utf-8"))
    assert saved["customers"] == {"uja": "UjalaTraders"}
    assert saved["skus"] == {"other-sku": "X"}
    before = shared().connectwise.request_seq
    asyncio.run(session.fix_reading(svc, uja, choice))
    assert shared().connectwise.request_seq == before


def test_a_product_fix_adds_the_catalog_item_to_the_snapshot(planned: RunResult,
                                                             svc: Runtime) -> None:
    assert planned.context is not None and planned.plan is not None
    session = rs.ReviewSession(planned.job, planned.context, planned.plan, planned.run_id)
    fax = next(f for f in session.fixes() if f.code == "CW06")
    assert session.needs_catalog(fax)
    session.catalog = asyncio.run(fx.full_catalog(svc, planned.job, planned.context.snapshot))
    spam = next(c for c in session.choices(fax) if c.value == "SPAM-FLT")
    plan = session.fix(fax, spam)
    rows = [(i.code, i.action) for i in plan.items
            if i.customer_code == "FR1" and i.sku == "LEGACY-FAX"]
    assert rows == [("CW08", Action.ADD)]  # AllowAtriaCreateAdditions = true in the demo
    assert any(c.code == "SPAM-FLT" for c in planned.context.snapshot.catalog)


def test_fix_errors_are_messages(planned: RunResult, tmp_path: Path) -> None:
    assert planned.plan is not None
    uja = fx.fix_queue(planned.plan)[0]
    account = fx.Choice("account", "UjalaTraders", "Ujala Traders")
    product = fx.Choice("product", "SPAM-FLT", "Spam")
    with pytest.raises(rv.ReviewError, match="CW04 is fixed with a PSA account, not a product"):
        fx.save_fix(tmp_path / "j.toml", planned.context.mappings if planned.context
                    else fx.Mappings(), uja, product)
    with pytest.raises(rv.ReviewError, match="not been saved"):
        fx.save_fix(None, fx.Mappings(), uja, account)
    bad = tmp_path / "bad.toml"
    mappings_path(bad).write_text("[customers]\nx = 1\n", encoding="utf-8")
    with pytest.raises(rv.ReviewError, match=r"line 2: customers\.x"):
        fx.save_fix(bad, fx.Mappings(), uja, account)


def test_the_fix_export_lists_the_fixes_made_too() -> None:
    """"To enter them in Atria": the fixes made in the console are what Atria lacks."""
    from atria_tui.core.model import Mappings

    saved = Mappings(customers={"uja": "UjalaTraders"}, skus={"legacy-fax": "VOIP-DID"},
                     descriptions={"custom support plan": "SUPPORT"})
    rows = list(fx.fix_rows([], saved))
    assert [r[0] for r in rows] == [fx.SAVED_GROUP] * 3
    assert rows[0][2] == "uja" and rows[0][4] == "UjalaTraders"
    assert rows[1][5] == "legacy-fax" and "PSA product VOIP-DID" in str(rows[1][8])
    assert all(len(r) == len(fx.FIX_HEADER) for r in rows)
    assert list(fx.fix_rows([])) == []


def test_a_kaseya_fix_picks_an_account_in_kaseya_words() -> None:
    """Kaseya BMS calls the customer an account (console review, defect 32)."""
    item = PlanItem(key="k", customer_code="UJA", customer_name="Ujala", billing_identifier="",
                    sku="M365-BP", description="", atria_quantity=Decimal(1),
                    psa_quantity=None, action=Action.NONE, code="KS09", level=Level.WARNING,
                    message="no account")
    plan = Plan(Task.KASEYA, Period(date(2026, 10, 26), date(2026, 11, 25)), [item])
    (fix,) = fx.fix_queue(plan)
    assert fix.wants == "account" and fix.fix_with == "account"


def test_the_apply_and_run_now_questions_show_money_in_the_jobs_currency() -> None:
    up = PlanItem(key="k", customer_code="ASP", customer_name="Acme", billing_identifier="A",
                  sku="M365", description="", atria_quantity=Decimal(12),
                  psa_quantity=Decimal(10), action=Action.UPDATE, code="CW07",
                  level=Level.INFO, message="", unit_price=Decimal("1200.50"))
    plan = Plan(Task.CONNECTWISE, Period(date(2026, 10, 26), date(2026, 11, 25)), [up])
    body = rv.confirm_text(rv.summarize(plan.items, 0.5), plan, "ConnectWise", "€")
    assert "Money at stake: €2,401.00 (net Δ +€2,401.00 per period)" in body
    now = rv.run_now_text(plan, 0.5, "ConnectWise", "€")
    assert now is not None and "money Δ +€2,401.00 per period" in now
