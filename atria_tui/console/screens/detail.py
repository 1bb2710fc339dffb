"""One row in full: a preview row or a log entry, with the guide's resolution.

Grids cut long messages (a CW10 "HTTP 500 from GET /finance/agr…" is never readable in a
column), and a toast covered the rows for 20 s and followed the clerk to the next screen.
Enter on a row opens this dialog instead: the whole message, the code's trigger and
resolution from the guide, and for a preview row the PSA side (agreement, product, line
and their ids) and the note. Esc or Enter closes it, and it never outlives its screen.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from atria_tui.core import codes, numbers
from atria_tui.core.model import Level, LogEntry, PlanItem

__all__ = ["DetailScreen", "entry_detail", "item_detail"]


def _code_lines(code: str) -> list[tuple[str, str]]:
    d = codes.CATALOG.get(code)
    resolution = codes.resolution(code)
    if not resolution:  # the guide lists none: say what a clerk can still do
        resolution = ("The guide lists no resolution: retry the run later; if it persists, "
                      "check the PSA's status and the job's connection (F5 in the job form)."
                      if d is None or d.level.rank >= Level.ERROR.rank
                      else "Nothing to do: the guide lists no action for this code.")
    rows = [("When", d.when)] if d and d.when else []
    return [*rows, ("What to do", resolution)]


def _text(title: str, rows: list[tuple[str, str]]) -> Text:
    text = Text(title + "\n\n", "bold")
    for label, value in rows:
        if value:
            text.append(f"{label}: ", "bold #5fafff")
            text.append(value + "\n")
    return text


def item_detail(i: PlanItem, currency: str = "") -> Text:
    """A preview row in full: what Atria says, what the PSA holds, why, what to do."""
    rows = [
        ("Customer", f"{i.customer_code} · {i.customer_name}".strip(" ·")),
        ("Billing identifier", i.billing_identifier),
        ("Atria SKU", i.sku), ("Summary description", i.description),
        ("Atria qty", numbers.qty(i.atria_quantity)), ("PSA qty", numbers.qty(i.psa_quantity)),
        ("Δ qty", numbers.signed_qty(i.delta) if i.action.writes else ""),
        ("Unit price", numbers.money(i.unit_price, currency) if i.unit_price else ""),
        ("Δ money", numbers.signed_money(i.money_delta, currency) if i.action.writes else ""),
        ("Action", i.action.value if i.action.writes else "none (nothing is written)"),
        ("Account", f"{i.account_name} (id {i.account_id})" if i.account_id else i.account_name),
        ("Agreement", f"{i.contract_name} (id {i.contract_id})" if i.contract_id
         else i.contract_name),
        ("PSA product", f"{i.product_code} (id {i.product_id})" if i.product_id
         else i.product_code),
        ("PSA line id", i.line_id),
        # A preview's row is not written yet: "would be updated", as a plan run's log says.
        ("Message", codes.planned(i.code, i.message) if i.action.writes and i.status is None
         else i.message), *_code_lines(i.code),
        ("Note", i.note),
    ]
    d = codes.CATALOG.get(i.code)
    return _text(f"{i.code} · {d.level.value if d else i.level.value}", rows)


def entry_detail(e: LogEntry, time_text: str = "") -> Text:
    """A log entry in full, with the guide's resolution for its code."""
    rows = [("Time", time_text), ("Customer", e.customer), ("SKU", e.sku),
            ("Message", e.message), *_code_lines(e.code)]
    return _text(f"{e.code} · {e.level.value}", rows)


class DetailScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter,q", "close", "Close", key_display="esc", id="detail.close"),
    ]

    def __init__(self, body: Text) -> None:
        super().__init__()
        self.body = body

    def compose(self) -> ComposeResult:
        with Vertical(id="detail-dialog", classes="dialog"):
            with VerticalScroll(id="detail-scroll"):
                yield Static(self.body, id="detail-body")
            yield Static("Esc or ⏎ closes", classes="hint")
        yield Footer()

    def action_close(self) -> None:
        self.dismiss(None)
