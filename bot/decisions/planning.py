"""What the engine needs to know about the plan: each drug's next dose, and the baseline.

Pure: the calendar engine tells where each drug's next administration falls if nothing is
held (the engine then decides what happens to it); the baseline comes from the history.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date

from bot.calendar import Calendar, PatientPlan, Schedule, SiteCalendar, build_calendar
from bot.calendar.derived_dose import CREATININE
from bot.decisions.engine import DecisionContext
from bot.decisions.findings import FindingsMemo
from bot.decisions.model import NextDose
from bot.decisions.schema import DoseModifications
from bot.decisions.state import fold_treatment
from bot.events import Enrolment, Event, LabPanel, LabValue, chronological
from bot.treatment import TreatmentState


def baseline_of(history: Sequence[Event], day1: date) -> dict[str, LabValue]:
    """Baseline per analyte: the enrolment's baseline labs, else the last value measured
    on or before day 1 (the eligibility blood samples of the schedule)."""
    baseline: dict[str, LabValue] = {}
    # The panels picked out before the (stable) sort: the same order, a much shorter sort.
    # Events are never subclassed, so `type(e) is` is `isinstance`, at a fraction of its
    # cost on pydantic's ABC-based models.
    before = [e for e in history if type(e) is LabPanel and e.date <= day1]
    for event in chronological(before):
        for value in event.results:
            baseline[value.analyte] = value
    for event in history:
        if type(event) is Enrolment:
            for value in event.baseline:
                baseline[value.analyte] = value
    return baseline


def lift_open_holds(treatment: TreatmentState, on: date) -> TreatmentState:
    """The treatment as if every open hold ended on `on`: where the next dose would fall."""
    lifted = {}
    for drug, course in treatment.items():
        holds = tuple(
            h if h.until is not None else h.model_copy(update={"until": on}) for h in course.holds
        )
        lifted[drug] = course.model_copy(update={"holds": holds})
    return lifted


def next_doses(
    schedule: Schedule,
    rules: DoseModifications,
    plan: PatientPlan,
    site: SiteCalendar,
    history: Sequence[Event],
    on: date,
    *,
    fold: Callable[[Sequence[Event]], TreatmentState] = fold_treatment,
    build: Callable[..., Calendar] = build_calendar,
    entry: Event | None = None,
) -> dict[str, NextDose | None]:
    """Each drug's next planned administration on or after `on` (holds lifted), or None
    when the drug has no dose left in the plan. `fold` and `build` are `fold_treatment`
    and `build_calendar` or a caller's memo of them (same arguments, same answers).
    `entry`, the entry being decided: a lab panel with a creatinine is an input of the
    doses it precedes (an AUC dose reads the latest), so the calendar reads it too — a
    lab panel moves no dose date, so the next doses are otherwise the same."""
    treatment = lift_open_holds(fold(history), on)
    if entry is not None and schedule.derives_doses and _has_creatinine(entry):
        history = [*history, entry]
    calendar = build(schedule, plan, history, site, treatment=treatment)
    drugs = rules.drugs
    found: dict[str, NextDose | None] = dict.fromkeys(drugs)
    for event in calendar.events:
        if (
            event.kind != "infusion"
            or event.item not in found
            or found[event.item] is not None
            or event.date < on
            or event.status not in ("planned", "due")
        ):
            continue
        drug = schedule.drug(event.item)
        found[event.item] = NextDose(
            date=event.date,
            label=event.label,
            amount=event.dose.amount if event.dose else None,
            basis=event.dose.basis if event.dose and event.dose.basis != "per_fraction" else None,
            bsa_m2=calendar.summary.bsa_m2,
            rounding_step=drug.rounding.step,
            rounding_mode=drug.rounding.mode,
            derivation=event.dose.derivation if event.dose else None,
        )
    return found


def _has_creatinine(entry: Event) -> bool:
    return type(entry) is LabPanel and any(v.analyte == CREATININE for v in entry.results)


def decision_context(
    schedule: Schedule,
    rules: DoseModifications,
    ctcae,
    plan: PatientPlan,
    site: SiteCalendar,
    history: Sequence[Event],
    on: date,
    memo: FindingsMemo | None = None,
    *,
    fold: Callable[[Sequence[Event]], TreatmentState] = fold_treatment,
    build: Callable[..., Calendar] = build_calendar,
    baseline: Mapping[str, LabValue] | None = None,
    entry: Event | None = None,
) -> DecisionContext:
    """Everything `decide` needs for an event dated `on`, from the plan and the history.
    `memo` (optional, kept by the caller) saves grading the same past entries again;
    `fold` and `build` (see `next_doses`) folding and building the calendar again;
    `baseline` is `baseline_of(history, plan.day1)` when the caller has it; `entry` is
    the entry being decided (see `next_doses`)."""
    return DecisionContext(
        rules=rules,
        ctcae=ctcae,
        baseline=dict(baseline) if baseline is not None else baseline_of(history, plan.day1),
        plan=next_doses(
            schedule, rules, plan, site, history, on, fold=fold, build=build, entry=entry
        ),
        memo=memo,
    )
