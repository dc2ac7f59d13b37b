"""A drug's course as decided so far: holds, discontinuation and dose level over time.

The decision module folds the event history into one `DrugCourse` per drug; the calendar
reads it to know which doses are due (none while held, none after discontinuation) and at
what percentage of the protocol dose. A drug absent from the mapping is active at 100 %.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict


class Hold(BaseModel):
    model_config = ConfigDict(frozen=True)

    start: date
    until: date | None = None  # the resume date; None while still held
    reason: str = ""
    decision_id: str | None = None
    confirmed: bool = False


class Level(BaseModel):
    model_config = ConfigDict(frozen=True)

    start: date
    percent: int
    decision_id: str | None = None
    confirmed: bool = False


class DrugCourse(BaseModel):
    model_config = ConfigDict(frozen=True)

    drug: str
    holds: tuple[Hold, ...] = ()
    levels: tuple[Level, ...] = ()
    discontinued_on: date | None = None
    discontinued_reason: str = ""
    discontinue_decision: str | None = None
    discontinue_confirmed: bool = False

    def percent_on(self, day: date) -> int:
        percent = 100
        for level in self.levels:
            if level.start <= day:
                percent = level.percent
        return percent

    def held_on(self, day: date) -> Hold | None:
        for hold in self.holds:
            if hold.start <= day and (hold.until is None or day < hold.until):
                return hold
        return None

    def is_discontinued_on(self, day: date) -> bool:
        return self.discontinued_on is not None and day >= self.discontinued_on

    @property
    def open_hold(self) -> Hold | None:
        return next((h for h in self.holds if h.until is None), None)


TreatmentState = dict[str, DrugCourse]
