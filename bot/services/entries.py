"""Clinical entries: lab panels, adverse events, doses, response assessments, attributions.

Each is one call, one transaction (see `unit.run_patient_write`): the entry is appended,
the engine decides, proposals are recorded, the calendar rows are refreshed, the posts are
queued and the audit row written — or none of it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import select

from bot.errors import UserError, closest
from bot.events import (
    AdverseEvent,
    Attribution,
    DoseRecord,
    Event,
    LabPanel,
    ResponseAssessment,
)
from bot.grading import grade_panel, grade_text, match_term, parse_panel
from bot.inputs import check_free_text
from bot.services import alerts, notify
from bot.services.access import require_write
from bot.services.context import Request, ServiceContext
from bot.services.outcome import Outcome
from bot.services.unit import PatientUnit, entry_json, run_patient_write
from bot.storage.models import DecisionRecord, parse_label

RECIST = ("CR", "PR", "SD", "PD", "NE")
DOSE_STATUSES = ("given", "held", "skipped")


def ranges_for(ctx: ServiceContext, site_id: str):
    ranges = ctx.rules.ranges
    return ranges.for_site(site_id if site_id in ranges.sites else None)


def record_entry(
    unit: PatientUnit,
    event: Event,
    operation: str,
    *,
    grades: list[dict[str, Any]] | None = None,
    data: dict[str, Any] | None = None,
) -> Outcome:
    """Append a clinical entry and do everything that follows from it."""
    before = list(unit.history)
    recorded = unit.append(event)
    decisions = unit.decide_and_propose(recorded, before)
    unit.refresh_calendar()
    notify_decisions(unit, recorded, decisions, grades or [])
    unit.audit(
        operation,
        {
            "event": recorded.id,
            "kind": recorded.kind,
            "date": recorded.date.isoformat(),
            "proposed": [d["id"] for d in decisions if d["status"] == "proposed"],
        },
    )
    return Outcome(
        operation=operation,
        event=entry_json(recorded),
        grades=grades or [],
        decisions=decisions,
        data=data or {},
    )


SEVERE_GRADE = 3  # an entry graded this or above alerts the on-call investigator


def _worst_grade(entry: Event, grades: list[dict[str, Any]]) -> int:
    found = [g.get("grade") or 0 for g in grades]
    if isinstance(entry, AdverseEvent):
        found.append(entry.grade)
    return max(found, default=0)


def _alert(unit: PatientUnit, subject: str, kind: str, decision_ids, facts) -> None:
    posts = alerts.raise_alert(
        unit.ctx,
        unit.session,
        site=unit.site,
        patient=unit.patient,
        subject=subject,
        kind=kind,
        decision_ids=decision_ids,
        facts=facts,
        now=unit.now,
    )
    unit.posts.extend(posts)


def notify_decisions(
    unit: PatientUnit, entry: Event, decisions: list[dict[str, Any]], grades: list[dict[str, Any]]
) -> None:
    """Every decision that needs an investigator, and an entry graded 3 or above, raise one
    alert with two copies at once: the site's channel sees it, and the on-call
    investigator (if anyone is on call) is told directly. Whoever acts first, the Slack
    transport updates both copies (found by `notify.alert_keys`); unacknowledged, the
    alert escalates to the backup and then to the channel with @here (bot.services.alerts)."""
    proposed = [d for d in decisions if d["status"] == "proposed"]
    worst = _worst_grade(entry, grades)
    if not proposed and worst < SEVERE_GRADE:
        return
    on_call = notify.on_call_of(unit.session, unit.site, unit.now)
    recorded = entry_json(entry)
    for decision in proposed:
        facts = {
            "decision": decision,
            "entry": recorded,
            "recorded_by": unit.request.user,
            "on_call": on_call,
        }
        _alert(unit, decision["id"], "decision_alert", (decision["id"],), facts)
    if not proposed:
        facts = {
            "entry": recorded,
            "grades": grades,
            "worst": worst,
            "recorded_by": unit.request.user,
            "on_call": on_call,
        }
        _alert(unit, entry.id, "grade_alert", (), facts)


def _irae(value: bool | None) -> bool | None:
    return value


def record_lab(
    ctx: ServiceContext,
    request: Request,
    study_id: str,
    text: str,
    *,
    on: date | None = None,
    irae: bool | None = None,
    symptomatic: bool | None = None,
) -> Outcome:
    require_write(ctx, request, "lab")

    def work(unit: PatientUnit) -> Outcome:
        day = unit.clinical_date(on)
        values = parse_panel(text, ranges_for(ctx, unit.site.id))
        from bot.decisions.planning import baseline_of

        baseline = baseline_of(unit.history, unit.patient.day1)
        graded = grade_panel(ctx.rules.ctcae, values, baseline=baseline, symptomatic=symptomatic)
        event = LabPanel(date=day, results=tuple(values), irae=irae, symptomatic=symptomatic)
        return record_entry(unit, event, "lab", grades=[g.to_json() for g in graded])

    return run_patient_write(ctx, request, "lab", study_id, work)


def record_ae(
    ctx: ServiceContext,
    request: Request,
    study_id: str,
    term: str,
    grade: int,
    *,
    on: date | None = None,
    irae: bool | None = None,
    steroid_mg: float | None = None,
) -> Outcome:
    require_write(ctx, request, "ae")
    term = check_free_text(term, "term")
    match = match_term(ctx.rules.ctcae, term)
    meaning = grade_text(match.term, grade)
    if steroid_mg is not None and not 0 <= steroid_mg <= 2000:
        raise UserError(
            f"{steroid_mg:g} mg/day is not a plausible prednisone-equivalent dose",
            field="steroid_mg",
            allowed="0–2000 (mg/day)",
        )

    def work(unit: PatientUnit) -> Outcome:
        day = unit.clinical_date(on)
        event = AdverseEvent(
            date=day,
            term=match.term.term,
            grade=grade,
            meddra_code=match.term.meddra_code,
            entered_term=term,
            irae=irae,
            steroid_mg=steroid_mg,
        )
        data = {
            "term": match.term.term,
            "grade": grade,
            "grade_text": meaning,
            "matched": match.how,
            "note": match.note,
            "ctcae": ctx.rules.ctcae.version,
        }
        return record_entry(unit, event, "ae", data=data)

    return run_patient_write(ctx, request, "ae", study_id, work)


def _close_attribution_questions(unit: PatientUnit, target: int) -> list[str]:
    """The open referrals that asked whether entry `target` is immune-related are answered
    by the attribution itself: withdraw them, so nobody is asked twice."""
    records = unit.session.exec(
        select(DecisionRecord).where(
            DecisionRecord.patient_id == unit.patient.id,
            DecisionRecord.event_id == target,
            DecisionRecord.status == "proposed",
            DecisionRecord.action == "refer",
        )
    ).all()
    answered = []
    for record in records:
        if record.payload.get("if_immune_related"):
            unit.verdict(record, "withdrawn", f"answered: E{target} attributed by the investigator")
            answered.append(record.label)
    return answered


def treatments_of(ctx: ServiceContext) -> list[str]:
    schedule = ctx.rules.schedule
    return [d.id for d in schedule.drugs] + [c.id for c in schedule.radiotherapy]


def record_dose(
    ctx: ServiceContext,
    request: Request,
    study_id: str,
    drug: str,
    *,
    status: str = "given",
    on: date | None = None,
    mg: float | None = None,
    reason: str | None = None,
) -> Outcome:
    require_write(ctx, request, "dose")
    if reason is not None:
        reason = check_free_text(reason, "reason")
    known = treatments_of(ctx)
    name = drug.strip().lower()
    if name not in known:
        raise UserError(
            f"unknown drug or treatment {drug!r}",
            field="drug",
            allowed=", ".join(known),
            suggestion=closest(name, known),
        )
    if status not in DOSE_STATUSES:
        raise UserError(
            f"unknown dose status {status!r}", field="status", allowed=", ".join(DOSE_STATUSES)
        )
    if mg is not None and (status != "given" or not 0 < mg <= 2000):
        raise UserError(
            "mg is the amount given: a number above 0 and at most 2000, only with 'given'",
            field="mg",
        )

    def work(unit: PatientUnit) -> Outcome:
        day = unit.clinical_date(on)
        event = DoseRecord(date=day, drug=name, status=status, mg=mg, reason=reason)
        return record_entry(unit, event, "dose")

    return run_patient_write(ctx, request, "dose", study_id, work)


def record_response(
    ctx: ServiceContext, request: Request, study_id: str, category: str, *, on: date | None = None
) -> Outcome:
    require_write(ctx, request, "response")
    value = category.strip().upper()
    if value not in RECIST:
        raise UserError(
            f"{category!r} is not a RECIST 1.1 response",
            field="response",
            allowed=", ".join(RECIST),
            suggestion=closest(value, RECIST),
        )

    def work(unit: PatientUnit) -> Outcome:
        day = unit.clinical_date(on)
        return record_entry(unit, ResponseAssessment(date=day, category=value), "response")

    return run_patient_write(ctx, request, "response", study_id, work)


def attribute(ctx: ServiceContext, request: Request, event_ref: str, irae: bool) -> Outcome:
    """The investigator's call on whether an entry is immune-related; Table 3 then applies."""
    require_write(ctx, request, "attribute")
    from bot.services.lookup import patient_of_event

    number = parse_label(event_ref, "E", field="event")
    study_id = patient_of_event(ctx, number)

    def work(unit: PatientUnit) -> Outcome:
        label = f"E{number}"
        target = unit.event(label)
        if target is None or target.kind not in ("lab", "ae"):
            raise UserError(
                f"{label} is not a lab panel or adverse event in force for {unit.patient.study_id}",
                field="event",
                allowed=f"the id of a lab or ae entry (see: patient {unit.patient.study_id})",
            )
        answered = _close_attribution_questions(unit, number)
        alerts.acknowledge_event(
            unit.session, unit.patient.id, number, by=request.user, how="attribute", now=unit.now
        )
        event = Attribution(date=unit.today, target=label, irae=irae)
        outcome = record_entry(unit, event, "attribute")
        return outcome.model_copy(update={"data": {**outcome.data, "answered": answered}})

    return run_patient_write(ctx, request, "attribute", study_id, work)
