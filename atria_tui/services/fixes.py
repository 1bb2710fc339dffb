"""What blocks a match and how the clerk fixes it: the fix queue, the pickers' choices,
and saving or removing a fix.

A fix is written to the job's mappings file before the plan changes (a crash never loses
a fix that was shown as applied), and re-planning after it costs no PSA request unless the
chosen account's lines were never read (`read_lines_for`).
"""

from __future__ import annotations

import getpass
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Literal

from rapidfuzz import fuzz, utils

from atria_tui.adapters.lines import read_lines, single_live_contracts
from atria_tui.core import codes
from atria_tui.core.model import (
    CatalogItem,
    Mappings,
    Plan,
    PsaSnapshot,
    norm,
)
from atria_tui.job.file import JobConfig
from atria_tui.job.mappings import load_mappings, mappings_path, save_mappings
from atria_tui.job.parameters import ConfigError
from atria_tui.psa import PROFILES, profile_of
from atria_tui.psa.errors import RemoteError
from atria_tui.services.engine import PlanContext
from atria_tui.services.review import ReviewError, carry_review
from atria_tui.services.run_checks import RunAbort, job_session
from atria_tui.services.runtime import Runtime

FixKind = Literal["customer", "sku", "description"]

# The unmapped queue, in the order a reviewer works through it.
# Each group holds every PSA's code for its situation, read from the profiles.
FIX_GROUPS: dict[str, tuple[str, ...]] = {
    group: tuple(dict.fromkeys(getattr(p.codes, name) for p in PROFILES.values()
                               for name in names))
    for group, names in (("Missing Billing Identifier", ("identifier_missing",)),
                         ("Missing SKU", ("sku_missing",)),
                         ("SKU unknown to the PSA", ("unknown_sku",)),
                         ("No account or agreement", ("account_unknown", "contract_missing")))
}
_KIND: dict[str, FixKind] = {"Missing Billing Identifier": "customer", "Missing SKU":
                             "description", "SKU unknown to the PSA": "sku",
                             "No account or agreement": "customer"}
_GROUP_OF = {code: group for group, group_codes in FIX_GROUPS.items() for code in group_codes}

FIX_HEADER = ["group", "code", "customer_code", "customer_name", "billing_identifier", "sku",
              "description", "quantity", "message", "resolution"]


# --- the fix queue -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fix:
    """One entry of the unmapped queue; `kind` says which mappings table fixes it."""

    group: str
    code: str
    kind: FixKind
    customer_code: str
    customer_name: str
    billing_identifier: str
    sku: str
    description: str
    quantity: Decimal | None
    message: str
    account_word: str = "company"  # the PSA's own word for what a customer is mapped to

    @property
    def wants(self) -> Literal["account", "product"]:
        return "account" if self.kind == "customer" else "product"

    @property
    def fix_with(self) -> str:
        """What the clerk picks, in the PSA's words ("account" in Kaseya BMS)."""
        return self.account_word if self.wants == "account" else "product"

    @property
    def subject(self) -> str:
        """What the picker's suggestions are ranked against (the Atria side's name)."""
        if self.kind == "customer":
            return self.customer_name or self.customer_code
        return self.description or self.sku

    @property
    def source(self) -> str:
        """The mappings key: customer code, Atria SKU or summary description."""
        return {"customer": self.customer_code, "sku": self.sku,
                "description": self.description}[self.kind]

    @property
    def resolution(self) -> str:
        return codes.resolution(self.code)


def fix_queue(plan: Plan) -> list[Fix]:
    """The plan's unmapped rows, grouped by code, one per customer or SKU to fix."""
    order = list(FIX_GROUPS)
    word = profile_of(plan.task).account_word
    found: dict[tuple[str, str, str], Fix] = {}
    for i in plan.items:
        group = _GROUP_OF.get(i.code)
        if group is None:
            continue
        kind = _KIND[group]
        fix = Fix(group, i.code, kind, i.customer_code, i.customer_name, i.billing_identifier,
                  i.sku, i.description, i.atria_quantity, i.message, word)
        found.setdefault((group, norm(i.customer_code), norm(fix.source)), fix)
    return sorted(found.values(), key=lambda f: (order.index(f.group), norm(f.customer_code),
                                                 norm(f.sku or f.description)))


SAVED_GROUP = "Fixed in atria-tui: enter in Atria"


def fix_rows(fixes: Iterable[Fix], saved: Mappings | None = None) -> Iterable[list[object]]:
    """The fixes still to make, then (`saved`) the ones made in the console: those live
    only in JOB.mappings.toml until someone enters them in Atria, which is what the
    export is for."""
    for f in fixes:
        yield [f.group, f.code, f.customer_code, f.customer_name, f.billing_identifier, f.sku,
               f.description, f.quantity, f.message, f.resolution]
    if saved is None:
        return
    for code, identifier in sorted(saved.customers.items()):
        yield [SAVED_GROUP, "", code, "", identifier, "", "", "",
               f"Customer {code} → PSA Billing Identifier {identifier}",
               f"Store {identifier} as the customer's Billing Identifier in Atria."]
    for sku, product in sorted(saved.skus.items()):
        yield [SAVED_GROUP, "", "", "", "", sku, "", "",
               f"Atria SKU {sku} → PSA product {product}",
               f"Store {product} as the SKU of this product in Atria."]
    for description, product in sorted(saved.descriptions.items()):
        yield [SAVED_GROUP, "", "", "", "", "", description, "",
               f"Description {description!r} → PSA product {product}",
               f"Give this product the SKU {product} in Atria."]


