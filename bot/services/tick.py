"""`tick(now)`: all the scheduler's work due at an instant, once, whichever replica runs it.

1. Per site, once its local time has passed `TRIALBOT_DIGEST_AT` on a day whose digest is
   not queued yet: the daily review (time-based rules, per patient, idempotent), then the
   day's reminders and digest (one transaction; the digest's dedupe key is the day's lease).
   A day missed while nothing ran is never replayed: only today's digest goes out, and
   the reminders that fell due meanwhile are summarised once.
2. Alerts whose escalation time has come take their next step.
3. Queued messages whose useful moment has passed are expired, never sent late.

Delivery is separate (`bot.transports.delivery`): tick only writes the outbox. `now` is
an argument: the scheduler passes the clock's reading, tests and `trialbot tick --now`
pass the instant they want.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import select

from bot.clock import as_utc
from bot.services import alerts, review
from bot.services import digest as digests
from bot.services.context import ServiceContext
from bot.storage.models import AlertRecord, OutboxMessage, Site
from bot.storage.outbox import expire


@dataclass
class TickReport:
    now: datetime
    digests: list[str] = field(default_factory=list)  # "main:2027-03-08"
    proposals: list[str] = field(default_factory=list)
    escalations: list[str] = field(default_factory=list)  # "D12:backup"
    expired: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "now": self.now.isoformat(),
            "digests": self.digests,
            "proposals": self.proposals,
            "escalations": self.escalations,
            "expired": self.expired,
        }


@dataclass
class _Due:
    days: list[tuple[str, date]]  # (site, local date) whose digest is due and not queued
    escalations: bool
    expiries: bool


def _what_is_due(ctx: ServiceContext, now: datetime) -> _Due:
    """One read-only look (a few indexed queries) at what a tick has to do, so a tick with
    nothing due opens no write transaction."""
    with ctx.db.transaction(readonly=True) as session:
        wanted = []
        for site_id, zone in session.exec(select(Site.id, Site.timezone)).all():
            local = now.astimezone(ZoneInfo(zone))
            if local.time() >= ctx.settings.digest_at:
                wanted.append((site_id, local.date()))
        keys = {digests.digest_key(s, d): (s, d) for s, d in wanted}
        done = set()
        if keys:
            done = set(
                session.exec(
                    select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.in_(list(keys)))
                ).all()
            )
        escalations = session.exec(
            select(AlertRecord.id)
            .where(AlertRecord.acked_at.is_(None), AlertRecord.next_at <= now)
            .limit(1)
        ).first()
        expiries = session.exec(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.status.in_(("pending", "sending")),
                OutboxMessage.expires_at <= now,
            )
            .limit(1)
        ).first()
    return _Due(
        days=[pair for key, pair in keys.items() if key not in done],
        escalations=escalations is not None,
        expiries=expiries is not None,
    )


def tick(ctx: ServiceContext, now: datetime) -> TickReport:
    now = as_utc(now, what="now")
    report = TickReport(now=now)
    due = _what_is_due(ctx, now)
    for site_id, day in due.days:
        report.proposals.extend(d["id"] for d in review.review_site(ctx, site_id, day))
        if digests.daily(ctx, site_id, day, now):
            report.digests.append(f"{site_id}:{day.isoformat()}")
    if due.escalations:
        report.escalations = [f"{s.subject}:{s.step}" for s in alerts.escalate_due(ctx, now)]
    if due.expiries:
        with ctx.db.transaction() as session:
            report.expired = expire(session, now=now)
    return report
