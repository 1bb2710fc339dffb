"""Kaseya BMS emulator: `app` (routes), `wire` (envelope and shapes), `admin` (the
`/_sandbox/` API), `state` (data, auth, budget) and `types` (its plain value types)."""

from atria_tui.sandbox.kaseya.app import create_app

__all__ = ["create_app"]