# --- picker choices ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Choice:
    """A PSA company/account (value = its Billing Identifier) or product (value = code)."""

    kind: Literal["account", "product"]
    value: str
    label: str
    detail: str = ""
    usable: bool = True
    item: CatalogItem | None = field(default=None, compare=False)
    score: float = 0.0


def account_choices(snapshot: PsaSnapshot, plan: Plan | None = None) -> list[Choice]:
    """Accounts with a contract of the configured type; `detail` says which, and who uses it.

    An account without exactly one live contract cannot take lines, so it is offered but
    marked unusable rather than hidden (the reviewer may be looking for exactly that one).
    """
    users: dict[str, set[str]] = {}
    for i in plan.items if plan else []:
        if i.billing_identifier:
            users.setdefault(norm(i.billing_identifier), set()).add(i.customer_code)
    out: list[Choice] = []
    for account in snapshot.accounts.values():
        live = [k for k in snapshot.contracts.get(account.id, []) if k.live]
        detail = live[0].name if len(live) == 1 else (
            f"{len(live)} live contracts" if live else "no live contract")
        used = sorted(users.get(norm(account.identifier), ()))
        if used:
            detail += f" · used by {', '.join(used)}"
        out.append(Choice("account", account.identifier, account.name, detail,
                          usable=len(live) == 1 and account.active))
    return sorted(out, key=lambda c: (norm(c.label), norm(c.value)))


def product_choices(catalog: Iterable[CatalogItem]) -> list[Choice]:
    out: list[Choice] = []
    seen: set[str] = set()
    for item in catalog:
        if not item.code or item.id in seen:
            continue
        seen.add(item.id)
        detail = f"{item.price:,.2f}" + ("" if item.active else " · inactive")
        label = item.description if norm(item.name) == norm(item.code) else item.name
        out.append(Choice("product", item.code, label or item.name, detail,
                          usable=item.active and item.can_be_line, item=item))
    return sorted(out, key=lambda c: (norm(c.value), c.item.id if c.item else ""))


def _score(query: str, choice: Choice) -> float:
    label = fuzz.WRatio(query, choice.label, processor=utils.default_process)
    value = fuzz.WRatio(query, choice.value, processor=utils.default_process)
    return float(max(label, value))


def rank(choices: Sequence[Choice], query: str, subject: str = "",
         limit: int | None = None) -> list[Choice]:
    """Best first: by what was typed, else by similarity to the Atria name (suggestions).

    Ties keep the alphabetical order, so the list does not jump around while typing.
    """
    text = query.strip() or subject.strip()
    if not text:
        ranked = list(choices)
    else:
        scored = [Choice(c.kind, c.value, c.label, c.detail, c.usable, c.item,
                         round(_score(text, c), 1)) for c in choices]
        if query.strip():
            scored = [c for c in scored if c.score >= 50]
        ranked = sorted(scored, key=lambda c: (-c.score, not c.usable))
    return ranked[:limit] if limit else ranked


async def full_catalog(svc: Runtime, job: JobConfig, snapshot: PsaSnapshot
                       ) -> list[CatalogItem]:
    """Every catalog item a product picker may offer (read once, then cached by the caller).

    ConnectWise snapshots hold only the items of the SKUs billed, so the whole catalog is
    read on demand; a Kaseya snapshot already holds every service.
    """
    if profile_of(job.task).catalog_in_snapshot:
        return list(snapshot.catalog)
    try:
        session, _ = job_session(svc, job)
    except RunAbort as abort:
        raise ReviewError(abort.entry.message) from None
    try:
        reader = getattr(session, "all_catalog", None)
        if reader is None:
            return list(snapshot.catalog)
        items: list[CatalogItem] = await reader()
        return items
    except RemoteError as exc:  # already redacted by the session
        raise ReviewError(f"could not read the {job.task.psa_name} catalog: "
                          f"{exc.message}") from None
    finally:
        await session.aclose()


# --- applying a fix ------------------------------------------------------------------------


_TABLE: dict[FixKind, str] = {"customer": "customers", "sku": "skus",
                              "description": "descriptions"}


