"""Times as the reviewer reads them: an age ("12 min ago") with the full local time beside it.

The one formatter of the desktop. Tables show `age_text` and give `local_text` as the cell's
tooltip; labels show `age_and_local`. Every time is stored in UTC (naive values from SQLite
are UTC); only these functions turn one into the reviewer's local time.

The trap: an age is only true at the moment it is drawn. Views that show ages repaint on a
timer (the bridge's periodic stale scan), and callers that own an injectable clock pass its
`now` so tests do not depend on the wall clock.
"""

from __future__ import annotations

from datetime import UTC, datetime

from core.clock import utc


def duration_text(seconds: int) -> str:
    """'45 s', '3 min', '2 h 5 min', '4 d' — a length of time, for humans."""
    seconds = max(0, seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} d"


def age_text(when: datetime | None, now: datetime | None = None) -> str:
    """How long ago `when` was: 'just now', '12 min ago', '2 h 5 min ago'; '' for None.

    A time slightly in the future (another machine's clock) reads 'just now'."""
    if when is None:
        return ""
    seconds = int(((now or datetime.now(UTC)) - utc(when)).total_seconds())
    if seconds < 5:
        return "just now"
    return f"{duration_text(seconds)} ago"


def local_text(when: datetime | None) -> str:
    """The full local time, to the second, with the zone: '2026-12-07 21:10:06 CET'."""
    if when is None:
        return ""
    return utc(when).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z").strip()


def age_and_local(when: datetime | None, now: datetime | None = None) -> str:
    """'12 min ago (2026-12-07 21:10:06 CET)', for labels that have no tooltip per value."""
    if when is None:
        return ""
    return f"{age_text(when, now)} ({local_text(when)})"
