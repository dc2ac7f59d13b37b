"""The calendar engine: protocol schedule + patient + what happened → dated events.

`build_calendar` is a pure function. It reads no clock ("today" is an argument), no
database and no files. It walks the schedule's series in dependency order; each series type
has a generator below. What happened re-flows what is still to come:

- dose records of a drug fill that drug's slots in order (series of one drug take records
  in file order, each from where it starts); `given` and `skipped` use the slot up and the
  chain continues from the record's date, `held` postpones the slot (a fraction to the
  next treatment day, a weekly dose to the next EBRT week, a Q3W/Q6W dose by
  `held_postpone_days`);
- a radiotherapy fraction is never dropped: closures and held/skipped records push it on;
- a drug on hold (per the treatment state) has no due dates until resumed, then
  max(resume date, previous dose + interval); a discontinued drug has none after that;
- assessments anchored on day 1 never move with delays.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from bot.calendar.dates import add_months, next_week_start, week_end, week_start
from bot.calendar.derived_dose import (
    CREATININE,
    Creatinine,
    DoseInputs,
    derive,
    mg_of,
    needs_derivation,
)
from bot.calendar.dosing import dose_mg, round_bsa
from bot.calendar.model import (
    Calendar,
    CalendarEvent,
    CalendarSummary,
    DiscontinuedSummary,
    DrugHoldSummary,
    EventDose,
)
from bot.calendar.plan import PatientPlan
from bot.calendar.schema import (
    DAY1,
    Anchor,
    CountSpec,
    CyclesSeries,
    Dose,
    FractionsSeries,
    IntervalSeries,
    LabsSeries,
    MonthsSeries,
    OnceSeries,
    Schedule,
    Until,
    WeeklyCoverSeries,
    WeeklySeries,
    Window,
    radiotherapy_name,
)
from bot.calendar.sites import SiteCalendar
from bot.calendar.status import status_on
from bot.errors import UserError, closest
from bot.events import DoseRecord, Enrolment, Event, LabPanel, ResponseAssessment
from bot.treatment import DrugCourse, TreatmentState

ONE_DAY = timedelta(days=1)
_NO_WINDOW = Window()
_MAX_SLOTS = 500  # a runaway guard: no series of any trial has this many doses
_EARLY_RECORD = timedelta(days=7)  # see _Run._accept_from


def build_calendar(
    schedule: Schedule,
    patient: PatientPlan,
    history: Sequence[Event],
    site: SiteCalendar,
    today: date | None = None,
    treatment: TreatmentState | None = None,
) -> Calendar:
    """Every event of the patient's protocol, ordered by date (then schedule order).

    `history` is the patient's effective clinical events; `treatment` maps a drug to its
    course (holds, dose levels, discontinuation) — a drug absent from it is active at 100 %.
    Without `today` every unrecorded event is `planned`. Bad plan values (day 1 not a
    treatment day, counts outside the schedule's bounds) raise `UserError`.
    """
    return _Run(schedule, patient, history, site, today, treatment or {}).build()


@dataclass(slots=True)
class _Result:
    """What later series read of an earlier one."""

    slots: list[CalendarEvent] = field(default_factory=list)  # held attempts excluded
    by_drug: dict[str, list[CalendarEvent]] = field(default_factory=dict)  # cycles
    cycle_first: list[date] = field(default_factory=list)  # cycles: first dose of each


def _window(nominal: date, window: Window) -> tuple[date, date]:
    return nominal - timedelta(days=window.before), nominal + timedelta(days=window.after)


class _Run:
    def __init__(
        self,
        schedule: Schedule,
        patient: PatientPlan,
        history: Sequence[Event],
        site: SiteCalendar,
        today: date | None,
        treatment: Mapping[str, DrugCourse],
    ) -> None:
        self.schedule = schedule
        self.patient = patient
        self.site = site
        self.today = today
        self.treatment = treatment
        self.day1 = patient.day1
        self.events: list[CalendarEvent] = []
        self.notes: list[str] = []
        self.results: dict[str, _Result] = {}
        self._seq = 0
        self._static: dict[str, tuple] = {}
        self._doses: dict[tuple, tuple[str, float | None]] = {}
        self._published = site.published_through
        self._first_series: dict[str, str] = {}
        for entry in schedule.series:
            for key in schedule.record_keys(entry.id):
                self._first_series.setdefault(key, entry.id)
        self._check_plan()
        bsa = patient.body_surface_area(schedule.dosing.bsa_formula)
        self.bsa = (
            round_bsa(bsa, schedule.dosing.bsa_decimals, schedule.dosing.bsa_cap_m2)
            if bsa is not None
            else None
        )
        self._records: dict[str, list[DoseRecord]] = {}
        self._cursor: dict[str, int] = {}
        self._used: dict[str, list[bool]] = {}
        self._labs: list[tuple[date, str | None]] = []
        self._responses: list[tuple[date, str | None]] = []
        # `type(e) is`, not `isinstance`: the events are never subclassed, and on
        # pydantic's ABC-based models the check costs several times more — this loop
        # reads a patient's whole history (thousands of entries after a few years).
        for event in history:
            kind = type(event)
            if kind is DoseRecord:
                self._records.setdefault(event.drug, []).append(event)
            elif kind is LabPanel:
                self._labs.append((event.date, event.id))
            elif kind is ResponseAssessment:
                self._responses.append((event.date, event.id))
        for drug, records in self._records.items():
            records.sort(key=lambda r: (r.date, r.seq))
            self._cursor[drug] = 0
            self._used[drug] = [False] * len(records)
        self._inputs: DoseInputs | None = None
        if schedule.derives_doses:
            self._inputs = _dose_inputs(schedule, patient, self.bsa, history)
        self._labs.sort(key=lambda x: x[0])
        self._responses.sort(key=lambda x: x[0])
        self._lab_dates = [d for d, _ in self._labs]
        self._response_dates = [d for d, _ in self._responses]

    # --- validation ---------------------------------------------------------------
    def _check_plan(self) -> None:
        site, day1 = self.site, self.day1
        if self.patient.site is not None and self.patient.site != site.id:
            raise UserError(
                f"the plan is for site {self.patient.site!r} but the calendar was "
                f"asked for site {site.id!r}",
                field="site",
                allowed=site.id,
            )
        if not site.is_treatment_day(day1):
            following = site.next_treatment_day(day1)
            raise UserError(
                f"{day1.isoformat()} ({day1:%A}) is not a treatment day at site {site.id!r} "
                f"({site.closure_reason(day1)}); the next treatment day is "
                f"{following.isoformat()} ({following:%A})",
                field="day1",
                allowed="a treatment day of the site",
            )
        keys = {"fractions"}
        for spec in self.schedule.count_specs():
            if spec.patient:
                keys.add(spec.patient)
                value = self._planned(spec)
                if not spec.min <= value <= spec.max:
                    raise UserError(
                        f"{value} is outside the protocol's range",
                        field=spec.patient,
                        allowed=f"{spec.min}–{spec.max}",
                    )
        for key in self.patient.counts:
            if key not in keys:
                raise UserError(
                    f"unknown planned count {key!r}",
                    field="counts",
                    allowed=", ".join(sorted(keys)),
                    suggestion=closest(key, keys),
                )

    def _planned(self, spec: CountSpec | None) -> int | None:
        if spec is None:
            return None
        if spec.patient == "fractions":
            return self.patient.fractions
        if spec.patient is not None:
            return self.patient.counts.get(spec.patient, spec.default)
        return spec.default

    # --- the walk -----------------------------------------------------------------
    def build(self) -> Calendar:
        generators = {
            OnceSeries: self._once,
            FractionsSeries: self._fractions,
            WeeklySeries: self._weekly,
            IntervalSeries: self._interval,
            CyclesSeries: self._cycles,
            MonthsSeries: self._months,
            LabsSeries: self._labs_before,
            WeeklyCoverSeries: self._weekly_cover,
        }
        for index in self.schedule.processing_order:
            entry = self.schedule.series[index]
            result = _Result()
            self.results[entry.id] = result
            generators[type(entry)](entry, result)
        self._orphans()
        self._finish_statuses()
        self.events.sort(key=lambda e: (e.date, e.order))
        return Calendar(events=self.events, summary=self._summary())

    # --- helpers ------------------------------------------------------------------
    def _anchor(self, anchor: Anchor) -> date | None:
        if anchor.of == DAY1:
            base = self.day1
        else:
            result = self.results[anchor.of]
            events = result.by_drug.get(anchor.drug, []) if anchor.drug else result.slots
            if not events:
                return None
            base = events[0].date if anchor.at == "first" else events[-1].date
        return base + timedelta(days=anchor.offset_days) if anchor.offset_days else base

    def _place(self, day: date, placement: str) -> date:
        if placement == "next_treatment_day":
            return self.site.next_treatment_day(day)
        if placement == "previous_treatment_day":
            return self.site.previous_treatment_day(day)
        return day

    def _gate(
        self, course: DrugCourse | None, day: date, window_end: date | None = None
    ) -> tuple[date | None, str | None]:
        """Where an unrecorded dose on `day` may go given the drug's holds: the same day, a
        later day (after a hold ends), or None (on hold with no end, or discontinued).

        A hold or discontinuation decided after `day` but within the dose's window (up to
        `window_end`), by today, catches the dose: it was pending when the decision came.
        """
        if course is None:
            return day, None
        today = self.today
        late = today is not None and window_end is not None and day < today
        horizon = min(today, window_end) if late else None
        stopped = course.discontinued_on
        if stopped is not None and (day >= stopped or (late and stopped <= horizon)):
            return None, f"discontinued on {stopped.isoformat()}"
        hold = course.held_on(day)
        if hold is None and late:
            caught = [h for h in course.holds if day < h.start <= horizon]
            hold = min(caught, key=lambda h: h.start) if caught else None
        if hold is None:
            return day, None
        if hold.until is None:
            return None, f"on hold since {hold.start.isoformat()}"
        note = f"moved after the hold {hold.start.isoformat()}–{hold.until.isoformat()}"
        return max(day, hold.until), note

    def _peek(self, key: str, low: date | None, high: date | None) -> DoseRecord | None:
        """The next unused record of `key` dated in [low, high) — earlier ones are left for
        the orphan pass."""
        records = self._records.get(key)
        if not records:
            return None
        i = self._cursor[key]
        while i < len(records):
            record = records[i]
            if low is not None and record.date < low:
                i += 1
                continue
            if high is not None and record.date >= high:
                break
            self._cursor[key] = i
            return record
        self._cursor[key] = i
        return None

    def _use(self, key: str) -> None:
        i = self._cursor[key]
        self._used[key][i] = True
        self._cursor[key] = i + 1

    def _accept_from(self, entry, key: str, start: date) -> date | None:
        """The earliest `key` record the series takes. The drug's first series takes any;
        a later one takes records from a week before its planned start (an early first dose
        is still its first dose) — earlier ones belong to the series before it."""
        if self._first_series.get(key) == entry.id:
            return None
        return start - _EARLY_RECORD

    def _next_start(self, entry, key: str) -> date | None:
        """Where the next series taking `key` records starts taking them (None: no such
        series, or its start is not known yet)."""
        position = self.schedule.position(entry.id)
        for later in self.schedule.series[position + 1 :]:
            if key not in self.schedule.record_keys(later.id):
                continue
            start = later.start
            if start.of != DAY1 and start.of not in self.results:
                return None
            anchor = self._anchor(start)
            return None if anchor is None else self._accept_from(later, key, anchor)
        return None

    def _dose(self, drug_id: str, dose: Dose | None, day: date) -> EventDose:
        if dose is None:
            dose = self.schedule.drug(drug_id).dose
        course = self.treatment.get(drug_id)
        percent = course.percent_on(day) if course is not None else 100
        if self._inputs is not None and needs_derivation(dose):
            return self._derived_dose(drug_id, dose, day, percent)
        key = (drug_id, dose.amount, dose.basis, percent)
        known = self._doses.get(key)
        if known is None:
            drug = self.schedule.drug(drug_id)
            mg = dose_mg(
                dose.amount, dose.basis, self.bsa, percent, drug.rounding.step, drug.rounding.mode
            )
            unit = f"{drug.unit}/m2" if dose.basis == "per_m2" else drug.unit
            known = self._doses[key] = (unit, mg)
        return EventDose(
            amount=dose.amount, unit=known[0], mg=known[1], basis=dose.basis, percent=percent
        )

    def _derived_dose(self, drug_id: str, dose: Dose, day: date, percent: int) -> EventDose:
        """An mg/kg, AUC or capped dose: its mg from the patient's inputs on `day` (the
        creatinine before it), and how — or None and what is missing."""
        drug = self.schedule.drug(drug_id)
        derivation = derive(dose, self._inputs, day)
        mg = mg_of(derivation, percent, drug.rounding.step, drug.rounding.mode)
        unit = {"per_m2": f"{drug.unit}/m2", "per_kg": f"{drug.unit}/kg", "auc": "AUC"}
        return EventDose(
            amount=dose.amount,
            unit=unit.get(dose.basis, drug.unit),
            mg=mg,
            basis=dose.basis,
            percent=percent,
            derivation=derivation,
        )

    def _event(
        self,
        entry,
        when: date,
        nominal: date,
        window: tuple[date, date],
        number: int,
        label: str,
        *,
        status: str | None = None,
        item: str | None = None,
        dose: EventDose | None = None,
        phase: str | None = None,
        items: tuple[str, ...] | None = None,
        note: str | None = None,
        record: DoseRecord | None = None,
        **extra,
    ) -> CalendarEvent:
        self._seq += 1
        if note is None and status is None and not window[0] <= when <= window[1]:
            note = self._closure_note(nominal, when, window)
        if record is not None and dose is not None and record.mg is not None:
            dose.recorded_mg = record.mg
        if record is not None and record.reason and note is None:
            note = record.reason
        static = self._static.get(entry.id)
        if static is None:
            static = self._static[entry.id] = (
                entry.kind,
                entry.event_item,
                entry.phase,
                entry.source,
                self.schedule.visit_items_of(entry.visit),
                self.schedule.position(entry.id),
            )
        published = self._published
        event = CalendarEvent(
            date=when,
            kind=static[0],
            item=item or static[1],
            phase=phase or static[2],
            number=number,
            window_from=window[0],
            window_to=window[1],
            status=status,
            source=static[3],
            label=label,
            series=entry.id,
            dose=dose,
            items=static[4] if items is None else items,
            provisional=published is not None and when.year > published,
            note=note,
            nominal_date=nominal,
            record_id=record.id if record is not None else None,
            order=(static[5], self._seq),
            **extra,
        )
        self.events.append(event)
        return event

    def _closure_note(self, nominal: date, day: date, window: tuple[date, date]) -> str:
        reason = self.site.closure_reason(nominal)
        why = (
            f"{nominal.isoformat()} is not a treatment day ({reason})"
            if reason
            else (f"planned for {nominal.isoformat()}")
        )
        return (
            f"{why}; moved to {day.isoformat()}, outside its window "
            f"{window[0].isoformat()}…{window[1].isoformat()}"
        )

    def _note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    # --- series types -------------------------------------------------------------
    def _once(self, entry: OnceSeries, result: _Result) -> None:
        nominal = self._anchor(entry.start)
        if nominal is None:
            self._note(f"{entry.label}: not scheduled, {entry.start.of} has no events")
            return
        day = self._place(nominal, entry.placement)
        result.slots.append(
            self._event(entry, day, nominal, _window(nominal, entry.window), 1, entry.label)
        )

    def _fractions(self, entry: FractionsSeries, result: _Result) -> None:
        start = self._anchor(entry.start)
        if start is None:
            self._note(f"{entry.label}: not scheduled, {entry.start.of} has no events")
            return
        course = self.schedule.course(entry.course)
        key = entry.course
        total = self._planned(entry.count)
        per_week = (
            self.site.brachytherapy_fractions_per_week
            if entry.per_week == "site"
            else entry.per_week
        )
        gap = entry.min_gap_days or (7 // per_week if per_week else 1)
        gap_delta = timedelta(days=gap)
        holds = self.treatment.get(key)
        boost = course.boost_dose_per_fraction if self.patient.boost else None
        site = self.site
        per_week_count: dict[date, int] = {}

        def dose() -> EventDose:
            return EventDose(
                amount=course.dose_per_fraction,
                unit=course.unit,
                mg=None,
                basis="per_fraction",
                boost=boost,
            )

        number, cursor, last, moved = 1, start, None, None
        guard = 0
        while number <= total and guard < 20 * _MAX_SLOTS:
            guard += 1
            candidate = site.next_treatment_day(cursor)
            if last is not None and candidate < last + gap_delta:
                cursor = last + gap_delta
                continue
            if per_week and per_week_count.get(week_start(candidate), 0) >= per_week:
                cursor = next_week_start(candidate)
                continue
            label = f"{entry.label} {number}/{total}"
            record = self._peek(key, None, None)
            if record is None or record.date > candidate:
                gated, why = self._gate(holds, candidate)
                if gated is None:
                    self._note(f"{entry.label}: fractions {number}–{total} not scheduled ({why})")
                    break
                if gated != candidate:
                    cursor, moved = gated, why
                    continue
            if record is not None and record.date <= candidate:
                self._use(key)
                status = record.status
                event = self._event(
                    entry,
                    record.date,
                    record.date,
                    (record.date, record.date),
                    number,
                    label,
                    status=status,
                    dose=dose(),
                    record=record,
                )
                if status == "given" or (status == "skipped" and entry.on_skipped == "consume"):
                    result.slots.append(event)
                    if status == "given":
                        last = record.date
                        week = week_start(record.date)
                        per_week_count[week] = per_week_count.get(week, 0) + 1
                    number += 1
                if record.date >= cursor:
                    cursor = record.date + ONE_DAY
                continue
            event = self._event(
                entry,
                candidate,
                candidate,
                (candidate, candidate),
                number,
                label,
                dose=dose(),
                note=moved,
            )
            moved = None
            result.slots.append(event)
            last = candidate
            week = week_start(candidate)
            per_week_count[week] = per_week_count.get(week, 0) + 1
            number += 1
            cursor = candidate + ONE_DAY

    def _weekly(self, entry: WeeklySeries, result: _Result) -> None:
        start = self._anchor(entry.start)
        within = [e.date for e in self.results[entry.within].slots if e.status != "skipped"]
        if start is None or not within:
            self._note(f"{entry.label}: not scheduled, no {entry.within} events")
            return
        weeks = {week_start(d) for d in within}
        last = max(within)
        total = self._planned(entry.count)
        key = entry.drug
        low = self._accept_from(entry, key, start)
        high = last + ONE_DAY
        following = self._next_start(entry, key)
        if following is not None and following < high:
            high = following
        holds = self.treatment.get(key)
        spacing = timedelta(days=entry.min_interval_days)
        site = self.site

        def search(earliest: date) -> date | None:
            day = earliest
            while day <= last:
                if week_start(day) not in weeks:
                    day = next_week_start(day)
                elif site.is_treatment_day(day):
                    return day
                else:
                    day += ONE_DAY
            return None

        number, earliest, previous, moved = 1, start, None, None
        while number <= total:
            floor = earliest if previous is None else max(earliest, previous + spacing)
            candidate = search(floor)
            label = f"{entry.label} {number}"
            record = self._peek(key, low, high)
            if record is not None:
                # recorded doses fill the slots in order, whatever the plan said
                self._use(key)
                nominal = candidate or record.date
                window = (
                    (nominal, min(week_end(nominal), last))
                    if candidate
                    else (record.date, record.date)
                )
                event = self._event(
                    entry,
                    record.date,
                    nominal,
                    window,
                    number,
                    label,
                    status=record.status,
                    dose=self._dose(key, entry.dose, record.date),
                    record=record,
                )
                earliest = next_week_start(record.date)
                if record.status != "held":
                    result.slots.append(event)
                    previous = record.date
                    number += 1
                continue
            if candidate is None:
                self._note(
                    f"{entry.label}: dose {number} of {total} and later not scheduled — "
                    f"no {entry.within} week left after {previous or start}"
                )
                break
            window = (candidate, min(week_end(candidate), last))
            gated, why = self._gate(holds, candidate, window[1])
            if gated is None:
                self._note(f"{entry.label}: doses {number}–{total} not scheduled ({why})")
                break
            if gated != candidate:
                earliest, moved = gated, why
                continue
            result.slots.append(
                self._event(
                    entry,
                    candidate,
                    candidate,
                    window,
                    number,
                    label,
                    dose=self._dose(key, entry.dose, candidate),
                    note=moved,
                )
            )
            moved = None
            previous = candidate
            earliest = next_week_start(candidate)
            number += 1

    def _until(self, until: Until | None) -> tuple[date, bool] | None:
        if until is None:
            return None
        anchor = self._anchor(Anchor(of=until.of, at=until.at))
        if anchor is None:
            return None
        limit = add_months(anchor, until.months) + timedelta(days=until.days)
        return limit, until.inclusive

    def _dose_slot(
        self,
        entry,
        key: str,
        dose: Dose | None,
        nominal: date,
        window: Window,
        placement: str,
        number: int,
        label: str,
        low: date | None,
        high: date | None,
        postpone: int,
        holds: DrugCourse | None,
        **extra,
    ) -> tuple[CalendarEvent | None, str | None]:
        """One dose slot of an interval or cycle chain: recorded (held attempts postpone it)
        or planned. Returns the slot's event, or None and why when the drug has no due date."""
        for _ in range(_MAX_SLOTS):
            bounds = _window(nominal, window)
            record = self._peek(key, low, high)
            if record is not None:
                self._use(key)
                event = self._event(
                    entry,
                    record.date,
                    nominal,
                    bounds,
                    number,
                    label,
                    status=record.status,
                    item=key,
                    dose=self._dose(key, dose, record.date),
                    record=record,
                    **extra,
                )
                if record.status == "held":
                    nominal = record.date + timedelta(days=postpone)
                    continue
                return event, None
            day = self._place(nominal, placement)
            note = None
            for _ in range(50):
                gated, why = self._gate(holds, day, max(bounds[1], day))
                if gated is None:
                    return None, why
                if gated == day:
                    break
                note = note or why
                day = self._place(gated, placement)
            return self._event(
                entry,
                day,
                nominal,
                bounds,
                number,
                label,
                item=key,
                dose=self._dose(key, dose, day),
                note=note,
                **extra,
            ), None
        return None, "too many held attempts"

    def _interval(self, entry: IntervalSeries, result: _Result) -> None:
        start = self._anchor(entry.start)
        if start is None:
            self._note(f"{entry.label}: not scheduled, {entry.start.of} has no events")
            return
        total = self._planned(entry.count)
        until = self._until(entry.until)
        key = entry.drug
        first_window = entry.first_window or entry.window
        low = self._accept_from(entry, key, start)
        high = self._next_start(entry, key)
        holds = self.treatment.get(key)
        every = timedelta(days=entry.every_days)
        nominal, number = start, 1
        while (total is None or number <= total) and number <= _MAX_SLOTS:
            label = f"{entry.label} {number}" + (f"/{total}" if total else "")
            event, why = self._dose_slot(
                entry,
                key,
                entry.dose,
                nominal,
                first_window if number == 1 else entry.window,
                entry.placement,
                number,
                label,
                low,
                high,
                entry.held_postpone_days,
                holds,
            )
            if event is None:
                self._note(f"{entry.label}: no due dates from dose {number} on ({why})")
                break
            if until is not None and event.status is None:
                # an unrecorded dose is due only while it falls within the limit
                limit, inclusive = until
                if event.date > limit or (event.date == limit and not inclusive):
                    self.events.pop()  # the event just made: beyond the limit
                    break
            result.slots.append(event)
            nominal = event.date + every
            number += 1

    def _cycles(self, entry: CyclesSeries, result: _Result) -> None:
        start = self._anchor(entry.start)
        if start is None:
            self._note(f"{entry.label}: not scheduled, {entry.start.of} has no events")
            return
        total = self._planned(entry.cycles)
        first_window = entry.first_window or entry.window
        lows = {drug: self._accept_from(entry, drug, start) for drug in entry.drugs}
        every = timedelta(days=entry.every_days)
        day1_admins = [a for a in entry.administrations if a.day == 1]
        later_admins = sorted((a for a in entry.administrations if a.day > 1), key=lambda a: a.day)
        highs = {drug: self._next_start(entry, drug) for drug in entry.drugs}
        holds = {drug: self.treatment.get(drug) for drug in entry.drugs}
        labels = {drug: self.schedule.drug(drug).label for drug in entry.drugs}
        nominal = {a.drug: start for a in day1_admins}
        stopped: dict[str, str] = {}
        counters = dict.fromkeys(entry.drugs, 0)
        for drug in entry.drugs:
            result.by_drug[drug] = []

        for cycle in range(1, total + 1):
            given_day1: dict[str, date] = {}
            cycle_dates: list[date] = []
            for admin in day1_admins:
                drug = admin.drug
                if drug in stopped:
                    continue
                counters[drug] += 1
                event, why = self._dose_slot(
                    entry,
                    drug,
                    admin.dose,
                    nominal[drug],
                    first_window if cycle == 1 else entry.window,
                    entry.placement,
                    counters[drug],
                    f"{labels[drug]} C{cycle}D1",
                    lows[drug],
                    highs[drug],
                    entry.held_postpone_days,
                    holds[drug],
                    cycle=cycle,
                    day=1,
                )
                if event is None:
                    stopped[drug] = why or ""
                    self._note(f"{entry.label}: {drug} not scheduled from cycle {cycle} ({why})")
                    continue
                result.slots.append(event)
                result.by_drug[drug].append(event)
                nominal[drug] = event.date + every
                given_day1[drug] = event.date
                if event.status != "skipped":
                    cycle_dates.append(event.date)
            cycle_day1 = next(
                (given_day1[d] for d in entry.cycle_day1_from if d in given_day1), None
            )
            if cycle_day1 is None and given_day1:
                cycle_day1 = min(given_day1.values())
            if cycle_day1 is None:
                if any(a.drug not in stopped for a in later_admins):
                    self._note(
                        f"{entry.label}: cycle {cycle} and later have no day 1 "
                        "(every day-1 drug is on hold or discontinued)"
                    )
                break
            previous = cycle_day1
            for admin in later_admins:
                drug = admin.drug
                if drug in stopped:
                    continue
                counters[drug] += 1
                target = max(cycle_day1 + timedelta(days=admin.day - 1), previous + ONE_DAY)
                event, why = self._dose_slot(
                    entry,
                    drug,
                    admin.dose,
                    target,
                    admin.window or _NO_WINDOW,
                    entry.placement,
                    counters[drug],
                    f"{labels[drug]} C{cycle}D{admin.day}",
                    lows[drug],
                    highs[drug],
                    entry.held_postpone_days_within_cycle,
                    holds[drug],
                    cycle=cycle,
                    day=admin.day,
                )
                if event is None:
                    stopped[drug] = why or ""
                    self._note(f"{entry.label}: {drug} not scheduled from cycle {cycle} ({why})")
                    continue
                result.slots.append(event)
                result.by_drug[drug].append(event)
                previous = event.date
                if event.status != "skipped":
                    cycle_dates.append(event.date)
            result.cycle_first.append(min(cycle_dates) if cycle_dates else cycle_day1)

    def _months(self, entry: MonthsSeries, result: _Result) -> None:
        anchor = self._anchor(entry.start)
        if anchor is None:
            return
        seen: set[int] = set()
        number = 0
        for tier in entry.tiers:
            for month in range(tier.from_month, tier.to_month + 1, tier.every_months):
                if month in seen:
                    continue
                seen.add(month)
                number += 1
                nominal = add_months(anchor, month)
                day = self._place(nominal, entry.placement)
                result.slots.append(
                    self._event(
                        entry,
                        day,
                        nominal,
                        _window(nominal, tier.window),
                        number,
                        f"{entry.label} (month {month})",
                        month=month,
                    )
                )

    def _labs_before(self, entry: LabsSeries, result: _Result) -> None:
        doses: dict[date, str] = {}
        for ref in entry.before:
            target = self.schedule.series_by_id(ref)
            made = self.results[ref]
            if isinstance(target, CyclesSeries) and entry.one_per_cycle:
                dates = made.cycle_first
            else:
                dates = [e.date for e in made.slots if e.status != "skipped"]
            for day in dates:
                doses.setdefault(day, target.phase)
        before = timedelta(days=entry.days_before_dose)
        for number, day in enumerate(sorted(doses), start=1):
            phase = doses[day]
            nominal = self._place(day - ONE_DAY, entry.placement)
            window = (day - before, day)
            note = None
            if nominal < window[0]:
                note = (
                    f"no treatment day in the {entry.days_before_dose} days before the dose "
                    f"on {day.isoformat()}; labs on {nominal.isoformat()} are early"
                )
            visit = entry.visit_by_phase.get(phase, entry.visit)
            result.slots.append(
                self._event(
                    entry,
                    nominal,
                    nominal,
                    window,
                    number,
                    f"{entry.label} (dose on {day.isoformat()})",
                    phase=phase,
                    items=self.schedule.visit_items_of(visit),
                    note=note,
                )
            )

    def _weekly_cover(self, entry: WeeklyCoverSeries, result: _Result) -> None:
        first, last = self._anchor(entry.start), self._anchor(entry.end)
        if first is None or last is None:
            return
        covered: set[date] = set()
        for ref in entry.unless_covered_by:
            for event in self.results[ref].slots:
                week = week_start(event.window_from)
                while week <= event.window_to:
                    covered.add(week)
                    week += timedelta(days=7)
        week, stop, number = week_start(first), week_start(last), 0
        while week <= stop:
            number += 1
            if week not in covered:
                sunday = week + timedelta(days=6)
                day = self.site.next_treatment_day(week)
                if day <= sunday:
                    result.slots.append(
                        self._event(
                            entry,
                            day,
                            day,
                            (week, sunday),
                            number,
                            entry.label,
                        )
                    )
            week += timedelta(days=7)

    # --- records no series took -----------------------------------------------------
    def _orphans(self) -> None:
        owners: dict[str, object] = {}
        for entry in self.schedule.series:
            for key in self.schedule.record_keys(entry.id):
                owners.setdefault(key, entry)
        for key, records in self._records.items():
            entry = owners.get(key)
            used = self._used[key]
            for i, record in enumerate(records):
                if used[i]:
                    continue
                if entry is None:
                    self._note(
                        f"dose record {record.id or record.date.isoformat()} names "
                        f"{key!r}, which the schedule does not define"
                    )
                    continue
                dose = None
                if isinstance(entry, FractionsSeries):
                    course = self.schedule.course(key)
                    dose = EventDose(
                        amount=course.dose_per_fraction,
                        unit=course.unit,
                        mg=None,
                        basis="per_fraction",
                    )
                elif isinstance(entry, (WeeklySeries, IntervalSeries)):
                    dose = self._dose(key, entry.dose, record.date)
                self._event(
                    entry,
                    record.date,
                    record.date,
                    (record.date, record.date),
                    0,
                    f"{key} (outside the planned schedule)",
                    status=record.status,
                    item=key,
                    dose=dose,
                    record=record,
                    note="recorded outside the planned schedule; check the record",
                )

    # --- statuses -----------------------------------------------------------------
    def _evidence(self, kind: str, low: date, high: date) -> str | bool | None:
        dates, pairs = (
            (self._lab_dates, self._labs)
            if kind == "lab_panel"
            else (self._response_dates, self._responses)
        )
        i = bisect_left(dates, low)
        if i < len(dates) and dates[i] <= high:
            return pairs[i][1] or True
        return False

    def _finish_statuses(self) -> None:
        today = self.today
        by_id = {s.id: s for s in self.schedule.series}
        presumed: dict[str, date | None] = {}
        for event in self.events:
            if event.status is not None:
                continue
            entry = by_id[event.series]
            if entry.evidence != "none":
                found = self._evidence(entry.evidence, event.window_from, event.window_to)
                if found:
                    event.status = "done"
                    if isinstance(found, str):
                        event.record_id = found
                    continue
            after = entry.presumed_done_after
            if after is not None:
                if after not in presumed:
                    slots = self.results[after].slots
                    presumed[after] = slots[0].date if slots else None
                # Kept on the event so a status derived later (stored rows, read on
                # another day) can tell when the visit counts as presumed done.
                event.presumed_from = presumed[after]
            event.status = status_on(
                kind=event.kind,
                day=event.date,
                window_from=event.window_from,
                window_to=event.window_to,
                presumed_from=event.presumed_from,
                today=today,
            )

    # --- summary ------------------------------------------------------------------
    def _doses_without_mg(self) -> list[dict]:
        """Per drug, the first planned derived dose (mg/kg, AUC) that has no mg, and what
        it needs: said at enrolment and in the calendar, never left to be noticed."""
        found: dict[str, dict] = {}
        for event in self.events:
            dose = event.dose
            if (
                dose is None
                or not dose.derivation
                or not dose.derivation["missing"]
                or event.item in found
                or event.status not in ("planned", "due", "overdue")
            ):
                continue
            found[event.item] = {
                "drug": event.item,
                "date": event.date.isoformat(),
                "derivation": dict(dose.derivation),
            }
        return list(found.values())

    def _summary(self) -> CalendarSummary:
        spec = self.schedule.summary
        summary = CalendarSummary(day1=self.day1, bsa_m2=self.bsa)
        # the words replies use for these series come from the schedule, not from the code
        ott_series = self.schedule.series_by_id(spec.ott_series)
        summary.fraction_label = ott_series.label
        summary.radiotherapy_name = radiotherapy_name(self.schedule, ott_series)
        if self._inputs is not None:
            summary.doses_without_mg = self._doses_without_mg()
        fractions = [e.date for e in self.results[spec.ott_series].slots if e.status != "skipped"]
        if fractions:
            summary.first_fraction, summary.last_fraction = fractions[0], fractions[-1]
            summary.fractions = len(fractions)
            summary.ott_days = (fractions[-1] - fractions[0]).days + 1
            ott_entry = self.schedule.series_by_id(spec.ott_series)
            summary.planned_ott_days = _weekday_span(self.day1, self._planned(ott_entry.count))
            summary.prolongation_days = summary.ott_days - summary.planned_ott_days
        if spec.brachytherapy_series:
            brachy = self.results[spec.brachytherapy_series].slots
            if brachy:
                summary.last_brachytherapy = brachy[-1].date
                if fractions:
                    summary.ott_with_brachytherapy_days = (brachy[-1].date - fractions[0]).days + 1
        if spec.consolidation_series:
            made = self.results[spec.consolidation_series]
            firsts = made.cycle_first or [e.date for e in made.slots]
            summary.consolidation_start = firsts[0] if firsts else None
            summary.consolidation_phase = self.schedule.series_by_id(
                spec.consolidation_series
            ).phase.replace("_", " ")
        if spec.maintenance_series:
            slots = self.results[spec.maintenance_series].slots
            summary.maintenance_end = slots[-1].date if slots else None
        today = self.today
        for drug, course in sorted(self.treatment.items()):
            for hold in course.holds:
                current = hold.until is None or (
                    today is not None and hold.start <= today < hold.until
                )
                if current:
                    summary.on_hold.append(
                        DrugHoldSummary(drug, hold.start, hold.until, hold.reason)
                    )
            if course.discontinued_on is not None:
                summary.discontinued.append(
                    DiscontinuedSummary(drug, course.discontinued_on, course.discontinued_reason)
                )
        provisional = [e.date for e in self.events if e.provisional]
        if provisional:
            summary.provisional = True
            summary.provisional_from = min(provisional)
            self._note(
                f"dates from {summary.provisional_from.isoformat()} on are provisional: "
                f"the official make-up workdays for {summary.provisional_from.year} are "
                "not yet published (update the holidays package when they are)"
            )
        summary.notes = list(self.notes)
        return summary


