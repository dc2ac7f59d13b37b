"""Where "now" comes from: the only place in `bot/` that reads the system clock.

Everything that needs the current instant takes a `Clock` (or the instant itself) as an
argument, so tests can pin time with `FixedClock` and move it with `advance` instead of
waiting or patching. Instants are always timezone-aware UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


def as_utc(moment: datetime, *, what: str = "instant") -> datetime:
    """`moment` converted to UTC; a naive datetime is refused (it has no defined instant)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {moment.isoformat()}")
    return moment.astimezone(UTC)


class SystemClock:
    """The host's clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def __repr__(self) -> str:
        return "SystemClock()"


class FixedClock:
    """A clock that stands still until told to move: for tests and replays."""

    def __init__(self, moment: datetime) -> None:
        self._now = as_utc(moment, what="FixedClock time")

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> datetime:
        self._now = as_utc(moment, what="FixedClock time")
        return self._now

    def advance(self, delta: timedelta | None = None, /, **parts: float) -> datetime:
        """Move forward by `delta` or by `timedelta(**parts)` (e.g. `advance(minutes=5)`)."""
        if delta is not None and parts:
            raise TypeError("give either a timedelta or keyword parts, not both")
        step = delta if delta is not None else timedelta(**parts)
        if step < timedelta(0):
            raise ValueError(f"a clock does not run backwards (advance by {step})")
        self._now += step
        return self._now

    def __repr__(self) -> str:
        return f"FixedClock({self._now.isoformat()})"
