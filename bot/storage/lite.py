"""A read of the member table with the standard library's sqlite3, read-only, for `help`:
the one thing the overview shows from the database is who you are, and `help` must start
without the database layer (SQLAlchemy, the models, migrations — docs/benchmarks.md).

Only a SQLite file URL is read this way (`sqlite:///path`); anything else — PostgreSQL, a
URL with options, an in-memory database — returns None from `for_url`, and the caller
takes the ordinary path. A file that is missing holds no members (what a fresh database
would answer). A file whose schema cannot answer raises `LiteUnavailable`: the caller
takes the ordinary path, which migrates it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PREFIXES = ("sqlite:///", "sqlite+pysqlite:///")


class LiteUnavailable(Exception):
    """The file cannot be read this way (take the ordinary path)."""


@dataclass(frozen=True)
class LiteDatabase:
    path: Path

    @classmethod
    def for_url(cls, url: str) -> LiteDatabase | None:
        for prefix in PREFIXES:
            if url.startswith(prefix):
                rest = url[len(prefix) :]
                if not rest or rest == ":memory:" or "?" in rest:
                    return None
                return cls(Path(rest))
        return None

    def member_row(self, user: str) -> dict[str, Any] | None:
        """The member row of `user` (role, site, on call), or None."""
        if not self.path.exists():
            return None
        try:
            connection = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
        except sqlite3.Error as exc:
            raise LiteUnavailable(type(exc).__name__) from None
        try:
            row = connection.execute(
                "SELECT role, site_id, on_call FROM member WHERE user_id = ?", (user,)
            ).fetchone()
        except sqlite3.Error as exc:  # no member table yet, locked, not a database
            raise LiteUnavailable(type(exc).__name__) from None
        finally:
            connection.close()
        if row is None:
            return None
        return {"role": row[0], "site_id": row[1], "on_call": bool(row[2])}
