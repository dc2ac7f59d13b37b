"""The transactional outbox: notifications written with the change that caused them and
delivered later by whichever replica claims them.

Life of a row: `enqueue` (pending, in the business transaction; a repeated dedupe key is a
no-op) → `claim` (sending, leased to one owner until `lease_until`, committed at once so
no lock is held while Slack is called) → `finish` (sent, with the Slack ts) or `fail`
(pending again after a backoff, or dead after too many attempts). A sender that dies
mid-way simply lets its lease run out; the next `claim` takes the row over, and the dead
sender's late `finish` is refused because it no longer holds the lease (fencing).
Reminders that are no longer useful are `expire`d or `cancel`led, never sent late.

`now` always comes from the caller's clock (production may pass `Database.clock()`, the
server's time, so every replica measures leases against one clock).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Integer, and_, bindparam, exists, or_, update
from sqlalchemy import select as core_select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, select

from bot.clock import as_utc
from bot.storage.jsonvalues import to_json_value
from bot.storage.models import OutboxMessage

if TYPE_CHECKING:
    from bot.storage.database import Database

MAX_ATTEMPTS = 5
# Delivery to Slack: with the default backoff (30 s doubling to 1 h), 12 attempts span
# about five hours, so an outage of an hour or two delays messages but never kills them.
DELIVERY_ATTEMPTS = 12
ERROR_TEXT_LIMIT = 2000


def default_backoff(attempts: int) -> timedelta:
    """Wait before the next try after `attempts` failed ones: 30 s, 1, 2, 4 … min, ≤ 1 h."""
    return min(timedelta(seconds=30) * 2 ** max(attempts - 1, 0), timedelta(hours=1))


def enqueue(
    session: Session,
    target: str,
    kind: str,
    payload: Mapping[str, Any],
    dedupe_key: str,
    not_before: datetime,
    *,
    now: datetime,
    expires_at: datetime | None = None,
) -> bool:
    """Queue a notification unless one with `dedupe_key` exists; True if this call added it.

    `INSERT … ON CONFLICT (dedupe_key) DO NOTHING` on both databases, so two replicas
    materialising the same reminder at once still produce one row.
    """
    if not dedupe_key.strip():
        raise ValueError("an outbox message needs a dedupe key")
    values = {
        "target": target,
        "kind": kind,
        "payload": to_json_value(dict(payload)),
        "dedupe_key": dedupe_key,
        "status": "pending",
        "attempts": 0,
        "not_before": as_utc(not_before, what="not_before"),
        "expires_at": as_utc(expires_at, what="expires_at") if expires_at else None,
        "created_at": as_utc(now, what="now"),
    }
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(OutboxMessage)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        # RETURNING, not rowcount: drivers disagree on rowcount for a skipped insert.
        .returning(OutboxMessage.id)
    )
    added = session.execute(statement).scalar_one_or_none() is not None
    if added:
        from bot.storage.database import OUTBOX_WRITTEN

        session.info[OUTBOX_WRITTEN] = True
    return added


# The delivery path's statements are built once, with placeholders (`bindparam`), and
# executed with this call's values: SQLAlchemy memoizes a built statement's cache key, so
# a claim or a finish costs an execution, not the construction (coercions, cache key) of
# the same expressions again on every message.
_NOW = bindparam("b_now")
_OWNER = bindparam("b_owner")
_ID = bindparam("b_id")
# Core statements on the table: the ORM's bulk-update path (synchronize_session=False)
# would only add its per-execution overhead to the same SQL.
_TABLE = OutboxMessage.__table__
_COLUMNS = _TABLE.c


def _claimable():
    """Due at `b_now` and not expired (see `claim`)."""
    return and_(
        or_(_COLUMNS.expires_at.is_(None), _COLUMNS.expires_at > _NOW),
        or_(
            and_(_COLUMNS.status == "pending", _COLUMNS.not_before <= _NOW),
            and_(_COLUMNS.status == "sending", _COLUMNS.lease_until < _NOW),
        ),
    )


def _in_turn(paced: bool):
    """Per-channel order and pace: no earlier message to the same target is still unsent
    (tried already, or due), and none was sent to it since `b_recent` (`now - pace`)."""
    earlier = _TABLE.alias()
    blocked = exists().where(
        earlier.c.target == _COLUMNS.target,
        earlier.c.id < _COLUMNS.id,
        earlier.c.status.in_(("pending", "sending")),
        or_(earlier.c.attempts > 0, earlier.c.not_before <= _NOW),
        or_(earlier.c.expires_at.is_(None), earlier.c.expires_at > _NOW),
    )
    condition = ~blocked
    if paced:
        recent = _TABLE.alias()
        condition = and_(
            condition,
            ~exists().where(
                recent.c.target == _COLUMNS.target,
                recent.c.status == "sent",
                recent.c.sent_at > bindparam("b_recent"),
            ),
        )
    return condition


# A message whose sender died `b_max_attempts` times is dead, not tried again.
_BURY = (
    update(_TABLE)
    .where(
        _COLUMNS.status == "sending",
        _COLUMNS.lease_until < _NOW,
        _COLUMNS.attempts >= bindparam("b_max_attempts"),
    )
    .values(status="dead", lease_until=None, last_error=bindparam("b_error"))
)


@cache
def _claim_statement(in_turn: bool, paced: bool):
    """The claiming UPDATE for one shape of claim (plain; in turn per target; paced),
    its rows loaded as `OutboxMessage`s. A Core UPDATE … RETURNING under the ORM's
    `from_statement`: an ORM-enabled UPDATE is re-annotated on every execution, which
    generates its whole cache key again."""
    where = _claimable()
    if in_turn:
        where = and_(where, _in_turn(paced))
    candidates = (
        core_select(_COLUMNS.id)
        .where(where)
        .order_by(_COLUMNS.not_before, _COLUMNS.id)
        .limit(bindparam("b_limit", type_=Integer))
        .with_for_update(skip_locked=True)  # dropped by SQLAlchemy on SQLite
    )
    claiming = (
        update(_TABLE)
        # The outer guard repeats the condition: the compare-and-set that makes a
        # row claimable exactly once, whatever the subquery saw.
        .where(_COLUMNS.id.in_(candidates.scalar_subquery()), _claimable())
        .values(
            status="sending",
            lease_owner=_OWNER,
            lease_until=bindparam("b_lease_until"),
            claimed_at=_NOW,
            attempts=_COLUMNS.attempts + 1,
        )
        .returning(*_TABLE.columns)
    )
    return select(OutboxMessage).from_statement(claiming)


def claim(
    db: Database,
    owner: str,
    now: datetime,
    lease: timedelta,
    limit: int = 10,
    *,
    max_attempts: int = MAX_ATTEMPTS,
    ordered: bool = False,
    pace: timedelta | None = None,
) -> list[OutboxMessage]:
    """Lease up to `limit` due messages to `owner` until `now + lease`, and commit.

    Due: pending with `not_before <= now`, or sending with an expired lease (its sender
    died). Not expired. PostgreSQL: `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP
    LOCKED) RETURNING`, so concurrent claimers take disjoint rows without waiting. SQLite:
    the same guarded compare-and-set, serialised by BEGIN IMMEDIATE. A message whose
    sender died `max_attempts` times is marked dead rather than tried again.

    `ordered`: a message is claimed only when every earlier message to its target has been
    sent (or given up), so each channel receives in order and at most one message per
    channel is in flight across all replicas; `pace` also waits that long after the
    channel's last delivery (Slack allows about one message a second per channel).
    """
    if not owner.strip():
        raise ValueError("a claim needs an owner")
    if lease <= timedelta(0) or limit < 1:
        raise ValueError("a claim needs a positive lease and limit")
    now = as_utc(now, what="now")
    values: dict[str, Any] = {
        "b_now": now,
        "b_owner": owner,
        "b_lease_until": now + lease,
        "b_limit": limit,
    }
    if pace is not None:
        values["b_recent"] = now - pace
    statement = _claim_statement(ordered or pace is not None, pace is not None)
    with db.transaction(urgent=True) as session:
        session.execute(
            _BURY,
            {
                "b_now": now,
                "b_max_attempts": max_attempts,
                "b_error": f"the sender stopped {max_attempts} times before finishing",
            },
        )
        claimed = list(session.scalars(statement, values))
    return sorted(claimed, key=lambda m: (m.not_before, m.id or 0))


_FINISH = (
    update(_TABLE)
    .where(_COLUMNS.id == _ID, _COLUMNS.lease_owner == _OWNER, _COLUMNS.status == "sending")
    .values(
        status="sent",
        message_id=bindparam("b_message_id"),
        sent_at=_NOW,
        lease_until=None,
        last_error=None,
    )
)


def finish(
    db: Database, outbox_id: int, *, owner: str, now: datetime, message_id: str | None
) -> bool:
    """Mark the message sent (with the delivered Slack ts); False if `owner` no longer
    holds it (its lease was taken over), in which case nothing changes."""
    values = {
        "b_id": outbox_id,
        "b_owner": owner,
        "b_message_id": message_id,
        "b_now": as_utc(now, what="now"),
    }
    with db.transaction(urgent=True) as session:
        return session.execute(_FINISH, values).rowcount == 1


_HELD = select(OutboxMessage).where(
    OutboxMessage.id == _ID,
    OutboxMessage.lease_owner == _OWNER,
    OutboxMessage.status == "sending",
)
_HELD_LOCKED = _HELD.with_for_update()
_RELEASE = (
    update(_TABLE)
    .where(_COLUMNS.id == _ID, _COLUMNS.lease_owner == _OWNER)
    .values(
        status=bindparam("b_status"),
        not_before=bindparam("b_not_before"),
        lease_owner=None,
        lease_until=None,
        last_error=bindparam("b_error"),
    )
)


def fail(
    db: Database,
    outbox_id: int,
    *,
    owner: str,
    now: datetime,
    error: str,
    max_attempts: int = MAX_ATTEMPTS,
    backoff: Callable[[int], timedelta] = default_backoff,
    retry_after: timedelta | None = None,
) -> str | None:
    """Record a failed delivery: back to pending after `backoff(attempts)`, or dead once
    `max_attempts` have been made. Returns the new status, or None if `owner` no longer
    holds the message (fenced out; nothing changes). `retry_after` (Slack's Retry-After)
    delays the next try at least that long."""
    now = as_utc(now, what="now")
    held = {"b_id": outbox_id, "b_owner": owner}
    with db.transaction(urgent=True) as session:
        postgresql = session.get_bind().dialect.name == "postgresql"
        statement = _HELD_LOCKED if postgresql else _HELD
        message = session.exec(statement, params=held).first()
        if message is None:
            return None
        dead = message.attempts >= max_attempts
        wait = backoff(message.attempts)
        if retry_after is not None:
            wait = max(wait, retry_after)
        status = "dead" if dead else "pending"
        session.execute(
            _RELEASE,
            {
                **held,
                "b_status": status,
                "b_not_before": message.not_before if dead else now + wait,
                "b_error": error[:ERROR_TEXT_LIMIT],
            },
        )
        return status


def expire(session: Session, *, now: datetime) -> int:
    """Mark as expired every undelivered message whose `expires_at` has passed (pending,
    or sending with a lapsed lease); returns how many."""
    now = as_utc(now, what="now")
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.expires_at <= now,
            or_(
                OutboxMessage.status == "pending",
                and_(OutboxMessage.status == "sending", OutboxMessage.lease_until < now),
            ),
        )
        .values(status="expired", lease_until=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def cancel(session: Session, dedupe_keys: Iterable[str]) -> int:
    """Cancel the still-pending messages with these keys (e.g. reminders of a visit that
    moved); sent or in-flight ones are left alone. Returns how many were cancelled."""
    keys = list(dedupe_keys)
    if not keys:
        return 0
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.dedupe_key.in_(keys), OutboxMessage.status == "pending")
        .values(status="cancelled")
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def undelivered(session: Session, *, failed_only: bool = False) -> list[OutboxMessage]:
    """What is still to go or could not go: pending and sending messages (unless
    `failed_only`) and every message with a failed attempt or marked dead, oldest first."""
    if failed_only:
        condition = or_(
            OutboxMessage.status == "dead",
            and_(
                OutboxMessage.status.in_(("pending", "sending")),
                OutboxMessage.last_error.is_not(None),
            ),
        )
    else:
        condition = OutboxMessage.status.in_(("pending", "sending", "dead"))
    return list(session.exec(select(OutboxMessage).where(condition).order_by(OutboxMessage.id)))
