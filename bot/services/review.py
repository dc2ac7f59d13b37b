"""The daily review: time-based rules evaluated from each patient's event log.

Once per patient and site-local day (the request key `review:{study ID}:{date}` makes a
second replica's run a no-op), inside the patient's own write transaction: the
time-based decisions of `bot.decisions.timebased` that are not already proposed or decided
are recorded as proposals and raise alerts like any other decision. A patient with nothing
to propose is found so in a read-only transaction and written nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from sqlmodel import Session, select

from bot.decisions.timebased import time_based
from bot.events import Event
from bot.services import alerts, derive, histories, notify
from bot.services.context import Request, ServiceContext
from bot.services.outcome import Outcome
from bot.services.unit import PatientUnit, find_patient, run_patient_write
from bot.storage.models import DecisionRecord, Patient, RequestRecord, Site

ACTIVE_YEARS = 2  # patients whose day 1 is older than this have finished treatment
SETTLED = ("proposed", "confirmed", "overridden")


def _already(session: Session, patient_id: int, decision) -> bool:
    records = session.exec(
        select(DecisionRecord).where(
            DecisionRecord.patient_id == patient_id,
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


def _fresh(
    ctx: ServiceContext,
    session: Session,
    patient: Patient,
    site: Site,
    history: Sequence[Event],
    day: date,
) -> list:
    """The time-based decisions due on `day` that need an investigator and are not
    already proposed or decided."""
    context = derive.decision_context(ctx, patient, site, history, day)
    decisions = time_based(
        context,
        history,
        day,
        day1=patient.day1,
        chemo_hold_limit_days=ctx.settings.chemo_hold_limit_days,
    )
    return [d for d in decisions if d.needs_confirmation and not _already(session, patient.id, d)]


def _needs_writing(
    ctx: ServiceContext, site_id: str, study_ids: Sequence[str] | None, day: date
) -> list[str]:
    """The patients (of `study_ids`, else the site's patients in their treatment years)
    whose review on `day` needs the write transaction, in study-ID order.

    Most mornings no time-based rule fires for most patients: that is found out in one
    read-only transaction for the whole site, and a patient's write transaction (lock,
    audit, idempotency key) is opened only when there is something to record. The write
    looks again under the lock, so a concurrent entry is never missed; a day with nothing
    to propose leaves nothing behind, whoever reviews it again. A day already reviewed
    with a write (its key remembered) goes to the write, which answers it as replayed."""
    with ctx.db.transaction(readonly=True) as session:
        statement = select(Patient).where(Patient.site_id == site_id)
        if study_ids is None:
            statement = statement.where(
                Patient.day1 >= day - timedelta(days=366 * ACTIVE_YEARS),
                Patient.day1 <= day,
            )
        else:
            statement = statement.where(Patient.study_id.in_(list(study_ids)))
        patients = session.exec(statement.order_by(Patient.study_id)).all()
        site = session.get(Site, site_id)
        keys = {p.study_id: _key(p.study_id, day) for p in patients}
        done = set(
            session.exec(
                select(RequestRecord.key).where(RequestRecord.key.in_(list(keys.values())))
            ).all()
            if keys
            else ()
        )
        logs = histories.stamps(session, [p.id for p in patients])
        wanted = []
        for patient in patients:
            if site is None or keys[patient.study_id] in done:
                wanted.append(patient.study_id)
                continue
            _entries, history = histories.read_log(
                session, patient.id, ctx.histories, stamp=logs[patient.id]
            )
            if _fresh(ctx, session, patient, site, history, day):
                wanted.append(patient.study_id)
    return wanted


def _key(study_id: str, day: date) -> str:
    return f"review:{study_id}:{day}"


def review_patient(ctx: ServiceContext, study_id: str, day: date) -> Outcome:
    with ctx.db.transaction(readonly=True) as session:
        patient = find_patient(session, study_id, lock=False)
        site_id = patient.site_id
    if not _needs_writing(ctx, site_id, [patient.study_id], day):
        return Outcome(operation="review", decisions=[], data={"date": day.isoformat()})
    return _review_write(ctx, patient.study_id, day)


def _review_write(ctx: ServiceContext, study_id: str, day: date) -> Outcome:
    request = Request.scheduler(key=_key(study_id, day))

    def work(unit: PatientUnit) -> Outcome:
        fresh = _fresh(ctx, unit.session, unit.patient, unit.site, unit.history, day)
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
    proposed = []
    for study_id in _needs_writing(ctx, site_id, None, day):
        outcome = _review_write(ctx, study_id, day)
        if not outcome.replayed:
            proposed.extend(outcome.decisions)
    return proposed
