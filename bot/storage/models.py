"""The tables. Alembic (`bot/storage/migrations/`) owns the schema; these classes describe it.

The event log (`EventRecord`, table `event`) is the source of truth and is append-only;
`decision` and `calendar_row` are projections recomputed from it; `outbox` holds what is
still to be delivered; `audit` is the tamper-evident trail of every action; `request`
remembers idempotency keys. See docs/data-model.md.

Conventions:
- instants are `datetime` fields, which SQLModel stores timezone-aware and returns in UTC
  (never `sa_type=DateTime(timezone=True)`: that bypasses the UTC handling); clinical
  facts are `date`s in the site's timezone;
- JSON columns hold plain JSON (see `jsonvalues`); queryable facts are real columns;
- allowed values (roles, statuses) are CHECK constraints, kept equal to the tuples below
  by a test, so a typo fails at the database and not in a report a week later.
"""

from __future__ import annotations

from datetime import date as Date
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Index, event, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from bot.inputs import STUDY_ID_EXAMPLE, STUDY_ID_PATTERN  # noqa: F401 (re-exported)
from bot.labels import (  # noqa: F401 (where the tables' users have always found them)
    decision_label,
    event_label,
    normalise_study_id,
    parse_label,
)

# Constraint names are part of the schema: migrations refer to them by name, so they are
# generated the same way on every database ("The Importance of Naming Constraints").
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION

# JSON everywhere; JSONB on PostgreSQL (indexable, compact, validated on write).
JSONType = JSON().with_variant(JSONB(), "postgresql")

ROLES = ("admin", "investigator", "coordinator", "viewer")
DECISION_STATUSES = ("proposed", "confirmed", "overridden", "withdrawn", "superseded", "info")
DECISION_ACTIONS = ("continue", "hold", "reduce", "resume", "discontinue", "refer")
OUTBOX_STATUSES = ("pending", "sending", "sent", "dead", "expired", "cancelled")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Site(SQLModel, table=True):
    """A participating centre: its calendar (country, timezone, closures) and channel."""

    __tablename__ = "site"

    id: str = Field(primary_key=True)  # short and stable, e.g. "main"
    country: str = "CN"  # ISO 3166 code for the public-holiday calendar
    timezone: str = "Asia/Shanghai"  # IANA name; clinical dates are dates in this zone
    calendar: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    channel_id: str | None = None  # the site's Slack channel
    created_at: datetime


class Member(SQLModel, table=True):
    """A study-team member, known only by Slack user id and role (no names kept)."""

    __tablename__ = "member"
    __table_args__ = (CheckConstraint(_one_of("role", ROLES), name="role"),)

    user_id: str = Field(primary_key=True)
    role: str
    site_id: str | None = Field(default=None, foreign_key="site.id", index=True)
    on_call: bool = False
    created_at: datetime
    updated_at: datetime


