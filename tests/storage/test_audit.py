"""The audit trail is a hash chain: `verify_chain` and `trialbot audit verify` find the
first row that was edited, rewritten or removed behind the application's back."""

from __future__ import annotations

import itertools
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlmodel import select

from bot.cli import main
from bot.storage.audit import GENESIS_HASH, add_audit, audit_count, audit_hash, verify_chain
from bot.storage.database import Database
from bot.storage.jsonvalues import canonical_json
from bot.storage.models import AuditEntry


def _trail(db, clock, rows: int = 4) -> None:
    with db.transaction() as session:
        for n in range(rows):
            add_audit(
                session,
                actor="U0COORD",
                action="lab.record",
                subject=f"LACC-00{n}",
                details={"event": f"E{n + 1}", "anc": 0.9, "note": "复查"},
                now=clock.now(),
            )
            clock.advance(seconds=30)


def _without_append_only_guard(db, statement: str, **params) -> None:
    """What an attacker with database access could do: lift the trigger, edit, restore."""
    with db.engine.begin() as connection:
        if db.dialect == "postgresql":
            connection.execute(text("ALTER TABLE audit DISABLE TRIGGER audit_append_only"))
            connection.execute(text(statement), params)
            connection.execute(text("ALTER TABLE audit ENABLE TRIGGER audit_append_only"))
        else:
            for op in ("update", "delete"):
                connection.execute(text(f"DROP TRIGGER audit_refuse_{op}"))
            connection.execute(text(statement), params)


def _verify(db):
    with db.transaction(readonly=True) as session:
        return verify_chain(session)


def test_rows_chain_to_their_predecessor(db, clock):
    _trail(db, clock)
    with db.transaction(readonly=True) as session:
        rows = session.exec(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [r.id for r in rows] == [1, 2, 3, 4]
    assert rows[0].prev_hash == GENESIS_HASH
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(rows))
    assert rows[1].hash == audit_hash(
        id=2,
        at=rows[1].at,
        actor="U0COORD",
        action="lab.record",
        subject="LACC-001",
        details=rows[1].details,
        prev_hash=rows[0].hash,
    )
    assert _verify(db) is None


def test_an_empty_trail_is_intact(db, monkeypatch, capsys):
    monkeypatch.setenv("TRIALBOT_DATABASE_URL", db.url.render_as_string(hide_password=False))
    assert main(["audit", "verify"]) == 0
    assert capsys.readouterr().out.strip() == "audit trail intact: 0 rows"


