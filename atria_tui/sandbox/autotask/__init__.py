"""Autotask PSA emulator: `app` (routes, the strictness table), `query` (the filter
grammar), `wire` (errors and shapes), `admin` (the `/_sandbox/` API), `state` (data, auth,
limits) and `types` (fields, picklists, knobs)."""

from atria_tui.sandbox.autotask.app import create_app

__all__ = ["create_app"]
