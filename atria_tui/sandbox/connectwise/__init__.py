"""ConnectWise Manage emulator: `app` (routes), `query` and `writes` (what they do),
`state` (data and test knobs), `conditions` and `condition_tree` (the `conditions` grammar)."""

from atria_tui.sandbox.connectwise.app import create_app

__all__ = ["create_app"]
