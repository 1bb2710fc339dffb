"""The matching rules of design.md, once, for both PSAs.

`plan()` is pure and deterministic: the same records, snapshot, parameters and mappings
always give the same plan, so a preview can be recomputed after a console fix without
touching the PSA, and apply executes exactly what was reviewed. The only PSA-specific
part is how a SKU is compared with a line or a catalog item (`MatchRule`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from itertools import chain

from atria_tui.core import codes
from atria_tui.core.model import (
    ZERO,
    Action,
    BillingRecord,
    CatalogItem,
    LogEntry,
    Mappings,
    Period,
    Plan,
    PlanItem,
    PsaContract,
    PsaLine,
    PsaSnapshot,
    Task,
    item_entry,
    norm,
    written_sku,
)
from atria_tui.engine.matching import MatchRule
from atria_tui.psa import profile_of

ROUNDING = {"up": ROUND_CEILING, "down": ROUND_FLOOR, "nearest": ROUND_HALF_UP}


@dataclass(frozen=True, slots=True)
class ReconcileParams:
    task: Task
    period: Period
    previous: Period
    customers_filter: tuple[str, ...] = ()
    allow_create: bool = False
    sku_field_match: str = "ServiceName"
    contract_type: str = ""
    # A PSA that takes whole units only (Kaseya's Units is int32): how a fractional Atria
    # quantity becomes one ("up", "down", "nearest"), or "" to refuse it (TU16).
    units_rounding: str = ""


@dataclass(frozen=True, slots=True)
class Scope:
    """What to read from the PSA: nothing more than the plan can use."""

    identifiers: tuple[str, ...]
    skus: tuple[str, ...]
    missing_identifier: bool = False


def fmt_qty(q: Decimal | None) -> str:
    return f"{(q or ZERO):.2f}"


def in_scope(records: Iterable[BillingRecord], params: ReconcileParams
             ) -> tuple[list[BillingRecord], list[BillingRecord]]:
    """Rule 1: billable records of the filtered customers, split into this and last period."""
    wanted = {norm(c) for c in params.customers_filter if c.strip()}
    current: list[BillingRecord] = []
    previous: list[BillingRecord] = []
    for r in records:
        if not r.billable or (wanted and norm(r.customer_code) not in wanted):
            continue
        if r.period_end is None or r.period_end == params.period.end:
            current.append(r)
        elif r.period_end == params.previous.end:
            previous.append(r)
    return current, previous


def product_code(r: BillingRecord, mappings: Mappings) -> str:
    """The PSA product code a record bills: a console fix wins over Atria's SKU."""
    if r.sku.strip():
        return mappings.skus.get(norm(r.sku), r.sku.strip())
    return mappings.descriptions.get(norm(r.summary_description), "")


def billing_identifier(code: str, records: Sequence[BillingRecord], mappings: Mappings) -> str:
    fixed = mappings.customers.get(norm(code))
    if fixed:
        return fixed.strip()
    return next((r.billing_identifier.strip() for r in records if r.billing_identifier.strip()),
                "")


def scope(records: Iterable[BillingRecord], params: ReconcileParams,
          mappings: Mappings) -> Scope:
    mappings = normalized(mappings)
    current, previous = in_scope(records, params)
    ids: dict[str, str] = {}
    skus: dict[str, str] = {}
    missing = False
    now = {norm(r.customer_code) for r in current}
    for code, recs in _by_customer([*current, *previous]).items():
        bi = billing_identifier(code, recs, mappings)
        if bi:
            ids.setdefault(norm(bi), bi)
        elif code in now:
            missing = True
        for r in recs:
            pc = product_code(r, mappings)
            if pc:
                skus.setdefault(norm(pc), pc)
    return Scope(tuple(sorted(ids.values())), tuple(sorted(skus.values())), missing)


def _by_customer(records: Iterable[BillingRecord]) -> dict[str, list[BillingRecord]]:
    out: dict[str, list[BillingRecord]] = defaultdict(list)
    for r in records:
        out[norm(r.customer_code)].append(r)
    return out


