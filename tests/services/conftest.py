"""Service tests run on SQLite and PostgreSQL with the shipped rules and a fixed clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func
from sqlmodel import select

from bot.clock import FixedClock
from bot.services import Request, build_context
from bot.services.context import ServiceContext
from bot.services.members import set_role
from bot.settings import Settings
from bot.storage.models import (
    AuditEntry,
    CalendarRow,
    DecisionRecord,
    EventRecord,
    Member,
    OutboxMessage,
    Patient,
    RequestRecord,
)

ADMIN = "U0ADMIN"
NURSE = "U0NURSE"
DOCTOR = "U0DOCTOR"
VIEWER = "U0VIEWER"
DAY1 = date(2027, 3, 1)  # a Monday with no holiday


@pytest.fixture
def service_clock() -> FixedClock:
    # 09:00 in Shanghai on Friday of week 1
    return FixedClock(datetime(2027, 3, 5, 1, 0, tzinfo=UTC))


@pytest.fixture
def ctx(db, service_clock) -> Iterator[ServiceContext]:
    settings = Settings(
        database_url=str(db.engine.url.render_as_string(hide_password=False)), admins=(ADMIN,)
    )
    context = build_context(settings, clock=service_clock, database=db)
    admin = Request(user=ADMIN)
    set_role(context, admin, NURSE, "coordinator", site="main")
    set_role(context, admin, DOCTOR, "investigator", site="main", on_call=True)
    set_role(context, admin, VIEWER, "viewer", site="main")
    yield context


def as_user(user: str, key: str | None = None) -> Request:
    return Request(user=user, source="test", key=key)


class Team:
    """The test site's people and the requests they make."""

    admin, nurse, doctor, viewer = ADMIN, NURSE, DOCTOR, VIEWER
    day1 = DAY1

    @staticmethod
    def request(user: str, key: str | None = None) -> Request:
        return as_user(user, key)


@pytest.fixture
def team() -> type[Team]:
    return Team


TABLES = (
    Patient,
    EventRecord,
    DecisionRecord,
    CalendarRow,
    OutboxMessage,
    AuditEntry,
    RequestRecord,
    Member,
)


@pytest.fixture
def counts():
    """`counts(ctx)`: rows per table, to show a refused action wrote nothing."""
    return row_counts


def row_counts(ctx: ServiceContext) -> dict[str, int]:
    with ctx.db.transaction(readonly=True) as session:
        return {
            table.__tablename__: session.exec(select(func.count()).select_from(table)).one()
            for table in TABLES
        }
