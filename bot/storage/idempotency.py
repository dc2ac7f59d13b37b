"""Idempotency keys: the same request (a Slack retry, a double click) is served once.

Inside the unit of work: `prior = remembered(session, key, operation)`; if it is not
None, return `prior.response` and do nothing else; otherwise do the work and
`remember(...)` the response before the transaction commits.

`remembered` also locks the key until the transaction ends (PostgreSQL advisory lock;
SQLite write transactions are serial anyway), so a retry that arrives while the first
attempt is still running waits for it and then gets its response, instead of repeating
the work.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from bot import inputs
from bot.clock import as_utc
from bot.errors import UserError
from bot.storage import locks
from bot.storage.jsonvalues import to_json_value
from bot.storage.models import RequestRecord

KEY_LIMIT = inputs.KEY_LIMIT


def _check_key(key: str) -> None:
    inputs.check_request_key(key)


def remembered(
    session: Session, key: str, operation: str | None = None, content_hash: str | None = None
) -> RequestRecord | None:
    """The earlier request with `key`, or None if this is its first time.

    With `operation`, a key first used for a different operation is refused; with
    `content_hash`, so is a key first used for different content (another panel, another
    patient): two different requests must never share a key, or the second would
    silently be dropped. A key that is not 1–128 visible ASCII characters is refused.
    """
    _check_key(key)
    if session.get_bind().dialect.name == "postgresql":
        locks.xact_lock_text(session, key)
    prior = session.get(RequestRecord, key, populate_existing=True)
    if prior is not None and operation is not None and prior.operation != operation:
        raise UserError(
            f"request {key!r} was already used for {prior.operation!r}, not {operation!r}",
            field="request-id",
            allowed="a new request id for a new command",
        )
    if (
        prior is not None
        and content_hash is not None
        and prior.content_hash is not None
        and prior.content_hash != content_hash
    ):
        raise UserError(
            f"request id {key!r} was already used for a different {prior.operation} "
            "command; that first command stands and this one was not recorded",
            field="request-id",
            allowed="the same request id only to repeat exactly the same command; "
            "a new request id for a new command",
        )
    return prior


def remember(
    session: Session,
    key: str,
    operation: str,
    response: Any,
    *,
    now: datetime,
    content_hash: str | None = None,
) -> RequestRecord:
    """Record that `key` was served with `response` (plain JSON data), in the same
    transaction as the work it did."""
    _check_key(key)
    record = RequestRecord(
        key=key,
        operation=operation,
        response=to_json_value(response),
        content_hash=content_hash,
        created_at=as_utc(now, what="now"),
    )
    session.add(record)
    session.flush()
    return record
