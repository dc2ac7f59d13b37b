"""The tamper-evident audit trail: a hash chain over the `audit` table.

Each row's `hash` is SHA-256 over a canonical JSON of its content (id, time, actor,
action, subject, details) and the previous row's hash. Editing a row breaks its own hash;
rewriting its hash too breaks the next row's `prev_hash`; removing a row leaves a gap in
the ids. `verify_chain` walks the rows and names the first one that does not hold.

What it does not prove: the newest rows can be cut off the end without trace, and someone
who can rewrite every later row can forge a consistent chain. Publishing the latest hash
elsewhere (e.g. in the daily digest) closes both; see docs/data-model.md.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, func, select

from bot.clock import as_utc
from bot.storage import locks
from bot.storage.integrity import take_written_rows
from bot.storage.jsonvalues import canonical_json, refuse_nul, to_json_value
from bot.storage.models import AuditEntry

GENESIS_HASH = "0" * 64  # the prev_hash of row 1


def audit_hash(
    *, id: int, at: datetime, actor: str, action: str, subject: str, details: Any, prev_hash: str
) -> str:
    content = {
        "id": id,
        "at": as_utc(at, what="audit time").isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "subject": subject,
        "details": details,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()


def _row_hash(row: AuditEntry) -> str:
    return audit_hash(
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        subject=row.subject,
        details=row.details,
        prev_hash=row.prev_hash,
    )


def add_audit(
    session: Session,
    *,
    actor: str,
    action: str,
    subject: str,
    details: Mapping[str, Any] | None = None,
    now: datetime,
) -> AuditEntry:
    """Append one audit row, chained to the last one.

    On PostgreSQL this takes a transaction-scoped advisory lock, so concurrent appends
    queue instead of both chaining to the same predecessor; the lock is held until the
    caller's transaction ends, so call it last in the unit of work.
    """
    for name, text in (("actor", actor), ("action", action), ("subject", subject)):
        if not text.strip():
            raise ValueError(f"an audit row needs a {name}")
        refuse_nul(text, name)
    if session.get_bind().dialect.name == "postgresql":
        locks.xact_lock(session, locks.AUDIT_CHAIN)
    session.flush()  # the rows written so far, so their hashes are final
    last = session.exec(
        select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)
    ).first()
    next_id, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
    at = as_utc(now, what="now")
    body = to_json_value(dict(details or {}))
    # The rows this transaction wrote to the audited tables since the last audit row:
    # their content hashes become part of this row (see bot.storage.integrity).
    written = take_written_rows(session)
    if written:
        body["rows"] = written
    row = AuditEntry(
        id=next_id,
        at=at,
        actor=actor,
        action=action,
        subject=subject,
        details=body,
        prev_hash=prev_hash,
        hash=audit_hash(
            id=next_id,
            at=at,
            actor=actor,
            action=action,
            subject=subject,
            details=body,
            prev_hash=prev_hash,
        ),
    )
    session.add(row)
    session.flush()
    return row


@dataclass(frozen=True)
class ChainBreak:
    """The first audit row that does not hold, and what is wrong with it."""

    row_id: int
    field: str  # "id", "prev_hash" or "hash"
    problem: str

    def __str__(self) -> str:
        return f"audit row {self.row_id}: {self.problem}"


def verify_chain(session: Session, *, batch: int = 1000) -> ChainBreak | None:
    """Walk the trail in id order; return the first broken row, or None if intact."""
    expected_id, prev_hash = 1, GENESIS_HASH
    rows = session.exec(
        select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=batch)
    )
    for row in rows:
        if row.id != expected_id:
            missing = (
                f"row {expected_id} is missing"
                if row.id == expected_id + 1
                else f"rows {expected_id}–{row.id - 1} are missing"
            )
            return ChainBreak(
                row.id, "id", f"{missing} (ids jump from {expected_id - 1} to {row.id})"
            )
        if row.prev_hash != prev_hash:
            return ChainBreak(
                row.id,
                "prev_hash",
                f"prev_hash {row.prev_hash[:12]}… does not match the hash of row "
                f"{row.id - 1} ({prev_hash[:12]}…): row {row.id - 1} was rewritten"
                if row.id > 1
                else f"prev_hash {row.prev_hash[:12]}… is not the genesis value",
            )
        recomputed = _row_hash(row)
        if recomputed != row.hash:
            return ChainBreak(
                row.id,
                "hash",
                f"content does not match its hash (stored {row.hash[:12]}…, content gives "
                f"{recomputed[:12]}…): its time, actor, action, subject or details changed "
                "after it was written",
            )
        expected_id, prev_hash = row.id + 1, row.hash
    return None


def audit_count(session: Session) -> int:
    return session.exec(select(func.count()).select_from(AuditEntry)).one()
