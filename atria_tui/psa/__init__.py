"""What the product knows about each PSA, as data: one `PsaProfile` per PSA.

A profile holds a PSA's name, its secrets, its parameter names and defaults, how a SKU
matches one of its lines, which adapter speaks to it, and which of the integration guide's
codes it logs for each situation. The engine, the matcher and the services ask the profile
(`profile_of(task).codes.source_unreadable`) instead of choosing a code per PSA inline, so a
third PSA is one more profile and one more adapter.

Pure data: no Textual, no httpx. The adapter is named by its import path, resolved by the
services layer (`services.psa.open_session`), so the core never loads an HTTP client.
"""

from atria_tui.psa.profile import PROFILES, PsaCodes, PsaProfile, profile_of

__all__ = ["PROFILES", "PsaCodes", "PsaProfile", "profile_of"]
