"""The preview "By customer": one subtotal row per customer (Δ qty, Δ money, blockers,
rows to review), customers with blockers first. Enter shows that customer's rows.

A month-end clerk checks an invoice per customer, not per line; the flat preview gave
only grand totals. The subtotals are computed from the rows the preview shows, so they
add up to its header.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from atria_tui.console.widgets.grid import Column, Grid
from atria_tui.core import numbers
from atria_tui.services.review import CustomerTotal

__all__ = ["CustomersScreen", "customer_columns"]


def customer_columns(currency: str = "") -> list[Column[CustomerTotal]]:
    return [
        Column("code", "Customer", lambda t: t.code, max_width=10),
        Column("delta", "Δ qty", lambda t: numbers.signed_qty(t.delta) if t.changes else "",
               sort=lambda t: t.delta, width=7, align="right"),
        Column("money", "Δ money", lambda t: numbers.signed_money(t.money, currency)
               if t.changes else "", sort=lambda t: t.money, width=10 + len(currency),
               align="right"),
        Column("blockers", "Blockers", lambda t: str(t.blockers) if t.blockers else "",
               sort=lambda t: t.blockers, width=8, align="right",
               style=lambda t: "bold #ff6b6b" if t.blockers else ""),
        Column("review", "To review", lambda t: str(t.to_review) if t.to_review else "",
               sort=lambda t: t.to_review, width=9, align="right",
               style=lambda t: "bold #f0c05a" if t.to_review else ""),
        Column("changes", "Changes", lambda t: str(t.changes), sort=lambda t: t.changes,
               width=7, align="right"),
        Column("name", "Name", lambda t: t.name, flex=True, min_width=10, max_width=30),
    ]


class CustomersScreen(ModalScreen[str | None]):
    """Dismisses with the customer code to show (Enter), or None (Esc)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Back", id="customers.back"),
    ]

    def __init__(self, totals: list[CustomerTotal], currency: str = "",
                 title: str = "By customer") -> None:
        super().__init__()
        self.totals, self.currency, self.title_text = totals, currency, title

    def compose(self) -> ComposeResult:
        with Vertical(id="customers-dialog", classes="dialog"):
            yield Static(self.title_text, classes="dialog-title", markup=False)
            yield Grid(customer_columns(self.currency), id="customers-grid",
                       row_key=lambda t: t.code, empty_text="No rows.")
            yield Static("⏎ shows that customer's rows · s sort · Esc back", classes="hint")
        yield Footer()

    def on_mount(self) -> None:
        grid: Grid[CustomerTotal] = self.query_one("#customers-grid", Grid)
        grid.set_rows(self.totals)
        grid.focus()

    def on_grid_selected(self, event: Grid.Selected) -> None:
        event.stop()
        self.dismiss(event.row.code)

    def action_close(self) -> None:
        self.dismiss(None)
