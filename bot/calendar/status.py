"""The one rule for an event's date-dependent status: planned, due, overdue, presumed done
or presumed given. The calendar engine, the stored calendar rows read on a later day
(`services.queries`), the iCalendar feed — and the digest, reminders and escalation —
all ask `status_on`; nobody else compares dates with windows.

What a record says (given, held, skipped; done when labs or an assessment fall in the
window) is decided by the engine from the history before this rule is asked.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

RECORDED_BY_EXCEPTION = ("radiotherapy", "brachytherapy")  # fractions are presumed given


def status_on(
    *,
    kind: str,
    day: date,
    window_from: date,
    window_to: date,
    presumed_from: date | None,
    today: date | None,
) -> str:
    """The status on `today` of an event nothing has been recorded for.

    No `today`: planned. From `presumed_from` on (a later step has begun): presumed done.
    A radiotherapy fraction is presumed given once its day has passed, due on its day.
    Otherwise: due inside the window (widened to contain the planned day), overdue after
    it, planned before it.
    """
    if today is None:
        return "planned"
    if presumed_from is not None and presumed_from <= today:
        return "presumed_done"
    if kind in RECORDED_BY_EXCEPTION:
        return "presumed_given" if day < today else "due" if day == today else "planned"
    low, high = min(window_from, day), max(window_to, day)
    return "overdue" if today > high else "due" if today >= low else "planned"


def stored_status_on(event: Mapping[str, Any], today: date) -> str:
    """The status on `today` of an event in its JSON shape (`CalendarEvent.to_json()`, as
    calendar rows store it, built without a "today"): a recorded status stands; a planned
    one is read with `status_on`."""
    if event["status"] != "planned":
        return event["status"]
    presumed = event.get("presumed_done_from")
    low, high = event["window"]
    return status_on(
        kind=event["kind"],
        day=date.fromisoformat(event["date"]),
        window_from=date.fromisoformat(low),
        window_to=date.fromisoformat(high),
        presumed_from=date.fromisoformat(presumed) if presumed else None,
        today=today,
    )