@dataclass(slots=True)
class _Billed:
    """One (customer, product) of this or the previous period, summed (rule 3)."""

    code: str
    sku: str
    description: str
    quantity: Decimal = ZERO


@dataclass(slots=True)
class _Customer:
    code: str
    name: str
    identifier: str
    current: dict[str, _Billed] = field(default_factory=dict)
    previous: dict[str, _Billed] = field(default_factory=dict)
    missing_sku: dict[str, _Billed] = field(default_factory=dict)


def _customer(code: str, recs: list[BillingRecord], mappings: Mappings, *,
              now: bool) -> _Customer:
    first = recs[0]
    c = _Customer(first.customer_code.strip(), first.customer_name.strip(),
                  billing_identifier(code, recs, mappings))
    for r in recs:
        pc = product_code(r, mappings)
        desc = r.summary_description.strip() or r.line_description.strip()
        if not pc:
            if now:
                b = c.missing_sku.setdefault(norm(desc), _Billed("", "", desc))
                b.quantity += r.quantity
            continue
        bucket = c.current if now else c.previous
        b = bucket.setdefault(norm(pc), _Billed(pc, r.sku.strip() or pc, desc))
        b.quantity += r.quantity
    return c


@dataclass(frozen=True, slots=True)
class _Ctx:
    contract: PsaContract
    account_name: str


