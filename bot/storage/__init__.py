"""Persistence: SQLModel tables, the database (SQLite or PostgreSQL), migrations, and the
primitives the service layer builds on — the append-only event log, the materialised
calendar, the outbox, the audit chain and idempotency keys.

Every primitive takes a session (or, for outbox delivery, the `Database`) and the current
instant as arguments; none reads the clock or keeps global state.
"""

from __future__ import annotations

from bot.lazy import lazy_names

# Each name is imported from its module when first asked for (`from bot.storage import
# Database`): importing one module of the package (`bot.storage.lite`, `locks`) must not
# load SQLAlchemy and every table (start-up, docs/benchmarks.md).
_LAZY = {
    "ChainBreak": "bot.storage.audit",
    "add_audit": "bot.storage.audit",
    "audit_count": "bot.storage.audit",
    "verify_chain": "bot.storage.audit",
    "DueItem": "bot.storage.calendar_rows",
    "due_at_site": "bot.storage.calendar_rows",
    "patient_calendar_rows": "bot.storage.calendar_rows",
    "replace_calendar_rows": "bot.storage.calendar_rows",
    "Database": "bot.storage.database",
    "DatabaseUnavailable": "bot.storage.database",
    "SchemaOutOfDate": "bot.storage.database",
    "lock_patient": "bot.storage.database",
    "patient_by_study_id": "bot.storage.database",
    "append_event": "bot.storage.eventlog",
    "clinical_event": "bot.storage.eventlog",
    "patient_events": "bot.storage.eventlog",
    "remember": "bot.storage.idempotency",
    "remembered": "bot.storage.idempotency",
    "AuditEntry": "bot.storage.models",
    "CalendarRow": "bot.storage.models",
    "DecisionRecord": "bot.storage.models",
    "EventRecord": "bot.storage.models",
    "Member": "bot.storage.models",
    "OutboxMessage": "bot.storage.models",
    "Patient": "bot.storage.models",
    "RequestRecord": "bot.storage.models",
    "Site": "bot.storage.models",
    "decision_label": "bot.storage.models",
    "event_label": "bot.storage.models",
    "normalise_study_id": "bot.storage.models",
    "parse_label": "bot.storage.models",
    "cancel": "bot.storage.outbox",
    "claim": "bot.storage.outbox",
    "enqueue": "bot.storage.outbox",
    "expire": "bot.storage.outbox",
    "fail": "bot.storage.outbox",
    "finish": "bot.storage.outbox",
}


__getattr__ = lazy_names(__name__, _LAZY)


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
