"""The schema: migrations own it on both databases, they match the models, and opening an
out-of-date database says what to run."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import get_args

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import SQLModel, select

from bot.cli import main
from bot.events import Action, Verdict
from bot.storage import migrate
from bot.storage.database import Database, SchemaOutOfDate
from bot.storage.models import (
    DECISION_ACTIONS,
    DECISION_STATUSES,
    OutboxMessage,
    Patient,
    normalise_study_id,
)

TABLES = {
    "site",
    "member",
    "patient",
    "event",
    "decision",
    "calendar_row",
    "outbox",
    "audit",
    "request",
    "oncall",
    "alert",
}


def _revisions_on_disk() -> tuple[str, ...]:
    """Every migration file's revision, oldest first, read from the files themselves (not
    through Alembic): what an empty database has pending, exactly."""
    versions = Path(migrate.__file__).parent / "migrations" / "versions"
    found = []
    for path in sorted(versions.glob("[0-9][0-9][0-9][0-9]_*.py")):
        match = re.search(r'^revision: str = "([^"]+)"$', path.read_text(), re.MULTILINE)
        assert match is not None, f"{path.name} names no revision"
        assert path.name.startswith(match.group(1) + "_"), path.name
        found.append(match.group(1))
    assert found, f"no migrations found in {versions}"
    return tuple(found)


def _tables(database: Database) -> set[str]:
    return set(inspect(database.engine).get_table_names()) - {"alembic_version"}


def test_migrations_build_the_schema_from_empty(database_url):
    database = Database(database_url)
    try:
        assert _tables(database) == set()
        status = database.schema_status()
        assert status.current is None
        assert status.pending == _revisions_on_disk()
        assert status.pending[0] == "0001" and status.pending[-1] == migrate.head_revision()
        assert database.upgrade() == (None, migrate.head_revision())
        assert _tables(database) == TABLES
        assert database.schema_status().up_to_date
        assert database.upgrade() == (migrate.head_revision(), migrate.head_revision())
    finally:
        database.dispose()


def test_models_and_migrations_agree(db):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []


def test_migrations_go_down_to_empty_and_up_again(db):
    with db.engine.begin() as connection:
        config = migrate.alembic_config(connection=connection)
        command.downgrade(config, "base")
    assert _tables(db) == set()
    db.upgrade()
    assert _tables(db) == TABLES


def test_schema_check_constraints_list_what_the_code_uses():
    assert set(DECISION_ACTIONS) == set(get_args(Action))
    verdicts = get_args(Verdict.model_fields["status"].annotation)
    assert set(verdicts) <= set(DECISION_STATUSES)


def test_sqlite_is_migrated_on_first_use(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        with database.transaction() as session:
            assert session.exec(select(Patient)).all() == []
        assert database.schema_status().up_to_date
    finally:
        database.dispose()


def test_postgres_is_never_migrated_implicitly(postgres_schema_url):
    database = Database(postgres_schema_url)
    try:
        with pytest.raises(SchemaOutOfDate) as refused:
            database.ensure_schema()
        assert "run `trialbot db upgrade`" in refused.value.message
        assert "(empty)" in refused.value.message
        assert _tables(database) == set()
        with pytest.raises(SchemaOutOfDate), database.transaction():
            pass
    finally:
        database.dispose()


def test_a_schema_newer_than_the_code_is_refused(db):
    with db.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
    stale = Database(db.url)
    try:
        with pytest.raises(SchemaOutOfDate, match="ffff, which this trialbot does not know"):
            stale.ensure_schema()
        with pytest.raises(SchemaOutOfDate, match="does not know"):
            stale.upgrade()
    finally:
        stale.dispose()


def test_instants_round_trip_as_aware_utc_and_naive_ones_are_refused(db, clock):
    shanghai = datetime(2026, 11, 27, 16, 30, 15, 123456, tzinfo=timezone(timedelta(hours=8)))
    with db.transaction() as session:
        session.add(
            OutboxMessage(
                target="C1",
                kind="digest",
                dedupe_key="k",
                not_before=shanghai,
                created_at=clock.now(),
            )
        )
    with db.transaction() as session:
        stored = session.exec(select(OutboxMessage)).one()
        assert stored.not_before == datetime(2026, 11, 27, 8, 30, 15, 123456, tzinfo=UTC)
        assert stored.not_before.tzinfo is not None and stored.not_before.utcoffset() == timedelta(
            0
        )
    with pytest.raises(Exception, match="timezone"), db.transaction() as session:
        session.add(
            OutboxMessage(
                target="C1",
                kind="digest",
                dedupe_key="naive",
                not_before=datetime(2026, 11, 27, 8, 0),
                created_at=clock.now(),
            )
        )


def test_patient_rows_need_a_whole_body_size_and_a_valid_ecog(db, patient_id, clock):
    base = dict(
        site_id="main",
        day1=date(2026, 12, 1),
        fractions=25,
        figo_stage="IIIB",
        age_at_enrolment=50,
        created_at=clock.now(),
        created_by="U0COORD",
    )
    with pytest.raises(IntegrityError, match="body_size"), db.transaction() as session:
        session.add(Patient(study_id="LACC-100", ecog=1, height_cm=160.0, **base))
    with pytest.raises(IntegrityError, match="ecog"), db.transaction() as session:
        session.add(Patient(study_id="LACC-101", ecog=6, bsa_m2=1.6, **base))
    with pytest.raises(IntegrityError), db.transaction() as session:
        session.add(Patient(study_id="LACC-007", ecog=0, bsa_m2=1.6, **base))  # duplicate


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("LACC-007", "LACC-007"),
        (" lacc-7 ", "LACC-7"),
        ("NCT5-12345", "NCT5-12345"),
    ],
)
def test_study_ids_are_normalised(typed, stored):
    assert normalise_study_id(typed) == stored


@pytest.mark.parametrize(
    "typed",
    [
        "Jane Doe",
        "LACC007",
        "LACC-123456",
        "7-LACC",
        "LACC-",
        "L-1",
        "ABCDEFGHIJK-1",
        "LACC 007",
        "MRN-0012-34",
    ],
)
def test_anything_but_a_study_id_is_refused(typed):
    from bot.errors import UserError

    with pytest.raises(UserError) as refused:
        normalise_study_id(typed)
    assert refused.value.field == "study_id"
    assert "LACC-007" in refused.value.message


def test_sqlite_connection_settings(tmp_path):
    database = Database.open(f"sqlite:///{tmp_path / 'pragmas.db'}", busy_timeout_ms=1234)
    try:
        with database.engine.connect() as connection:
            pragma = connection.exec_driver_sql
            assert pragma("PRAGMA journal_mode").scalar() == "wal"
            assert pragma("PRAGMA foreign_keys").scalar() == 1
            assert pragma("PRAGMA busy_timeout").scalar() == 1234
    finally:
        database.dispose()


def test_sqlite_write_transactions_take_the_write_lock_at_begin(tmp_path):
    url = f"sqlite:///{tmp_path / 'lock.db'}"
    first = Database.open(url)
    second = Database.open(url, busy_timeout_ms=0)
    try:
        with first.transaction() as session:
            session.connection()  # BEGIN IMMEDIATE: the write lock, before any write
            with (
                pytest.raises(OperationalError, match="database is locked"),
                second.transaction() as other,
            ):
                other.connection()
            # Readers are not blocked (WAL, deferred begin).
            with second.transaction(readonly=True) as reader:
                assert reader.exec(select(Patient)).all() == []
    finally:
        first.dispose()
        second.dispose()


def test_the_quick_head_check_agrees_with_alembic(database_url):
    """`ensure_schema` first asks `migrate.at_head` (one query, no Alembic): it must read
    the same head from the migration files as Alembic does, and say yes only at it."""
    assert migrate.scripted_head() == migrate.head_revision()
    database = Database(database_url)
    try:
        with database.engine.connect() as connection:
            assert not migrate.at_head(connection)  # an empty database: ask Alembic
        database.upgrade()
        with database.engine.connect() as connection:
            assert migrate.at_head(connection)
        with database.engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '0002'"))
        with database.engine.connect() as connection:
            assert not migrate.at_head(connection)
    finally:
        database.dispose()


# --- command line ------------------------------------------------------------------------


def test_db_status_and_upgrade_commands(database_url, monkeypatch, capsys):
    monkeypatch.setenv("TRIALBOT_DATABASE_URL", database_url)
    head = migrate.head_revision()
    shown = Database(database_url).display_url

    if database_url.startswith("sqlite"):
        assert main(["db", "status"]) == 1
        assert "no database file yet" in capsys.readouterr().out
        Database(database_url).engine.connect().close()  # an empty file

    assert main(["db", "status"]) == 1
    out = capsys.readouterr().out
    pending = _revisions_on_disk()
    assert (
        f"schema revision (empty), newest {head}; {len(pending)} migration(s) pending "
        f"({', '.join(pending)}): run `trialbot db upgrade`"
    ) in out
    assert "run `trialbot db upgrade`" in out

    assert main(["db", "upgrade"]) == 0
    assert capsys.readouterr().out.strip() == (
        f"{shown}: upgraded schema from revision (empty) to {head}"
    )

    assert main(["db", "upgrade", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "database": shown,
        "from": head,
        "to": head,
        "changed": False,
    }

    assert main(["db", "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["up_to_date"] is True and status["current"] == head and status["pending"] == []


def test_db_upgrade_sql_prints_the_migration(database_url, monkeypatch, capsys):
    monkeypatch.setenv("TRIALBOT_DATABASE_URL", database_url)
    assert main(["db", "upgrade", "--sql"]) == 0
    sql = capsys.readouterr().out
    assert "CREATE TABLE event" in sql and "CREATE TABLE audit" in sql
    assert "append-only" in sql
    assert _tables(Database(database_url)) == set()  # nothing was run


def test_db_commands_refuse_a_bad_url(monkeypatch, capsys):
    monkeypatch.setenv("TRIALBOT_DATABASE_URL", "oracle://db/trial")
    assert main(["db", "status"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: TRIALBOT_DATABASE_URL: unsupported database 'oracle'")
    assert "sqlite:///" in err


def test_db_commands_report_an_unreachable_server(monkeypatch, capsys):
    monkeypatch.setenv(
        "TRIALBOT_DATABASE_URL",
        "postgresql+psycopg://nobody:secret@127.0.0.1:1/none?connect_timeout=2",
    )
    assert main(["db", "status", "--json"]) == 2
    error = json.loads(capsys.readouterr().out)["error"]
    assert error.startswith(
        "TRIALBOT_DATABASE_URL: cannot use the database postgresql+psycopg://nobody:***@127.0.0.1:1/none"
    )
    assert "secret" not in error


def test_commands_refuse_an_out_of_date_postgres(postgres_schema_url, monkeypatch, capsys):
    monkeypatch.setenv("TRIALBOT_DATABASE_URL", postgres_schema_url)
    assert main(["audit", "verify"]) == 2
    assert "run `trialbot db upgrade`" in capsys.readouterr().err


def test_the_database_clock_gives_aware_utc(db):
    now = db.clock().now()
    assert now.utcoffset() == timedelta(0)
    assert db.clock().now() >= now