class _Planner:
    def __init__(self, snapshot: PsaSnapshot, params: ReconcileParams,
                 mappings: Mappings) -> None:
        self.snap = snapshot
        self.p = params
        self.m = mappings
        self.rule = MatchRule(params.task, params.sku_field_match,
                              {i.id: i for i in snapshot.catalog})
        self.codes = profile_of(params.task).codes
        self.whole_units = profile_of(params.task).whole_units
        self.catalog: dict[str, list[CatalogItem]] = defaultdict(list)
        for item in snapshot.catalog:
            k = self.rule.item_key(item)
            if k:
                self.catalog[k].append(item)
        self.items: list[PlanItem] = []

    # -- item construction --------------------------------------------------------------

    def add(self, c: _Customer, code: str, action: Action, *, sku: str = "",
            description: str = "", atria: Decimal | None = None, psa: Decimal | None = None,
            line: PsaLine | None = None, ctx: _Ctx | None = None,
            account_name: str = "", catalog: CatalogItem | None = None,
            product: str = "", **fields: object) -> None:
        contract = ctx.contract if ctx else None
        account_name = ctx.account_name if ctx else account_name
        fields = {"customer_code": c.code, "customer_name": c.name, "sku": sku,
                  "line_description": description, "billing_identifier": c.identifier,
                  "agreement_type": self.p.contract_type, "contract_type": self.p.contract_type,
                  "sku_field_match": self.p.sku_field_match, "before": fmt_qty(psa),
                  "after": fmt_qty(ZERO if action is Action.ZERO else atria),
                  "contract_name": contract.name if contract else "",
                  "psa_name": self.p.task.psa_name, "account_name": account_name, **fields}
        written = product or (line.product_code if line else "")
        if action.writes:  # after a saved SKU fix the log names the product written, and where
            where = f" on {contract.name}" if contract and contract.name else ""
            fields["sku"] = written_sku(sku, written, where)
        level = codes.CATALOG[code].level
        text = codes.message(code, **fields)
        unit_price = line.unit_price if line else (catalog.price if catalog else ZERO)
        key = "|".join((norm(c.code), norm(sku or description), line.id if line else "",
                        code))
        self.items.append(PlanItem(
            key=key, customer_code=c.code, customer_name=c.name,
            billing_identifier=c.identifier, sku=sku, description=description,
            atria_quantity=atria, psa_quantity=psa, action=action, code=code, level=level,
            message=text, account_name=account_name,
            account_id=contract.account_id if contract else "",
            contract_id=contract.id if contract else "",
            contract_name=contract.name if contract else "",
            line_id=line.id if line else "",
            product_id=line.product_id if line else (catalog.id if catalog else ""),
            product_code=product or (line.product_code if line else ""),
            unit_price=unit_price))

    # -- rules ----------------------------------------------------------------------------

    def customer(self, c: _Customer, *, deprovisioned: bool = False) -> None:
        codes_ = self.codes
        if not c.identifier:
            if not deprovisioned:
                self.add(c, codes_.identifier_missing, Action.SKIP)
            return
        account = self.snap.accounts.get(norm(c.identifier))
        if account is None:
            if not deprovisioned:
                self.add(c, codes_.account_unknown, Action.SKIP)
            return
        if not account.active and codes_.account_inactive:
            if not deprovisioned:
                self.add(c, codes_.account_inactive, Action.SKIP, account_name=account.name)
            return
        live = [k for k in self.snap.contracts.get(account.id, []) if k.live]
        if len(live) != 1:
            if not deprovisioned:
                if live:
                    self.add(c, codes_.ambiguous_contract, Action.SKIP,
                             account_name=account.name, count=len(live))
                else:
                    self.add(c, codes_.contract_missing, Action.SKIP,
                             account_name=account.name)
            return
        contract = live[0]
        ctx = _Ctx(contract, account.name)
        if contract.id in self.snap.missing_routes:
            err = self.snap.missing_routes[contract.id]
            for _, b in sorted(c.current.items()):
                self.add(c, "TU15", Action.SKIP, sku=b.sku, description=b.description,
                         atria=b.quantity, error=err, ctx=ctx)
            return
        if contract.id in self.snap.refused:
            code, err = self.snap.refused[contract.id]
            for _, b in sorted(c.current.items()):
                self.add(c, code, Action.SKIP, sku=b.sku, description=b.description,
                         atria=b.quantity, error=err, ctx=ctx)
            return
        if contract.id in self.snap.line_errors:
            err = self.snap.line_errors[contract.id]
            for _, b in sorted(c.current.items()):
                self.add(c, codes_.lines_unreadable, Action.SKIP, sku=b.sku,
                         description=b.description, atria=b.quantity, error=err, ctx=ctx)
            return
        by_key: dict[str, list[PsaLine]] = defaultdict(list)
        for line in self.snap.lines.get(contract.id, []):
            if line.live:
                by_key[self.rule.line_key(line)].append(line)
        for _, b in sorted(c.missing_sku.items()):
            self.add(c, codes_.sku_missing, Action.SKIP, description=b.description,
                     atria=b.quantity, ctx=ctx)
        for k, b in sorted(c.current.items()):
            self.billed(c, k, b, by_key.get(k, []), ctx)
        self.removed(c, by_key, ctx)

    def billed(self, c: _Customer, k: str, b: _Billed, lines: list[PsaLine],
               ctx: _Ctx) -> None:
        desc = b.description
        if self.whole_units and b.quantity != b.quantity.to_integral_value():
            if self.p.units_rounding not in ROUNDING:
                self.add(c, self.codes.fractional, Action.SKIP, sku=b.sku, description=desc,
                         atria=b.quantity, product=b.code, ctx=ctx)
                return
            b = _Billed(b.code, b.sku, b.description,
                        b.quantity.to_integral_value(ROUNDING[self.p.units_rounding]))
        if not self.rule.by_code:
            # Service first, then its line, as the guide's process does: a SKU with no
            # active service is KS14 even when an inactive one matches or sits on the
            # contract; two active services are ambiguous and nothing of the SKU is written.
            found = self.catalog.get(k, [])
            active = [i for i in found if i.active and i.can_be_line]
            if not active:
                bundle = self.codes.bundle_only if any(i.active for i in found) else None
                self.add(c, bundle or self.codes.unknown_sku,
                         Action.SKIP, sku=b.sku, description=desc, atria=b.quantity,
                         product=b.code, ctx=ctx)
                return
            if len(active) > 1:
                self.ambiguous(c, b.sku, desc, b.quantity, active, ctx)
                return
            lines = [ln for ln in lines if ln.product_id == active[0].id]
        if len(lines) > 1:
            self.add(c, self.codes.ambiguous_line, Action.SKIP, sku=b.sku, description=desc,
                     atria=b.quantity,
                     count=len(lines), product=b.code, ctx=ctx)
            return
        if lines:
            line = lines[0]
            same = line.quantity == b.quantity
            code = self.codes.unchanged if same else self.codes.updated
            self.add(c, code, Action.NONE if same else Action.UPDATE, sku=b.sku,
                     description=desc or line.description, atria=b.quantity, psa=line.quantity,
                     line=line, ctx=ctx)
            return
        found = self.catalog.get(k, [])
        if not found:
            self.add(c, self.codes.unknown_sku, Action.SKIP, sku=b.sku,
                     description=desc, atria=b.quantity, product=b.code,
                     ctx=ctx)
            return
        if self.codes.added is None:  # this PSA's job never adds a line
            self.add(c, self.codes.not_on_contract or self.codes.unknown_sku, Action.SKIP,
                     sku=b.sku, description=desc, atria=b.quantity, catalog=found[0],
                     product=b.code, ctx=ctx)
            return
        usable = [i for i in found if i.active and i.can_be_line]
        if self.p.allow_create and len(usable) == 1:
            self.add(c, self.codes.added, Action.ADD, sku=b.sku, description=desc,
                     atria=b.quantity,
                     psa=ZERO, catalog=usable[0], product=usable[0].code,
                     ctx=ctx)
        elif self.p.allow_create and len(usable) > 1:
            self.add(c, "TU09", Action.SKIP, sku=b.sku, description=desc, atria=b.quantity,
                     count=len(usable), product=b.code, ctx=ctx)
        else:
            self.add(c, self.codes.add_refused or self.codes.unknown_sku, Action.SKIP,
                     sku=b.sku, description=desc, atria=b.quantity,
                     catalog=found[0], product=b.code, ctx=ctx)

    def ambiguous(self, c: _Customer, sku: str, desc: str, atria: Decimal | None,
                  services: list[CatalogItem], ctx: _Ctx) -> None:
        names = ", ".join(f"{i.name or i.code} (id {i.id})" for i in services[:5])
        more = f" and {len(services) - 5} more" if len(services) > 5 else ""
        self.add(c, self.codes.ambiguous_service, Action.SKIP, sku=sku, description=desc,
                 atria=atria,
                 count=len(services), services=names + more, ctx=ctx)

    def removed(self, c: _Customer, by_key: dict[str, list[PsaLine]],
                ctx: _Ctx) -> None:
        """Rule 6: managed lines no longer billed go to 0; other lines are never touched."""
        for k, lines in sorted(by_key.items()):
            if k in c.current or not k:
                continue
            prev = c.previous.get(k)
            active = [i for i in self.catalog.get(k, []) if i.active]
            if not self.rule.by_code and len(active) > 1 and (
                    prev is not None or any(ln.id in self.m.managed for ln in lines)):
                self.ambiguous(c, prev.sku if prev else lines[0].product_code,
                               prev.description if prev else "", ZERO, active, ctx)
                continue
            for line in lines:
                if prev is None and line.id not in self.m.managed:
                    continue
                sku = prev.sku if prev else line.product_code
                desc = (prev.description if prev else "") or line.description
                if line.quantity == ZERO:
                    self.add(c, self.codes.unchanged, Action.NONE, sku=sku,
                             description=desc, atria=ZERO, psa=ZERO, line=line,
                             ctx=ctx)
                else:
                    self.add(c, self.codes.zeroed, Action.ZERO, sku=sku,
                             description=desc, atria=ZERO, psa=line.quantity, line=line,
                             ctx=ctx)


