"""One number format for quantities and money, in the console, the CLI and the exports.

A clerk compares the same quantity on three surfaces (the preview, `atria-tui plan`, a
CSV in Excel); it must read the same on all three: quantities with at most two decimals
and no trailing zeros ("10", "6.5"), money always with two ("1,234.50"), signed deltas
with their sign, and the job's currency symbol (option `currency`, default none) where
money is shown. Exports drop the thousands separator so a spreadsheet reads numbers.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

__all__ = ["money", "money_value", "qty", "qty_value", "signed_money", "signed_qty"]

_CENT = Decimal("0.01")


def qty(q: Decimal | None, *, grouping: bool = True) -> str:
    """A quantity: "" for none, at most two decimals, trailing zeros dropped."""
    if q is None:
        return ""
    text = f"{q.quantize(_CENT, ROUND_HALF_UP):{',' if grouping else ''}.2f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def signed_qty(q: Decimal, *, grouping: bool = True) -> str:
    """A quantity change with its sign ("+2", "-0.5"); zero is "0"."""
    text = qty(abs(q), grouping=grouping)
    return text if q == 0 else ("+" if q > 0 else "-") + text


def money(m: Decimal | None, currency: str = "", *, grouping: bool = True) -> str:
    """An amount with two decimals, the currency symbol in front ("$1,234.50")."""
    if m is None:
        return ""
    text = f"{abs(m).quantize(_CENT, ROUND_HALF_UP):{',' if grouping else ''}.2f}"
    return ("-" if m < 0 else "") + currency + text


def signed_money(m: Decimal, currency: str = "", *, grouping: bool = True) -> str:
    """A money change with its sign ("+$12.00", "-$110.00"); zero has none."""
    text = money(abs(m), currency, grouping=grouping)
    return text if m == 0 else ("+" if m > 0 else "-") + text


def qty_value(q: Decimal | None) -> Decimal | None:
    """A quantity as an export writes it: a number (so a spreadsheet sums it), with the
    console's digits ("6.5", "0", "10"; never "0.0" next to "0")."""
    return None if q is None else Decimal(qty(q, grouping=False))


def money_value(m: Decimal) -> Decimal:
    """An amount as an export writes it: two decimals ("45.50")."""
    return m.quantize(_CENT, ROUND_HALF_UP)
