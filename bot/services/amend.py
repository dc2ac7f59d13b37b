"""Corrections and voids: a wrong entry is never changed or deleted, it is amended.

A correction appends a new version of the entry (with a reason and an author); a void
withdraws it. Proposals the engine derived from the old version and nobody has confirmed
are withdrawn, and the corrected entry is decided afresh. A proposal an investigator
already confirmed stays — it was a human decision — and the answer says it needs review.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import select

from bot.errors import UserError
from bot.events import (
    AMENDABLE_KINDS,
    AdverseEvent,
    Attribution,
    DoseRecord,
    Enrolment,
    Event,
    LabPanel,
    ResponseAssessment,
)
from bot.grading import grade_text, match_term, parse_panel
from bot.history import root_of
from bot.inputs import check_free_text
from bot.posts import Post
from bot.services import enrolment, notify
from bot.services.access import require_write
from bot.services.context import Request, ServiceContext
from bot.services.derive import log_entries
from bot.services.entries import DOSE_STATUSES, RECIST, ranges_for, treatments_of
from bot.services.lookup import kind_of_entry, patient_of_event
from bot.services.outcome import Outcome
from bot.services.unit import PatientUnit, entry_json, run_patient_write
from bot.storage.models import DecisionRecord, parse_label


@dataclass(frozen=True)
class Changes:
    """The fields a correction sets; None leaves a field as it was."""

    on: date | None = None
    lab_text: str | None = None  # analytes given replace the same analytes
    irae: bool | None = None
    symptomatic: bool | None = None
    term: str | None = None
    grade: int | None = None
    steroid_mg: float | None = None
    drug: str | None = None
    status: str | None = None
    mg: float | None = None
    category: str | None = None
    plan: dict[str, Any] | None = None  # enrolment fields (see enrolment.PLAN_FIELDS)

    def given(self) -> list[str]:
        return [name for name, value in self.__dict__.items() if value is not None]


FIELDS_BY_KIND = {
    "lab": {"on", "lab_text", "irae", "symptomatic"},
    "ae": {"on", "term", "grade", "irae", "steroid_mg"},
    "dose": {"on", "drug", "status", "mg"},
    "response": {"on", "category"},
    "attribution": {"irae"},
    "enrolment": {"plan"},
}
SHOWN = {"on": "date", "lab_text": "lab values", "plan": "enrolment fields"}


def _check_fields(kind: str, changes: Changes) -> None:
    allowed = FIELDS_BY_KIND[kind]
    extra = [f for f in changes.given() if f not in allowed]
    if extra:
        raise UserError(
            f"a {kind} entry has no {', '.join(SHOWN.get(f, f) for f in extra)} to correct",
            field=SHOWN.get(extra[0], extra[0]),
            allowed=", ".join(sorted(SHOWN.get(f, f) for f in allowed)),
        )
    if not changes.given():
        raise UserError(
            "say what to correct",
            field="correction",
            allowed=", ".join(sorted(SHOWN.get(f, f) for f in allowed)),
        )


def corrected(ctx: ServiceContext, unit: PatientUnit, old: Event, changes: Changes) -> Event:
    """The new version of `old` with `changes` applied and validated like a new entry."""
    day = unit.clinical_date(changes.on) if changes.on is not None else old.date
    if isinstance(old, LabPanel):
        results = {v.analyte: v for v in old.results}
        if changes.lab_text:
            for value in parse_panel(changes.lab_text, ranges_for(ctx, unit.site.id)):
                results[value.analyte] = value
        return old.model_copy(
            update={
                "date": day,
                "results": tuple(results.values()),
                "irae": changes.irae if changes.irae is not None else old.irae,
                "symptomatic": changes.symptomatic
                if changes.symptomatic is not None
                else old.symptomatic,
            }
        )
    if isinstance(old, AdverseEvent):
        term = match_term(ctx.rules.ctcae, changes.term).term if changes.term else None
        grade = changes.grade if changes.grade is not None else old.grade
        term_name = term.term if term else old.term
        grade_text(term or ctx.rules.ctcae.term(old.term), grade)
        return old.model_copy(
            update={
                "date": day,
                "term": term_name,
                "grade": grade,
                "meddra_code": term.meddra_code if term else old.meddra_code,
                "entered_term": changes.term or old.entered_term,
                "irae": changes.irae if changes.irae is not None else old.irae,
                "steroid_mg": changes.steroid_mg
                if changes.steroid_mg is not None
                else old.steroid_mg,
            }
        )
    if isinstance(old, DoseRecord):
        drug = (changes.drug or old.drug).lower()
        if drug not in treatments_of(ctx):
            raise UserError(
                f"unknown drug or treatment {drug!r}",
                field="drug",
                allowed=", ".join(treatments_of(ctx)),
            )
        status = changes.status or old.status
        if status not in DOSE_STATUSES:
            raise UserError(
                f"unknown dose status {status!r}", field="status", allowed=", ".join(DOSE_STATUSES)
            )
        mg = changes.mg if changes.mg is not None else (old.mg if status == "given" else None)
        return old.model_copy(update={"date": day, "drug": drug, "status": status, "mg": mg})
    if isinstance(old, ResponseAssessment):
        category = (changes.category or old.category).upper()
        if category not in RECIST:
            raise UserError(
                f"{category!r} is not a RECIST 1.1 response",
                field="response",
                allowed=", ".join(RECIST),
            )
        return old.model_copy(update={"date": day, "category": category})
    if isinstance(old, Attribution):
        return old.model_copy(update={"irae": changes.irae})
    if isinstance(old, Enrolment):
        return enrolment.corrected_enrolment(ctx, unit, old, changes.plan or {})
    raise UserError(f"a {old.kind} entry cannot be corrected", field="event")


def _withdraw_derived(unit: PatientUnit, label: str) -> tuple[list[str], list[str]]:
    """Withdraw open proposals triggered by entry `label`; list confirmed ones to review."""
    number = int(label[1:])
    records = unit.session.exec(
        select(DecisionRecord).where(
            DecisionRecord.patient_id == unit.patient.id, DecisionRecord.event_id == number
        )
    ).all()
    withdrawn, review = [], []
    for record in records:
        if record.status == "proposed":
            unit.verdict(record, "withdrawn", f"{label} was amended")
            withdrawn.append(record.label)
        elif record.status == "confirmed":
            review.append(record.label)
    return withdrawn, review


def _amend(
    ctx: ServiceContext, request: Request, event_ref: str, reason: str, *, changes: Changes | None
) -> Outcome:
    if not reason or not reason.strip():
        how = "a correction" if changes is not None else "a void"
        raise UserError(f"{how} needs a reason", field="reason", allowed='reason="what was wrong"')
    reason = check_free_text(reason.strip(), "reason")
    number = parse_label(event_ref, "E", field="event")
    study_id = patient_of_event(ctx, number)
    operation = "correct" if changes is not None else "void"

    def work(unit: PatientUnit) -> Outcome:
        label = f"E{number}"
        old = unit.event(label)
        if old is None:
            raise UserError(
                f"{label} is not an entry in force for {unit.patient.study_id} "
                "(voided, or a correction of another entry: amend that one)",
                field="event",
            )
        if old.kind not in AMENDABLE_KINDS:
            raise UserError(
                f"{label} is a {old.kind} entry written by trialbot; it cannot be "
                "amended (override the decision instead)",
                field="event",
                allowed=", ".join(AMENDABLE_KINDS),
            )
        if changes is None and old.kind == "enrolment":
            raise UserError(
                "an enrolment cannot be voided; correct its fields instead", field="event"
            )
        latest = _latest_version(unit, number)
        withdrawn, review = _withdraw_derived(unit, label)
        decisions: list[dict[str, Any]] = []
        if changes is not None:
            _check_fields(old.kind, changes)
            new = corrected(ctx, unit, old, changes)
            before = [e for e in unit.history if e.id != label]
            unit.append(new, corrects=latest, reason=reason.strip())
            effective = unit.event(label)
            if effective is not None and effective.kind in (
                "lab",
                "ae",
                "dose",
                "response",
                "attribution",
            ):
                decisions = unit.decide_and_propose(effective, before)
            if isinstance(new, Enrolment):
                enrolment.project(unit, new)
        else:
            unit.append(old, voids=latest, reason=reason.strip())
        unit.refresh_calendar()
        unit.post(
            Post(
                kind="amendment",
                audience=notify.channel_of(unit.site),
                study_id=unit.patient.study_id,
                decision_ids=tuple(withdrawn + review),
                facts={
                    "operation": operation,
                    "label": label,
                    "reason": reason.strip(),
                    "by": request.user,
                    "withdrawn": withdrawn,
                    "review": review,
                },
            ),
            dedupe_key=f"amend:{label}:{len(unit.rows)}",
        )
        unit.audit(
            operation,
            {"event": label, "reason": reason.strip(), "withdrawn": withdrawn, "review": review},
        )
        current = unit.event(label)
        return Outcome(
            operation=operation,
            event=entry_json(current) if current else None,
            decisions=decisions,
            data={
                "target": label,
                "withdrawn": withdrawn,
                "review": review,
                "reason": reason.strip(),
            },
        )

    return run_patient_write(ctx, request, operation, study_id, work)


def _latest_version(unit: PatientUnit, number: int) -> int:
    """The newest row of the entry's correction chain: the one the log lets us amend."""
    roots = root_of(log_entries(unit.rows))
    return max(row.id for row in unit.rows if roots.get(row.id) == number and row.voids is None)


def kind_to_correct(ctx: ServiceContext, request: Request, event_ref: str) -> str:
    """The kind of entry `event_ref` is (lab, ae, dose, …), so that `correct` reads its words
    the way that kind is written. The role comes first: the kind of an entry is told only
    to someone who may correct it."""
    require_write(ctx, request, "correct")
    return kind_of_entry(ctx, parse_label(event_ref, "E", field="event"))


def correct(
    ctx: ServiceContext, request: Request, event_ref: str, changes: Changes, reason: str
) -> Outcome:
    require_write(ctx, request, "correct")
    return _amend(ctx, request, event_ref, reason, changes=changes)


def void(ctx: ServiceContext, request: Request, event_ref: str, reason: str) -> Outcome:
    require_write(ctx, request, "void")
    return _amend(ctx, request, event_ref, reason, changes=None)
