"""The delivery loop: the outbox to a notifier (Slack, the console), safe with N replicas.

Each round claims due messages with a lease (committed at once), delivers them outside
any transaction and records the message id only while still holding the lease
(`outbox.finish` is fenced). Per channel the order is kept and the pace is below Slack's
one message a second (`claim(ordered=True, pace=…)`: a channel's next message waits until
the previous one is sent, across replicas). A failure goes back to the outbox with a
backoff (Retry-After honoured) and is dead after `DELIVERY_ATTEMPTS`: listed by
`trialbot outbox --failed` and in the next digest, never dropped silently.

A message claimed before (its sender died, or the post failed in a way that may have
reached Slack) is first looked for in the channel's recent history by its outbox key,
carried as message metadata; found, its ts is adopted instead of posting it again
(`Keyed.deliver_keyed(resume=True)`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol, runtime_checkable

from sqlmodel import select

from bot.clock import Clock
from bot.posts import Post
from bot.storage.database import Database
from bot.storage.models import OutboxMessage
from bot.storage.outbox import DELIVERY_ATTEMPTS, claim, fail, finish
from bot.transports.notifier import Delivery, Notifier, deliver_message

log = logging.getLogger("trialbot.delivery")

LEASE = timedelta(minutes=2)
PACE = timedelta(milliseconds=1100)  # per channel: under Slack's ~1 message/s
BATCH = 20


@runtime_checkable
class Keyed(Protocol):
    """A notifier that carries the outbox key with the message (Slack: message metadata)
    and, with `resume`, first looks for what an interrupted attempt already posted (Slack:
    the channel's recent history) and posts only what is missing."""

    def deliver_keyed(
        self, post: Post, *, key: str, resume: bool, since: float
    ) -> tuple[str, bool]:
        """Deliver; return (message id, whether it was found already posted)."""
        ...


class DeliveryError(Exception):
    """A delivery failed; `retry_after` when the platform said how long to wait."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, permanent: bool = False
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent  # refused for good: dead now, not after N attempts


@dataclass
class DeliveryReport:
    delivered: list[Delivery] = field(default_factory=list)
    failed: list[Delivery] = field(default_factory=list)
    adopted: list[int] = field(default_factory=list)  # found already posted, not re-posted

    def to_json(self) -> dict:
        return {
            "delivered": len(self.delivered),
            "failed": len(self.failed),
            "adopted": len(self.adopted),
        }


def deliver(
    db: Database,
    notifier: Notifier,
    clock: Clock,
    *,
    owner: str,
    lease: timedelta = LEASE,
    pace: timedelta | None = PACE,
    sleep: Callable[[float], None] | None = None,
    max_attempts: int = DELIVERY_ATTEMPTS,
    max_rounds: int = 10_000,
) -> DeliveryReport:
    """Deliver everything due now; returns when nothing more can go (the rest waits for
    its backoff or its turn). `sleep(seconds)` waits for a channel's pace (tests pass a
    function that advances their clock)."""
    report = DeliveryReport()
    waited = False
    for _ in range(max_rounds):
        now = clock.now()
        batch = claim(
            db, owner, now, lease, limit=BATCH, max_attempts=max_attempts, ordered=True, pace=pace
        )
        if not batch:
            if pace is None or sleep is None or waited or not _waiting(db, now):
                return report
            sleep(pace.total_seconds())  # a channel's next message waits for its turn
            waited = True
            continue
        waited = False
        for message in batch:
            _deliver_one(db, notifier, clock, message, owner, max_attempts, report)
    return report


def _waiting(db: Database, now) -> bool:
    with db.transaction(readonly=True) as session:
        return (
            session.exec(
                select(OutboxMessage.id)
                .where(OutboxMessage.status == "pending", OutboxMessage.not_before <= now)
                .limit(1)
            ).first()
            is not None
        )


def _deliver_one(
    db: Database,
    notifier: Notifier,
    clock: Clock,
    message: OutboxMessage,
    owner: str,
    max_attempts: int,
    report: DeliveryReport,
) -> None:
    post: Post | None = None
    try:
        post = Post.model_validate(message.payload or {})
        message_id, adopted = deliver_message(db, notifier, post, message)
    except Exception as exc:  # a transport failure must not lose the message
        _failed(db, message, owner, clock, exc, max_attempts, report, post)
        return
    if not finish(db, message.id, owner=owner, now=clock.now(), message_id=message_id):
        log.warning("outbox %s: delivered after its lease passed to another sender", message.id)
    if adopted:
        report.adopted.append(message.id)
    report.delivered.append(Delivery(message.id, post, message_id))


def _failed(db, message, owner, clock, exc, max_attempts, report, post) -> None:
    retry_after = getattr(exc, "retry_after", None)
    permanent = bool(getattr(exc, "permanent", False))
    status = fail(
        db,
        message.id,
        owner=owner,
        now=clock.now(),
        error=f"{type(exc).__name__}: {exc}",
        max_attempts=message.attempts if permanent else max_attempts,
        retry_after=timedelta(seconds=retry_after) if retry_after else None,
    )
    if status == "dead":
        log.warning("outbox %s (%s) is undeliverable: %s", message.id, message.kind, exc)
    report.failed.append(Delivery(message.id, post, None, error=type(exc).__name__))
