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

from bot import entry_rules
from bot.entry_rules import ENTRY_RULES
from bot.errors import UserError
from bot.events import (
    AMENDABLE_KINDS,
    AdverseEvent,
    DoseRecord,
    Enrolment,
    Event,
    LabPanel,
)
from bot.history import root_of
from bot.inputs import check_free_text
from bot.posts import Post
from bot.services import enrolment, notify
from bot.services.access import require_write
from bot.services.context import Request, ServiceContext
from bot.services.derive import log_entries
from bot.services.entries import vocabulary_of
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


# The `Changes` field each key of `bot.entry_rules` is corrected by (the others: its name).
CHANGE_OF = {"date": "on", "lab": "lab_text", "response": "category"}
# What a correction may change, per kind: as the declaration of entries says.
FIELDS_BY_KIND = {
    **{
        kind: {CHANGE_OF.get(name, name) for name in rule.correctable}
        for kind, rule in ENTRY_RULES.items()
    },
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
    """The new version of `old` with `changes` applied, read like a new entry (by
    `bot.entry_rules`, from the old entry's values and the changed ones)."""
    if isinstance(old, Enrolment):
        return enrolment.corrected_enrolment(ctx, unit, old, changes.plan or {})
    rule = ENTRY_RULES.get(old.kind)
    if rule is None:
        raise UserError(f"a {old.kind} entry cannot be corrected", field="event")
    day = unit.clinical_date(changes.on) if changes.on is not None else old.date
    vocabulary = vocabulary_of(ctx, unit.site.id)
    values = entry_rules.written(old)
    for name in rule.correctable:
        change = getattr(changes, CHANGE_OF.get(name, name))
        if change is not None and name != "date":
            values[name] = change
    if isinstance(old, LabPanel) and changes.lab_text:
        # the analytes given replace the same analytes; the others stay
        results = {v.analyte: v for v in old.results}
        for value in entry_rules.read_panel(changes.lab_text, rule.subject, vocabulary):
            results[value.analyte] = value
        values[rule.subject] = tuple(results.values())
    if isinstance(old, DoseRecord) and changes.mg is None and values["status"] != "given":
        values["mg"] = None  # a dose no longer given has no amount
    event = entry_rules.build(old.kind, values, day=day, vocabulary=vocabulary).event
    keep: dict[str, Any] = {"id": old.id, "seq": old.seq}
    if isinstance(old, AdverseEvent) and changes.term is None:
        keep["entered_term"] = old.entered_term
    return event.model_copy(update=keep)


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
            if effective is not None and effective.kind in ENTRY_RULES:
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
