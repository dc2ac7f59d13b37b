"""Find whose an entry or a decision is, for commands that name only "E45" or "D12"."""

from __future__ import annotations

from bot.errors import UserError
from bot.services.context import ServiceContext
from bot.storage.models import DecisionRecord, EventRecord, Patient, decision_label, event_label


def patient_of_event(ctx: ServiceContext, number: int) -> str:
    with ctx.db.transaction(readonly=True) as session:
        row = session.get(EventRecord, number)
        patient = session.get(Patient, row.patient_id) if row else None
    if patient is None:
        raise UserError(
            f"there is no entry {event_label(number)}",
            field="event",
            allowed="an entry id shown by: patient <study ID>",
        )
    return patient.study_id


def patient_of_decision(ctx: ServiceContext, number: int) -> str:
    with ctx.db.transaction(readonly=True) as session:
        row = session.get(DecisionRecord, number)
        patient = session.get(Patient, row.patient_id) if row else None
    if patient is None:
        raise UserError(
            f"there is no decision {decision_label(number)}",
            field="decision",
            allowed="a decision id shown by: patient <study ID>",
        )
    return patient.study_id


def kind_of_entry(ctx: ServiceContext, number: int) -> str:
    """The kind of entry E<number> (lab, ae, dose, …): `correct` reads its words the way
    that kind of entry is written."""
    with ctx.db.transaction(readonly=True) as session:
        row = session.get(EventRecord, number)
    if row is None:
        raise UserError(
            f"there is no entry {event_label(number)}",
            field="event",
            allowed="an entry id shown by: patient <study ID>",
        )
    return row.kind