def normalized(m: Mappings) -> Mappings:
    """Mapping keys compared as everything else is (a hand-edited file may say "ASP")."""
    return Mappings({norm(k): v for k, v in m.customers.items()},
                    {norm(k): v for k, v in m.skus.items()},
                    {norm(k): v for k, v in m.descriptions.items()}, set(m.managed))


def plan(records: Iterable[BillingRecord], snapshot: PsaSnapshot, params: ReconcileParams,
         mappings: Mappings | None = None) -> Plan:
    return PlanBuilder(records, snapshot, params).plan(mappings)


_Block = tuple[bool, str]  # (deprovisioned, customer key): one customer's rows of a plan


class PlanBuilder:
    """`plan()` for one set of records and one snapshot, re-planned incrementally.

    A plan is one block of rows per customer, billed customers first, then the
    deprovisioned ones, each in key order; a customer's block depends only on its own
    records, the mappings that name it, its SKUs or its descriptions, its account's
    contract and lines, and the catalog entries of the products it bills. A console fix
    changes one mapping, so `plan` re-plans only the customers whose inputs changed and
    splices their blocks among the kept ones: the same rows in the same order as a plan
    from scratch, at the cost of those customers (issue 12: 578 ms → a few ms at 5,000
    customers). What cannot be traced to customers (a managed-line change, a catalog
    change under a description match rule) re-plans everything.
    """

    def __init__(self, records: Iterable[BillingRecord], snapshot: PsaSnapshot,
                 params: ReconcileParams) -> None:
        self.snap = snapshot
        self.p = params
        current, previous = in_scope(records, params)
        self.now = _by_customer(current)
        self.before = _by_customer(previous)
        self.order: list[_Block] = [(False, k) for k in sorted(self.now)] + \
            [(True, k) for k in sorted(k for k in self.before if k not in self.now)]
        self.by_sku: dict[str, set[str]] = defaultdict(set)
        self.by_desc: dict[str, set[str]] = defaultdict(set)
        for r in [*current, *previous]:
            if r.sku.strip():
                self.by_sku[norm(r.sku)].add(norm(r.customer_code))
            else:
                self.by_desc[norm(r.summary_description)].add(norm(r.customer_code))
        self._blocks: dict[_Block, list[PlanItem]] = {}
        self._idents: dict[str, set[str]] = defaultdict(set)  # account key → customers
        self._ident_of: dict[str, str] = {}
        self._last: Mappings | None = None
        self._catalog: tuple[int, ...] = ()
        self._read: frozenset[str] = frozenset()

    def _read_now(self) -> frozenset[str]:
        """The contracts whose lines were read (or failed to be): they only grow."""
        s = self.snap
        if len(s.lines) + len(s.line_errors) + len(s.missing_routes) == len(self._read):
            return self._read
        return frozenset((*s.lines, *s.line_errors, *s.missing_routes))

    def plan(self, mappings: Mappings | None = None) -> Plan:
        m = normalized(mappings or Mappings())
        result = Plan(self.p.task, self.p.period)
        psa_codes = profile_of(self.p.task).codes
        if not self.snap.contract_type_valid:
            result.fatal = codes.entry(psa_codes.contract_type_unknown)
            result.log.append(result.fatal)
            return result
        if not self.now:
            result.log.append(codes.entry(psa_codes.nothing_billed,
                                          period_end=self.p.period.end.isoformat()))
            return result
        touched = self._touched(m)
        planner = _Planner(self.snap, self.p, m)
        for block in self.order if touched is None else sorted(touched):
            self._build(planner, block, m)
        self._last = m
        self._catalog = tuple(map(id, self.snap.catalog))
        self._read = self._read_now()
        blocks = list(map(self._blocks.__getitem__, self.order))
        result.deprovisioned_from = sum(map(len, blocks[:len(self.now)]))
        result.items = list(chain.from_iterable(blocks))
        return result

    def _build(self, planner: _Planner, block: _Block, m: Mappings) -> None:
        gone, key = block
        planner.items = []
        if gone:
            c = _customer(key, self.before[key], m, now=False)
        else:
            c = _customer(key, self.now[key], m, now=True)
            if key in self.before:
                c.previous = _customer(key, self.before[key], m, now=False).previous
        planner.customer(c, deprovisioned=gone)
        self._blocks[block] = planner.items
        old = self._ident_of.get(key)
        if old is not None:
            self._idents[old].discard(key)
        self._ident_of[key] = norm(c.identifier)
        self._idents[norm(c.identifier)].add(key)

    def _touched(self, m: Mappings) -> set[_Block] | None:
        """The blocks whose inputs differ from the last plan's; None: all of them."""
        last = self._last
        if last is None or last.managed != m.managed:
            return None
        keys: set[str] = set()
        keys |= _changed(last.customers, m.customers)
        for k in _changed(last.skus, m.skus):
            keys |= self.by_sku.get(k, set())
        for k in _changed(last.descriptions, m.descriptions):
            keys |= self.by_desc.get(k, set())
        if tuple(map(id, self.snap.catalog)) != self._catalog:
            rule = MatchRule(self.p.task, self.p.sku_field_match, {})
            kept = set(self._catalog)
            if not rule.by_code or not kept <= set(map(id, self.snap.catalog)):
                return None
            # Products the catalog now holds (a picker's choice): the customers billing them.
            new = {rule.item_key(i) for i in self.snap.catalog if id(i) not in kept}
            for k in new:
                keys |= self.by_sku.get(k, set())
            for table, index in ((m.skus, self.by_sku), (m.descriptions, self.by_desc)):
                for source, code in table.items():
                    if norm(code) in new:
                        keys |= index.get(source, set())
        fresh = self._read_now() - self._read
        if fresh:  # lines read since (a fix's account): the customers on that account
            owners = {a.id: key for key, a in self.snap.accounts.items()}
            for acc, contracts in self.snap.contracts.items():
                if any(k.id in fresh for k in contracts) and acc in owners:
                    keys |= self._idents.get(owners[acc], set())
        return {b for b in ((g, k) for k in keys for g in (False, True))
                if b in self._blocks}


