"""PostgreSQL advisory-lock keys. Transaction-scoped (`pg_advisory_xact_lock`) only: they
are released by COMMIT/ROLLBACK, so they cannot leak through a connection pool.

The two-integer form keeps trialbot's keys apart from other applications' single-bigint
keys on a shared server.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

NAMESPACE = 0x7472_6962  # "trib"
REQUEST_NAMESPACE = NAMESPACE + 1  # second key: hashtext(idempotency key)

MIGRATIONS = 1  # one schema upgrade at a time
AUDIT_CHAIN = 2  # one audit append at a time, so the hash chain never forks


def xact_lock(session_or_connection, key: int, namespace: int = NAMESPACE) -> None:
    """Wait for the advisory lock (`namespace`, `key`) until the end of the transaction."""
    session_or_connection.execute(
        text("SELECT pg_advisory_xact_lock(:ns, :key)"), {"ns": namespace, "key": key}
    )


def xact_lock_text(session: Session, value: str, namespace: int = REQUEST_NAMESPACE) -> None:
    """Advisory lock on a string (hashed by the server) until the end of the transaction."""
    session.execute(
        text("SELECT pg_advisory_xact_lock(:ns, hashtext(:value))"),
        {"ns": namespace, "value": value},
    )
