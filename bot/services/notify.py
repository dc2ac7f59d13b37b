"""What leaves the process: posts queued in the outbox, in the transaction that caused them.

Texts are rendered here, when queued, from `templates/posts/`; delivery (Slack, console)
sends what was queued. Each post has a dedupe key, so the same fact is never posted twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from bot.storage.models import Member, Site
from bot.storage.outbox import enqueue


def channel_of(site: Site) -> str:
    """The site's channel; before one is configured, a readable placeholder."""
    return site.channel_id or f"#trial-{site.id}"


def on_call_of(session: Session, site: Site) -> str | None:
    """The on-call investigator of the site (a Slack user id), if anyone is on call."""
    member = session.exec(
        select(Member)
        .where(Member.on_call.is_(True), Member.role.in_(("investigator", "admin")))
        .where((Member.site_id == site.id) | (Member.site_id.is_(None)))
        .order_by(Member.updated_at.desc())
    ).first()
    return member.user_id if member else None


def enqueue_post(
    session: Session,
    *,
    target: str,
    kind: str,
    text: str,
    blocks: list[dict[str, Any]],
    dedupe_key: str,
    now: datetime,
) -> bool:
    return enqueue(
        session, target, kind, {"text": text, "blocks": blocks}, dedupe_key, not_before=now, now=now
    )


def text_blocks(text: str) -> list[dict[str, Any]]:
    return [{"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}]


def decision_blocks(text: str, decision_id: str) -> list[dict[str, Any]]:
    """The alert and its two buttons; the Slack transport routes the clicks back to the
    same confirm/override services as the typed commands."""
    return [
        *text_blocks(text),
        {
            "type": "actions",
            "block_id": f"decision:{decision_id}",
            "elements": [
                {
                    "type": "button",
                    "style": "primary",
                    "action_id": "decision_confirm",
                    "text": {"type": "plain_text", "text": f"Confirm {decision_id}"},
                    "value": decision_id,
                },
                {
                    "type": "button",
                    "style": "danger",
                    "action_id": "decision_override",
                    "text": {"type": "plain_text", "text": f"Override {decision_id}"},
                    "value": decision_id,
                },
            ],
        },
    ]
