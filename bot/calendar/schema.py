"""The schedule language: the typed schema of a trial's `schedule.yaml`.

A schedule names the trial's phases, drugs and radiotherapy courses, the schedule-of-assessments
visits with their items, and a list of *series*: everything that happens on a date. Each
series has a `type` saying how its dates are generated:

- `once` — one visit at an anchor ± days (planning CT, end-of-EBRT evaluation);
- `fractions` — radiotherapy fractions, one per treatment day (or N per week with a gap);
- `weekly` — one dose in each calendar week that holds another series' events;
- `interval` — a chain of doses every N days from the previous dose actually given;
- `cycles` — chemotherapy cycles every N days, with drugs on given cycle days;
- `months` — assessments N months from an anchor, in tiers, never re-flowed;
- `labs` — pre-dose labs before the administration days of other series;
- `weekly_cover` — one event in every calendar week of a span not already covered.

An anchor is `day1` (the patient's day 1) or another series' first/last event, plus an
offset in days. Every series, drug and visit carries `source`, the protocol section or
table it encodes. Settings that are readings of an ambiguous protocol live here too, each
with a comment naming the reading (see docs/protocol-readings.md).

Cross-references (an anchor naming an unknown series, a visit naming an unknown item …)
are checked when the file loads, and each problem names its field and the allowed ids.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Annotated, ClassVar, Literal

from pydantic import Field, PrivateAttr, field_validator, model_serializer, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from bot.calendar.derived_dose import needs_derivation
from bot.calendar.dosing import DOSE_BASES, BsaFormula, DoseBasis, RoundingMode
from bot.calendar.strict import StrictModel, custom_error, raise_errors
from bot.errors import UserError, closest

Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)]
Source = Annotated[str, Field(min_length=3)]
Kind = Literal["radiotherapy", "brachytherapy", "infusion", "assessment", "labs"]
Placement = Literal["next_treatment_day", "previous_treatment_day", "any_day"]
Evidence = Literal["none", "lab_panel", "response_assessment"]

DAY1 = "day1"


def _braces(text: str) -> str:
    # PydanticCustomError formats {name} placeholders; a rendered message has none left
    return text.replace("{", "(").replace("}", ")")


class Rounding(StrictModel):
    step: float = Field(default=1, gt=0)
    mode: RoundingMode = "half_up"


class Dose(StrictModel):
    """A dose: `amount` per m², flat (mg), per kg of weight, or a target AUC (mg/mL·min,
    Calvert: mg = AUC × (GFR + 25), the GFR a Cockcroft–Gault creatinine clearance from
    the latest serum creatinine on or before the dose date, the enrolment's age and
    weight, and the schedule's `population.sex`). `cap_mg` caps the protocol dose in mg
    (a reduction is a percentage of the capped dose); `gfr_cap_ml_min` caps the GFR Calvert
    reads (commonly 125); `weight` says which weight (only `actual` is implemented)."""

    amount: float = Field(gt=0)
    basis: DoseBasis
    cap_mg: float | None = Field(default=None, gt=0)
    gfr_cap_ml_min: float | None = Field(default=None, gt=0)
    weight: Literal["actual"] | None = None

    @model_serializer(mode="wrap")
    def _as_written(self, handler):
        # a dose dumps what it says: the optional caps and weight only when given
        data = handler(self)
        for key in ("cap_mg", "gfr_cap_ml_min", "weight"):
            if data.get(key) is None:
                data.pop(key, None)
        return data

    @field_validator("basis", mode="before")
    @classmethod
    def _known_basis(cls, value: object) -> object:
        if isinstance(value, str) and value not in DOSE_BASES:
            message = f"unknown dose basis {value!r}"
            guess = closest(value, DOSE_BASES)
            if guess:
                message += f" — did you mean {guess!r}?"
            raise PydanticCustomError(
                "unknown_basis", _braces(message + f" (allowed: {', '.join(DOSE_BASES)})")
            )
        return value

    @model_validator(mode="after")
    def _fields_of_the_basis(self) -> Dose:
        errors: list[InitErrorDetails] = []
        if self.basis == "flat" and self.cap_mg is not None:
            errors.append(
                custom_error(
                    "basis", "a flat dose has no cap: it is its amount", ("cap_mg",), self.cap_mg
                )
            )
        if self.basis != "auc" and self.gfr_cap_ml_min is not None:
            errors.append(
                custom_error(
                    "basis",
                    f"gfr_cap_ml_min applies only to basis auc (this dose is {self.basis})",
                    ("gfr_cap_ml_min",),
                    self.gfr_cap_ml_min,
                )
            )
        if self.basis in ("per_kg", "auc") and self.weight is None:
            errors.append(
                custom_error(
                    "missing",
                    f"basis {self.basis} reads the weight: say which (allowed: actual)",
                    ("weight",),
                    None,
                )
            )
        if self.basis in ("per_m2", "flat") and self.weight is not None:
            errors.append(
                custom_error(
                    "basis",
                    f"weight applies only to basis per_kg or auc (this dose is {self.basis})",
                    ("weight",),
                    self.weight,
                )
            )
        raise_errors("Dose", errors)
        return self


class Drug(StrictModel):
    id: Identifier
    label: str
    drug_class: Literal["chemotherapy", "immunotherapy"] = Field(alias="class")
    unit: str = "mg"
    route: str | None = None
    dose: Dose | None = None  # the usual dose; a series or cycle day may give its own
    rounding: Rounding = Rounding()
    source: Source


class RadiotherapyCourse(StrictModel):
    id: Identifier  # the `drug` name dose records of this course carry
    label: str
    kind: Literal["radiotherapy", "brachytherapy"]
    dose_per_fraction: float = Field(gt=0)
    boost_dose_per_fraction: float | None = Field(default=None, gt=0)
    unit: Literal["Gy"] = "Gy"
    source: Source

    @property
    def name(self) -> str:
        """How replies name the course: its label without a trailing "fraction"
        ("EBRT fraction" → "EBRT"), so no code names one trial's radiotherapy."""
        label = self.label.strip()
        return label[: -len(" fraction")] if label.lower().endswith(" fraction") else label


class Dosing(StrictModel):
    bsa_formula: BsaFormula = "mosteller"
    bsa_decimals: int | None = Field(default=2, ge=0, le=4)
    bsa_cap_m2: float | None = Field(default=None, gt=0)
    source: Source


class Population(StrictModel):
    """Who the trial enrols, as the dose formulas need it: Cockcroft–Gault reads the sex,
    and the enrolment records none, so an AUC dose needs it here (a trial of women only:
    female)."""

    sex: Literal["female", "male"]
    source: Source


class Phase(StrictModel):
    id: Identifier
    label: str
    source: Source


class VisitItem(StrictModel):
    id: Identifier
    label: str
    assessment_row: str


class Visit(StrictModel):
    id: Identifier
    label: str
    assessment_columns: list[str] = Field(
        default_factory=list
    )  # empty: not a schedule-of-assessments column
    items: list[Identifier] = Field(min_length=1)
    source: Source


class Window(StrictModel):
    """Days allowed before and after the nominal date."""

    before: int = Field(default=0, ge=0, le=366)
    after: int = Field(default=0, ge=0, le=366)


class Anchor(StrictModel):
    """`day1`, or the first/last event of another series (of one drug, for cycles), + days."""

    of: Identifier
    at: Literal["first", "last"] = "first"
    drug: Identifier | None = None
    offset_days: int = Field(default=0, ge=-366, le=3660)


class Until(StrictModel):
    """A limit on dose dates: before (or on, when inclusive) the anchor + months + days."""

    of: Identifier = DAY1
    at: Literal["first", "last"] = "first"
    months: int = Field(default=0, ge=0, le=1200)
    days: int = Field(default=0, ge=0, le=36600)
    inclusive: bool = False


class CountSpec(StrictModel):
    """A count the patient's plan may set within bounds (`patient` names the plan's key).
    A plain number `n` means a fixed count (default = min = max = n)."""

    default: int = Field(ge=1, le=1000)
    min: int = Field(ge=1, le=1000)
    max: int = Field(ge=1, le=1000)
    patient: Identifier | None = None

    @model_validator(mode="before")
    @classmethod
    def _fixed(cls, data):
        if isinstance(data, int) and not isinstance(data, bool):
            return {"default": data, "min": data, "max": data}
        return data

    @model_validator(mode="after")
    def _ordered(self) -> CountSpec:
        if not self.min <= self.default <= self.max:
            raise ValueError(
                f"need min ≤ default ≤ max, got {self.min}, {self.default}, {self.max}"
            )
        return self


Count = CountSpec


class _Series(StrictModel):
    id: Identifier
    kind: Kind
    item: Identifier | None = None  # the event's `item`; defaults to the drug/course/id
    phase: Identifier
    label: str
    visit: Identifier | None = (
        None  # schedule-of-assessments column(s) whose items this event carries
    )
    window: Window = Window()
    evidence: Evidence = "none"
    presumed_done_after: Identifier | None = None
    source: Source

    # kinds a series of this type may have
    KINDS: ClassVar[tuple[str, ...]] = ()

    def references(self) -> list[tuple[tuple, str, str]]:
        """(field path, referenced series id, what the reference is) for cross-checks."""
        refs = []
        if self.presumed_done_after:
            refs.append((("presumed_done_after",), self.presumed_done_after, "series"))
        return refs

    def anchors(self) -> list[tuple[tuple, Anchor]]:
        return []

    @property
    def event_item(self) -> str:
        return self.item or self.id


def _anchor_refs(name: str, anchor: Anchor | None) -> list[tuple[tuple, str, str]]:
    if anchor is None or anchor.of == DAY1:
        return []
    return [((name, "of"), anchor.of, "series")]


class OnceSeries(_Series):
    type: Literal["once"]
    start: Anchor
    placement: Placement = "next_treatment_day"
    KINDS = ("assessment", "labs")

    def anchors(self):
        return [(("start",), self.start)]

    def references(self):
        return super().references() + _anchor_refs("start", self.start)


class FractionsSeries(_Series):
    type: Literal["fractions"]
    course: Identifier
    start: Anchor
    count: Count
    # at most this many fractions in a calendar week; "site" = the site's setting
    per_week: int | Literal["site"] | None = None
    # minimum days between fractions; None = 1, or floor(7 / per_week) when per_week is set
    min_gap_days: int | None = Field(default=None, ge=1, le=28)
    # a `skipped` fraction record: "postpone" (never dropped) or "consume" the fraction
    on_skipped: Literal["postpone", "consume"] = "postpone"
    KINDS = ("radiotherapy", "brachytherapy")

    @property
    def event_item(self) -> str:
        return self.item or self.course

    def anchors(self):
        return [(("start",), self.start)]

    def references(self):
        return super().references() + _anchor_refs("start", self.start)


class WeeklySeries(_Series):
    type: Literal["weekly"]
    drug: Identifier
    dose: Dose | None = None  # default: the drug's dose
    start: Anchor
    within: Identifier  # a fractions series: the weeks (Mon–Sun) that hold its fractions
    count: Count
    min_interval_days: int = Field(default=5, ge=1, le=7)
    KINDS = ("infusion",)

    @property
    def event_item(self) -> str:
        return self.item or self.drug

    def anchors(self):
        return [(("start",), self.start)]

    def references(self):
        return (
            super().references()
            + _anchor_refs("start", self.start)
            + [(("within",), self.within, "fractions series")]
        )


class IntervalSeries(_Series):
    type: Literal["interval"]
    drug: Identifier
    dose: Dose | None = None  # default: the drug's dose
    start: Anchor
    placement: Placement = "next_treatment_day"
    every_days: int = Field(ge=1, le=366)
    count: Count | None = None
    until: Until | None = None
    first_window: Window | None = None
    held_postpone_days: int = Field(default=7, ge=1, le=90)
    KINDS = ("infusion",)

    @property
    def event_item(self) -> str:
        return self.item or self.drug

    @model_validator(mode="after")
    def _bounded(self) -> IntervalSeries:
        if self.count is None and self.until is None:
            raise ValueError("an interval series needs `count`, `until` or both")
        return self

    def anchors(self):
        return [(("start",), self.start)]

    def references(self):
        refs = super().references() + _anchor_refs("start", self.start)
        if self.until is not None and self.until.of != DAY1:
            refs.append((("until", "of"), self.until.of, "series"))
        return refs


class Administration(StrictModel):
    drug: Identifier
    day: int = Field(ge=1, le=366)
    dose: Dose | None = None  # default: the drug's dose
    window: Window | None = None
    source: Source


class CyclesSeries(_Series):
    type: Literal["cycles"]
    start: Anchor
    placement: Placement = "next_treatment_day"
    cycles: Count
    every_days: int = Field(ge=1, le=366)
    # the cycle's actual day 1 is the date of the first of these drugs given in that cycle
    cycle_day1_from: list[Identifier] = Field(min_length=1)
    administrations: list[Administration] = Field(min_length=1)
    first_window: Window | None = None
    held_postpone_days: int = Field(default=7, ge=1, le=90)
    held_postpone_days_within_cycle: int = Field(default=1, ge=1, le=30)
    KINDS = ("infusion",)

    def anchors(self):
        return [(("start",), self.start)]

    def references(self):
        return super().references() + _anchor_refs("start", self.start)

    @property
    def drugs(self) -> list[str]:
        seen: list[str] = []
        for admin in self.administrations:
            if admin.drug not in seen:
                seen.append(admin.drug)
        return seen


class MonthTier(StrictModel):
    from_month: int = Field(ge=0, le=1200)
    to_month: int = Field(ge=0, le=1200)
    every_months: int = Field(ge=1, le=120)
    window: Window

    @model_validator(mode="after")
    def _ordered(self) -> MonthTier:
        if self.to_month < self.from_month:
            raise ValueError(f"to_month {self.to_month} is before from_month {self.from_month}")
        return self


class MonthsSeries(_Series):
    type: Literal["months"]
    start: Anchor
    placement: Placement = "next_treatment_day"
    tiers: list[MonthTier] = Field(min_length=1)
    KINDS = ("assessment", "labs")

    def anchors(self):
        return [(("start",), self.start)]

    def references(self):
        return super().references() + _anchor_refs("start", self.start)


class LabsSeries(_Series):
    type: Literal["labs"]
    before: list[Identifier] = Field(min_length=1)  # dosing series whose days need labs
    placement: Placement = "previous_treatment_day"
    days_before_dose: int = Field(default=3, ge=0, le=30)  # window: [dose − days, dose]
    one_per_cycle: bool = True  # cycles series: one panel before each cycle's first dose
    visit_by_phase: dict[Identifier, Identifier] = Field(default_factory=dict)
    KINDS = ("labs",)

    def references(self):
        return super().references() + [
            (("before", i), ref, "dosing series") for i, ref in enumerate(self.before)
        ]


class WeeklyCoverSeries(_Series):
    type: Literal["weekly_cover"]
    start: Anchor
    end: Anchor
    unless_covered_by: list[Identifier] = Field(default_factory=list)
    KINDS = ("labs", "assessment")

    def anchors(self):
        return [(("start",), self.start), (("end",), self.end)]

    def references(self):
        return (
            super().references()
            + _anchor_refs("start", self.start)
            + _anchor_refs("end", self.end)
            + [
                (("unless_covered_by", i), ref, "series")
                for i, ref in enumerate(self.unless_covered_by)
            ]
        )


Series = Annotated[
    OnceSeries
    | FractionsSeries
    | WeeklySeries
    | IntervalSeries
    | CyclesSeries
    | MonthsSeries
    | LabsSeries
    | WeeklyCoverSeries,
    Field(discriminator="type"),
]
DOSING_TYPES = (FractionsSeries, WeeklySeries, IntervalSeries, CyclesSeries)


class SummarySpec(StrictModel):
    """Which series the summary reads (overall treatment time, consolidation, maintenance)."""

    ott_series: Identifier
    brachytherapy_series: Identifier | None = None
    consolidation_series: Identifier | None = None
    maintenance_series: Identifier | None = None


class Schedule(StrictModel):
    trial: str
    title: str = ""
    dosing: Dosing
    population: Population | None = None
    phases: list[Phase] = Field(min_length=1)
    drugs: list[Drug] = Field(default_factory=list)
    radiotherapy: list[RadiotherapyCourse] = Field(default_factory=list)
    visit_items: list[VisitItem] = Field(default_factory=list)
    visits: list[Visit] = Field(default_factory=list)
    series: list[Series] = Field(min_length=1)
    summary: SummarySpec

    _order: tuple[int, ...] = PrivateAttr(default=())
    _index: dict = PrivateAttr(default_factory=dict)

    # --- look-ups (dictionaries built once, when the file validates) ----------------
    @property
    def _ix(self) -> dict:
        # straight from pydantic's private-attribute store: the calendar engine asks these
        # look-ups thousands of times a second, and BaseModel.__getattr__ is slow
        return self.__pydantic_private__["_index"]

    def series_by_id(self, series_id: str):
        return self._ix["series"][series_id]

    def drug(self, drug_id: str) -> Drug:
        return self._ix["drugs"][drug_id]

    def course(self, course_id: str) -> RadiotherapyCourse:
        return self._ix["courses"][course_id]

    def visit_items_of(self, visit_id: str | None) -> tuple[str, ...]:
        return self._ix["visit_items"].get(visit_id, ())

    def position(self, series_id: str) -> int:
        """The series' place in the file (the order of same-day events)."""
        return self._ix["position"][series_id]

    def record_keys(self, series_id: str) -> tuple[str, ...]:
        """The `DoseRecord.drug` names the series takes records of."""
        return self._ix["record_keys"][series_id]

    def count_specs(self) -> tuple[CountSpec, ...]:
        """Every count of the schedule (`count` of a series, `cycles` of a cycles series)."""
        return self._ix["counts"]

    def default_fractions(self) -> int:
        """The fractions a plan has when it names none: the default of the count the
        plan's `fractions` sets (else 25, for a schedule whose fractions are not the plan's)."""
        spec = next((s for s in self.count_specs() if s.patient == "fractions"), None)
        return spec.default if spec is not None else 25

    def boost_refusal(self, boost: bool) -> UserError | None:
        """A boost on a schedule with no boost dose would be recorded and change nothing."""
        if not boost or any(c.boost_dose_per_fraction for c in self.radiotherapy):
            return None
        return UserError(
            "this trial's schedule has no boost dose (no radiotherapy course gives "
            "boost_dose_per_fraction), so a boost would change nothing",
            field="boost",
            allowed="no boost (leave it out)",
        )

    def doses(self) -> list[tuple[tuple, Dose]]:
        """Every dose the file writes, with its field path."""
        found: list[tuple[tuple, Dose]] = [
            (("drugs", i, "dose"), d.dose) for i, d in enumerate(self.drugs) if d.dose
        ]
        for i, entry in enumerate(self.series):
            if getattr(entry, "dose", None) is not None:
                found.append((("series", i, "dose"), entry.dose))
            for j, admin in enumerate(getattr(entry, "administrations", ())):
                if admin.dose is not None:
                    found.append((("series", i, "administrations", j, "dose"), admin.dose))
        return found

    @property
    def derives_doses(self) -> bool:
        """Whether a dose needs more than the BSA (mg/kg, AUC, a cap): the calendar then
        reads the patient's weight, age and creatinine."""
        return self.__pydantic_private__["_index"]["derives"]

    @property
    def processing_order(self) -> tuple[int, ...]:
        """Series indexes in an order where every series comes after what it reads."""
        return self.__pydantic_private__["_order"]

    def _build_index(self) -> None:
        counts = []
        for entry in self.series:
            spec = (
                entry.cycles if isinstance(entry, CyclesSeries) else getattr(entry, "count", None)
            )
            if spec is not None:
                counts.append(spec)
        self._index = {
            "series": {s.id: s for s in self.series},
            "drugs": {d.id: d for d in self.drugs},
            "courses": {c.id: c for c in self.radiotherapy},
            "visit_items": {v.id: tuple(v.items) for v in self.visits},
            "position": {s.id: i for i, s in enumerate(self.series)},
            "record_keys": {s.id: tuple(_record_key(s)) for s in self.series},
            "counts": tuple(counts),
            "derives": any(needs_derivation(dose) for _, dose in self.doses()),
        }

    # --- cross-references ---------------------------------------------------------
    @model_validator(mode="after")
    def _cross_references(self) -> Schedule:
        errors: list[InitErrorDetails] = []

        def problem(loc: tuple, message: str, given: object) -> None:
            errors.append(custom_error("reference", message, loc, given))

        def check_ref(loc: tuple, value: str, allowed: list[str], what: str) -> bool:
            if value in allowed:
                return True
            message = f"unknown {what} {value!r}"
            guess = closest(value, allowed)
            if guess:
                message += f" — did you mean {guess!r}?"
            message += f" (allowed: {', '.join(allowed) or 'none defined'})"
            problem(loc, message, value)
            return False

        for name in ("phases", "drugs", "radiotherapy", "visit_items", "visits", "series"):
            seen: set[str] = set()
            for index, entry in enumerate(getattr(self, name)):
                if entry.id in seen:
                    problem((name, index, "id"), f"duplicate id {entry.id!r}", entry.id)
                seen.add(entry.id)

        phases = [p.id for p in self.phases]
        drugs = {d.id: d for d in self.drugs}
        courses = {c.id: c for c in self.radiotherapy}
        items = [i.id for i in self.visit_items]
        visits = [v.id for v in self.visits]
        series = {s.id: s for s in self.series}
        series_ids = list(series)
        anchorable = [DAY1, *series_ids]

        for v_index, visit in enumerate(self.visits):
            for i_index, item in enumerate(visit.items):
                check_ref(("visits", v_index, "items", i_index), item, items, "visit item")

        for index, entry in enumerate(self.series):
            here = ("series", index)
            if entry.kind not in entry.KINDS:
                problem(
                    (*here, "kind"),
                    f"a {entry.type!r} series cannot have kind {entry.kind!r} "
                    f"(allowed: {', '.join(entry.KINDS)})",
                    entry.kind,
                )
            check_ref((*here, "phase"), entry.phase, phases, "phase")
            if entry.visit is not None:
                check_ref((*here, "visit"), entry.visit, visits, "visit")
            for path, ref, what in entry.references():
                allowed = anchorable if path[-1] == "of" else series_ids
                known = check_ref((*here, *path), ref, allowed, what)
                if known and ref == entry.id:
                    problem((*here, *path), "a series cannot refer to itself", ref)
            for path, anchor in entry.anchors():
                if anchor.drug is not None:
                    target = series.get(anchor.of)
                    if not isinstance(target, CyclesSeries):
                        problem(
                            (*here, *path, "drug"),
                            "`drug` only applies to an anchor on a cycles series",
                            anchor.drug,
                        )
                    else:
                        check_ref(
                            (*here, *path, "drug"),
                            anchor.drug,
                            target.drugs,
                            f"drug of {target.id!r}",
                        )
            if isinstance(entry, (WeeklySeries, IntervalSeries)) and (
                check_ref((*here, "drug"), entry.drug, list(drugs), "drug")
                and entry.dose is None
                and drugs[entry.drug].dose is None
            ):
                problem((*here, "dose"), f"no dose: give `dose` here or on drug {entry.drug!r}", [])
            if isinstance(entry, FractionsSeries) and check_ref(
                (*here, "course"), entry.course, list(courses), "radiotherapy course"
            ):
                course = courses[entry.course]
                if course.kind != entry.kind:
                    problem(
                        (*here, "kind"),
                        f"course {course.id!r} is {course.kind}; the series kind must match "
                        f"(allowed: {course.kind})",
                        entry.kind,
                    )
            if (
                isinstance(entry, WeeklySeries)
                and entry.within in series
                and not isinstance(series[entry.within], FractionsSeries)
            ):
                problem(
                    (*here, "within"),
                    f"{entry.within!r} is not a fractions series "
                    f"(allowed: {', '.join(_ids(self.series, FractionsSeries))})",
                    entry.within,
                )
            if isinstance(entry, CyclesSeries):
                day1_drugs = []
                seen_days: set[tuple[str, int]] = set()
                for a_index, admin in enumerate(entry.administrations):
                    known = check_ref(
                        (*here, "administrations", a_index, "drug"), admin.drug, list(drugs), "drug"
                    )
                    if known and admin.dose is None and drugs[admin.drug].dose is None:
                        problem(
                            (*here, "administrations", a_index, "dose"),
                            f"no dose: give `dose` here or on drug {admin.drug!r}",
                            [],
                        )
                    if admin.day > entry.every_days:
                        problem(
                            (*here, "administrations", a_index, "day"),
                            f"day {admin.day} is beyond the {entry.every_days}-day cycle "
                            f"(allowed: 1–{entry.every_days})",
                            admin.day,
                        )
                    if (admin.drug, admin.day) in seen_days:
                        problem(
                            (*here, "administrations", a_index),
                            f"{admin.drug} is listed twice on day {admin.day}",
                            admin.drug,
                        )
                    seen_days.add((admin.drug, admin.day))
                    if admin.day == 1:
                        day1_drugs.append(admin.drug)
                if not day1_drugs:
                    problem((*here, "administrations"), "a cycle needs a drug on day 1", [])
                for d_index, drug in enumerate(entry.cycle_day1_from):
                    check_ref((*here, "cycle_day1_from", d_index), drug, day1_drugs, "day-1 drug")
            if isinstance(entry, LabsSeries):
                dosing = _ids(self.series, *DOSING_TYPES)
                for b_index, ref in enumerate(entry.before):
                    if ref in series and ref not in dosing:
                        problem(
                            (*here, "before", b_index),
                            f"{ref!r} is not a dosing series (allowed: {', '.join(dosing)})",
                            ref,
                        )
                for phase_id, visit_id in entry.visit_by_phase.items():
                    check_ref((*here, "visit_by_phase", phase_id), phase_id, phases, "phase")
                    check_ref((*here, "visit_by_phase", phase_id), visit_id, visits, "visit")

        for loc, dose in self.doses():
            if dose.basis == "auc" and self.population is None:
                problem(
                    (*loc, "basis"),
                    "an auc dose reads the sex (Cockcroft–Gault), and the enrolment records "
                    "none: give it as `population: {sex: female|male, source: …}` in this file",
                    dose.basis,
                )

        summary = self.summary
        for key in (
            "ott_series",
            "brachytherapy_series",
            "consolidation_series",
            "maintenance_series",
        ):
            ref = getattr(summary, key)
            if ref is not None:
                check_ref(("summary", key), ref, series_ids, "series")
        if summary.ott_series in series and not isinstance(
            series[summary.ott_series], FractionsSeries
        ):
            problem(
                ("summary", "ott_series"),
                f"{summary.ott_series!r} is not a fractions "
                f"series (allowed: {', '.join(_ids(self.series, FractionsSeries))})",
                summary.ott_series,
            )

        raise_errors("Schedule", errors)
        order, cycle = _processing_order(self.series)
        if cycle:
            raise_errors(
                "Schedule",
                [
                    custom_error(
                        "reference",
                        "the series depend on each other in a circle: " + " → ".join(cycle),
                        ("series",),
                        cycle,
                    )
                ],
            )
        self._order = order
        self._build_index()
        return self


def _ids(entries, *types) -> list[str]:
    return [e.id for e in entries if isinstance(e, types)]


def _record_key(entry) -> list[str]:
    """The dose-record names (`DoseRecord.drug`) a dosing series consumes."""
    if isinstance(entry, FractionsSeries):
        return [entry.course]
    if isinstance(entry, (WeeklySeries, IntervalSeries)):
        return [entry.drug]
    if isinstance(entry, CyclesSeries):
        return entry.drugs
    return []


def _processing_order(entries: list) -> tuple[tuple[int, ...], list[str]]:
    """A topological order of the series (file order among equals), or a dependency cycle.

    Hard edges: what a series reads (anchors, `within`, `before`, …), and, per drug, the
    order of its series in the file (records of a drug are handed out in that order). Soft
    edges, kept only when they close no circle: a series runs after what the *next* series
    of its drug is anchored on, so it knows where that series starts taking records.
    """
    index = {e.id: i for i, e in enumerate(entries)}
    deps: list[set[int]] = [set() for _ in entries]
    for i, entry in enumerate(entries):
        for path, ref, _what in entry.references():
            # presumed_done_after is read when statuses are set, after every series is made
            if ref in index and ref != entry.id and path[0] != "presumed_done_after":
                deps[i].add(index[ref])
    by_drug: dict[str, list[int]] = {}
    for i, entry in enumerate(entries):
        for key in _record_key(entry):
            by_drug.setdefault(key, []).append(i)
    for chain in by_drug.values():
        for earlier, later in pairwise(chain):
            deps[later].add(earlier)

    def reaches(start: int, target: int) -> bool:
        stack, seen = [start], set()
        while stack:
            node = stack.pop()
            if node == target:
                return True
            if node not in seen:
                seen.add(node)
                stack.extend(deps[node])
        return False

    for chain in by_drug.values():
        for earlier, later in pairwise(chain):
            for _path, anchor in entries[later].anchors():
                ref = index.get(anchor.of)
                # earlier waits for `ref` unless ref (transitively) waits for earlier
                if ref is not None and ref != earlier and not reaches(ref, earlier):
                    deps[earlier].add(ref)

    order: list[int] = []
    done: set[int] = set()
    remaining = list(range(len(entries)))
    while remaining:
        ready = next((i for i in remaining if deps[i] <= done), None)
        if ready is None:
            return (), _find_cycle(entries, deps, remaining)
        order.append(ready)
        done.add(ready)
        remaining.remove(ready)
    return tuple(order), []


def _find_cycle(entries: list, deps: list[set[int]], remaining: list[int]) -> list[str]:
    path: list[int] = []
    node = remaining[0]
    while node not in path:
        path.append(node)
        node = next(d for d in deps[node] if d in remaining)
    loop = [*path[path.index(node) :], node]
    return [entries[i].id for i in reversed(loop)]


def radiotherapy_name(schedule: Schedule, series) -> str:
    """The name replies give a fraction series: its course's name ("EBRT"), else the
    series' label."""
    course = getattr(series, "course", None)
    if course is not None and course in {c.id for c in schedule.radiotherapy}:
        return schedule.course(course).name
    return series.label


def radiotherapy_names(schedule: Schedule) -> dict[str, str]:
    """event item → the name of its radiotherapy (kind radiotherapy) fractions, e.g.
    {"ebrt": "EBRT"}: how the digest and the calendar feed count them."""
    return {
        series.event_item: radiotherapy_name(schedule, series)
        for series in schedule.series
        if isinstance(series, FractionsSeries) and series.kind == "radiotherapy"
    }
