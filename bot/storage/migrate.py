"""Alembic, driven from code: which revision a database is at, what is pending, upgrade.

The migration scripts ship inside the package (`bot/storage/migrations/`), so upgrading
works from any working directory and from an installed wheel.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util.exc import CommandError
from sqlalchemy import Connection

from bot.storage import locks

MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")


def alembic_config(*, connection: Connection | None = None, url: str | None = None) -> Config:
    config = Config()
    # Config values go through configparser interpolation: a '%' must be doubled.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def script_directory() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    head = script_directory().get_current_head()
    if head is None:  # pragma: no cover - the package always ships its migrations
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


@dataclass(frozen=True)
class SchemaStatus:
    current: str | None  # None: an empty database
    head: str  # the newest revision this trialbot knows
    pending: tuple[str, ...]  # revisions to apply, oldest first
    known: bool  # False: the database is at a revision this trialbot has never heard of

    @property
    def up_to_date(self) -> bool:
        return self.known and self.current == self.head


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def schema_status(connection: Connection) -> SchemaStatus:
    current = current_revision(connection)
    scripts = script_directory()
    head = head_revision()
    try:
        pending = [rev.revision for rev in scripts.iterate_revisions(head, current)]
    except (CommandError, RevisionError):
        return SchemaStatus(current, head, (), known=False)
    return SchemaStatus(current, head, tuple(reversed(pending)), known=True)


def upgrade(connection: Connection, target: str = "head") -> None:
    """Apply pending migrations inside the caller's open transaction.

    On PostgreSQL an advisory lock makes a second `trialbot db upgrade` (another replica,
    another operator) wait and then find nothing to do, instead of racing on
    `alembic_version`. SQLite is already serialised by the caller's BEGIN IMMEDIATE.
    """
    if connection.dialect.name == "postgresql":
        locks.xact_lock(connection, locks.MIGRATIONS)
    command.upgrade(alembic_config(connection=connection), target)


def upgrade_sql(url: str, start: str | None = None) -> str:
    """The SQL `upgrade` would run from `start` (None: an empty database), for review."""
    buffer = io.StringIO()
    config = alembic_config(url=url)
    config.output_buffer = buffer
    command.upgrade(config, f"{start}:head" if start else "head", sql=True)
    return buffer.getvalue()
