"""Alembic, driven from code: which revision a database is at, what is pending, upgrade.

The migration scripts ship inside the package (`bot/storage/migrations/`), so upgrading
works from any working directory and from an installed wheel.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, text

from bot.storage import locks

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

# Alembic (and Mako, Pygments under it) is imported only when a migration is inspected or
# run: a process whose database is already at the head checks that with one query
# (`at_head`) and never loads it — that is most of a one-shot command's start-up.

MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")
_REVISION = re.compile(r'^revision(?:\s*:\s*[^=]+)?\s*=\s*"([^"]+)"\s*$', re.MULTILINE)
_DOWN = re.compile(r'^down_revision(?:\s*:\s*[^=]+)?\s*=\s*(?:"([^"]+)"|None)\s*$', re.MULTILINE)


def alembic_config(*, connection: Connection | None = None, url: str | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    # Config values go through configparser interpolation: a '%' must be doubled.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def script_directory() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


@cache
def scripted_head() -> str | None:
    """The head revision read from the migration files' `revision` / `down_revision`
    lines, without Alembic; None when that reading is not certain (a merge, a branch, a
    file it cannot parse) — then the caller asks Alembic. A test keeps it equal to
    `head_revision()`."""
    revisions: dict[str, str | None] = {}
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        source = path.read_text(encoding="utf-8")
        revision, down = _REVISION.findall(source), _DOWN.findall(source)
        if len(revision) != 1 or len(down) != 1 or revision[0] in revisions:
            return None
        revisions[revision[0]] = down[0] or None
    heads = set(revisions) - {down for down in revisions.values() if down}
    return heads.pop() if len(heads) == 1 else None


def at_head(connection: Connection) -> bool:
    """True when the database's `alembic_version` names exactly the head revision; False
    when it does not or this cannot tell (no such table yet: ask Alembic)."""
    head = scripted_head()
    if head is None:
        return False
    if connection.dialect.name == "sqlite":
        exists = connection.execute(
            text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'")
        ).first()
    else:  # PostgreSQL: the table Alembic would read, on the search_path
        exists = connection.execute(text("SELECT to_regclass('alembic_version')")).scalar()
    if not exists:
        return False
    versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return list(versions) == [head]


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
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def schema_status(connection: Connection) -> SchemaStatus:
    from alembic.script.revision import RevisionError
    from alembic.util.exc import CommandError

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
    from alembic import command

    if connection.dialect.name == "postgresql":
        locks.xact_lock(connection, locks.MIGRATIONS)
    command.upgrade(alembic_config(connection=connection), target)


def upgrade_sql(url: str, start: str | None = None) -> str:
    """The SQL `upgrade` would run from `start` (None: an empty database), for review."""
    from alembic import command

    buffer = io.StringIO()
    config = alembic_config(url=url)
    config.output_buffer = buffer
    command.upgrade(config, f"{start}:head" if start else "head", sql=True)
    return buffer.getvalue()