class Patient(SQLModel, table=True):
    """An enrolled patient. The study ID is the only identifier: no names, record
    numbers or birth dates, here or in any payload."""

    __tablename__ = "patient"
    __table_args__ = (
        CheckConstraint("length(study_id) BETWEEN 3 AND 16", name="study_id_length"),
        CheckConstraint("fractions > 0", name="fractions_positive"),
        CheckConstraint("ecog BETWEEN 0 AND 5", name="ecog_scale"),
        CheckConstraint("age_at_enrolment BETWEEN 0 AND 130", name="age_plausible"),
        # Body size: a BSA, or height and weight, or not yet known (doses then show no mg)
        # — never half of it, never both.
        CheckConstraint(
            "(height_cm IS NULL) = (weight_kg IS NULL) AND (bsa_m2 IS NULL OR height_cm IS NULL)",
            name="body_size",
        ),
        # A site's patients in study-ID order: a page of `today`/`week` walks it and stops.
        Index("ix_patient_site_id", "site_id", "study_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    study_id: str = Field(unique=True)  # the site's numbering, e.g. AB-007; see normalise_study_id
    site_id: str = Field(foreign_key="site.id")
    day1: Date  # first EBRT fraction
    fractions: int  # planned EBRT fractions
    boost: bool = False  # nodal boost
    height_cm: float | None = None
    weight_kg: float | None = None
    bsa_m2: float | None = None
    figo_stage: str | None = None  # in the trial's staging system (its stage criterion)
    ecog: int | None = None
    diagnosed_on: Date | None = None
    age_at_enrolment: int | None = None
    baseline_labs: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    created_at: datetime
    created_by: str  # Slack user id or console user


class EventRecord(SQLModel, table=True):
    """One entry of a patient's append-only log (shown as "E45").

    `payload` is the `bot.events` model dump. An amendment is a new row that `corrects`
    (replaces) or `voids` (withdraws) an earlier one and must carry a `reason`; the
    original stays. The database refuses UPDATE and DELETE on this table (trigger).
    """

    __tablename__ = "event"
    __table_args__ = (
        CheckConstraint(
            "(corrects IS NULL AND voids IS NULL) OR "
            "(reason IS NOT NULL AND length(trim(reason)) > 0)",
            name="amendment_reason",
        ),
        CheckConstraint("corrects IS NULL OR voids IS NULL", name="one_amendment"),
        CheckConstraint("length(kind) > 0", name="kind_present"),
        Index("ix_event_patient_date", "patient_id", "clinical_date"),
        {"sqlite_autoincrement": True},  # ids are never reused, even on SQLite
    )

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id")
    kind: str
    clinical_date: Date
    recorded_at: datetime
    recorded_by: str  # Slack user id or console user
    source: str  # "slack:command:<id>", "slack:action:<id>", "console", "scheduler"
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    corrects: int | None = Field(default=None, foreign_key="event.id")
    voids: int | None = Field(default=None, foreign_key="event.id")
    reason: str | None = None
    request_key: str | None = None  # the idempotency key of the request that wrote it

    @property
    def label(self) -> str:
        return event_label(self.id or 0)


class DecisionRecord(SQLModel, table=True):
    """A proposal of the decision engine and what became of it (shown as "D123").

    A projection: the proposal and verdict events in the log are the record; this table
    makes "open decisions awaiting confirmation" one index lookup.
    """

    __tablename__ = "decision"
    __table_args__ = (
        CheckConstraint(_one_of("status", DECISION_STATUSES), name="status"),
        CheckConstraint(_one_of("action", DECISION_ACTIONS), name="action"),
        CheckConstraint(
            "status <> 'overridden' OR "
            "(override_reason IS NOT NULL AND length(trim(override_reason)) > 0)",
            name="override_reason",
        ),
        Index("ix_decision_status_patient", "status", "patient_id"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id")
    event_id: int | None = Field(default=None, foreign_key="event.id")  # the trigger
    proposal_event_id: int | None = Field(default=None, foreign_key="event.id")
    drug: str
    action: str
    dose_percent: int | None = None
    reason: str
    rule: str  # protocol section or table row
    criterion: str | None = None  # CTCAE criterion that applied
    needs_confirmation: bool
    status: str = "proposed"
    proposed_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    override_reason: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)

    @property
    def label(self) -> str:
        return decision_label(self.id or 0)


OPEN_VISITS = "status = 'planned' AND kind NOT IN ('radiotherapy', 'brachytherapy')"
SITE_VIEW_COLUMNS = (
    "site_id",
    "date",
    "kind",
    "item",
    "status",
    "window_from",
    "window_to",
    "presumed_done_from",
    "patient_id",
    "study_id",
)
OPEN_VISIT_COLUMNS = (
    "site_id",
    "date",
    "window_to",
    "presumed_done_from",
    "kind",
    "item",
    "status",
    "window_from",
    "patient_id",
    "study_id",
)


class CalendarRow(SQLModel, table=True):
    """One event of a patient's materialised calendar, replaced whole per patient in the
    transaction that changes the patient (see `replace_calendar_rows`)."""

    __tablename__ = "calendar_row"
    __table_args__ = (
        # A site's period, covering: every column `today`, `week` and the digest count,
        # filter and page by (the status rule's inputs, the patient), so their aggregates
        # read this index alone and never the rows with their JSON (issue 13).
        Index("ix_calendar_row_site_date", *SITE_VIEW_COLUMNS),
        # A patient's rows by date: "has this patient a row in the period?" is one seek.
        Index("ix_calendar_row_patient_id", "patient_id", "date"),
        # What a digest lists (unrecorded visits, infusions and labs) is a sliver of the
        # rows once a site records what happens: keep it in an index of its own.
        # It covers what the views count the still-overdue ones by, as the index above.
        Index(
            "ix_calendar_row_open_visits",
            *OPEN_VISIT_COLUMNS,
            postgresql_where=text(OPEN_VISITS),
            sqlite_where=text(OPEN_VISITS),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id")
    # Copied from the patient (it never changes) so the due-at-site query needs no join.
    study_id: str
    site_id: str = Field(foreign_key="site.id")
    date: Date
    kind: str  # radiotherapy, brachytherapy, infusion, assessment, labs
    item: str  # a schedule series or drug id (e.g. ebrt, efficacy_assessment)
    phase: str  # screening, ccrt, consolidation, maintenance, follow_up
    number: int | None = None
    window_from: Date | None = None
    window_to: Date | None = None
    status: str
    # The payload's `presumed_done_from` (the status rule reads it) as a column of its
    # own, so the status of a row is computed from the index without decoding its JSON.
    presumed_done_from: Date | None = None
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)


class OutboxMessage(SQLModel, table=True):
    """A notification to deliver, written in the transaction that caused it and sent by
    whichever replica claims it (see `bot.storage.outbox`)."""

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(_one_of("status", OUTBOX_STATUSES), name="status"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        # Only pending/sending rows are ever scanned; sent rows pile up and must not
        # slow the claim query down.
        Index(
            "ix_outbox_due",
            "status",
            "not_before",
            postgresql_where=text("status IN ('pending', 'sending')"),
            sqlite_where=text("status IN ('pending', 'sending')"),
        ),
        # Order and pace per channel: "is an earlier message to this target unsent?"
        Index("ix_outbox_target", "target", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    target: str  # Slack channel or user id
    kind: str
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    dedupe_key: str = Field(unique=True)
    status: str = "pending"
    attempts: int = 0
    not_before: datetime
    expires_at: datetime | None = None  # past this it is "expired", never sent late
    lease_owner: str | None = None
    lease_until: datetime | None = None
    claimed_at: datetime | None = None
    message_id: str | None = None  # Slack ts of the delivered message
    last_error: str | None = None
    created_at: datetime
    sent_at: datetime | None = None


class OnCallEntry(SQLModel, table=True):
    """One entry of the on-call rota: who answers alerts (and their backup) for a site, or
    for every site when `site_id` is empty, from `starts_at` until `ends_at` (open-ended
    when empty). The newest entry covering an instant wins; entries are ended, never
    deleted (`role … oncall=no` ends the member's open entries)."""

    __tablename__ = "oncall"
    __table_args__ = (
        CheckConstraint("ends_at IS NULL OR ends_at > starts_at", name="period"),
        CheckConstraint("backup_id IS NULL OR backup_id <> user_id", name="backup_differs"),
        Index("ix_oncall_site_start", "site_id", "starts_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    site_id: str | None = Field(default=None, foreign_key="site.id")
    user_id: str
    backup_id: str | None = None
    starts_at: datetime
    ends_at: datetime | None = None
    created_by: str
    created_at: datetime


ALERT_STEPS = ("oncall", "backup", "channel")


class AlertRecord(SQLModel, table=True):
    """An alert that climbs its escalation chain until someone acknowledges it: the on-call
    investigator (DM), then the backup, then the site's channel with @here. `subject` is
    the decision ("D12") or the entry ("E45") it is about; `step` the last step taken."""

    __tablename__ = "alert"
    __table_args__ = (
        CheckConstraint(_one_of("step", ALERT_STEPS), name="step"),
        Index("ix_alert_open", "acked_at", "next_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    subject: str = Field(unique=True)
    site_id: str = Field(foreign_key="site.id")
    patient_id: int = Field(foreign_key="patient.id")
    raised_at: datetime
    step: str
    next_at: datetime | None = None  # when the next step is due; None at the last step
    oncall_id: str | None = None  # who the first step went to
    backup_id: str | None = None
    acked_at: datetime | None = None
    acked_by: str | None = None
    acked_how: str | None = None  # confirm, override, attribute, ack, withdrawn
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)


class AuditEntry(SQLModel, table=True):
    """One row of the tamper-evident trail: `hash` covers the row and `prev_hash`, so an
    edit or a removal breaks the chain at that row (see `bot.storage.audit`)."""

    __tablename__ = "audit"
    __table_args__ = (
        CheckConstraint("length(hash) = 64 AND length(prev_hash) = 64", name="hash_length"),
    )

    # Assigned by add_audit under the audit lock (last id + 1): the id is hashed, so it
    # must be known before the insert, and a gap is itself evidence of a removal.
    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: datetime
    actor: str
    action: str
    subject: str
    # Plain JSON, also on PostgreSQL: JSONB re-writes numbers (1e16 comes back as an
    # integer), which would change the canonical text and break the hash of an honest row.
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    prev_hash: str
    hash: str


class RequestRecord(SQLModel, table=True):
    """An idempotency key already served, with the response it got."""

    __tablename__ = "request"

    key: str = Field(primary_key=True)
    operation: str
    # Plain JSON so the response comes back exactly as first given (see AuditEntry).
    response: Any = Field(default=None, sa_type=JSON, nullable=True)
    # SHA-256 of what the request asked (user, command, words, options): the same key with
    # different content is refused, never answered with the first response.
    content_hash: str | None = None
    created_at: datetime


APPEND_ONLY_TABLES = ("event", "audit")


def _refuse_change(mapper: Any, connection: Any, target: Any) -> None:
    raise PermissionError(
        f"{target.__tablename__} is append-only: record a correction or void instead"
    )


# The database triggers are the real guard; these stop a mistaken ORM flush early with a
# clearer message than the trigger's.
for _model in (EventRecord, AuditEntry):
    event.listen(_model, "before_update", _refuse_change)
    event.listen(_model, "before_delete", _refuse_change)
