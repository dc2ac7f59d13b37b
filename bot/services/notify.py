"""What leaves the process: posts queued in the outbox, in the transaction that caused them.

A service queues a `bot.posts.Post` — what is to be said and to whom, as data — never
text or Block Kit: each transport renders the post when it delivers it
(`bot.transports`). Each post has a dedupe key, so the same fact is never posted twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from bot.posts import Audience, Post
from bot.storage.models import Site
from bot.storage.outbox import enqueue


def channel_of(site: Site) -> Audience:
    """The site's channel; before one is configured, a readable placeholder address."""
    return Audience.site_channel(site.id, site.channel_id or f"#trial-{site.id}")


def on_call_of(session: Session, site: Site, now: datetime) -> str | None:
    """The on-call investigator of the site at `now` (a Slack user id), from the rota."""
    from bot.services.rota import on_call_at

    current = on_call_at(session, site.id, now)
    return current.user if current else None


def alert_keys(subject: str) -> tuple[str, str]:
    """The dedupe keys of an alert's two first copies (`subject` a decision "D12" or an
    entry "E45"): the site channel's and the on-call investigator's direct message. The
    escalation steps after them are `alert:{subject}:{step}` (bot.services.alerts)."""
    return (f"decision:{subject}:alert", f"decision:{subject}:alert:dm")


def enqueue_post(
    session: Session,
    post: Post,
    *,
    dedupe_key: str,
    now: datetime,
    expires_at: datetime | None = None,
) -> bool:
    """Queue `post` for its audience's address (the outbox row keeps the post as data)."""
    return enqueue(
        session,
        post.address,
        post.kind,
        post.model_dump(mode="json"),
        dedupe_key,
        not_before=now,
        now=now,
        expires_at=expires_at,
    )
