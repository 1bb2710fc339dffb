"""The sort picker: `s` on any grid lists its columns, Enter sorts ascending, `S` or
Shift+Enter descending, so no column is eleven presses away and reverse is in sight."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

__all__ = ["SortPicker"]

NATURAL = "(natural order)"


class SortPicker(ModalScreen[tuple[int | None, bool] | None]):
    """Answers (column number or None for the natural order, descending?) or None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="sort.cancel"),
        Binding("enter", "pick(False)", "Ascending ▲", priority=True, id="sort.ascending"),
        Binding("S,d", "pick(True)", "Descending ▼", key_display="S", id="sort.descending"),
    ]

    def __init__(self, labels: list[str], current: int | None, reverse: bool) -> None:
        super().__init__()
        self.labels, self.current, self.reverse = labels, current, reverse

    def compose(self) -> ComposeResult:
        with Vertical(id="sort-box"):
            yield Static("Sort by which column?", id="sort-title")
            options = [Option(NATURAL, id="natural")]
            for number, label in enumerate(self.labels):
                mark = ""
                if number == self.current:
                    mark = "  ▼ now" if self.reverse else "  ▲ now"
                options.append(Option(f"{label}{mark}", id=f"col-{number}"))
            yield OptionList(*options, id="sort-options")
            yield Static("⏎ ascending · S descending · Esc cancel", classes="hint")
        yield Footer()

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = 0 if self.current is None else self.current + 1
        options.focus()

    def action_pick(self, descending: bool) -> None:
        at = self.query_one(OptionList).highlighted
        if at is None:
            return
        self.dismiss((None if at == 0 else at - 1, descending))

    def action_cancel(self) -> None:
        self.dismiss(None)
