"""Alembic environment for trialbot. Run it through `bot.storage.migrate` (or
`trialbot db upgrade`), which hands over an open connection: there is no alembic.ini and
nothing depends on the working directory."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import bot.storage.models  # noqa: F401  (registers every table on SQLModel.metadata)

config = context.config
target_metadata = SQLModel.metadata


def _options(dialect_name: str) -> dict:
    return {
        "target_metadata": target_metadata,
        "compare_type": True,
        # SQLite cannot ALTER most things: batch mode copies the table instead.
        "render_as_batch": dialect_name == "sqlite",
    }


def run_migrations_offline() -> None:
    """Print the SQL instead of running it (`trialbot db upgrade --sql`)."""
    url = config.get_main_option("sqlalchemy.url")
    dialect_name = url.split(":", 1)[0].split("+", 1)[0]
    context.configure(
        url=url, literal_binds=True, dialect_opts={"paramstyle": "named"}, **_options(dialect_name)
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through bot.storage.migrate, which passes a connection")
    context.configure(connection=connection, **_options(connection.dialect.name))
    # The caller already opened the transaction (and took the migration lock inside it),
    # so this joins it rather than starting another.
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
