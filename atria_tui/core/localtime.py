"""The clerk's local time zone: times are stored in UTC and shown in local time, and every
place that shows one names the zone, so a log row is never read as another zone's time."""

from __future__ import annotations

from datetime import datetime


def zone_name() -> str:
    """The local zone's short name as the system gives it (`UTC`, `AEDT`, `CET`)."""
    return datetime.now().astimezone().tzname() or "local"
