"""A trial's summary from its event log: what `trialbot demo` ends with.

Read in one transaction, from each patient's effective history (corrections applied,
voids removed) and what the pure core derives from it — never from counters kept by
whoever wrote the log:

- per drug: doses given; holds (each time the drug was held — suspended, interrupted, or
  held by an investigator — as the decisions in the log set it); doses given at a
  reduced level (below 100 % of the protocol dose on that day); doses recorded as not
  given (held or skipped); and the patients whose drug was discontinued;
- per patient: the radiotherapy overall treatment time (first to last EBRT fraction, the
  calendar built from the log as of `on`), the fractions delivered by then, and the
  response assessments recorded.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.calendar.schema import radiotherapy_name
from bot.decisions import fold_treatment
from bot.events import DoseRecord, ResponseAssessment
from bot.services import derive
from bot.services.context import ServiceContext
from bot.services.exports import patients_of
from bot.storage.eventlog import patient_events
from bot.storage.models import Site

HELD = ("held", "skipped")


def trial_summary(ctx: ServiceContext, *, on: date, site: str | None = None) -> dict[str, Any]:
    drugs = [d.id for d in ctx.rules.schedule.drugs]
    per_drug = {
        drug: {
            "drug": drug,
            "given": 0,
            "held": 0,
            "reduced": 0,
            "not_given": 0,
            "discontinued": [],
        }
        for drug in drugs
    }
    patients_out = []
    with ctx.db.transaction(readonly=True) as session:
        for patient in patients_of(session, site):
            history = derive.history_of(patient_events(session, patient.id or 0))
            treatment = fold_treatment(history)
            for event in history:
                if not isinstance(event, DoseRecord) or event.drug not in per_drug:
                    continue
                row = per_drug[event.drug]
                if event.status == "given":
                    row["given"] += 1
                    course = treatment.get(event.drug)
                    if course is not None and course.percent_on(event.date) < 100:
                        row["reduced"] += 1
                elif event.status in HELD:
                    row["not_given"] += 1
            for drug, course in treatment.items():
                if drug in per_drug:
                    per_drug[drug]["held"] += len(course.holds)
                if drug in per_drug and course.is_discontinued_on(on):
                    per_drug[drug]["discontinued"].append(
                        {
                            "study_id": patient.study_id,
                            "on": course.discontinued_on.isoformat(),
                            "reason": course.discontinued_reason,
                        }
                    )
            site_row = session.get(Site, patient.site_id)
            calendar = derive.calendar_for(ctx, patient, site_row, history, treatment, today=on)
            summary = calendar.summary
            ebrt = [e for e in calendar.events if e.kind == "radiotherapy"]
            delivered = [e for e in ebrt if e.date <= on and e.status != "skipped"]
            complete = bool(ebrt) and max(e.date for e in ebrt) <= on
            responses = [
                {"date": e.date.isoformat(), "category": e.category}
                for e in sorted(
                    (e for e in history if isinstance(e, ResponseAssessment)),
                    key=lambda e: e.date,
                )
            ]
            patients_out.append(
                {
                    "study_id": patient.study_id,
                    "day1": patient.day1.isoformat(),
                    "fractions_delivered": len(delivered) if patient.day1 <= on else 0,
                    "fractions_planned": len(ebrt),
                    "ebrt_complete": complete,
                    "ott_days": summary.ott_days if complete else None,
                    "planned_ott_days": summary.planned_ott_days,
                    "consolidation_start": (
                        summary.consolidation_start.isoformat()
                        if summary.consolidation_start
                        else None
                    ),
                    "responses": responses,
                }
            )
    # the columns' names are the schedule's: its radiotherapy course, the phase the
    # consolidation series belongs to (no column when the schedule names none)
    schedule = ctx.rules.schedule
    ott = schedule.series_by_id(schedule.summary.ott_series)
    next_series = schedule.summary.consolidation_series
    return {
        "on": on.isoformat(),
        "radiotherapy": radiotherapy_name(schedule, ott),
        "next_phase": (
            schedule.series_by_id(next_series).phase.replace("_", " ") if next_series else None
        ),
        "drugs": list(per_drug.values()),
        "patients": patients_out,
        "discontinuations": sum(len(row["discontinued"]) for row in per_drug.values()),
    }
