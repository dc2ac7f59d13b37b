"""Which reminders fall on a day: pure, from calendar rows, the site calendar and the day.

- pre-dose labs: `remind_days` treatment days of the site calendar (holidays skipped,
  make-up workdays counted) before each planned infusion;
- imaging: on the day of a planned assessment that includes imaging;
- a window closing: on the last day of a planned event's window with nothing recorded.

Each reminder has the dedupe key `remind:{patient}:{item}:{number}:{offset}` (the patient
is its study ID), so whichever replica materialises it first queues it once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

IMAGING_ITEMS = frozenset({"staging_imaging", "planning_ct"})
RADIOTHERAPY = ("radiotherapy", "brachytherapy")


class TreatmentDays(Protocol):
    def previous_treatment_day(self, day: date, *, inclusive: bool = True) -> date: ...


@dataclass(frozen=True, slots=True)
class Reminder:
    day: date  # the site-local day it is for
    study_id: str
    item: str
    number: int
    offset: str  # labs-2td, day, closing
    what: str  # labs, imaging, closing
    label: str
    event_date: date

    @property
    def key(self) -> str:
        return f"remind:{self.study_id}:{self.item}:{self.number}:{self.offset}"

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "day": self.day.isoformat(),
            "study_id": self.study_id,
            "item": self.item,
            "number": self.number,
            "offset": self.offset,
            "what": self.what,
            "label": self.label,
            "event_date": self.event_date.isoformat(),
        }


def labs_day(infusion: date, remind_days: int, calendar: TreatmentDays) -> date:
    """`remind_days` treatment days before the infusion (0: the infusion day itself)."""
    day = infusion
    for _ in range(remind_days):
        day = calendar.previous_treatment_day(day, inclusive=False)
    return day


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def is_imaging(row: Mapping[str, Any]) -> bool:
    return row.get("kind") == "assessment" and bool(IMAGING_ITEMS & set(row.get("items") or ()))


def unrecorded(row: Mapping[str, Any], on: date) -> bool:
    """Planned, nothing recorded, and not presumed done by `on`."""
    if row.get("status") != "planned":
        return False
    presumed = row.get("presumed_done_from")
    return not (presumed and _day(presumed) <= on)


def reminders_for(
    rows: Iterable[Mapping[str, Any]],
    start: date,
    end: date,
    *,
    remind_days: int,
    calendar: TreatmentDays,
) -> list[Reminder]:
    """Every reminder whose day falls from `start` to `end` (inclusive), by day.

    `rows` are calendar event JSON objects with `study_id` added; they must cover the
    infusions up to `end` + `remind_days` treatment days and the windows closing in range.
    """
    found: list[Reminder] = []
    for row in rows:
        kind = row.get("kind")
        if kind in RADIOTHERAPY:
            continue
        event_date = _day(row["date"])
        number = int(row.get("number") or 0)
        common = {
            "study_id": str(row["study_id"]),
            "item": str(row["item"]),
            "number": number,
            "label": str(row.get("label") or row["item"]),
            "event_date": event_date,
        }
        if kind == "infusion" and unrecorded(row, event_date):
            day = labs_day(event_date, remind_days, calendar)
            if start <= day <= end:
                found.append(
                    Reminder(day=day, offset=f"labs-{remind_days}td", what="labs", **common)
                )
        if is_imaging(row) and unrecorded(row, event_date) and start <= event_date <= end:
            found.append(Reminder(day=event_date, offset="day", what="imaging", **common))
        window = row.get("window") or (None, None)
        closes = _day(window[1]) if window[1] else None
        # A window that closes on the event's own day is the day's reminder already.
        in_range = closes is not None and closes > event_date and start <= closes <= end
        if in_range and unrecorded(row, closes):
            found.append(Reminder(day=closes, offset="closing", what="closing", **common))
    found.sort(key=lambda r: (r.day, r.study_id, r.item, r.number, r.offset))
    return found