def _weekday_span(day1: date, fractions: int | None) -> int | None:
    """Days from day 1 to the last of `fractions` daily fractions on Monday–Friday only."""
    if not fractions:
        return None
    day, count = day1, 1
    while count < fractions:
        day += ONE_DAY
        if day.weekday() < 5:
            count += 1
    return (day - day1).days + 1


def _dose_inputs(
    schedule: Schedule, patient: PatientPlan, bsa: float | None, history: Sequence[Event]
) -> DoseInputs:
    """What the derived doses read of the patient: weight and age of the plan, the sex of
    the trial's population, every serum creatinine recorded (lab panels, the enrolment's
    baseline labs on the enrolment's date), in µmol/L."""
    found: list[tuple[date, int, Creatinine]] = []
    for event in history:
        kind = type(event)
        if kind is LabPanel:
            values = event.results
        elif kind is Enrolment:
            values = event.baseline
        else:
            continue
        for value in values:
            if value.analyte == CREATININE:
                found.append((event.date, event.seq, _creatinine(event, value)))
    found.sort(key=lambda item: (item[0], item[1]))
    population = schedule.population
    return DoseInputs(
        bsa_m2=bsa,
        weight_kg=patient.weight_kg,
        age=patient.age,
        sex=population.sex if population is not None else None,
        creatinine=tuple(c for _, _, c in found),
    )


def _creatinine(event, value) -> Creatinine:
    umol = value.value
    if value.unit != "µmol/L":  # stored in the canonical unit; should that ever change
        from decimal import Decimal

        from bot.grading.analytes import analyte_for

        umol = float(analyte_for(CREATININE).to_canonical(Decimal(str(umol)), value.unit))
    return Creatinine(on=event.date, umol_l=umol, entry=event.id)
