"""Clinical entries: lab panels, adverse events, doses, response assessments, attributions.

What each entry holds and how it is checked is `bot.entry_rules` (the one declaration the
commands, the history file and the docs read too); here it is recorded. Each is one call,
one transaction (see `unit.run_patient_write`): the entry is appended,
the engine decides, proposals are recorded, the calendar rows are refreshed, the posts are
queued and the audit row written — or none of it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import select

from bot import entry_rules
from bot.entry_rules import Vocabulary
from bot.errors import UserError
from bot.events import AdverseEvent, Event
from bot.grading import grade_panel
from bot.posts import Post
from bot.services import alerts, derive, notify
from bot.services.access import require_write
from bot.services.context import Request, ServiceContext
from bot.services.outcome import Outcome
from bot.services.unit import PatientUnit, entry_json, run_patient_write
from bot.storage.models import DecisionRecord, parse_label


def vocabulary_of(ctx: ServiceContext, site_id: str | None = None) -> Vocabulary:
    """The trial's words as `bot.entry_rules` reads entries with, at `site_id`'s ranges."""
    return Vocabulary.of(ctx.rules, site_id)


def ranges_for(ctx: ServiceContext, site_id: str):
    return vocabulary_of(ctx, site_id).lab_ranges()


def build_entry(unit: PatientUnit, kind: str, values: dict[str, Any], on: date | None):
    """The entry of `kind` written as `values`, dated `on` (its clinical date, checked
    against the patient's log), read by the one declaration of entries."""
    day = unit.clinical_date(on) if entry_rules.ENTRY_RULES[kind].dated else unit.today
    return entry_rules.build(
        kind, values, day=day, vocabulary=vocabulary_of(unit.ctx, unit.site.id)
    )


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


def _alert(
    unit: PatientUnit, subject: str, kind: str, decision_ids, facts, *, ping: bool = True
) -> None:
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
        by=unit.request,
        ping=ping,
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
    # With nobody on call every alert goes to the channel at once: one @here per entry
    # (with its first alert), not one per decision; each alert keeps its own buttons.
    for index, decision in enumerate(proposed):
        facts = {
            "decision": decision,
            "entry": recorded,
            "recorded_by": unit.request.user,
            "on_call": on_call,
        }
        _alert(unit, decision["id"], "decision_alert", (decision["id"],), facts, ping=index == 0)
    if not proposed:
        facts = {
            "entry": recorded,
            "grades": grades,
            "worst": worst,
            "recorded_by": unit.request.user,
            "on_call": on_call,
        }
        _alert(unit, entry.id, "grade_alert", (), facts)


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
        values = {"lab": text, "irae": irae, "symptomatic": symptomatic}
        event = build_entry(unit, "lab", values, on).event
        baseline = derive.baseline(ctx, unit.patient, unit.history)
        graded = grade_panel(
            ctx.rules.ctcae, list(event.results), baseline=baseline, symptomatic=symptomatic
        )
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

    def work(unit: PatientUnit) -> Outcome:
        values = {"term": term, "grade": grade, "irae": irae, "steroid_mg": steroid_mg}
        built = build_entry(unit, "ae", values, on)
        return record_entry(unit, built.event, "ae", data=built.facts)

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
    return list(vocabulary_of(ctx).treatments)


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

    def work(unit: PatientUnit) -> Outcome:
        values = {"drug": drug, "status": status, "mg": mg, "reason": reason}
        return record_entry(unit, build_entry(unit, "dose", values, on).event, "dose")

    return run_patient_write(ctx, request, "dose", study_id, work)


def record_response(
    ctx: ServiceContext, request: Request, study_id: str, category: str, *, on: date | None = None
) -> Outcome:
    require_write(ctx, request, "response")

    def work(unit: PatientUnit) -> Outcome:
        event = build_entry(unit, "response", {"response": category}, on).event
        return record_entry(unit, event, "response")

    return run_patient_write(ctx, request, "response", study_id, work)


def attribute(ctx: ServiceContext, request: Request, event_ref: str, irae: bool) -> Outcome:
    """The investigator's call on whether an entry is immune-related; the immune-related rules then apply."""
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
        subjects = alerts.raised(
            unit.session, alerts.event_subjects(unit.session, unit.patient.id, number)
        )
        event = build_entry(unit, "attribution", {"event": label, "irae": irae}, None).event
        outcome = record_entry(unit, event, "attribute")
        if subjects:  # the alerts' copies say so where they were posted (see posts.FACTS)
            unit.post(
                Post(
                    kind="attribution",
                    audience=notify.channel_of(unit.site),
                    study_id=unit.patient.study_id,
                    facts={"target": label, "irae": irae, "by": request.user, "alerts": subjects},
                ),
                dedupe_key=f"attribution:{outcome.event['id']}",
            )
        return outcome.model_copy(update={"data": {**outcome.data, "answered": answered}})

    return run_patient_write(ctx, request, "attribute", study_id, work)
