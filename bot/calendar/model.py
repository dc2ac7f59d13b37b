"""What the calendar engine returns: dated events and a summary.

Events are plain slotted dataclasses (the engine makes ~150 per patient and must stay under
a couple of milliseconds); JSON is built only on output, by `to_json()`. The JSON shape of an
event is the calendar's public contract — later commands and the stored calendar rows reuse
it — so keys are only ever added, never renamed or dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

EventKind = Literal["radiotherapy", "brachytherapy", "infusion", "assessment", "labs"]

# planned: nothing recorded and nothing due yet (or no "today" given)
# due: today is inside the window, nothing recorded
# overdue: the window has passed, nothing recorded
# given / held / skipped: a dose or fraction record says so
# done: labs (a lab panel) or an assessment (a response assessment) recorded in the window
# presumed_given: a past radiotherapy fraction with no record (the team records exceptions)
# presumed_done: a visit the patient must have had, since a later step has begun
STATUSES = (
    "planned",
    "due",
    "overdue",
    "given",
    "done",
    "held",
    "skipped",
    "presumed_given",
    "presumed_done",
)


def _number(value: float | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


@dataclass(slots=True)
class EventDose:
    amount: float
    unit: str  # "mg/m2", "mg", "mg/kg", "AUC", "Gy"
    mg: float | None
    basis: str  # "per_m2", "flat", "per_kg", "auc", "per_fraction"
    percent: int = 100
    boost: float | None = None  # Gy per fraction to the nodal boost volume, when planned
    recorded_mg: float | None = None  # what the dose record says was given
    # an mg/kg, AUC or capped dose: the inputs it read, or what is missing
    # (bot.calendar.derived_dose.derive); None for a per m² or flat dose without a cap
    derivation: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        data = {
            "amount": _number(self.amount),
            "unit": self.unit,
            "mg": _number(self.mg),
            "basis": self.basis,
            "percent": self.percent,
            "boost": _number(self.boost),
            "recorded_mg": _number(self.recorded_mg),
        }
        if self.derivation is not None:  # only derived doses carry it: older JSON unchanged
            data["derivation"] = dict(self.derivation)
        return data


@dataclass(slots=True)
class CalendarEvent:
    date: date
    kind: str
    item: str
    phase: str
    number: int
    window_from: date
    window_to: date
    status: str
    source: str
    label: str
    series: str
    dose: EventDose | None = None
    cycle: int | None = None
    day: int | None = None
    month: int | None = None
    items: tuple[str, ...] = ()
    provisional: bool = False
    note: str | None = None
    nominal_date: date | None = None
    record_id: str | None = None  # the dose record / lab panel / assessment behind the status
    presumed_from: date | None = None  # from this day an unrecorded visit is presumed done
    # sort position: the series' place in the schedule file, then a running counter
    order: tuple[int, int] = (0, 0)

    @property
    def key(self) -> str:
        """Stable identity within a patient's calendar: series, number, and for a held or
        skipped attempt its date (a slot can be held several times)."""
        base = f"{self.series}#{self.number}"
        if self.cycle is not None and self.day is not None:
            base = f"{self.series}:{self.item}#c{self.cycle}d{self.day}"
        elif self.number == 0:  # a record outside the planned schedule
            base = f"{self.series}:{self.item}#{self.record_id or 'unplanned'}"
        if self.status in ("held", "skipped") or self.number == 0:
            base += f"@{self.date.isoformat()}"
        return base

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "date": self.date.isoformat(),
            "kind": self.kind,
            "item": self.item,
            "phase": self.phase,
            "number": self.number,
            "label": self.label,
            "window": [self.window_from.isoformat(), self.window_to.isoformat()],
            "dose": self.dose.to_json() if self.dose is not None else None,
            "status": self.status,
            "source": self.source,
            "series": self.series,
            "cycle": self.cycle,
            "day": self.day,
            "month": self.month,
            "items": list(self.items),
            "provisional": self.provisional,
            "note": self.note,
            "nominal_date": self.nominal_date.isoformat() if self.nominal_date else None,
            "record_id": self.record_id,
            "presumed_done_from": self.presumed_from.isoformat() if self.presumed_from else None,
        }


@dataclass(slots=True)
class DrugHoldSummary:
    drug: str
    since: date
    until: date | None
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "drug": self.drug,
            "since": self.since.isoformat(),
            "until": self.until.isoformat() if self.until else None,
            "reason": self.reason,
        }


@dataclass(slots=True)
class DiscontinuedSummary:
    drug: str
    on: date
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"drug": self.drug, "on": self.on.isoformat(), "reason": self.reason}


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


@dataclass(slots=True)
class CalendarSummary:
    day1: date
    first_fraction: date | None = None
    last_fraction: date | None = None
    fractions: int = 0
    ott_days: int | None = None  # last − first EBRT fraction + 1
    planned_ott_days: int | None = None  # the same on a weekdays-only calendar, no holds
    prolongation_days: int | None = None  # ott − planned ott
    last_brachytherapy: date | None = None
    ott_with_brachytherapy_days: int | None = None  # first EBRT fraction → last brachytherapy
    consolidation_start: date | None = None
    maintenance_end: date | None = None
    bsa_m2: float | None = None
    # the schedule's words for them: the fraction series' label, the consolidation series'
    # phase (replies say "first EBRT fraction", "consolidation from …" from these)
    fraction_label: str | None = None
    radiotherapy_name: str | None = None  # the course's name ("EBRT"): "EBRT 25 fractions"
    consolidation_phase: str | None = None
    on_hold: list[DrugHoldSummary] = field(default_factory=list)
    discontinued: list[DiscontinuedSummary] = field(default_factory=list)
    provisional: bool = False
    provisional_from: date | None = None
    notes: list[str] = field(default_factory=list)
    # derived doses (mg/kg, AUC) still to come that have no mg: per drug, the first one's
    # date and derivation (what it needs)
    doses_without_mg: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = self._json()
        if self.doses_without_mg:  # only then: the summary of other trials is unchanged
            data["doses_without_mg"] = [dict(d) for d in self.doses_without_mg]
        return data

    def _json(self) -> dict[str, Any]:
        return {
            "day1": self.day1.isoformat(),
            "first_fraction": _iso(self.first_fraction),
            "last_fraction": _iso(self.last_fraction),
            "fractions": self.fractions,
            "ott_days": self.ott_days,
            "planned_ott_days": self.planned_ott_days,
            "prolongation_days": self.prolongation_days,
            "last_brachytherapy": _iso(self.last_brachytherapy),
            "ott_with_brachytherapy_days": self.ott_with_brachytherapy_days,
            "consolidation_start": _iso(self.consolidation_start),
            "consolidation_phase": self.consolidation_phase,
            "maintenance_end": _iso(self.maintenance_end),
            "fraction_label": self.fraction_label,
            "radiotherapy_name": self.radiotherapy_name,
            "bsa_m2": self.bsa_m2,
            "on_hold": [h.to_json() for h in self.on_hold],
            "discontinued": [d.to_json() for d in self.discontinued],
            "provisional": self.provisional,
            "provisional_from": _iso(self.provisional_from),
            "notes": list(self.notes),
        }


@dataclass(slots=True)
class Calendar:
    events: list[CalendarEvent]
    summary: CalendarSummary

    def to_json(self) -> dict[str, Any]:
        """{"events": [event JSON …], "summary": {…}} — JSON-ready dicts, not a string."""
        return {"events": self.events_json(), "summary": self.summary.to_json()}

    def events_json(self) -> list[dict[str, Any]]:
        return [event.to_json() for event in self.events]

    def of(
        self, item: str | None = None, *, series: str | None = None, status: str | None = None
    ) -> list[CalendarEvent]:
        """Events filtered by item, series and/or status (handy for callers and tests)."""
        return [
            e
            for e in self.events
            if (item is None or e.item == item)
            and (series is None or e.series == series)
            and (status is None or e.status == status)
        ]
