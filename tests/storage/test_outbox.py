"""The outbox: one row per dedupe key, one owner per row at a time, nothing lost when a
sender dies, no late write from a sender that lost its lease, retries with backoff."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import make_url, text
from sqlmodel import select

from bot.storage.database import Database
from bot.storage.models import OutboxMessage
from bot.storage.outbox import cancel, claim, default_backoff, enqueue, expire, fail, finish

LEASE = timedelta(minutes=2)


def _enqueue(db, clock, key: str, *, delay=timedelta(0), expires=None) -> bool:
    with db.transaction() as session:
        return enqueue(
            session,
            "C0SITE",
            "reminder",
            {"text": key},
            key,
            clock.now() + delay,
            now=clock.now(),
            expires_at=expires,
        )


def _rows(db) -> dict[str, OutboxMessage]:
    with db.transaction(readonly=True) as session:
        return {m.dedupe_key: m for m in session.exec(select(OutboxMessage))}


def test_a_dedupe_key_is_queued_once(db, clock):
    assert _enqueue(db, clock, "remind:E45:1d:2026-12-08") is True
    assert _enqueue(db, clock, "remind:E45:1d:2026-12-08") is False
    with db.transaction() as session:  # twice within one transaction as well
        assert enqueue(
            session, "C1", "digest", {}, "digest:C1:2026-11-27", clock.now(), now=clock.now()
        )
        assert not enqueue(
            session, "C1", "digest", {"v": 2}, "digest:C1:2026-11-27", clock.now(), now=clock.now()
        )
    rows = _rows(db)
    assert sorted(rows) == ["digest:C1:2026-11-27", "remind:E45:1d:2026-12-08"]
    assert rows["digest:C1:2026-11-27"].payload == {}  # the first one stands
    assert rows["remind:E45:1d:2026-12-08"].status == "pending"


def test_claim_takes_only_due_messages_and_leases_them(db, clock):
    _enqueue(db, clock, "now")
    _enqueue(db, clock, "later", delay=timedelta(hours=1))
    claimed = claim(db, "replica-a", clock.now(), LEASE, 10)
    assert [m.dedupe_key for m in claimed] == ["now"]
    message = claimed[0]
    assert (message.status, message.lease_owner, message.attempts) == ("sending", "replica-a", 1)
    assert message.lease_until == clock.now() + LEASE
    assert claim(db, "replica-b", clock.now(), LEASE, 10) == []  # leased, and "later" not due


def test_a_dead_senders_lease_runs_out_and_another_replica_takes_over(db, clock):
    _enqueue(db, clock, "remind")
    (first,) = claim(db, "replica-a", clock.now(), LEASE, 10)
    clock.advance(LEASE - timedelta(seconds=1))
    assert claim(db, "replica-b", clock.now(), LEASE, 10) == []
    clock.advance(seconds=2)  # replica-a never finished: its lease has lapsed
    (second,) = claim(db, "replica-b", clock.now(), LEASE, 10)
    assert second.id == first.id and second.attempts == 2 and second.lease_owner == "replica-b"

    # replica-a wakes up late: fenced out, changes nothing.
    assert finish(db, first.id, owner="replica-a", now=clock.now(), message_id="111.1") is False
    assert fail(db, first.id, owner="replica-a", now=clock.now(), error="timeout") is None
    assert _rows(db)["remind"].status == "sending"

    assert finish(db, second.id, owner="replica-b", now=clock.now(), message_id="222.2") is True
    sent = _rows(db)["remind"]
    assert (sent.status, sent.message_id, sent.sent_at) == ("sent", "222.2", clock.now())
    assert finish(db, second.id, owner="replica-b", now=clock.now(), message_id="333.3") is False
    clock.advance(hours=1)
    assert claim(db, "replica-c", clock.now(), LEASE, 10) == []  # sent stays sent


def test_failures_back_off_then_go_dead(db, clock):
    _enqueue(db, clock, "alert")
    for attempt in range(1, 4):
        (message,) = claim(db, "replica-a", clock.now(), LEASE, 10)
        assert message.attempts == attempt
        status = fail(
            db, message.id, owner="replica-a", now=clock.now(), error="ratelimited", max_attempts=3
        )
        row = _rows(db)["alert"]
        if attempt < 3:
            assert status == "pending"
            assert row.not_before == clock.now() + default_backoff(attempt)
            assert row.lease_owner is None and row.last_error == "ratelimited"
            clock.advance(default_backoff(attempt) - timedelta(seconds=1))
            assert claim(db, "replica-a", clock.now(), LEASE, 10) == []  # still backing off
            clock.advance(seconds=1)
        else:
            assert status == "dead" and row.status == "dead"
    clock.advance(days=1)
    assert claim(db, "replica-a", clock.now(), LEASE, 10) == []


def test_backoff_doubles_up_to_an_hour():
    assert [default_backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert default_backoff(30) == timedelta(hours=1)


def test_a_sender_that_keeps_dying_ends_dead(db, clock):
    _enqueue(db, clock, "poison")
    for _ in range(2):
        assert len(claim(db, "replica-a", clock.now(), LEASE, 10, max_attempts=2)) == 1
        clock.advance(LEASE + timedelta(seconds=1))
    assert claim(db, "replica-a", clock.now(), LEASE, 10, max_attempts=2) == []
    assert _rows(db)["poison"].status == "dead"


def test_expired_and_cancelled_messages_are_never_sent(db, clock):
    visit = clock.now() + timedelta(hours=3)
    _enqueue(db, clock, "remind:visit", delay=timedelta(hours=1), expires=visit)
    _enqueue(db, clock, "remind:moved", delay=timedelta(hours=1))
    _enqueue(db, clock, "remind:sent")
    (message,) = claim(db, "replica-a", clock.now(), LEASE, 10)
    finish(db, message.id, owner="replica-a", now=clock.now(), message_id="1.1")
    with db.transaction() as session:
        assert cancel(session, ["remind:moved", "remind:sent", "remind:unknown"]) == 1
    clock.advance(hours=4)  # the replica was down past the visit
    assert claim(db, "replica-a", clock.now(), LEASE, 10) == []  # not sent late
    with db.transaction() as session:
        assert expire(session, now=clock.now()) == 1
    rows = _rows(db)
    assert {k: r.status for k, r in rows.items()} == {
        "remind:visit": "expired",
        "remind:moved": "cancelled",
        "remind:sent": "sent",
    }


def test_two_replicas_claiming_at_once_never_share_a_message(db, clock):
    keys = [f"remind:{n}" for n in range(30)]
    with db.transaction() as session:
        for key in keys:
            enqueue(session, "C0SITE", "reminder", {}, key, clock.now(), now=clock.now())
    replicas = [db, Database(db.url)]
    barrier = threading.Barrier(2, timeout=30)
    taken: dict[str, list[int]] = {"a": [], "b": []}
    errors: list[BaseException] = []

    def run(database: Database, owner: str) -> None:
        try:
            barrier.wait()
            while batch := claim(database, owner, clock.now(), LEASE, 3):
                taken[owner].extend(m.id for m in batch)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(d, o)) for d, o in zip(replicas, taken, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    replicas[1].dispose()
    assert errors == []
    everything = taken["a"] + taken["b"]
    assert len(everything) == len(set(everything)) == 30
    owners = {m.lease_owner for m in _rows(db).values()}
    assert owners <= {"a", "b"} and all(m.attempts == 1 for m in _rows(db).values())


def test_postgres_claim_skips_rows_another_replica_has_locked(pg_db, clock):
    """SKIP LOCKED: while replica A's claim transaction holds rows, replica B takes the
    others at once instead of queueing behind A (a 2 s lock_timeout turns waiting into a
    failure, so the test cannot hang)."""
    keys = [f"remind:{n:02}" for n in range(10)]
    with pg_db.transaction() as session:
        for key in keys:
            enqueue(session, "C0SITE", "reminder", {}, key, clock.now(), now=clock.now())
    url = make_url(pg_db.url)
    options = url.query["options"] + " -clock_timeout=2000"
    impatient = Database(url.update_query_dict({"options": options}))
    try:
        with pg_db.transaction() as holder:
            held = (
                holder.execute(
                    text("SELECT id FROM outbox ORDER BY not_before, id LIMIT 5 FOR UPDATE")
                )
                .scalars()
                .all()
            )
            claimed = claim(impatient, "replica-b", clock.now(), LEASE, 10)
        assert len(held) == 5
        assert sorted(m.id for m in claimed) == sorted(set(_ids(pg_db)) - set(held))
    finally:
        impatient.dispose()


def _ids(db) -> list[int]:
    return [m.id for m in _rows(db).values()]


def test_claim_arguments_are_checked(db, clock):
    with pytest.raises(ValueError, match="owner"):
        claim(db, " ", clock.now(), LEASE, 1)
    with pytest.raises(ValueError, match="positive"):
        claim(db, "a", clock.now(), timedelta(0), 1)
    with pytest.raises(ValueError, match="dedupe key"), db.transaction() as session:
        enqueue(session, "C1", "x", {}, " ", clock.now(), now=clock.now())
