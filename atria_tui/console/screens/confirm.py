"""One yes/no dialog for every action that deletes or writes to a PSA.

Shared by both halves of the console so every destructive question looks and answers
the same way: `y`/Enter on the confirm button, `n`/Escape to back out. For a destructive
action (`danger=True`) the Cancel button has the focus, so a stray Enter does nothing.
Text is shown as plain text: job labels and messages may contain `[brackets]` that must
not be read as markup.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Static

__all__ = ["ConfirmScreen"]


class ConfirmScreen(ModalScreen[bool]):
    """Dismisses with True when confirmed, False otherwise."""

    BINDINGS = [
        Binding("y", "confirm", "Yes", id="confirm.yes"),
        Binding("n", "cancel", "No", id="confirm.no"),
        Binding("escape", "escape", "Back", id="confirm.escape"),
    ]

    def __init__(self, title: str, body: str, confirm: str = "Confirm", *,
                 cancel: str = "Cancel", danger: bool = False, id: str | None = None,
                 escape_confirms: bool = False) -> None:
        super().__init__(id=id)
        self.escape_confirms = escape_confirms  # for a question whose safe answer is yes
        self.title_text = title
        self.body_text = body
        self.confirm_label = confirm
        self.cancel_label = cancel
        self.danger = danger

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog", classes="dialog"):
            yield Static(self.title_text, id="confirm-title", classes="dialog-title",
                         markup=False)
            yield Static(self.body_text, id="confirm-body", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.confirm_label, id="confirm",
                             variant="error" if self.danger else "primary")
                yield Button(self.cancel_label, id="cancel")
            focus = self.cancel_label if self.danger else self.confirm_label
            yes, no = ("y or Esc", "n") if self.escape_confirms else ("y", "n or Esc")
            yield Static(f"{yes} {self.confirm_label} · {no} {self.cancel_label} · "
                         f"Enter presses the highlighted button ({focus})",
                         id="confirm-keys", classes="hint", markup=False)
        yield Footer()  # y/n, not the keys of the screen behind

    def on_mount(self) -> None:
        self.query_one("#cancel" if self.danger else "#confirm", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm")

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)

    def action_escape(self) -> None:
        self.dismiss(self.escape_confirms)
