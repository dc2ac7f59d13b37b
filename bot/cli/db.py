"""`trialbot db upgrade|status`: the schema of the database at TRIALBOT_DATABASE_URL.

SQLite databases are upgraded automatically on first use; PostgreSQL only by
`trialbot db upgrade`, run once per release before the new replicas start.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bot.settings import load_settings
from bot.storage.database import Database
from bot.storage.migrate import upgrade_sql

EXIT_BEHIND = 1


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("db", help="database schema: upgrade, status")
    actions = parser.add_subparsers(dest="db_action", metavar="ACTION", parser_class=type(parser))
    upgrade = actions.add_parser(
        "upgrade", help="apply pending migrations to TRIALBOT_DATABASE_URL"
    )
    upgrade.add_argument(
        "--sql",
        action="store_true",
        help="print the SQL instead of running it (for review by a DBA)",
    )
    upgrade.add_argument("--json", action="store_true", help="machine-readable output")
    upgrade.set_defaults(func=_upgrade)
    status = actions.add_parser("status", help="current schema revision against the newest")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=_status)
    parser.set_defaults(func=lambda args: parser.print_help() or 2)


def _database() -> Database:
    return Database(load_settings().database_url)


def _revision(value: str | None) -> str:
    return value or "(empty)"


def _upgrade(args: argparse.Namespace) -> int:
    database = _database()
    try:
        if args.sql:
            start = database.schema_status().current
            # Offline SQL needs only the dialect; never hand the credentials along.
            print(upgrade_sql(f"{database.url.drivername}://", start), end="")
            return 0
        before, after = database.upgrade()
    finally:
        database.dispose()
    if args.json:
        print(
            json.dumps(
                {
                    "database": database.display_url,
                    "from": before,
                    "to": after,
                    "changed": before != after,
                }
            )
        )
    elif before == after:
        print(f"{database.display_url}: already at schema revision {after}; nothing to do")
    else:
        print(
            f"{database.display_url}: upgraded schema from revision {_revision(before)} to {after}"
        )
    return 0


def _status(args: argparse.Namespace) -> int:
    database = _database()
    missing_file = (
        database.dialect == "sqlite"
        and database.url.database not in (None, "", ":memory:")
        and not Path(database.url.database).exists()
    )
    try:
        status = None if missing_file else database.schema_status()
    finally:
        database.dispose()
    if status is None:
        from bot.storage.migrate import head_revision

        head = head_revision()
        payload = {
            "database": database.display_url,
            "current": None,
            "head": head,
            "pending": None,
            "up_to_date": False,
            "exists": False,
        }
        text = (
            f"{database.display_url}: no database file yet; it is created at schema "
            f"revision {head} on first use"
        )
    else:
        payload = {
            "database": database.display_url,
            "current": status.current,
            "head": status.head,
            "pending": list(status.pending),
            "up_to_date": status.up_to_date,
            "exists": True,
        }
        if status.up_to_date:
            text = f"{database.display_url}: schema revision {status.head} (up to date)"
        elif not status.known:
            text = (
                f"{database.display_url}: schema revision {status.current} is newer than "
                f"this trialbot knows (its newest is {status.head}); upgrade trialbot"
            )
        else:
            text = (
                f"{database.display_url}: schema revision {_revision(status.current)}, "
                f"newest {status.head}; {len(status.pending)} migration(s) pending "
                f"({', '.join(status.pending)}): run `trialbot db upgrade`"
            )
    print(json.dumps(payload) if args.json else text)
    return 0 if payload["up_to_date"] else EXIT_BEHIND
