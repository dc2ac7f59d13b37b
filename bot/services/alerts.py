"""Alerts that escalate until someone acknowledges them.

A decision that needs an investigator, or an entry graded 3 or above, raises an alert:
at once one copy in the site's channel and one by direct message to the on-call
investigator (with Acknowledge beside Confirm/Override; keys `notify.alert_keys`, so the
Slack transport updates both in place once someone acts). Unacknowledged after
`TRIALBOT_ESCALATE_AFTER` it goes by DM to the backup; unacknowledged again, to the
site's channel with @here. With nobody on call only the channel copy goes, at once. Confirming, overriding, attributing or acknowledging all count as an
acknowledgement; an acknowledged alert never escalates again, whatever happens later.

The chain lives in the `alert` table, which keeps the alert's post (kind and facts, as
data); every escalation step is an outbox message with the key `alert:{subject}:{step}`
(so two replicas taking the same step post it once) and an audit row. Delays are instants in
UTC: 30 minutes are 30 real minutes across a DST change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from bot.clock import as_utc
from bot.errors import UserError
from bot.posts import Audience, Post
from bot.services import notify
from bot.services.access import require_role
from bot.services.context import Request, ServiceContext
from bot.services.outcome import Outcome
from bot.services.rota import on_call_at
from bot.storage.audit import add_audit
from bot.storage.jsonvalues import to_json_value
from bot.storage.models import AlertRecord, DecisionRecord, Patient, Site

ACK_HOWS = ("confirm", "override", "attribute", "ack", "withdrawn")
BATCH = 200


def alert_key(subject: str, step: str) -> str:
    return f"alert:{subject}:{step}"


ESCALATION_STEPS = ("backup", "channel")  # the steps after the first two copies


def copy_keys(subject: str) -> tuple[str, ...]:
    """The dedupe keys of every copy of `subject`'s alert that carries its buttons: the
    channel's and the on-call DM (`notify.alert_keys`), then each escalation step's."""
    return (*notify.alert_keys(subject), *(alert_key(subject, s) for s in ESCALATION_STEPS))


@dataclass(frozen=True)
class Step:
    subject: str
    step: str


def raise_alert(
    ctx: ServiceContext,
    session: Session,
    *,
    site: Site,
    patient: Patient,
    subject: str,
    kind: str,
    decision_ids: tuple[str, ...],
    facts: dict[str, Any],
    now: datetime,
    by: Request | None = None,
    ping: bool = True,
) -> list[Post]:
    """Start the chain for `subject` ("D12" or "E45"), once: the channel copy and the
    on-call investigator's DM, or with nobody on call the channel copy alone. The alert
    keeps the post's facts, so every step says the same thing. Returns the posts queued
    (none if already raised). `by` is whose request raised it (the member whose entry it
    is, or the scheduler's system principal for the daily review): the audit names them.
    `ping=False`: with nobody on call, the channel copy does not call @here (an entry that
    raises several alerts pings the channel once, with its first alert)."""
    by = by or Request.scheduler()
    if session.exec(select(AlertRecord.id).where(AlertRecord.subject == subject)).first():
        return []
    current = on_call_at(session, site.id, now)
    record = AlertRecord(
        subject=subject,
        site_id=site.id,
        patient_id=patient.id,
        raised_at=now,
        step="oncall" if current else "channel",
        next_at=now + ctx.settings.escalate_after if current else None,
        oncall_id=current.user if current else None,
        backup_id=current.backup if current else None,
        payload=to_json_value(
            {
                "kind": kind,
                "study_id": patient.study_id,
                "decision_ids": list(decision_ids),
                "facts": facts,
                "nobody_on_call": current is None,
            }
        ),
    )
    session.add(record)
    session.flush()
    channel_key, dm_key = notify.alert_keys(subject)
    first = [(notify.channel_of(site), channel_key)]
    if current is not None:
        first.append((Audience.on_call(site.id, current.user), dm_key))
    # With nobody on call the channel copy says so (and calls @here): no chain follows.
    nobody = None
    if current is None:
        nobody = {
            "step": "channel",
            "oncall": None,
            "backup": None,
            "nobody_on_call": True,
            "ping": ping,
        }
        nobody["minutes"] = 0
    posts = []
    for audience, key in first:
        post = _send(session, record, audience, key, nobody, now, by)
        if post is not None:
            posts.append(post)
    return posts


def _send_step(
    session: Session, record: AlertRecord, site: Site, now: datetime, by: Request
) -> Post | None:
    """An escalation step: the backup's DM, or the channel with @here."""
    step = record.step
    stored = record.payload
    audience = Audience.one_user(record.backup_id) if step == "backup" else notify.channel_of(site)
    escalation = {
        "step": step,
        "oncall": record.oncall_id,
        "backup": record.backup_id,
        "nobody_on_call": bool(stored.get("nobody_on_call")),
        "minutes": int((now - record.raised_at).total_seconds() // 60),
    }
    return _send(session, record, audience, alert_key(record.subject, step), escalation, now, by)


def _send(
    session: Session,
    record: AlertRecord,
    audience: Audience,
    key: str,
    escalation: dict[str, Any] | None,
    now: datetime,
    by: Request,
) -> Post | None:
    step = record.step
    stored = record.payload
    post = Post(
        kind=stored["kind"],
        audience=audience,
        study_id=stored.get("study_id"),
        decision_ids=tuple(stored.get("decision_ids") or ()),
        facts={**stored["facts"], "alert": record.subject, "escalation": escalation},
    )
    if not notify.enqueue_post(session, post, dedupe_key=key, now=now):
        return None
    add_audit(
        session,
        actor=by.user,
        action="alert",
        subject=f"alert:{record.subject}",
        details={
            "step": step,
            "to": audience.address,
            "study_id": stored.get("study_id"),
            "source": by.source,
        },
        now=now,
    )
    return post


def _still_open(session: Session, record: AlertRecord) -> str | None:
    """None while the alert still needs someone; else why it no longer does (a decision
    withdrawn or decided some other way)."""
    if not record.subject.startswith("D"):
        return None
    decision = session.get(DecisionRecord, int(record.subject[1:]))
    if decision is None or decision.status == "proposed":
        return None
    return decision.status


def escalate_due(ctx: ServiceContext, now: datetime) -> list[Step]:
    """Take the next step of every unacknowledged alert whose time has come."""
    now = as_utc(now)
    steps: list[Step] = []
    scheduler = Request.scheduler()
    with ctx.db.transaction() as session:
        statement = (
            select(AlertRecord)
            .where(AlertRecord.acked_at.is_(None), AlertRecord.next_at <= now)
            .order_by(AlertRecord.next_at, AlertRecord.id)
            .limit(BATCH)
        )
        if session.get_bind().dialect.name == "postgresql":
            statement = statement.with_for_update(skip_locked=True)
        for record in session.exec(statement.execution_options(populate_existing=True)).all():
            closed = _still_open(session, record)
            if closed is not None:
                _ack(session, record, by=scheduler.user, how="withdrawn", now=now, note=closed)
                continue
            if record.step == "oncall" and record.backup_id:
                record.step, record.next_at = "backup", now + ctx.settings.escalate_after
            else:
                record.step, record.next_at = "channel", None
            session.add(record)
            site = session.get(Site, record.site_id)
            if _send_step(session, record, site, now, scheduler) is not None:
                steps.append(Step(record.subject, record.step))
    return steps


def _ack(
    session: Session,
    record: AlertRecord,
    *,
    by: str,
    how: str,
    now: datetime,
    note: str | None = None,
) -> None:
    record.acked_at, record.acked_by, record.acked_how = now, by, how
    record.next_at = None
    session.add(record)
    add_audit(
        session,
        actor=by,
        action="alert_ack",
        subject=f"alert:{record.subject}",
        details={"how": how, "step": record.step, "note": note},
        now=now,
    )


def acknowledge(
    session: Session, subjects: Iterable[str], *, by: str, how: str, now: datetime
) -> list[str]:
    """Acknowledge the open alerts about `subjects`; returns those acknowledged now."""
    if how not in ACK_HOWS:
        raise ValueError(f"unknown acknowledgement {how!r}")
    wanted = list(dict.fromkeys(subjects))
    if not wanted:
        return []
    records = session.exec(
        select(AlertRecord).where(AlertRecord.subject.in_(wanted), AlertRecord.acked_at.is_(None))
    ).all()
    for record in records:
        _ack(session, record, by=by, how=how, now=now)
    return [r.subject for r in records]


def event_subjects(session: Session, patient_id: int, event_number: int) -> list[str]:
    """The alert subjects about entry E{n}: the entry, and the decisions it triggered."""
    decisions = session.exec(
        select(DecisionRecord.id)
        .where(DecisionRecord.patient_id == patient_id, DecisionRecord.event_id == event_number)
        .order_by(DecisionRecord.id)
    ).all()
    return [f"E{event_number}", *(f"D{d}" for d in decisions)]


def raised(session: Session, subjects: Iterable[str]) -> list[str]:
    """Those of `subjects` that raised an alert, in the order given."""
    wanted = list(subjects)
    found = set(
        session.exec(select(AlertRecord.subject).where(AlertRecord.subject.in_(wanted))).all()
    )
    return [s for s in wanted if s in found]


def acknowledge_event(
    session: Session, patient_id: int, event_number: int, *, by: str, how: str, now: datetime
) -> list[str]:
    """An answer about entry E{n} (an attribution) acknowledges its alert and the alerts
    of the decisions it triggered."""
    subjects = event_subjects(session, patient_id, event_number)
    return acknowledge(session, subjects, by=by, how=how, now=now)


def ack(ctx: ServiceContext, request: Request, subject: str) -> Outcome:
    """`/trial ack D12` (or the Acknowledge button): stop the chain of that alert."""
    require_role(ctx, request, "investigator", "acknowledging an alert")
    wanted = subject.strip().upper()
    if len(wanted) < 2 or wanted[0] not in "DE" or not wanted[1:].isdigit():
        raise UserError(
            f"{subject!r} is not an alert",
            field="alert",
            allowed="a decision or entry id: D12, E45",
        )
    with ctx.db.transaction() as session:
        record = session.exec(select(AlertRecord).where(AlertRecord.subject == wanted)).first()
        if record is None:
            raise UserError(f"there is no alert about {wanted}", field="alert")
        data = {"alert": wanted, "already": record.acked_at is not None}
        if record.acked_at is None:
            _ack(session, record, by=request.user, how="ack", now=ctx.now())
        data.update(
            acked_by=record.acked_by,
            acked_how=record.acked_how,
            acked_at=record.acked_at.isoformat() if record.acked_at else None,
            step=record.step,
            study_id=record.payload.get("study_id"),
        )
    return Outcome(operation="ack", study_id=data["study_id"], data=data)


def open_alerts(session: Session, site_id: str) -> list[AlertRecord]:
    return list(
        session.exec(
            select(AlertRecord)
            .where(AlertRecord.site_id == site_id, AlertRecord.acked_at.is_(None))
            .order_by(AlertRecord.raised_at, AlertRecord.id)
        )
    )
