"""Modal pickers of the review screens: a PSA company/product with fuzzy search, a note.

The picker opens with suggestions already ranked by similarity to the Atria name, so
the usual fix ("Ujala Traders" → the company "Ujala Traders") is one Enter; typing
narrows the list (rapidfuzz) while the arrow keys keep moving the list's cursor.
A guess is never committed by Enter alone: a weak match (score under `STRONG`) or a
company already used by another customer is flagged (⚠ in the list, the reason in the
hint) and needs a second Enter on that same row.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from atria_tui.console.widgets.grid import Column, Grid
from atria_tui.services.fixes import Choice, rank

__all__ = ["NoteScreen", "PickerScreen"]


STRONG = 90
"""The score from which the top suggestion is taken on Enter alone."""


def doubts(c: Choice) -> list[str]:
    """Why choosing `c` may be a mistake: a weak (or no) match, a company already used."""
    why = []
    if c.score < STRONG:
        why.append(f"a weak match ({c.score:.0f})" if c.score else "not a match by name")
    if "used by " in c.detail:
        why.append("already used by " + c.detail.split("used by ", 1)[1])
    return why


def _score(c: Choice) -> str:
    mark = "⚠" if c.score and doubts(c) else ""
    return f"{mark}{c.score:.0f}" if c.score else ""


PICK_COLUMNS: list[Column[Choice]] = [
    Column("label", "Name", lambda c: c.label, flex=True, min_width=20, max_width=34),
    Column("value", "Identifier / code", lambda c: c.value, max_width=24),
    Column("detail", "Detail", lambda c: c.detail, max_width=42),
    Column("score", "Match", _score, sort=lambda c: c.score, width=5, align="right",
           style=lambda c: "bold #f0c05a" if doubts(c) else ""),
]


class PickerScreen(ModalScreen[Choice | None]):
    """Dismisses with the chosen PSA account/product, or None (Escape)."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="picker.cancel"),
        Binding("down", "move(1)", "Down", show=False, id="picker.down"),
        Binding("up", "move(-1)", "Up", show=False, id="picker.up"),
        Binding("pagedown", "move(10)", "Page down", show=False, id="picker.pagedown"),
        Binding("pageup", "move(-10)", "Page up", show=False, id="picker.pageup"),
    ]

    def __init__(self, title: str, subject: str, choices: Sequence[Choice],
                 hint: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.subject = subject
        self.choices = list(choices)
        self.hint = hint
        self.armed: Choice | None = None  # a doubtful row Enter was pressed on once

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-dialog", classes="dialog"):
            yield Static(self.title_text, classes="dialog-title", markup=False)
            yield Static(f"Atria: {self.subject}", id="picker-subject", markup=False)
            yield Input(placeholder="Type to search (fuzzy)…", id="picker-search")
            yield Grid(PICK_COLUMNS, id="picker-grid",
                       row_style=lambda c: "" if c.usable else "#8a8f98",
                       empty_text="Nothing matches; try fewer letters.")
            yield Static(self.hint or "Enter choose · ↑↓ move · Esc cancel · ⚠ weak or "
                         "used: Enter twice",
                         id="picker-hint", classes="hint", markup=False)

    @property
    def grid(self) -> Grid[Choice]:
        grid: Grid[Choice] = self.query_one("#picker-grid", Grid)
        return grid

    def on_mount(self) -> None:
        self.grid.set_rows(rank(self.choices, "", self.subject), keep_cursor=False)
        self.set_focus(self.query_one("#picker-search", Input))

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.grid.set_rows(rank(self.choices, event.value, self.subject), keep_cursor=False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.choose(self.grid.cursor_row)

    def on_grid_selected(self, event: Grid.Selected) -> None:
        event.stop()
        self.choose(event.row)

    def choose(self, choice: Choice | None) -> None:
        hint = self.query_one("#picker-hint", Static)
        if choice is None:
            hint.update("Nothing to choose: change the search.")
            return
        if not choice.usable:
            why = ("has no single live contract of the configured type"
                   if choice.kind == "account" else "is inactive or cannot be a contract line")
            hint.update(f"{choice.label} {why}: choose another.")
            return
        doubt = doubts(choice)
        if doubt and self.armed != choice:
            self.armed = choice
            hint.update(f"⚠ {choice.label}: {' and '.join(doubt)}. Enter again takes it; "
                        "type or ↑↓ for another.")
            return
        self.dismiss(choice)

    def on_grid_cursor_moved(self, event: Grid.CursorMoved) -> None:
        event.stop()
        if self.armed is not None and event.row != self.armed:
            self.armed = None
            self.query_one("#picker-hint", Static).update(
                "Enter choose · ↑↓ move · Esc cancel · ⚠ weak or used: Enter twice")

    def action_move(self, step: int) -> None:
        self.grid.action_cursor(step)

    def action_cancel(self) -> None:
        self.dismiss(None)


class NoteScreen(ModalScreen[str | None]):
    """A reviewer's note on one preview row (goes into the CSV exports)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="note.cancel")]

    def __init__(self, title: str, note: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical(id="note-dialog", classes="dialog"):
            yield Static(self.title_text, classes="dialog-title", markup=False)
            yield Input(self.note, placeholder="Note (Enter saves, empty clears)",
                        id="note-input")
            yield Static("Enter save · Esc cancel", classes="hint")

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#note-input", Input))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)