def _changed(a: dict[str, str], b: dict[str, str]) -> set[str]:
    return {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)}


def plan_entries(plan: Plan, item_entries: Sequence[LogEntry] | None = None, *,
                 dry: bool = False) -> list[LogEntry]:
    """The run's log in reading order: head entries, then one per item.

    Kaseya's guide brackets the zeroing of deprovisioned customers with KS18/KS19;
    ConnectWise's has no such codes. `item_entries` replaces the items' planned entries
    with what apply actually logged. `dry` (a plan run): writes are stated as what would
    be done ("would be updated from 8 to 10"), since nothing was.
    """
    if item_entries is not None:
        per_item = list(item_entries)
    else:
        per_item = [item_entry(i) for i in plan.items]
        if dry:
            per_item = [replace(e, message=codes.planned(e.code, e.message))
                        if i.action.writes else e for i, e in zip(plan.items, per_item,
                                                                  strict=True)]
    out = list(plan.log)
    cut = plan.deprovisioned_from
    marks = profile_of(plan.task).codes.deprovisioned_bracket
    if marks and cut is not None:
        out += [*per_item[:cut], codes.entry(marks[0]), *per_item[cut:], codes.entry(marks[1])]
    else:
        out += per_item
    return out


def needs_review(item: PlanItem, swing_threshold: float) -> bool:
    """Decreases and large swings cost or refund money: they want an explicit approval."""
    return bool(review_reason(item, swing_threshold))


def review_reason(item: PlanItem, swing_threshold: float) -> str:
    """Why a write waits for a reviewer ("" when it does not): the words the CLI's plan
    output puts in its status column, so a script sees what the console holds back."""
    if not item.action.writes:
        return ""
    if item.delta < 0:
        return "held for review: decrease"
    before = item.psa_quantity or ZERO
    if before == 0:
        return ""
    swing = abs(item.delta) / before
    if swing > Decimal(str(swing_threshold)):
        return (f"held for review: swing {swing:.0%} over "
                f"{Decimal(str(swing_threshold)):.0%}")
    return ""


def hold_for_review(plan: Plan, swing_threshold: float) -> Plan:
    """The one approval rule of console, CLI and scheduler: decreases and swings over the
    threshold start unapproved, every other write approved."""
    for item in plan.items:
        item.approved = not needs_review(item, swing_threshold) if item.action.writes else True
    return plan
