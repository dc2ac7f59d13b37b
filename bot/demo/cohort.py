"""The demo's synthetic cohort: pure data from a seed, no I/O, no clock.

`build_cohort(seed, patients, start, days)` returns who is enrolled when, each patient's
lab values for every day of the simulation (drawn only when the calendar says labs are
due), the clinical events of the script (adverse events, response assessments), and
how the simulated investigators answer. The runner (`bot.demo.runner`) feeds it through
the real services; what the protocol does with it is the engine's business, not this
module's.

The scripted clinical features, by patient slot (`SLOTS`: any cohort of at least
four patients has them all, within the first 110 days):

- `reduce_then_hold`: grade 4 neutropenia before week 2's chemotherapy (next cycle
  reduced), not recovered a week later (chemotherapy suspended), recovered (resumed);
  the on-call investigator is slow on the suspension and nobody answers the backup's
  message either, so the alert reaches the channel with @here.
- `thrombocytopenia`: grade 3 platelets in CCRT week 3 (referred: no protocol row); the
  on-call investigator is in theatre, the backup answers.
- `pneumonitis`: grade 2 pneumonitis after the second immunotherapy dose,
  attributed as immune-related (immunotherapy interrupted), back to grade 1 (resumed).
- `hepatitis`: ALT above 5×ULN in consolidation, immune-related (immunotherapy
  discontinued).
- `progression`: progressive disease at the month-3 efficacy assessment.
- `holiday`: day 1 set (`holiday_day1`, found by `bot.demo.runner.holiday_day1` in the
  trial's own schedule and site calendar) so that a later phase of treatment would start
  on a public holiday of the site (its sites.yaml country); the site calendar moves it to
  the next treatment day. Without one, that patient starts like the others.
- `anaemia`: grade 3 anaemia at the end of CCRT (referred).

Study IDs follow the trial's own numbering (its sites.yaml example: AB-007 gives
AB-001, AB-002, …).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta

SLOTS = (
    ("reduce_then_hold", "progression"),
    ("thrombocytopenia", "hepatitis"),
    ("pneumonitis", "anaemia"),
    ("holiday",),
)
FEATURES = tuple(feature for slot in SLOTS for feature in slot)
DEFAULT_START = date(2026, 7, 1)  # the simulation's first day (a Wednesday)
DEFAULT_DAYS = 183  # about six months
DEFAULT_PATIENTS = 12
# How many stages a patient's stage is drawn from: the runner takes that place among
# the trial's eligible stages (its stage criterion), so the cohort names no staging system.
STAGE_CHOICES = 5


@dataclass(frozen=True)
class Answer:
    """How the investigators answer one alert: who acts, how many minutes after it was
    raised. `by` is "oncall", "backup" or "nobody" (then the on-call investigator acts
    after `minutes`, once the channel has been called)."""

    by: str
    minutes: int


ON_TIME = Answer("oncall", 12)


@dataclass(frozen=True)
class Scripted:
    """A clinical event of the script on a day: an adverse event, or a response
    assessment recorded when the calendar has one due (`kind` "ae" or "response")."""

    kind: str
    study_id: str
    term: str = ""
    grade: int = 0
    irae: bool | None = None  # what the investigator answers when asked
    response: str = ""


@dataclass(frozen=True)
class SimPatient:
    study_id: str
    enrol_on: date
    day1: date
    height: float
    weight: float
    stage: int  # its stage's place among the trial's eligible stages (see STAGE_CHOICES)
    ecog: int
    age: int
    features: tuple[str, ...]
    # lab text for each day from enrolment to the end of the simulation
    labs: dict[date, str] = field(repr=False, compare=False, default_factory=dict)
    # RECIST category for each scheduled assessment, by schedule item
    responses: dict[str, str] = field(default_factory=dict)
    # the immune-related categories the investigator attributes as immune-related when asked
    # ("pneumonitis", "hepatitis"); any other question is answered "not immune-related"
    irae: frozenset[str] = frozenset()
    # how the investigators answer this patient's alerts, in order; then ON_TIME
    answers: tuple[Answer, ...] = ()
    # days the nurse draws labs although the calendar has none due (a re-check)
    extra_labs: frozenset[date] = frozenset()


@dataclass(frozen=True)
class Cohort:
    seed: int
    start: date
    days: int
    patients: tuple[SimPatient, ...]
    events: dict[date, tuple[Scripted, ...]]  # the adverse events of each day

    @property
    def end(self) -> date:
        return self.start + timedelta(days=self.days - 1)

    def dates(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range(self.days)]

    def enrolments_on(self, day: date) -> list[SimPatient]:
        return [p for p in self.patients if p.enrol_on == day]


def _monday_on_or_after(day: date) -> date:
    return day + timedelta(days=(7 - day.weekday()) % 7)


def _nadir(study_day: int) -> float:
    """How far blood counts are down on a study day (0 = baseline, 1 = the deepest):
    falling through concurrent chemoradiotherapy, partly recovering, then a dip in the
    middle of every three-week consolidation cycle."""
    if study_day < 0:
        return 0.0
    if study_day <= 49:
        return min(1.0, study_day / 35)
    if study_day <= 60:
        return 1.0 - 0.5 * (study_day - 49) / 11
    phase = (study_day - 60) % 21
    return 0.35 + 0.4 * math.sin(math.pi * min(phase, 14) / 14)


def _lab_text(anc: float, plt: float, hb: float, alt: float) -> str:
    return f"ANC {anc:.1f} PLT {round(plt)} Hb {hb:.1f} ALT {round(alt)}"


def _labs(rng: random.Random, patient_day1: date, start: date, end: date, features):
    anc0 = rng.uniform(3.2, 5.5)
    plt0 = rng.uniform(190, 320)
    hb0 = rng.uniform(11.0, 13.2)
    alt0 = rng.uniform(12, 30)
    # the depth of this patient's nadir: most stay above grade 3, a few dip into it
    depth_anc = rng.uniform(0.45, 0.72)
    depth_plt = rng.uniform(0.35, 0.55)
    labs = {}
    day = start
    while day <= end:
        n = (day - patient_day1).days
        down = _nadir(n)
        noise = lambda: rng.uniform(0.92, 1.08)  # noqa: E731 — one draw per value
        anc = max(1.1, anc0 * (1 - depth_anc * down) * noise())
        plt = max(80, plt0 * (1 - depth_plt * down) * noise())
        hb = max(8.2, (hb0 - 2.2 * down) * noise())
        alt = alt0 * noise()
        if "reduce_then_hold" in features:
            if 2 <= n <= 6:
                anc, plt = 0.4, 62
            elif 7 <= n <= 12:
                anc, plt = 1.2, 98
            elif 13 <= n <= 20:
                anc, plt = 1.9, 160
        if "thrombocytopenia" in features and 15 <= n <= 19:
            plt = 38
        if "hepatitis" in features and 72 <= n <= 80:
            alt = 260
        if "anaemia" in features and 36 <= n <= 44:
            hb = 7.6
        labs[day] = _lab_text(anc, plt, hb, alt)
        day += timedelta(days=1)
    return labs


def _numbered(example: str, number: int) -> str:
    """The `number`th study ID shaped like the site's example (AB-007 → AB-001)."""
    digits = len(example) - len(example.rstrip("0123456789"))
    return f"{example[: len(example) - digits]}{number:0{max(digits, 1)}d}"


