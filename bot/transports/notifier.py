"""Delivering posts: a small protocol every transport implements, and the outbox drain.

A `Notifier` delivers one post (a `bot.posts.Post`: data, which it renders its own way) and
returns the message id the platform gave it (Slack's `ts`; the console makes its own). `drain_outbox` claims what the
outbox holds, delivers each message and marks it sent — or failed, to be retried — the
same claim/finish/fail cycle the Slack sender uses, so console runs exercise it for real.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from bot.posts import Post
from bot.storage.database import Database
from bot.storage.outbox import claim, fail, finish

# A console delivers at once; the lease only fences a second drainer off meanwhile.
CONSOLE_LEASE = timedelta(minutes=1)
BATCH = 50


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
) -> list[Delivery]:
    """Deliver every message due at `now` through `notifier`; one failed delivery is
    recorded (and retried by a later drain) without stopping the others."""
    deliveries: list[Delivery] = []
    seen: set[int] = set()
    while True:
        batch = [m for m in claim(db, owner, now, lease, limit=BATCH) if m.id not in seen]
        if not batch:
            return deliveries
        for message in batch:
            seen.add(message.id)
            post: Post | None = None
            try:
                post = Post.model_validate(message.payload or {})
                message_id = notifier.deliver(post)
            except Exception as exc:  # a transport failure must not lose the message
                fail(db, message.id, owner=owner, now=now, error=f"{type(exc).__name__}: {exc}")
                deliveries.append(Delivery(message.id, post, None, error=type(exc).__name__))
                continue
            finish(db, message.id, owner=owner, now=now, message_id=message_id)
            deliveries.append(Delivery(message.id, post, message_id))
