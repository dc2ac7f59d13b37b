"""initial schema: sites, members, patients, the event log, decisions, calendar rows,
outbox, audit trail and idempotency keys; append-only triggers on event and audit.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types as they were at this revision (a migration must not
# import the live models, which will have moved on).
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
Text = sqlmodel.sql.sqltypes.AutoString
Instant = sqlmodel.sql.sqltypes.UTCDateTime
DUE_STATUSES = sa.text("status IN ('pending', 'sending')")

APPEND_ONLY = ("event", "audit")
REFUSAL = "is append-only: record a correction or a void instead"


def _append_only_triggers() -> None:
    dialect = op.get_context().dialect.name
    if dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION trialbot_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            "BEGIN\n"
            "  RAISE EXCEPTION USING MESSAGE = TG_TABLE_NAME || ' "
            + REFUSAL
            + " (' || TG_OP || ' refused)';\n"
            "END\n"
            "$$"
        )
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION trialbot_refuse_change()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION trialbot_refuse_change()"
            )
    elif dialect == "sqlite":
        for table in APPEND_ONLY:
            for operation in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_refuse_{operation.lower()} "
                    f"BEFORE {operation} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} {REFUSAL} ({operation} refused)'); END"
                )


def _drop_append_only_triggers() -> None:
    dialect = op.get_context().dialect.name
    for table in APPEND_ONLY:
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        elif dialect == "sqlite":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_refuse_update")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_refuse_delete")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS trialbot_refuse_change()")


def upgrade() -> None:
    op.create_table(
        "site",
        sa.Column("id", Text(), nullable=False),
        sa.Column("country", Text(), nullable=False),
        sa.Column("timezone", Text(), nullable=False),
        sa.Column("calendar", JSON, nullable=False),
        sa.Column("channel_id", Text(), nullable=True),
        sa.Column("created_at", Instant(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site")),
    )
    op.create_table(
        "member",
        sa.Column("user_id", Text(), nullable=False),
        sa.Column("role", Text(), nullable=False),
        sa.Column("site_id", Text(), nullable=True),
        sa.Column("on_call", sa.Boolean(), nullable=False),
        sa.Column("created_at", Instant(), nullable=False),
        sa.Column("updated_at", Instant(), nullable=False),
        sa.CheckConstraint(
            "role IN ('admin', 'investigator', 'coordinator', 'viewer')",
            name=op.f("ck_member_role"),
        ),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], name=op.f("fk_member_site_id_site")),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_member")),
    )
    op.create_index(op.f("ix_member_site_id"), "member", ["site_id"])

    op.create_table(
        "patient",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", Text(), nullable=False),
        sa.Column("site_id", Text(), nullable=False),
        sa.Column("day1", sa.Date(), nullable=False),
        sa.Column("fractions", sa.Integer(), nullable=False),
        sa.Column("boost", sa.Boolean(), nullable=False),
        sa.Column("height_cm", sa.Float(), nullable=True),
        sa.Column("weight_kg", sa.Float(), nullable=True),
        sa.Column("bsa_m2", sa.Float(), nullable=True),
        sa.Column("figo_stage", Text(), nullable=True),
        sa.Column("ecog", sa.Integer(), nullable=True),
        sa.Column("diagnosed_on", sa.Date(), nullable=True),
        sa.Column("age_at_enrolment", sa.Integer(), nullable=True),
        sa.Column("baseline_labs", JSON, nullable=False),
        sa.Column("created_at", Instant(), nullable=False),
        sa.Column("created_by", Text(), nullable=False),
        sa.CheckConstraint(
            "age_at_enrolment BETWEEN 0 AND 130", name=op.f("ck_patient_age_plausible")
        ),
        sa.CheckConstraint(
            "(height_cm IS NULL) = (weight_kg IS NULL) AND (bsa_m2 IS NULL OR height_cm IS NULL)",
            name=op.f("ck_patient_body_size"),
        ),
        sa.CheckConstraint("ecog BETWEEN 0 AND 5", name=op.f("ck_patient_ecog_scale")),
        sa.CheckConstraint("fractions > 0", name=op.f("ck_patient_fractions_positive")),
        sa.CheckConstraint(
            "length(study_id) BETWEEN 3 AND 16", name=op.f("ck_patient_study_id_length")
        ),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], name=op.f("fk_patient_site_id_site")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient")),
        sa.UniqueConstraint("study_id", name=op.f("uq_patient_study_id")),
    )
    op.create_index(op.f("ix_patient_site_id"), "patient", ["site_id"])

    op.create_table(
        "event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("kind", Text(), nullable=False),
        sa.Column("clinical_date", sa.Date(), nullable=False),
        sa.Column("recorded_at", Instant(), nullable=False),
        sa.Column("recorded_by", Text(), nullable=False),
        sa.Column("source", Text(), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("corrects", sa.Integer(), nullable=True),
        sa.Column("voids", sa.Integer(), nullable=True),
        sa.Column("reason", Text(), nullable=True),
        sa.Column("request_key", Text(), nullable=True),
        sa.CheckConstraint(
            "(corrects IS NULL AND voids IS NULL) OR "
            "(reason IS NOT NULL AND length(trim(reason)) > 0)",
            name=op.f("ck_event_amendment_reason"),
        ),
        sa.CheckConstraint(
            "corrects IS NULL OR voids IS NULL", name=op.f("ck_event_one_amendment")
        ),
        sa.CheckConstraint("length(kind) > 0", name=op.f("ck_event_kind_present")),
        sa.ForeignKeyConstraint(["corrects"], ["event.id"], name=op.f("fk_event_corrects_event")),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_event_patient_id_patient")
        ),
        sa.ForeignKeyConstraint(["voids"], ["event.id"], name=op.f("fk_event_voids_event")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_event_patient_date", "event", ["patient_id", "clinical_date"])

    op.create_table(
        "decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("proposal_event_id", sa.Integer(), nullable=True),
        sa.Column("drug", Text(), nullable=False),
        sa.Column("action", Text(), nullable=False),
        sa.Column("dose_percent", sa.Integer(), nullable=True),
        sa.Column("reason", Text(), nullable=False),
        sa.Column("rule", Text(), nullable=False),
        sa.Column("criterion", Text(), nullable=True),
        sa.Column("needs_confirmation", sa.Boolean(), nullable=False),
        sa.Column("status", Text(), nullable=False),
        sa.Column("proposed_at", Instant(), nullable=False),
        sa.Column("decided_by", Text(), nullable=True),
        sa.Column("decided_at", Instant(), nullable=True),
        sa.Column("override_reason", Text(), nullable=True),
        sa.Column("payload", JSON, nullable=False),
        sa.CheckConstraint(
            "action IN ('continue', 'hold', 'reduce', 'resume', 'discontinue', 'refer')",
            name=op.f("ck_decision_action"),
        ),
        sa.CheckConstraint(
            "status <> 'overridden' OR "
            "(override_reason IS NOT NULL AND length(trim(override_reason)) > 0)",
            name=op.f("ck_decision_override_reason"),
        ),
        sa.CheckConstraint(
            "status IN ('proposed', 'confirmed', 'overridden', 'withdrawn', 'superseded', 'info')",
            name=op.f("ck_decision_status"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["event.id"], name=op.f("fk_decision_event_id_event")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_decision_patient_id_patient")
        ),
        sa.ForeignKeyConstraint(
            ["proposal_event_id"], ["event.id"], name=op.f("fk_decision_proposal_event_id_event")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_decision_status_patient", "decision", ["status", "patient_id"])

    op.create_table(
        "calendar_row",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("study_id", Text(), nullable=False),
        sa.Column("site_id", Text(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("kind", Text(), nullable=False),
        sa.Column("item", Text(), nullable=False),
        sa.Column("phase", Text(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=True),
        sa.Column("window_from", sa.Date(), nullable=True),
        sa.Column("window_to", sa.Date(), nullable=True),
        sa.Column("status", Text(), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_calendar_row_patient_id_patient")
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.id"], name=op.f("fk_calendar_row_site_id_site")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_row")),
    )
    op.create_index(op.f("ix_calendar_row_patient_id"), "calendar_row", ["patient_id"])
    op.create_index("ix_calendar_row_site_date", "calendar_row", ["site_id", "date"])

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target", Text(), nullable=False),
        sa.Column("kind", Text(), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("dedupe_key", Text(), nullable=False),
        sa.Column("status", Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("not_before", Instant(), nullable=False),
        sa.Column("expires_at", Instant(), nullable=True),
        sa.Column("lease_owner", Text(), nullable=True),
        sa.Column("lease_until", Instant(), nullable=True),
        sa.Column("claimed_at", Instant(), nullable=True),
        sa.Column("message_id", Text(), nullable=True),
        sa.Column("last_error", Text(), nullable=True),
        sa.Column("created_at", Instant(), nullable=False),
        sa.Column("sent_at", Instant(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'dead', 'expired', 'cancelled')",
            name=op.f("ck_outbox_status"),
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_outbox_attempts_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_outbox_dedupe_key")),
    )
    op.create_index(
        "ix_outbox_due",
        "outbox",
        ["status", "not_before"],
        postgresql_where=DUE_STATUSES,
        sqlite_where=DUE_STATUSES,
    )

    op.create_table(
        "audit",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", Instant(), nullable=False),
        sa.Column("actor", Text(), nullable=False),
        sa.Column("action", Text(), nullable=False),
        sa.Column("subject", Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),  # not JSONB: hashed text must survive
        sa.Column("prev_hash", Text(), nullable=False),
        sa.Column("hash", Text(), nullable=False),
        sa.CheckConstraint(
            "length(hash) = 64 AND length(prev_hash) = 64", name=op.f("ck_audit_hash_length")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit")),
    )

    op.create_table(
        "request",
        sa.Column("key", Text(), nullable=False),
        sa.Column("operation", Text(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=True),
        sa.Column("created_at", Instant(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_request")),
    )

    _append_only_triggers()


def downgrade() -> None:
    _drop_append_only_triggers()
    op.drop_table("request")
    op.drop_table("audit")
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.drop_table("outbox")
    op.drop_index("ix_calendar_row_site_date", table_name="calendar_row")
    op.drop_index(op.f("ix_calendar_row_patient_id"), table_name="calendar_row")
    op.drop_table("calendar_row")
    op.drop_index("ix_decision_status_patient", table_name="decision")
    op.drop_table("decision")
    op.drop_index("ix_event_patient_date", table_name="event")
    op.drop_table("event")
    op.drop_index(op.f("ix_patient_site_id"), table_name="patient")
    op.drop_table("patient")
    op.drop_index(op.f("ix_member_site_id"), table_name="member")
    op.drop_table("member")
    op.drop_table("site")
