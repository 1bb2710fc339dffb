"""The job form's two dialogs: which PSA a new job is for, and pasting the guide's JSON.

The task is asked before the form opens because it decides every other field (the
parameter names, the secrets) and cannot change afterwards. The paste dialog takes the
guides' blocks exactly as users copy them (line numbers, curly quotes, trailing commas
are cleaned by `seedjson`); when something is still wrong, the error names the block,
line and column, and the cursor is put there so the user can fix it in place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static, TextArea

from atria_tui.core.model import Task
from atria_tui.job.guide_import import import_blocks
from atria_tui.job.parameters import ConfigError

__all__ = ["SeedImport", "SeedPasteScreen", "TaskChoiceScreen"]


class TaskChoiceScreen(ModalScreen[Task | None]):
    BINDINGS = [
        Binding("c", "choose('connectwise-manage')", "ConnectWise", id="task.cw"),
        Binding("k", "choose('kaseya-bms')", "Kaseya", id="task.ks"),
        Binding("a", "choose('autotask-psa')", "Autotask", id="task.at"),
        Binding("escape", "cancel", "Cancel", id="task.cancel"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="task-dialog", classes="dialog"):
            yield Static("New job: which PSA?", classes="dialog-title")
            yield Static("The task decides the parameters and secrets, and cannot be "
                         "changed once the job is saved.")
            with Horizontal(classes="dialog-buttons"):
                yield Button("ConnectWise Manage", id="connectwise-manage", variant="primary")
                yield Button("Kaseya BMS", id="kaseya-bms", variant="primary")
                yield Button("Autotask PSA", id="autotask-psa", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_choose(event.button.id or "")

    def action_choose(self, value: str) -> None:
        task = next((t for t in Task if t.value == value), None)
        self.dismiss(task)

    def action_cancel(self) -> None:
        self.dismiss(None)


@dataclass(slots=True)
class SeedImport:
    parameters: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)


class SeedPasteScreen(ModalScreen[SeedImport | None]):
    """Two text areas (parameters, secrets); either may stay empty."""

    BINDINGS = [
        Binding("ctrl+s", "import", "Import", id="seed.import"),
        Binding("escape", "cancel", "Cancel", id="seed.cancel"),
    ]

    def __init__(self, task: Task) -> None:
        super().__init__()
        self.job_task = task

    def compose(self) -> ComposeResult:
        with Vertical(id="seed-dialog", classes="dialog"):
            yield Static(f"Paste the {self.job_task.psa_name} guide's JSON blocks",
                         classes="dialog-title")
            yield Label("Parameters block")
            yield TextArea(id="seed-parameters", soft_wrap=False, show_line_numbers=True,
                           placeholder='{ "ApiUrl": "https://…", "BillingPeriod": "Previous" }')
            yield Label("Secrets block (never shown again once saved)")
            yield TextArea(id="seed-secrets", soft_wrap=False, show_line_numbers=True,
                           placeholder='{ "PublicKey": "…", "PrivateKey": "…" }')
            yield Static("", id="seed-error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Import", id="import", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#seed-parameters", TextArea).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "import":
            self.action_import()
        else:
            self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_import(self) -> None:
        params_area = self.query_one("#seed-parameters", TextArea)
        secrets_area = self.query_one("#seed-secrets", TextArea)
        error = self.query_one("#seed-error", Static)
        try:
            params, secrets = import_blocks(self.job_task, params_area.text, secrets_area.text)
        except ConfigError as exc:
            error.update(str(exc))
            error.add_class("error")
            area = secrets_area if exc.source.startswith("secrets") else params_area
            if exc.line is not None:
                area.cursor_location = (exc.line - 1, max((exc.column or 1) - 1, 0))
            area.focus()
            return
        if not params and not secrets:
            error.update("Nothing to import: paste at least one block")
            error.add_class("error")
            return
        self.dismiss(SeedImport(params, secrets))
