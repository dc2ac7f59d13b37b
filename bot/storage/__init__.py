"""Persistence: SQLModel tables, the database (SQLite or PostgreSQL), migrations, and the
primitives the service layer builds on — the append-only event log, the materialised
calendar, the outbox, the audit chain and idempotency keys.

Every primitive takes a session (or, for outbox delivery, the `Database`) and the current
instant as arguments; none reads the clock or keeps global state.
"""

from bot.storage.audit import ChainBreak, add_audit, audit_count, verify_chain
from bot.storage.calendar_rows import (
    DueItem,
    due_at_site,
    patient_calendar_rows,
    replace_calendar_rows,
)
from bot.storage.database import (
    Database,
    DatabaseUnavailable,
    SchemaOutOfDate,
    lock_patient,
    patient_by_study_id,
)
from bot.storage.eventlog import append_event, clinical_event, patient_events
from bot.storage.idempotency import remember, remembered
from bot.storage.models import (
    AuditEntry,
    CalendarRow,
    DecisionRecord,
    EventRecord,
    Member,
    OutboxMessage,
    Patient,
    RequestRecord,
    Site,
    decision_label,
    event_label,
    normalise_study_id,
    parse_label,
)
from bot.storage.outbox import cancel, claim, enqueue, expire, fail, finish

__all__ = [
    "AuditEntry",
    "CalendarRow",
    "ChainBreak",
    "Database",
    "DatabaseUnavailable",
    "DecisionRecord",
    "DueItem",
    "EventRecord",
    "Member",
    "OutboxMessage",
    "Patient",
    "RequestRecord",
    "SchemaOutOfDate",
    "Site",
    "add_audit",
    "append_event",
    "audit_count",
    "cancel",
    "claim",
    "clinical_event",
    "decision_label",
    "due_at_site",
    "enqueue",
    "event_label",
    "expire",
    "fail",
    "finish",
    "lock_patient",
    "normalise_study_id",
    "parse_label",
    "patient_by_study_id",
    "patient_calendar_rows",
    "patient_events",
    "remember",
    "remembered",
    "replace_calendar_rows",
    "verify_chain",
]
