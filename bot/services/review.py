"""The daily review: time-based rules evaluated from each patient's event log.

Once per patient and site-local day (the request key `review:{study ID}:{date}` makes a
second replica's run a no-op), inside the patient's own write transaction: the
time-based decisions of `bot.decisions.timebased` that are not already proposed or decided
are recorded as proposals and raise alerts like any other decision.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlmodel import select

from bot.decisions.timebased import time_based
from bot.services import alerts, derive, notify
from bot.services.context import Request, ServiceContext
from bot.services.outcome import Outcome
from bot.services.unit import PatientUnit, run_patient_write
from bot.storage.models import DecisionRecord, Patient

ACTIVE_YEARS = 2  # patients whose day 1 is older than this have finished treatment
SETTLED = ("proposed", "confirmed", "overridden")


def _already(unit: PatientUnit, decision) -> bool:
    records = unit.session.exec(
        select(DecisionRecord).where(
            DecisionRecord.patient_id == unit.patient.id,
            DecisionRecord.drug == decision.drug,
            DecisionRecord.action == decision.action,
            DecisionRecord.rule == decision.rule,
            DecisionRecord.status.in_(SETTLED),
        )
    ).all()
    if decision.category == "chemotherapy":
        since = decision.reason.split(" since ", 1)[-1].split(" ", 1)[0]
        return any(f" since {since} " in r.reason for r in records)
    return bool(records)


def review_patient(ctx: ServiceContext, study_id: str, day: date) -> Outcome:
    request = Request.scheduler(key=f"review:{study_id}:{day}")

    def work(unit: PatientUnit) -> Outcome:
        context = derive.decision_context(ctx, unit.patient, unit.site, unit.history, day)
        decisions = time_based(
            context,
            unit.history,
            day,
            day1=unit.patient.day1,
            chemo_hold_limit_days=ctx.settings.chemo_hold_limit_days,
        )
        fresh = [d for d in decisions if d.needs_confirmation and not _already(unit, d)]
        recorded = []
        on_call = notify.on_call_of(unit.session, unit.site, unit.now)
        for decision in fresh:
            review = _ReviewEntry(date=day)
            result = unit.record_decision(decision, review)
            recorded.append(result)
            posts = alerts.raise_alert(
                ctx,
                unit.session,
                site=unit.site,
                patient=unit.patient,
                subject=result["id"],
                kind="review_alert",
                decision_ids=(result["id"],),
                facts={"decision": result, "day": day.isoformat(), "on_call": on_call},
                now=unit.now,
                by=unit.request,
            )
            unit.posts.extend(posts)
        if recorded:
            unit.refresh_calendar()
            unit.audit("review", {"date": day.isoformat(), "proposed": [d["id"] for d in recorded]})
        return Outcome(operation="review", decisions=recorded, data={"date": day.isoformat()})

    return run_patient_write(ctx, request, "review", study_id, work)


class _ReviewEntry:
    """What `record_decision` needs of the entry behind a decision: its date."""

    kind = "review"
    id = None

    def __init__(self, date: date) -> None:
        self.date = date


def review_site(ctx: ServiceContext, site_id: str, day: date) -> list[dict]:
    """Review every patient of the site still in their treatment years."""
    with ctx.db.transaction(readonly=True) as session:
        study_ids = session.exec(
            select(Patient.study_id)
            .where(
                Patient.site_id == site_id,
                Patient.day1 >= day - timedelta(days=366 * ACTIVE_YEARS),
                Patient.day1 <= day,
            )
            .order_by(Patient.study_id)
        ).all()
    proposed = []
    for study_id in study_ids:
        outcome = review_patient(ctx, study_id, day)
        if not outcome.replayed:
            proposed.extend(outcome.decisions)
    return proposed
