"""Time as xiaoer keeps it: instants are stored in UTC; government time is Asia/Shanghai, so
deadlines are computed and times are shown there (DOMAIN.md, "Working days in China")."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(UTC)


def day_start(day: date) -> datetime:
    """The first instant of ``day`` in Asia/Shanghai (periods, statistics and deadlines count
    Chinese days)."""
    return datetime.combine(day, datetime.min.time(), SHANGHAI)


def day_of(instant: datetime) -> date:
    """The Chinese day ``instant`` falls on."""
    return instant.astimezone(SHANGHAI).date()


# What answers about time left are computed at (the countdowns, overdue filters and lists): now.
# A test fixes it to compare what every page shows at one instant; events, tokens and the
# records' own times keep the real clock (``utcnow``).
_reading_now: datetime | None = None


def reading_now() -> datetime:
    return _reading_now or utcnow()


def fix_reading_now(instant: datetime | None) -> None:
    """Tests only: answers about time left are computed at ``instant`` (None: at the real now)."""
    global _reading_now
    _reading_now = instant