def save_fix(job_path: Path | None, mappings: Mappings, fix: Fix, choice: Choice,
             at: str = "") -> Path:
    """Write the fix to the job's mappings file and into `mappings` (the plan's copy).

    The file is re-read first so fixes saved elsewhere meanwhile are kept; keys are
    normalised the way reconcile looks them up.
    """
    if job_path is None:
        raise ReviewError("this job has not been saved to a file yet: save it, then fix")
    if (fix.wants == "account") != (choice.kind == "account"):
        raise ReviewError(f"{fix.code} is fixed with a PSA {fix.wants}, not a {choice.kind}")
    path = mappings_path(job_path)
    try:
        on_disk = load_mappings(path)
    except ConfigError as exc:
        raise ReviewError(str(exc)) from None
    key = norm(fix.source)
    if not key:
        raise ReviewError(f"{fix.code}: nothing to map (empty {fix.kind})")
    table = _TABLE[fix.kind]
    getattr(on_disk, table)[key] = choice.value
    on_disk.saved[(table, key)] = (_who(), at)
    try:
        save_mappings(on_disk, path)
    except OSError as exc:
        raise ReviewError(f"{path}: could not save the fix: {exc.strerror or exc}") from None
    getattr(mappings, table)[key] = choice.value
    mappings.saved[(table, key)] = on_disk.saved[(table, key)]
    return path


def _who() -> str:
    """The clerk who saved a fix: the login name, as the OS knows it."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (a container without a passwd entry)
        return ""


@dataclass(frozen=True, slots=True)
class SavedFix:
    """One mapping of the job's mappings file, as the "Saved fixes" list shows it."""

    table: str
    key: str
    value: str
    by: str
    at: str

    @property
    def kind(self) -> str:
        return {"customers": "Customer", "skus": "Atria SKU",
                "descriptions": "Description"}[self.table]


def saved_fixes(mappings: Mappings) -> list[SavedFix]:
    """Every mapping of the job (customers, SKUs, descriptions), with who saved it when."""
    out = []
    for table in _TABLE.values():
        for key, value in sorted(getattr(mappings, table).items()):
            by, at = mappings.saved.get((table, key), ("", ""))
            out.append(SavedFix(table, key, value, by, at))
    return out


async def read_lines_for(svc: Runtime, ctx: PlanContext, identifiers: Iterable[str]) -> int:
    """Read the lines of the accounts a fix points customers at, if the plan did not.

    A plan reads only the lines of the accounts its customers claim (issue 12: headless
    runs never read the agreements nobody bills), so a fix naming an unclaimed account
    needs that account's lines before it can re-plan: one read per contract, in the
    fix's worker, not before the preview opens. How many contracts were read."""
    snap = ctx.snapshot
    wanted = {snap.accounts[norm(i)].id for i in identifiers if norm(i) in snap.accounts}
    done = {*snap.lines, *snap.line_errors, *snap.missing_routes}
    todo = {k.account_id for k in single_live_contracts(snap, wanted) if k.id not in done}
    if not todo:
        return 0
    try:
        session, _ = job_session(svc, ctx.job)
    except RunAbort as abort:
        raise ReviewError(abort.entry.message) from None
    try:
        await read_lines(snap, session.contract_lines, todo)  # the client's own bound
    except RemoteError as exc:  # already redacted by the session
        raise ReviewError(f"could not read the {ctx.job.task.psa_name} lines the fix "
                          f"needs: {exc.message}") from None
    finally:
        await session.aclose()
    return len(todo)


def identifiers_without(ctx: PlanContext, fix: SavedFix) -> list[str]:
    """The Billing Identifiers a customer's records give once its fix is removed."""
    if fix.table != "customers":
        return []
    return [r.billing_identifier for r in ctx.records
            if norm(r.customer_code) == norm(fix.key) and r.billing_identifier.strip()]


def remove_fix(ctx: PlanContext, current: Plan, fix: SavedFix, swing_threshold: float) -> Plan:
    """Remove one mapping from the file and from the plan's copy, then re-plan at once
    (no PSA request), keeping every approval and note."""
    if ctx.job.path is None:
        raise ReviewError("this job has not been saved to a file yet")
    path = mappings_path(ctx.job.path)
    try:
        on_disk = load_mappings(path)
    except ConfigError as exc:
        raise ReviewError(str(exc)) from None
    getattr(on_disk, fix.table).pop(fix.key, None)
    on_disk.saved.pop((fix.table, fix.key), None)
    try:
        save_mappings(on_disk, path)
    except OSError as exc:
        raise ReviewError(f"{path}: could not remove the fix: {exc.strerror or exc}") from None
    getattr(ctx.mappings, fix.table).pop(fix.key, None)
    ctx.mappings.saved.pop((fix.table, fix.key), None)
    return carry_review(current, ctx.replan(ctx.mappings), swing_threshold)


def apply_fix(ctx: PlanContext, current: Plan, fix: Fix, choice: Choice,
              swing_threshold: float, at: str = "") -> Plan:
    """Save the fix, then re-plan from what was already read: no PSA request."""
    save_fix(ctx.job.path, ctx.mappings, fix, choice, at)
    if choice.item is not None and all(c.id != choice.item.id for c in ctx.snapshot.catalog):
        ctx.snapshot.catalog.append(choice.item)
    return carry_review(current, ctx.replan(ctx.mappings), swing_threshold)


