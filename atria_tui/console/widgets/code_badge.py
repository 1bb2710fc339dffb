"""Colours of levels and codes, the same in the preview, the fixes queue and every log.

A reviewer scanning 50,000 rows looks for colour before text: errors red, warnings
amber, conflicts (TU01) magenta so a line someone else edited is never mistaken for an
ordinary warning, verbose dimmed. The code column is drawn as a badge in the level's
colour so a column of codes reads at a glance. Rich style strings, not CSS: they are
applied per line by the Line API grid.
"""

from __future__ import annotations

from atria_tui.core.model import Level

CONFLICT = "TU01"

_ROW = {
    Level.ERROR: "#ff6b6b",
    Level.WARNING: "#f0c05a",
    Level.INFO: "",
    Level.VERBOSE: "#8a8f98",
}
_BADGE = {
    Level.ERROR: "bold #ffffff on #b3261e",
    Level.WARNING: "bold #1a1a1a on #e0a526",
    Level.INFO: "bold #ffffff on #2e6fb5",
    Level.VERBOSE: "#d0d0d0 on #4a4f57",
}
_CONFLICT_ROW = "bold #e07be0"
_CONFLICT_BADGE = "bold #ffffff on #8e3a9e"


def row_style(level: Level, code: str = "") -> str:
    """The text colour of a whole row."""
    return _CONFLICT_ROW if code == CONFLICT else _ROW[level]


def badge_style(level: Level, code: str = "") -> str:
    """The code cell: a coloured badge."""
    return _CONFLICT_BADGE if code == CONFLICT else _BADGE[level]


def badge_text(code: str) -> str:
    return f" {code} "


LEVEL_MARK = {Level.ERROR: "✖", Level.WARNING: "▲", Level.INFO: "•", Level.VERBOSE: "·"}

