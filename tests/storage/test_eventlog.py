"""The event log: append-only (in code and in the database), amendments need a reason and
a valid target, and a unit of work that fails leaves nothing behind."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import func, select

from bot.errors import UserError
from bot.events import LabPanel, LabValue
from bot.storage.audit import add_audit
from bot.storage.calendar_rows import replace_calendar_rows
from bot.storage.eventlog import append_event, clinical_event, patient_events
from bot.storage.idempotency import remember
from bot.storage.models import (
    AuditEntry,
    CalendarRow,
    DecisionRecord,
    EventRecord,
    OutboxMessage,
    RequestRecord,
)
from bot.storage.outbox import enqueue

LAB = LabPanel(
    date=date(2026, 12, 8),
    results=(
        LabValue(analyte="anc", value=0.9, unit="10^9/L", lln=2.0, uln=7.5, entered="ANC 0.9"),
    ),
)


def _append(session, patient_id, clock, **amend):
    return append_event(
        session,
        patient_id=patient_id,
        kind="lab",
        clinical_date=date(2026, 12, 8),
        payload=LAB,
        recorded_by="U0COORD",
        source="slack:command:abc",
        now=clock.now(),
        **amend,
    )


def test_appended_events_get_increasing_ids_and_keep_who_when_where(db, patient_id, clock):
    with db.transaction() as session:
        first = _append(session, patient_id, clock, request_key="req-1")
        clock.advance(minutes=1)
        second = _append(session, patient_id, clock)
    assert second.id > first.id and first.label == f"E{first.id}"
    with db.transaction(readonly=True) as session:
        rows = patient_events(session, patient_id)
    assert [r.id for r in rows] == [first.id, second.id]
    assert rows[0].recorded_at == datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    assert (rows[0].recorded_by, rows[0].source, rows[0].request_key) == (
        "U0COORD",
        "slack:command:abc",
        "req-1",
    )
    assert rows[0].payload["results"][0]["value"] == 0.9


def test_a_stored_event_reads_back_as_the_clinical_model(db, patient_id, clock):
    with db.transaction() as session:
        row = _append(session, patient_id, clock)
    event = clinical_event(row)
    assert isinstance(event, LabPanel)
    assert event.id == row.label and event.seq == row.id
    assert event.results == LAB.results and event.date == LAB.date


def test_payload_kind_and_date_must_match_the_row(db, patient_id, clock):
    with pytest.raises(ValueError, match="kind"), db.transaction() as session:
        append_event(
            session,
            patient_id=patient_id,
            kind="ae",
            clinical_date=LAB.date,
            payload=LAB,
            recorded_by="U0COORD",
            source="console",
            now=clock.now(),
        )

    with pytest.raises(ValueError, match="differs"), db.transaction() as session:
        append_event(
            session,
            patient_id=patient_id,
            kind="lab",
            clinical_date=date(2026, 12, 9),
            payload=LAB,
            recorded_by="U0COORD",
            source="console",
            now=clock.now(),
        )


def test_a_correction_names_its_target_and_a_reason(db, patient_id, clock, make_patient):
    other = make_patient("LACC-008")
    with db.transaction() as session:
        original = _append(session, patient_id, clock)
        foreign = _append(session, other, clock)
    with pytest.raises(UserError) as refused, db.transaction() as session:
        _append(session, patient_id, clock, corrects=original.id, reason="  ")
    assert refused.value.field == "reason"
    with pytest.raises(UserError, match="not an entry of this patient"), db.transaction() as s:
        _append(s, patient_id, clock, corrects=foreign.id, reason="typo")
    with pytest.raises(UserError, match="not an entry of this patient"), db.transaction() as s:
        _append(s, patient_id, clock, voids=999_999, reason="typo")
    with pytest.raises(UserError, match="not both"), db.transaction() as s:
        _append(s, patient_id, clock, corrects=original.id, voids=original.id, reason="typo")

    with db.transaction() as session:
        fixed = _append(session, patient_id, clock, corrects=original.id, reason="ANC was 1.9")
    assert (fixed.corrects, fixed.reason) == (original.id, "ANC was 1.9")
    expected = f"already corrected by {fixed.label}; amend {fixed.label}"
    with pytest.raises(UserError, match=expected), db.transaction() as session:
        _append(session, patient_id, clock, voids=original.id, reason="wrong patient")
    with db.transaction() as session:
        void = _append(session, patient_id, clock, voids=fixed.id, reason="wrong patient")
    with pytest.raises(UserError, match="is itself a void"), db.transaction() as session:
        _append(session, patient_id, clock, corrects=void.id, reason="undo")
    with pytest.raises(UserError, match="already voided"), db.transaction() as session:
        _append(session, patient_id, clock, corrects=fixed.id, reason="again")


def test_the_database_refuses_an_amendment_without_reason(db, patient_id, clock):
    with db.transaction() as session:
        original = _append(session, patient_id, clock)
    with pytest.raises(IntegrityError, match="amendment_reason"), db.transaction() as session:
        session.add(
            EventRecord(
                patient_id=patient_id,
                kind="lab",
                clinical_date=date(2026, 12, 8),
                recorded_at=clock.now(),
                recorded_by="U0COORD",
                source="console",
                payload={},
                voids=original.id,
            )
        )


@pytest.mark.parametrize("table", ["event", "audit"])
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE {table} SET {column} = {column}",
        "DELETE FROM {table}",
    ],
)
def test_the_database_refuses_to_change_the_log_and_the_trail(
    db, patient_id, clock, table, statement
):
    with db.transaction() as session:
        _append(session, patient_id, clock)
        add_audit(
            session,
            actor="U0COORD",
            action="lab.record",
            subject="LACC-007",
            details={},
            now=clock.now(),
        )
    column = "kind" if table == "event" else "actor"
    with pytest.raises(DBAPIError, match="append-only"), db.transaction() as session:
        session.execute(text(statement.format(table=table, column=column)))
    with db.transaction(readonly=True) as session:
        assert session.exec(select(func.count()).select_from(EventRecord)).one() == 1
        assert session.exec(select(func.count()).select_from(AuditEntry)).one() == 1


def test_postgres_refuses_truncating_the_log(pg_db, pg_patient_id):
    with pytest.raises(DBAPIError, match="append-only"), pg_db.transaction() as session:
        session.execute(text("TRUNCATE event CASCADE"))


def test_the_orm_refuses_to_update_or_delete_an_event(db, patient_id, clock):
    with db.transaction() as session:
        row = _append(session, patient_id, clock)
    with pytest.raises(PermissionError, match="append-only"), db.transaction() as session:
        loaded = session.get(EventRecord, row.id)
        loaded.kind = "ae"
    with pytest.raises(PermissionError, match="append-only"), db.transaction() as session:
        session.delete(session.get(EventRecord, row.id))


def _counts(db) -> dict[str, int]:
    with db.transaction(readonly=True) as session:
        return {
            model.__tablename__: session.exec(select(func.count()).select_from(model)).one()
            for model in (
                EventRecord,
                AuditEntry,
                OutboxMessage,
                CalendarRow,
                RequestRecord,
                DecisionRecord,
            )
        }


STEPS = ["event", "calendar", "outbox", "request", "audit"]


class Crash(Exception):
    pass


@pytest.mark.parametrize("crash_after", STEPS)
def test_a_crash_inside_a_unit_of_work_leaves_the_database_as_before(
    db, patient_id, clock, crash_after
):
    with db.transaction() as session:  # something already there, which must survive intact
        _append(session, patient_id, clock)
        add_audit(
            session, actor="U0COORD", action="lab.record", subject="LACC-007", now=clock.now()
        )
    before = _counts(db)

    def step(name: str, session) -> None:
        if name == "event":
            _append(session, patient_id, clock)
        elif name == "calendar":
            replace_calendar_rows(
                session,
                patient_id,
                "main",
                [
                    {
                        "date": "2026-12-09",
                        "kind": "labs",
                        "item": "pre_dose_labs",
                        "phase": "ccrt",
                        "status": "planned",
                    }
                ],
            )
        elif name == "outbox":
            enqueue(
                session,
                "C0SITE",
                "alert",
                {"text": "ANC 0.9"},
                "alert:LACC-007:anc",
                clock.now(),
                now=clock.now(),
            )
        elif name == "request":
            remember(session, "slack:abc", "lab", {"ok": True}, now=clock.now())
        elif name == "audit":
            add_audit(
                session, actor="U0COORD", action="lab.record", subject="LACC-007", now=clock.now()
            )

    with pytest.raises(Crash), db.transaction() as session:
        for name in STEPS:
            step(name, session)
            if name == crash_after:
                raise Crash(name)
    assert _counts(db) == before
    with db.transaction() as session:  # and the database is still usable afterwards
        _append(session, patient_id, clock)
    assert _counts(db)["event"] == before["event"] + 1
