"""calendar rows carry `presumed_done_from` as a column, and the (site, date) index covers
what a site's views count, filter and page by — so `today`, `week` and the digest read
the index and never the rows' JSON; a patient's rows are indexed by date and a site's
patients by study ID, so a page of a view finds its patients by walking the site's
patients in order and asking each with one seek.

The column is filled from each row's payload (the calendar event's JSON, which keeps it).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SITE_VIEW_COLUMNS = [
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
]
OPEN_VISIT_COLUMNS = [
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
]
OPEN_VISITS = sa.text("status = 'planned' AND kind NOT IN ('radiotherapy', 'brachytherapy')")


def upgrade() -> None:
    with op.batch_alter_table("calendar_row") as batch:
        batch.add_column(sa.Column("presumed_done_from", sa.Date(), nullable=True))
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            "UPDATE calendar_row SET presumed_done_from = "
            "(payload ->> 'presumed_done_from')::date "
            "WHERE payload ->> 'presumed_done_from' IS NOT NULL"
        )
    else:  # SQLite stores a date as its ISO text, which is what the JSON holds
        op.execute(
            "UPDATE calendar_row SET presumed_done_from = "
            "json_extract(payload, '$.presumed_done_from') "
            "WHERE json_extract(payload, '$.presumed_done_from') IS NOT NULL"
        )
    op.drop_index("ix_calendar_row_site_date", table_name="calendar_row")
    op.create_index("ix_calendar_row_site_date", "calendar_row", SITE_VIEW_COLUMNS)
    op.drop_index("ix_calendar_row_patient_id", table_name="calendar_row")
    op.create_index("ix_calendar_row_patient_id", "calendar_row", ["patient_id", "date"])
    op.drop_index("ix_calendar_row_open_visits", table_name="calendar_row")
    _open_visits(OPEN_VISIT_COLUMNS)
    op.drop_index("ix_patient_site_id", table_name="patient")
    op.create_index("ix_patient_site_id", "patient", ["site_id", "study_id"])


def _open_visits(columns: list[str]) -> None:
    op.create_index(
        "ix_calendar_row_open_visits",
        "calendar_row",
        columns,
        postgresql_where=OPEN_VISITS,
        sqlite_where=OPEN_VISITS,
    )


def downgrade() -> None:
    op.drop_index("ix_calendar_row_open_visits", table_name="calendar_row")
    _open_visits(["site_id", "date"])
    op.drop_index("ix_patient_site_id", table_name="patient")
    op.create_index("ix_patient_site_id", "patient", ["site_id"])
    op.drop_index("ix_calendar_row_patient_id", table_name="calendar_row")
    op.create_index("ix_calendar_row_patient_id", "calendar_row", ["patient_id"])
    op.drop_index("ix_calendar_row_site_date", table_name="calendar_row")
    op.create_index("ix_calendar_row_site_date", "calendar_row", ["site_id", "date"])
    with op.batch_alter_table("calendar_row") as batch:
        batch.drop_column("presumed_done_from")
