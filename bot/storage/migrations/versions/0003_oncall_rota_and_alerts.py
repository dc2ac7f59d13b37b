"""the on-call rota and escalating alerts; indexes for per-channel outbox order and for
the digest's unrecorded visits.

Every member flagged `on_call` becomes a rota entry with no end (for their site, or every
site when they have none), so who answers alerts does not change with the upgrade.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
Text = sqlmodel.sql.sqltypes.AutoString
Instant = sqlmodel.sql.sqltypes.UTCDateTime
OPEN_VISITS = sa.text("status = 'planned' AND kind NOT IN ('radiotherapy', 'brachytherapy')")


def upgrade() -> None:
    op.create_table(
        "oncall",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", Text(), nullable=True),
        sa.Column("user_id", Text(), nullable=False),
        sa.Column("backup_id", Text(), nullable=True),
        sa.Column("starts_at", Instant(), nullable=False),
        sa.Column("ends_at", Instant(), nullable=True),
        sa.Column("created_by", Text(), nullable=False),
        sa.Column("created_at", Instant(), nullable=False),
        sa.CheckConstraint("ends_at IS NULL OR ends_at > starts_at", name=op.f("ck_oncall_period")),
        sa.CheckConstraint(
            "backup_id IS NULL OR backup_id <> user_id", name=op.f("ck_oncall_backup_differs")
        ),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], name=op.f("fk_oncall_site_id_site")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oncall")),
    )
    op.create_index("ix_oncall_site_start", "oncall", ["site_id", "starts_at"])

    op.create_table(
        "alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", Text(), nullable=False),
        sa.Column("site_id", Text(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("raised_at", Instant(), nullable=False),
        sa.Column("step", Text(), nullable=False),
        sa.Column("next_at", Instant(), nullable=True),
        sa.Column("oncall_id", Text(), nullable=True),
        sa.Column("backup_id", Text(), nullable=True),
        sa.Column("acked_at", Instant(), nullable=True),
        sa.Column("acked_by", Text(), nullable=True),
        sa.Column("acked_how", Text(), nullable=True),
        sa.Column("payload", JSON, nullable=False),
        sa.CheckConstraint("step IN ('oncall', 'backup', 'channel')", name=op.f("ck_alert_step")),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], name=op.f("fk_alert_site_id_site")),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patient.id"], name=op.f("fk_alert_patient_id_patient")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert")),
        sa.UniqueConstraint("subject", name=op.f("uq_alert_subject")),
    )
    op.create_index("ix_alert_open", "alert", ["acked_at", "next_at"])
    op.create_index("ix_outbox_target", "outbox", ["target", "id"])
    op.create_index(
        "ix_calendar_row_open_visits",
        "calendar_row",
        ["site_id", "date"],
        postgresql_where=OPEN_VISITS,
        sqlite_where=OPEN_VISITS,
    )

    # Today's on-call flags become open-ended rota entries.
    op.execute(
        "INSERT INTO oncall (site_id, user_id, backup_id, starts_at, ends_at, created_by, "
        "created_at) SELECT site_id, user_id, NULL, updated_at, NULL, 'migration', updated_at "
        "FROM member WHERE on_call"
    )


def downgrade() -> None:
    op.drop_index("ix_calendar_row_open_visits", table_name="calendar_row")
    op.drop_index("ix_outbox_target", table_name="outbox")
    op.drop_index("ix_alert_open", table_name="alert")
    op.drop_table("alert")
    op.drop_index("ix_oncall_site_start", table_name="oncall")
    op.drop_table("oncall")
