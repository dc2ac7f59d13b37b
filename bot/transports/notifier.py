"""Delivering posts: a small protocol every transport implements, and the outbox drain.

A `Notifier` delivers one post (a `bot.posts.Post`: data, which it renders its own way) and
returns the message id the platform gave it (Slack's `ts`; the console makes its own). `drain_outbox` claims what the
outbox holds, delivers each message and marks it sent — or failed, to be retried — the
same claim/finish/fail cycle the Slack sender uses, so console runs exercise it for real.
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from bot.posts import Post

if TYPE_CHECKING:  # the console's printers and notifiers load without the database layer
    from bot.storage.database import Database
    from bot.storage.models import OutboxMessage

# A console delivers at once; the lease only fences a second drainer off meanwhile.
CONSOLE_LEASE = timedelta(minutes=1)
BATCH = 50
# Posts whose delivery edits what earlier posts put in Slack (the alert copies).
EDITS_COPIES = ("verdict", "attribution")


@runtime_checkable
class Notifier(Protocol):
    def deliver(self, post: Post) -> str:
        """Deliver `post`; return the message id. Raise to have it retried later."""
        ...


@dataclass
class RecordingNotifier:
    """Keeps the posts it is given, as data, instead of sending them: for tests and for
    `--json`, where the posts are part of the printed object."""

    posts: list[Post] = field(default_factory=list)

    def deliver(self, post: Post) -> str:
        self.posts.append(post)
        return f"recorded-{len(self.posts)}"


@dataclass(frozen=True)
class Delivery:
    outbox_id: int
    post: Post | None  # None when the row could not be read as a post (it is failed)
    message_id: str | None
    error: str | None = None


def drain_outbox(
    db: Database,
    notifier: Notifier,
    *,
    now: datetime,
    owner: str,
    lease: timedelta = CONSOLE_LEASE,
    lanes: Executor | None = None,
) -> list[Delivery]:
    """Deliver every message due at `now` through `notifier`; one failed delivery is
    recorded (and retried by a later drain) without stopping the others.

    `lanes` (an executor): the messages of a batch go out concurrently, one lane per
    target, each target's in order (the channel and the on-call DM copies of a burst of
    alerts in parallel, not one after the other). A verdict is delivered alone, after
    what came before it and before what follows: it updates the alert copies in place,
    so they must have landed first (so does an attribution)."""
    from bot.storage.outbox import claim

    deliveries: list[Delivery] = []
    seen: set[int] = set()
    while True:
        claimed = claim(db, owner, now, lease, limit=BATCH)
        batch = [m for m in claimed if m.id not in seen]
        if not batch:
            return deliveries
        seen.update(m.id for m in batch)
        for segment in _segments(batch):
            deliveries.extend(_deliver_segment(db, notifier, segment, now, owner, lanes))
        if len(claimed) < BATCH:  # the outbox held no more (a later commit wakes us again)
            return deliveries


def _segments(batch: list[OutboxMessage]) -> list[list[OutboxMessage]]:
    """The batch cut around each post that edits others (it forms a segment of its own)."""
    segments: list[list[OutboxMessage]] = [[]]
    for message in batch:
        if message.kind in EDITS_COPIES:
            segments.extend([[message], []])
        else:
            segments[-1].append(message)
    return [s for s in segments if s]


def deliver_message(
    db: Database, notifier: Notifier, post: Post, message: OutboxMessage
) -> tuple[str, bool]:
    """Deliver the post of outbox row `message`: (message id, whether it was found already
    delivered). A notifier that carries the outbox key (Slack: `deliver_keyed`, see
    `bot.transports.delivery.Keyed`) is given it, and for a row claimed before (its sender
    died, or a failure that may have reached Slack) first looks for an earlier delivery."""
    post = addressed_now(db, post)
    keyed = getattr(notifier, "deliver_keyed", None)
    if keyed is None:
        return notifier.deliver(post), False
    return keyed(
        post,
        key=message.dedupe_key,
        resume=message.attempts > 1,
        since=message.created_at.timestamp() - 1,
    )


def addressed_now(db: Database, post: Post) -> Post:
    """`post` addressed to its site's channel as the site row holds it now. A post is
    queued with the channel known then — before `TRIALBOT_SITE_CHANNELS` or `/trial site`
    set one, a readable placeholder (`#trial-main`, which Slack would refuse for ever): the
    console and `tick` may queue posts before `serve` has ever stored the channels."""
    if post.audience.kind != "site_channel" or not post.audience.site:
        return post
    with db.transaction(readonly=True) as session:
        found = session.execute(_site_channel(), {"b_site": post.audience.site})
        channel = found.scalar_one_or_none()
    if not channel or channel == post.audience.address:
        return post
    audience = post.audience.model_copy(update={"address": channel})
    return post.model_copy(update={"audience": audience})


@cache
def _site_channel():
    """`SELECT channel_id FROM site WHERE id = :b_site`, built once (on first use: the
    console loads this module without the database layer)."""
    from sqlalchemy import bindparam, select

    from bot.storage.models import Site

    site = Site.__table__.c
    return select(site.channel_id).where(site.id == bindparam("b_site"))


def _deliver_segment(
    db: Database,
    notifier: Notifier,
    segment: list[OutboxMessage],
    now: datetime,
    owner: str,
    lanes: Executor | None,
) -> list[Delivery]:
    by_target: dict[str, list[OutboxMessage]] = {}
    for message in segment:
        by_target.setdefault(message.target, []).append(message)

    def lane(messages: list[OutboxMessage]) -> list[Delivery]:
        return [_deliver_one(db, notifier, m, now, owner) for m in messages]

    if lanes is None or len(by_target) < 2:
        return [d for messages in by_target.values() for d in lane(messages)]
    futures = [lanes.submit(lane, messages) for messages in by_target.values()]
    done = [d for future in futures for d in future.result()]
    return sorted(done, key=lambda d: d.outbox_id)


def _deliver_one(
    db: Database, notifier: Notifier, message: OutboxMessage, now: datetime, owner: str
) -> Delivery:
    from bot.storage.outbox import fail, finish

    post: Post | None = None
    try:
        post = Post.model_validate(message.payload or {})
        message_id, _ = deliver_message(db, notifier, post, message)
    except Exception as exc:  # a transport failure must not lose the message
        fail(db, message.id, owner=owner, now=now, error=f"{type(exc).__name__}: {exc}")
        return Delivery(message.id, post, None, error=type(exc).__name__)
    finish(db, message.id, owner=owner, now=now, message_id=message_id)
    return Delivery(message.id, post, message_id)