def build_cohort(
    seed: int = 1,
    patients: int = DEFAULT_PATIENTS,
    start: date = DEFAULT_START,
    days: int = DEFAULT_DAYS,
    id_example: str | None = None,
    holiday_day1: date | None = None,
) -> Cohort:
    """`id_example`: the trial's example study ID (default: the configured trial's);
    `holiday_day1`: the `holiday` patient's day 1 (see the module doc)."""
    if id_example is None:
        from bot.settings import configured_study_id_example

        id_example = configured_study_id_example()
    rng = random.Random(seed)
    end = start + timedelta(days=days - 1)
    people = []
    events: dict[date, list[Scripted]] = {}
    enrol_on = start
    for index in range(patients):
        study_id = _numbered(id_example, index + 1)
        features = SLOTS[index] if index < len(SLOTS) else ()
        if "holiday" in features and holiday_day1 is not None:
            day1 = holiday_day1
            enrolled = day1 - timedelta(days=4)
        else:
            enrolled = enrol_on
            day1 = _monday_on_or_after(enrolled + timedelta(days=3))
            if day1 == holiday_day1:  # only the holiday patient starts that day
                day1 += timedelta(days=7)
        enrol_on = enrol_on + timedelta(days=rng.randint(5, 9))
        enrolled = min(enrolled, end)
        height = round(rng.uniform(150, 168))
        weight = round(rng.uniform(45, 72))
        best = rng.choice(("CR", "PR", "PR", "SD"))
        responses = {
            "end_of_ebrt_evaluation": "PR" if best in ("CR", "PR") else "SD",
            "efficacy_assessment": "PD" if "progression" in features else best,
        }
        answers: tuple[Answer, ...] = ()
        irae: frozenset[str] = frozenset()
        extra: frozenset[date] = frozenset()
        if "reduce_then_hold" in features:
            answers = (ON_TIME, Answer("nobody", 70))
            # blood counts re-checked on the morning of weeks 2 and 3's chemotherapy
            extra = frozenset({day1 + timedelta(days=7), day1 + timedelta(days=14)})
        if "thrombocytopenia" in features:
            answers = (Answer("backup", 42),)
        if "pneumonitis" in features:
            irae = irae | {"pneumonitis"}
            onset, better = day1 + timedelta(days=26), day1 + timedelta(days=40)
            for on, grade in ((onset, 2), (better, 1)):
                if start <= on <= end:
                    events.setdefault(on, []).append(
                        Scripted("ae", study_id, term="pneumonitis", grade=grade)
                    )
        if "hepatitis" in features:
            irae = irae | {"hepatitis"}
        labs = _labs(rng, day1, enrolled, end, features)
        people.append(
            SimPatient(
                study_id=study_id,
                enrol_on=enrolled,
                day1=day1,
                height=height,
                weight=weight,
                stage=rng.randrange(STAGE_CHOICES),  # as rng.choice of that many
                ecog=rng.choice((0, 0, 1)),
                age=rng.randint(31, 68),
                features=features,
                labs=labs,
                responses=responses,
                irae=irae,
                answers=answers,
                extra_labs=extra,
            )
        )
    ordered = tuple(sorted(people, key=lambda p: (p.enrol_on, p.study_id)))
    return Cohort(
        seed=seed,
        start=start,
        days=days,
        patients=ordered,
        events={day: tuple(items) for day, items in sorted(events.items())},
    )
