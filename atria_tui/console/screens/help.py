"""Help (? / F1): the log-code catalog, the keys, and what to do about each code.

Users arrive here holding a code from a log or an email ("KS09 again"), so the screen is
a filterable table of every code with its level, trigger and message, and the
highlighted code's resolution in full below it (the seeds' resolution guide, the part
they actually need).
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static

from atria_tui.core.codes import CATALOG, CodeDef
from atria_tui.core.model import Level

__all__ = ["HelpScreen", "matching_codes"]

KEYS = ("Everywhere: ? or F1 help · ctrl+p commands · esc back · ctrl+q quit · "
        "in a table: s sort (choose column) · S reverse · ←/→ a column · ⏎ open.")


def keys_of(screen: Screen[object]) -> str:
    """Every key the screen answers to (its own, its focused table's), as a line: the
    footer shows the most used, Help shows them all, from the same bindings."""
    seen: dict[str, str] = {}
    for key, active in screen.active_bindings.items():
        b = active.binding
        if not b.id or not b.description or b.action in ("help", "app.help"):
            continue  # Textual's own (focus, copy) have no id: ours all do
        if b.action.startswith(("cursor", "page", "jump", "scroll")):
            continue
        shown = b.key_display or screen.app.get_key_display(b)
        seen.setdefault(b.description, shown or key)
    return " · ".join(f"{k} {d}" for d, k in seen.items())
LEVEL_STYLE = {Level.VERBOSE: "dim", Level.INFO: "", Level.WARNING: "yellow",
               Level.ERROR: "bold red"}
SOURCE = {"CW": "ConnectWise guide", "KS": "Kaseya guide", "TU": "atria-tui"}


def matching_codes(query: str) -> list[CodeDef]:
    """Codes whose code, level, trigger, message or resolution contain every word."""
    words = query.casefold().split()
    found = []
    for d in CATALOG.values():
        hay = " ".join((d.code, d.level.value, d.when, d.template, d.resolution)).casefold()
        if all(w in hay for w in words):
            found.append(d)
    return found


class HelpScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "close", "Back", id="help.back"),
        Binding("slash", "search", "Search", key_display="/", id="help.search"),
    ]

    def __init__(self, screen_keys: str = "", screen_title: str = "") -> None:
        super().__init__()
        self.screen_keys, self.screen_title = screen_keys, screen_title

    def compose(self) -> ComposeResult:
        yield Header()
        keys = Text()
        if self.screen_keys:
            keys.append(f"{self.screen_title or 'This screen'}: ", "bold")
            keys.append(self.screen_keys + "\n")
        keys.append(KEYS)
        yield Static(keys, id="help-keys")
        yield Input(placeholder="Filter codes: KS09, warning, billing identifier…",
                    id="help-filter")
        yield DataTable(id="help-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="help-detail", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "log codes"
        table = self.query_one("#help-table", DataTable)
        table.add_column("Code", key="code")
        table.add_column("Level", key="level")
        table.add_column("When", key="when", width=34)
        table.add_column("Message", key="message")
        self._fill("")
        table.focus()

    def _fill(self, query: str) -> None:
        table = self.query_one("#help-table", DataTable)
        table.clear()
        for d in matching_codes(query):
            table.add_row(Text(d.code, style="bold"),
                          Text(d.level.value, style=LEVEL_STYLE[d.level]),
                          Text(d.when), Text(d.template), key=d.code)
        self._detail()

    def _detail(self) -> None:
        table = self.query_one("#help-table", DataTable)
        detail = self.query_one("#help-detail", Static)
        if table.row_count == 0:
            detail.update("No code matches the filter.")
            return
        code = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value or ""
        d = CATALOG[code]
        lines = [f"{d.code} · {d.level.value} · {SOURCE.get(d.code[:2], '')}"
                 + (" · ends the run" if d.ends_run else ""),
                 f"When: {d.when}", f"Message: {d.template}",
                 f"Resolution: {d.resolution or 'no action listed in the guide'}"]
        detail.update("\n".join(lines))

    def on_input_changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one("#help-table", DataTable).focus()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._detail()

    def action_search(self) -> None:
        self.query_one("#help-filter", Input).focus()

    def action_close(self) -> None:
        if self.query_one("#help-filter", Input).has_focus and \
                self.query_one("#help-filter", Input).value:
            self.query_one("#help-filter", Input).value = ""
            return
        self.dismiss()
