"""What leaves the process: posts queued in the outbox, in the transaction that caused them.

A service queues a `bot.posts.Post` — what is to be said and to whom, as data — never
text or Block Kit: each transport renders the post when it delivers it
(`bot.transports`). Each post has a dedupe key, so the same fact is never posted twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from bot.posts import Audience, Post
from bot.storage.models import Member, Site
from bot.storage.outbox import enqueue


def channel_of(site: Site) -> Audience:
    """The site's channel; before one is configured, a readable placeholder address."""
    return Audience.site_channel(site.id, site.channel_id or f"#trial-{site.id}")


def on_call_of(session: Session, site: Site) -> str | None:
    """The on-call investigator of the site (a Slack user id), if anyone is on call."""
    member = session.exec(
        select(Member)
        .where(Member.on_call.is_(True), Member.role.in_(("investigator", "admin")))
        .where((Member.site_id == site.id) | (Member.site_id.is_(None)))
        .order_by(Member.updated_at.desc())
    ).first()
    return member.user_id if member else None


def alert_keys(decision_id: str) -> tuple[str, str]:
    """The dedupe keys of a decision alert's two copies: the site channel's and the
    on-call investigator's direct message."""
    return (f"decision:{decision_id}:alert", f"decision:{decision_id}:alert:dm")


def enqueue_post(session: Session, post: Post, *, dedupe_key: str, now: datetime) -> bool:
    """Queue `post` for its audience's address (the outbox row keeps the post as data)."""
    return enqueue(
        session,
        post.address,
        post.kind,
        post.model_dump(mode="json"),
        dedupe_key,
        not_before=now,
        now=now,
    )
