"""Concurrent units of work: two entries for one patient, and a request retried while
its first attempt is still running, serialise instead of losing or doubling an update.

The PostgreSQL tests use two connections in two threads. Instead of sleeping, the main
thread watches pg_stat_activity until the second writer is really blocked on a lock,
then lets the first one finish; if the lock did not exist, the second writer would
never block and the test would fail.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import date

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from bot.storage.calendar_rows import patient_calendar_rows, replace_calendar_rows
from bot.storage.database import Database, lock_patient
from bot.storage.eventlog import append_event, patient_events
from bot.storage.idempotency import remember, remembered
from bot.storage.models import EventRecord

WAIT = 30  # seconds before a stuck test gives up (never reached when things work)


def _backend_pid(session: Session) -> int:
    return session.execute(text("SELECT pg_backend_pid()")).scalar_one()


def _wait_until_blocked(db: Database, pid: int) -> None:
    deadline = time.monotonic() + WAIT
    with db.engine.connect() as watcher:
        while time.monotonic() < deadline:
            state = watcher.execute(
                text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
            ).scalar_one_or_none()
            if state == "Lock":
                return
            watcher.rollback()  # a fresh snapshot of pg_stat_activity on the next poll
            time.sleep(0.01)
    pytest.fail(f"backend {pid} never waited for the lock: the writes did not serialise")


def _record(session: Session, patient_id: int, clock, who: str) -> int:
    """A unit of work that reads the patient's state and writes derived rows from it: the
    shape of every service call, and exactly what a lost update would break."""
    seen = len(patient_events(session, patient_id))
    append_event(
        session,
        patient_id=patient_id,
        kind="dose",
        clinical_date=date(2026, 12, 1),
        payload={"drug": "ebrt", "status": "given", "date": "2026-12-01", "entries_before": seen},
        recorded_by=who,
        source="console",
        now=clock.now(),
    )
    replace_calendar_rows(
        session,
        patient_id,
        "main",
        [
            {
                "date": "2026-12-02",
                "kind": "radiotherapy",
                "item": "ebrt",
                "phase": "ccrt",
                "number": seen + 2,
                "status": "planned",
            }
        ],
    )
    return seen


def _run(*targets: Callable[[], None]) -> list[BaseException]:
    errors: list[BaseException] = []

    def guarded(target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                target()
            except BaseException as exc:  # reported to the test
                errors.append(exc)

        return run

    threads = [threading.Thread(target=guarded(t)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=WAIT * 2)
    return errors


def test_two_writers_for_one_patient_serialise_on_postgres(pg_db, pg_patient_id, clock):
    patient_id = pg_patient_id
    other = Database(pg_db.url)
    first_locked = threading.Event()
    second_waiting = threading.Event()
    second_pid: list[int] = []
    seen: dict[str, int] = {}

    def first() -> None:
        with pg_db.transaction() as session:
            assert lock_patient(session, patient_id) is not None
            first_locked.set()
            assert second_waiting.wait(WAIT)
            seen["first"] = _record(session, patient_id, clock, "U0ALICE")

    def second() -> None:
        assert first_locked.wait(WAIT)
        with other.transaction() as session:
            second_pid.append(_backend_pid(session))
            lock_patient(session, patient_id)  # blocks until `first` commits
            seen["second"] = _record(session, patient_id, clock, "U0BOB")

    def watch() -> None:
        assert first_locked.wait(WAIT)
        while not second_pid:
            time.sleep(0.01)
        _wait_until_blocked(pg_db, second_pid[0])
        second_waiting.set()

    errors = _run(first, second, watch)
    other.dispose()
    assert errors == []
    assert seen == {"first": 0, "second": 1}  # the second saw the first's entry
    with pg_db.transaction(readonly=True) as session:
        events = patient_events(session, patient_id)
        rows = patient_calendar_rows(session, patient_id)
    assert [e.payload["entries_before"] for e in events] == [0, 1]
    assert [e.recorded_by for e in events] == ["U0ALICE", "U0BOB"]
    assert [r.number for r in rows] == [3]  # derived from both entries, not just one


def test_sqlite_writers_queue_at_begin(tmp_path, clock):
    """On SQLite the same guarantee comes from BEGIN IMMEDIATE: a second writer cannot
    start while the first is open (here it gives up at once: busy timeout 0)."""
    url = f"sqlite:///{tmp_path / 'serial.db'}"
    first, second = Database.open(url), Database.open(url, busy_timeout_ms=0)
    try:
        with first.transaction() as session:
            lock_patient(session, 1)
            with pytest.raises(Exception, match="locked"), second.transaction() as other:
                lock_patient(other, 1)
    finally:
        first.dispose()
        second.dispose()


def test_lock_patient_returns_the_row_or_none(db, patient_id):
    with db.transaction() as session:
        assert lock_patient(session, patient_id).study_id == "LACC-007"
        assert lock_patient(session, 999_999) is None


def _served(session: Session, key: str, patient_id: int, clock, who: str) -> dict:
    """What a service does with an idempotency key."""
    prior = remembered(session, key, "dose.record")
    if prior is not None:
        return prior.response
    event = append_event(
        session,
        patient_id=patient_id,
        kind="dose",
        clinical_date=date(2026, 12, 1),
        payload={"drug": "ebrt", "status": "given"},
        recorded_by=who,
        source="slack:command:" + key,
        now=clock.now(),
        request_key=key,
    )
    response = {"event": event.label, "by": who}
    remember(session, key, "dose.record", response, now=clock.now())
    return response


def test_the_same_request_twice_is_recorded_once(db, patient_id, clock):
    with db.transaction() as session:
        first = _served(session, "3f9a-slack", patient_id, clock, "U0ALICE")
    with db.transaction() as session:
        again = _served(session, "3f9a-slack", patient_id, clock, "U0ALICE")
    assert again == first
    with db.transaction(readonly=True) as session:
        assert len(session.exec(select(EventRecord)).all()) == 1
        assert remembered(session, "unknown") is None


def test_a_key_cannot_be_reused_for_another_operation(db, patient_id, clock):
    from bot.errors import UserError

    with db.transaction() as session:
        _served(session, "k1", patient_id, clock, "U0ALICE")
    with pytest.raises(UserError, match=r"already used for 'dose\.record'"), db.transaction() as s:
        remembered(s, "k1", "lab.record")


def test_a_retry_during_the_first_attempt_waits_and_gets_its_answer(pg_db, pg_patient_id, clock):
    patient_id = pg_patient_id
    other = Database(pg_db.url)
    first_holds_key = threading.Event()
    retry_waiting = threading.Event()
    retry_pid: list[int] = []
    answers: dict[str, dict] = {}

    def first() -> None:
        with pg_db.transaction() as session:
            assert remembered(session, "slack-evt-1", "dose.record") is None
            first_holds_key.set()
            assert retry_waiting.wait(WAIT)
            answers["first"] = _served(session, "slack-evt-1", patient_id, clock, "U0ALICE")

    def retry() -> None:
        assert first_holds_key.wait(WAIT)
        with other.transaction() as session:
            retry_pid.append(_backend_pid(session))
            answers["retry"] = _served(session, "slack-evt-1", patient_id, clock, "U0ALICE")

    def watch() -> None:
        assert first_holds_key.wait(WAIT)
        while not retry_pid:
            time.sleep(0.01)
        _wait_until_blocked(pg_db, retry_pid[0])
        retry_waiting.set()

    errors = _run(first, retry, watch)
    other.dispose()
    assert errors == []
    assert answers["retry"] == answers["first"]
    with pg_db.transaction(readonly=True) as session:
        assert len(session.exec(select(EventRecord)).all()) == 1
