"""The "export to CSV" dialog: a file name, checked before anything is written.

The write itself is passed in and run here, so a bad folder or a full disk is shown in
the dialog next to the name (fix it and press Enter again) instead of in a toast after
the dialog is gone. A file is never replaced silently: the name offered is a free one
(`-2`, `-3`… added), and a name that exists wants a second Enter to replace it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Input, Static

from atria_tui.core.export import write_csv

__all__ = ["ExportResult", "ExportScreen", "check_target", "export_csv", "free_name"]


@dataclass(frozen=True, slots=True)
class ExportResult:
    path: Path
    rows: int


def check_target(text: str, folder: Path) -> Path:
    """The file a typed name means (relative to `folder`, `.csv` added); ValueError if unusable."""
    name = text.strip()
    if not name:
        raise ValueError("enter a file name, e.g. run-12-log.csv")
    path = Path(name).expanduser()
    if not path.is_absolute():
        path = folder / path
    if path.is_dir():
        raise ValueError(f"{path} is a folder: add a file name")
    if not path.suffix:
        path = path.with_suffix(".csv")
    if not path.parent.is_dir():
        raise ValueError(f"folder {path.parent} does not exist")
    return path


def free_name(path: Path) -> Path:
    """`path`, or the first of `stem-2.csv`, `stem-3.csv`… that does not exist yet."""
    n = 2
    candidate = path
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        n += 1
    return candidate


class ExportScreen(ModalScreen[ExportResult | None]):
    """Asks for a file name, runs `write(path) -> rows`, dismisses with what was written."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="export.cancel")]

    def __init__(self, title: str, default: Path, write: Callable[[Path], int],
                 detail: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.default = default
        self.write = write
        self.detail = detail
        self.replace: Path | None = None  # an existing file Enter was pressed on once

    def compose(self) -> ComposeResult:
        with Vertical(id="export-dialog", classes="dialog"):
            yield Static(self.title_text, classes="dialog-title", markup=False)
            if self.detail:
                yield Static(self.detail, classes="hint", markup=False)
            yield Input(str(free_name(self.default)), id="export-path")
            yield Static("", id="export-error", classes="error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Export", id="export-ok", variant="primary")
                yield Button("Cancel", id="export-cancel")

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#export-path", Input))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.export()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "export-ok":
            self.export()
        else:
            self.dismiss(None)

    def export(self) -> None:
        error = self.query_one("#export-error", Static)
        try:
            path = check_target(self.query_one("#export-path", Input).value,
                                self.default.parent)
            if path.exists() and self.replace != path:
                self.replace = path
                error.update(f"{path.name} exists already: Enter again replaces it, or "
                             "change the name.")
                return
            rows = self.write(path)
        except ValueError as exc:
            error.update(str(exc))
            return
        except OSError as exc:
            where = exc.filename or self.query_one("#export-path", Input).value
            error.update(f"{where}: {exc.strerror or exc}")
            return
        self.dismiss(ExportResult(path, rows))

    def action_cancel(self) -> None:
        self.dismiss(None)


def export_csv(screen: Screen[Any], title: str, default: Path, header: Sequence[str],
               rows: Iterable[Sequence[object]], detail: str = "") -> None:
    """Ask for a file name, write `rows` (already taken as shown) there, say what was done."""
    taken = list(rows)
    if getattr(screen.app, "demo", False):
        # The demo's jobs folder is thrown away on exit; an export must outlive it.
        default = Path.cwd() / default.name

    def write(path: Path) -> int:
        return write_csv(path, header, taken)

    def done(result: ExportResult | None) -> None:
        if result:
            screen.notify(f"Wrote {result.rows} row(s) to {result.path}", title="Export")

    screen.app.push_screen(ExportScreen(title, default, write,
                                        detail or f"{len(taken)} row(s) as shown"), done)
