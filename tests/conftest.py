"""Shared fixtures. PostgreSQL tests run when TRIALBOT_TEST_POSTGRES_URL is set (CI sets it
and TRIALBOT_REQUIRE_POSTGRES=1, which turns a missing server into a failure, not a skip)."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from bot.clock import FixedClock
from bot.services.rules import TrialRules
from bot.storage.database import Database

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session", autouse=True)
def rules_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The validated-rules cache (TRIALBOT_CACHE_DIR) of the whole test run: a folder of
    its own, never the user's cache. In-process runs and `trialbot` subprocesses share it."""
    folder = tmp_path_factory.mktemp("rules-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRIALBOT_CACHE_DIR", str(folder))
        yield folder


def postgres_url() -> str | None:
    return os.environ.get("TRIALBOT_TEST_POSTGRES_URL")


def require_postgres() -> bool:
    return os.environ.get("TRIALBOT_REQUIRE_POSTGRES") == "1"


# --- databases -------------------------------------------------------------------------
# `db` runs a test on SQLite and on PostgreSQL. Each PostgreSQL test gets its own schema
# (created, put first on the search_path through the connection options, migrated,
# dropped afterwards), so tests never see each other's rows.

POSTGRES_EXAMPLE = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TEST_INSTANT = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def _postgres_unavailable(reason: str) -> None:
    if require_postgres():
        pytest.fail(f"TRIALBOT_REQUIRE_POSTGRES=1 but {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL tests skipped: {reason}")


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    """An engine on the test server's database (not a test schema), checked reachable."""
    url = postgres_url()
    if not url:
        _postgres_unavailable(f"TRIALBOT_TEST_POSTGRES_URL is not set (e.g. {POSTGRES_EXAMPLE})")
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        engine.dispose()
        _postgres_unavailable(
            f"cannot reach {make_url(url).render_as_string()}: "
            f"{str(exc.orig).strip().splitlines()[0]}"
        )
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_schema_url(postgres_admin: Engine) -> Iterator[str]:
    """The URL of a fresh, empty schema of its own on the test server."""
    schema = f"trialbot_test_{uuid.uuid4().hex[:12]}"
    with postgres_admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    # application_name tags the test's connections so cleanup can find stragglers.
    url = make_url(postgres_url()).update_query_dict(
        {"options": f"-csearch_path={schema}", "application_name": schema}
    )
    yield url.render_as_string(hide_password=False)
    with postgres_admin.begin() as connection:
        # Ends any connection a failed test left behind, so the drop cannot hang.
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE pid <> pg_backend_pid() AND application_name = :schema"
            ),
            {"schema": schema},
        )
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database (no schema yet), once per database kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'trialbot.db'}"
    return request.getfixturevalue("postgres_schema_url")


def _open_migrated(url: str) -> Database:
    database = Database(url)
    if database.dialect == "postgresql":
        database.upgrade()  # production does this with `trialbot db upgrade`
    database.ensure_schema()  # SQLite: migrates on first use
    return database


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """A migrated database, once on SQLite and once on PostgreSQL."""
    database = _open_migrated(database_url)
    yield database
    database.dispose()


@pytest.fixture
def pg_db(postgres_schema_url: str) -> Iterator[Database]:
    """A migrated PostgreSQL database, for behaviour only PostgreSQL has."""
    database = _open_migrated(postgres_schema_url)
    yield database
    database.dispose()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(TEST_INSTANT)


_load_rules = TrialRules.load.__func__  # the real loader


@cache
def _rules_of(directory: str) -> TrialRules:
    return _load_rules(TrialRules, Path(directory))


@pytest.fixture
def rules_loaded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rules are pure data: loaded once per directory for all the in-process runs of a
    test folder that asks for it (console, Slack). Not for tests that edit a rules folder."""
    monkeypatch.setattr(
        TrialRules, "load", classmethod(lambda cls, directory: _rules_of(str(directory)))
    )


# Command syntax in a decision's words: key=value options, inline code, a command word
# before a decision or entry id, the console's placeholder for a study ID. The engine
# says what it asks in words and as data; how to answer is each transport's template.
_COMMAND_SYNTAX = re.compile(
    r"\w=|`|\b(?:confirm|override|attribute|ack|void|correct|hold|resume)\s+[DE]\d|<study",
    re.IGNORECASE,
)


def _syntax_in(decision: Any) -> list[str]:
    """The texts of `decision` (a `Decision` or its JSON) that carry command syntax."""
    data = decision if isinstance(decision, dict) else decision.to_json()
    follow = data.get("if_immune_related") or {}
    texts = [data["reason"], data.get("ask") or "", *data.get("facts", ())]
    texts.append(follow.get("management") or "")
    return [t for t in texts if _COMMAND_SYNTAX.search(t)]


@pytest.fixture(scope="session")
def command_syntax():
    """`command_syntax(decision)`: its texts that carry command syntax (none should)."""
    return _syntax_in