def test_verify_command_reports_an_intact_trail(db, clock, monkeypatch, capsys):
    _trail(db, clock)
    monkeypatch.setenv("TRIALBOT_DATABASE_URL", db.url.render_as_string(hide_password=False))
    assert main(["audit", "verify"]) == 0
    assert capsys.readouterr().out.strip() == "audit trail intact: 4 rows"
    assert main(["audit", "verify", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"intact": True, "rows": 4}


def test_an_edited_row_is_named(db, clock, monkeypatch, capsys):
    _trail(db, clock)
    _without_append_only_guard(
        db,
        "UPDATE audit SET details = :details WHERE id = 3",
        details=json.dumps({"event": "E3", "anc": 1.9, "note": "复查"}),
    )
    broken = _verify(db)
    assert (broken.row_id, broken.field) == (3, "hash")
    assert "content does not match its hash" in broken.problem

    monkeypatch.setenv("TRIALBOT_DATABASE_URL", db.url.render_as_string(hide_password=False))
    assert main(["audit", "verify"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("audit trail BROKEN at row 3 (hash): content does not match its hash")
    assert main(["audit", "verify", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["intact"], report["row"], report["field"]) == (False, 3, "hash")


def test_an_edited_actor_is_caught_too(db, clock):
    _trail(db, clock)
    _without_append_only_guard(db, "UPDATE audit SET actor = 'U0SOMEONE' WHERE id = 1")
    assert (_verify(db).row_id, _verify(db).field) == (1, "hash")


def test_a_rewritten_hash_breaks_the_next_row(db, clock):
    _trail(db, clock)
    with db.transaction(readonly=True) as session:
        row = session.get(AuditEntry, 2)
    forged = audit_hash(
        id=2,
        at=row.at,
        actor=row.actor,
        action="lab.delete",
        subject=row.subject,
        details=row.details,
        prev_hash=row.prev_hash,
    )
    _without_append_only_guard(
        db, "UPDATE audit SET action = 'lab.delete', hash = :hash WHERE id = 2", hash=forged
    )
    broken = _verify(db)
    assert (broken.row_id, broken.field) == (3, "prev_hash")
    assert "row 2 was rewritten" in broken.problem


def test_a_removed_row_leaves_a_gap(db, clock):
    _trail(db, clock)
    _without_append_only_guard(db, "DELETE FROM audit WHERE id = 2")
    broken = _verify(db)
    assert (broken.row_id, broken.field) == (3, "id")
    assert "row 2 is missing" in broken.problem


def test_concurrent_appends_on_postgres_never_fork_the_chain(pg_db, clock):
    """Two transactions append at the same moment; the advisory lock makes the second wait
    for the first, so they get ids 1 and 2 and the second chains to the first."""
    second_db = Database(pg_db.url)
    barrier = threading.Barrier(2, timeout=30)
    errors: list[BaseException] = []

    def append(database: Database, who: str) -> None:
        try:
            with database.transaction() as session:
                session.connection()
                barrier.wait()
                add_audit(
                    session, actor=who, action="dose.record", subject="LACC-007", now=clock.now()
                )
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=append, args=(d, who))
        for d, who in ((pg_db, "U0ALICE"), (second_db, "U0BOB"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    second_db.dispose()
    assert errors == []
    with pg_db.transaction(readonly=True) as session:
        assert audit_count(session) == 2
        assert verify_chain(session) is None


@pytest.mark.parametrize("rows", [1, 1201])
def test_long_trails_are_walked_in_batches(db, clock, rows):
    with db.transaction() as session:
        for n in range(rows):
            add_audit(session, actor="U0COORD", action="x", subject=str(n), now=clock.now())
    with db.transaction(readonly=True) as session:
        assert verify_chain(session, batch=500) is None
        assert audit_count(session) == rows


# Any valid Unicode text but NUL, which neither database may keep (see the test below).
TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=20)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=12,
)
DETAILS = st.dictionaries(TEXT, JSON_VALUES, max_size=5)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(details=DETAILS, actor=TEXT.filter(str.strip))
def test_any_json_details_survive_the_database_and_still_verify(db, clock, details, actor):
    """An honest row must always verify, whatever its details hold: numbers like 1e16,
    -0.0 or 2**70, unicode, nesting, after a round trip through either database."""
    with db.transaction() as session:
        row = add_audit(
            session,
            actor=actor,
            action="x",
            subject="LACC-007",
            details=details,
            now=clock.advance(microseconds=1),
        )
    with db.transaction(readonly=True) as session:
        assert session.get(AuditEntry, row.id).hash == row.hash
        assert verify_chain(session) is None


@given(details=DETAILS, changed=DETAILS)
def test_the_hash_covers_every_field(details, changed):
    at = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    base = dict(
        id=7,
        at=at,
        actor="U0A",
        action="lab.record",
        subject="LACC-007",
        details=details,
        prev_hash=GENESIS_HASH,
    )
    original = audit_hash(**base)
    for field, value in [
        ("id", 8),
        ("at", at + timedelta(microseconds=1)),
        ("actor", "U0B"),
        ("action", "lab.void"),
        ("subject", "LACC-008"),
        ("prev_hash", "f" * 64),
    ]:
        assert audit_hash(**{**base, field: value}) != original, field
    if canonical_json(changed) != canonical_json(details):
        assert audit_hash(**{**base, "details": changed}) != original


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"actor": "U0\x00A"}, "actor text contains a NUL"),
        ({"details": {"note": "a\x00b"}}, "JSON text contains a NUL"),
        ({"details": {"a\x00": 1}}, "JSON text contains a NUL"),
        ({"subject": " "}, "needs a subject"),
    ],
)
def test_text_a_database_cannot_keep_is_refused_alike_on_both(db, clock, fields, message):
    row = {"actor": "U0A", "action": "x", "subject": "LACC-007", "details": {}} | fields
    with pytest.raises(ValueError, match=message), db.transaction() as session:
        add_audit(session, now=clock.now(), **row)
    with db.transaction(readonly=True) as session:
        assert audit_count(session) == 0
