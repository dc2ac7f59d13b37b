"""Reading what a site's digest needs, in a few aggregate queries (no per-patient
calendar is rebuilt), and queueing it with its reminders once per site and local day.

`trialbot digest` shows a day's digest without posting it (`compose_for`); the scheduler's
daily step (`daily`) queues it under the dedupe key `digest:{site}:{local date}`, with the
day's reminders, in one transaction — so the replica whose insert wins does the day's
work and every other replica's attempt is a no-op.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, and_, func, or_, text, type_coerce
from sqlmodel import Session, select

from bot.calendar.schema import radiotherapy_names
from bot.clock import as_utc
from bot.errors import UserError
from bot.posts import Post
from bot.scheduler import digest as composer
from bot.scheduler import reminders as remind
from bot.services import derive, notify
from bot.services.access import require_role
from bot.services.context import Request, ServiceContext
from bot.services.outcome import Outcome
from bot.services.queries import holds_at_site
from bot.services.rota import on_call_at
from bot.storage.models import (
    OPEN_VISITS,
    AlertRecord,
    CalendarRow,
    DecisionRecord,
    Member,
    OnCallEntry,
    OutboxMessage,
    Patient,
    Site,
)

LOOKBACK_DAYS = 28  # how far back "still open" and "overdue" look
STALE_LOOKBACK_DAYS = 14  # reminders missed during downtime, summarised once
LATE_AFTER = timedelta(minutes=15)  # a message delivered this late is reported
DEAD_REPORTED_DAYS = 7
RADIOTHERAPY = ("radiotherapy", "brachytherapy")
STATE_ACTIONS = ("hold", "reduce", "resume", "discontinue")


def digest_key(site_id: str, day: date) -> str:
    return f"digest:{site_id}:{day.isoformat()}"


WIDEST_WINDOW_DAYS = 45  # no calendar window is wider (yearly follow-up: ±30 days)


def _rows_json(rows) -> list[dict[str, Any]]:
    return [{**payload, "study_id": study_id} for study_id, payload in rows]


_payload = CalendarRow.payload
LIGHT_COLUMNS = (
    CalendarRow.id,
    CalendarRow.study_id,
    # dates as the database gives them: SQLite's text is already ISO, and parsing it into a
    # date only to write it back costs a third of this read at a busy site
    type_coerce(CalendarRow.date, String),
    CalendarRow.kind,
    CalendarRow.item,
    CalendarRow.number,
    type_coerce(CalendarRow.window_from, String),
    type_coerce(CalendarRow.window_to, String),
    CalendarRow.status,
    _payload["label"].as_string(),
    type_coerce(CalendarRow.presumed_done_from, String),
)


def _iso(value: Any) -> str | None:
    """A date column as ISO text: a str on SQLite, a `date` on PostgreSQL."""
    return value if value is None or isinstance(value, str) else value.isoformat()


def _light(rows) -> list[dict[str, Any]]:
    """Calendar rows as the digest needs them, without decoding each row's JSON (most of
    the cost at a busy site): the columns and the label read in SQL. The dose is left
    out here: `_infusions_due` reads it for the few rows the digest names."""
    out = []
    for (
        row_id,
        study_id,
        day,
        kind,
        item,
        number,
        low,
        high,
        status,
        label,
        presumed,
    ) in rows:
        out.append(
            {
                "id": row_id,
                "study_id": study_id,
                "date": _iso(day),
                "kind": kind,
                "item": item,
                "number": number,
                "window": [_iso(low), _iso(high)],
                "status": status,
                "label": label,
                "presumed_done_from": _iso(presumed),
                "dose": None,
            }
        )
    return out


def _infusions_due(session: Session, due_today) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The infusions matching `due_today` (due on the day, not yet recorded) as the digest
    shows them: how many per drug (counted in SQL), and the first `composer.LIST_LIMIT` of
    each drug in study ID order with their mg dose (the only rows whose JSON is read: at
    10,000 patients most infusions of the day are only counted)."""
    counts = dict(
        session.execute(
            select(CalendarRow.item, func.count()).where(*due_today).group_by(CalendarRow.item)
        ).all()
    )
    if not counts:
        return [], {}
    ranked = (
        select(
            CalendarRow.id,
            func.row_number()
            .over(partition_by=CalendarRow.item, order_by=(CalendarRow.study_id, CalendarRow.id))
            .label("place"),
        )
        .where(*due_today)
        .subquery()
    )
    named = select(ranked.c.id).where(ranked.c.place <= composer.LIST_LIMIT)
    rows = session.execute(
        select(*LIGHT_COLUMNS, _payload["dose"])
        .where(CalendarRow.id.in_(named))
        .order_by(CalendarRow.study_id, CalendarRow.id)
    ).all()
    shown = _light(row[:-1] for row in rows)
    for row, (*_, written) in zip(shown, rows, strict=True):
        row["dose"] = _dose(written)
    return shown, counts


def _dose(written: Any) -> dict[str, Any] | None:
    written = written if isinstance(written, dict) else {}
    if written.get("amount") is None:
        return None
    percent = written.get("percent")
    dose = {
        "mg": _whole(_number(written.get("mg"))),
        "amount": _whole(_number(written["amount"])),
        "unit": None if written.get("unit") is None else str(written["unit"]),
        "percent": None if percent is None else int(percent),
    }
    missing = (written.get("derivation") or {}).get("missing")
    if missing:  # a derived dose (mg/kg, AUC) without mg: what it needs, so the digest refers
        dose["missing"] = [str(name) for name in missing]
    return dose


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _whole(value: float | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


def _targets(session: Session, site: Site) -> set[str]:  # addresses
    """Where the site's posts go: its channel, its members and whoever is on its rota."""
    members = session.exec(
        select(Member.user_id).where(or_(Member.site_id == site.id, Member.site_id.is_(None)))
    ).all()
    rota = session.exec(
        select(OnCallEntry.user_id, OnCallEntry.backup_id).where(
            or_(OnCallEntry.site_id == site.id, OnCallEntry.site_id.is_(None))
        )
    ).all()
    return {notify.channel_of(site).address, *members, *(u for pair in rota for u in pair if u)}


_MESSAGE_COLUMNS = (
    OutboxMessage.id,
    OutboxMessage.dedupe_key,
    OutboxMessage.kind,
    OutboxMessage.target,
    OutboxMessage.status,
    OutboxMessage.attempts,
    OutboxMessage.last_error,
    OutboxMessage.created_at,
    OutboxMessage.sent_at,
    OutboxMessage.not_before,
)


def _delivery(session: Session, site: Site, now: datetime) -> tuple[list, list]:
    targets = list(_targets(session, site))
    undelivered = []
    for row in session.execute(
        select(*_MESSAGE_COLUMNS)
        .where(
            OutboxMessage.target.in_(targets),
            or_(
                and_(
                    OutboxMessage.status == "dead",
                    # given up within the week (its last try was scheduled then)
                    OutboxMessage.not_before >= now - timedelta(days=DEAD_REPORTED_DAYS),
                ),
                and_(
                    OutboxMessage.status.in_(("pending", "sending")),
                    OutboxMessage.not_before <= now - LATE_AFTER,
                ),
            ),
        )
        .order_by(OutboxMessage.id)
    ):
        undelivered.append(_message_json(row))
    late = []
    for row in session.execute(
        select(*_MESSAGE_COLUMNS)
        .where(
            OutboxMessage.target.in_(targets),
            OutboxMessage.status == "sent",
            OutboxMessage.sent_at >= now - timedelta(days=1),
        )
        .order_by(OutboxMessage.id)
    ):
        if row.sent_at - row.not_before > LATE_AFTER:
            late.append(_message_json(row))
    return undelivered, late


def _message_json(row) -> dict[str, Any]:
    return {
        "id": row.id,
        "key": row.dedupe_key,
        "kind": row.kind,
        "target": row.target,
        "status": row.status,
        "attempts": row.attempts,
        "error": row.last_error,
        "created_at": row.created_at.isoformat(),
        "sent_at": row.sent_at.isoformat() if row.sent_at else None,
    }


def _holds(session: Session, site: Site) -> list[dict[str, Any]]:
    """Each patient's drugs whose latest state decision (proposed or confirmed) is a hold
    or a reduced dose, from the decision table. "Latest" is the highest decision id per
    patient and drug, found in SQL: a busy site has thousands of state decisions, and only
    the current ones are shown."""
    zone = ZoneInfo(site.timezone)
    latest = (
        select(func.max(DecisionRecord.id))
        .join(Patient, Patient.id == DecisionRecord.patient_id)
        .where(
            Patient.site_id == site.id,
            DecisionRecord.action.in_(STATE_ACTIONS),
            DecisionRecord.status.in_(("proposed", "confirmed")),
        )
        .group_by(DecisionRecord.patient_id, DecisionRecord.drug)
    )
    percent_of = func.coalesce(func.nullif(DecisionRecord.dose_percent, 0), 100)  # as `or 100`
    out = []
    for record, study_id in _decisions_where(
        session,
        DecisionRecord.id.in_(latest.scalar_subquery()),
        or_(
            DecisionRecord.action == "hold",
            and_(DecisionRecord.action.in_(("reduce", "resume")), percent_of < 100),
        ),
    ):
        percent = record.dose_percent or 100
        out.append(
            {
                "study_id": study_id,
                "drug": record.drug,
                "action": "hold" if record.action == "hold" else "reduce",
                "percent": percent,
                "since": record.proposed_at.astimezone(zone).date().isoformat(),
                "confirmed": record.status == "confirmed",
                "decision": f"D{record.id}",
            }
        )
    out.sort(key=lambda h: (h["drug"], h["study_id"]))
    return out


def _decisions_where(session: Session, *conditions) -> list[tuple[Any, str]]:
    """Decisions with their study ID: the columns the digest shows, not the payloads."""
    rows = session.execute(
        select(
            DecisionRecord.id,
            DecisionRecord.patient_id,
            DecisionRecord.drug,
            DecisionRecord.action,
            DecisionRecord.dose_percent,
            DecisionRecord.status,
            DecisionRecord.proposed_at,
            Patient.study_id,
        )
        .join(Patient, Patient.id == DecisionRecord.patient_id)
        .where(*conditions)
        .order_by(DecisionRecord.id)
    ).all()
    return [(row, row.study_id) for row in rows]


def _awaiting(session: Session, site: Site) -> list[dict[str, Any]]:
    return [
        {
            "id": f"D{record.id}",
            "study_id": study_id,
            "drug": record.drug,
            "action": record.action,
            "proposed_at": record.proposed_at.isoformat(),
        }
        for record, study_id in _decisions_where(
            session, Patient.site_id == site.id, DecisionRecord.status == "proposed"
        )
    ]


def gather(
    ctx: ServiceContext, session: Session, site: Site, day: date, now: datetime
) -> composer.DigestInput:
    now = as_utc(now)
    calendar = derive.site_calendar_of(site, ctx.site_calendars)
    first = day - timedelta(days=LOOKBACK_DAYS)
    here = CalendarRow.site_id == site.id
    # literally the partial index's condition, so both databases use it
    open_visits = text(OPEN_VISITS)
    planned = CalendarRow.status == "planned"
    # "unrecorded" (reminders.unrecorded) in SQL: planned, and not presumed done by `day`
    unrecorded = or_(CalendarRow.presumed_done_from.is_(None), CalendarRow.presumed_done_from > day)
    infusing_today = and_(CalendarRow.date == day, CalendarRow.kind == "infusion")
    infusions, infusion_counts = _infusions_due(
        session, (here, open_visits, infusing_today, unrecorded)
    )
    today_rows = _light(
        session.execute(
            select(*LIGHT_COLUMNS)
            .where(here, open_visits, CalendarRow.date >= first, CalendarRow.date <= day)
            .where(or_(CalendarRow.date == day, CalendarRow.window_to >= day))
            .where(unrecorded, ~infusing_today)
            .order_by(CalendarRow.date, CalendarRow.study_id, CalendarRow.id)
        ).all()
    )
    today_rows = infusions + today_rows
    radiotherapy = dict(
        session.exec(
            select(CalendarRow.item, func.count(func.distinct(CalendarRow.patient_id)))
            .where(here, planned, CalendarRow.kind == "radiotherapy", CalendarRow.date == day)
            .group_by(CalendarRow.item)
        ).all()
    )
    brachytherapy = list(
        session.exec(
            select(CalendarRow.study_id)
            .where(here, planned, CalendarRow.kind == "brachytherapy", CalendarRow.date == day)
            .order_by(CalendarRow.study_id)
        ).all()
    )
    next_days = [
        (row_date, kind, count)
        for row_date, kind, count in session.exec(
            select(CalendarRow.date, CalendarRow.kind, func.count())
            .where(
                here,
                planned,
                CalendarRow.date > day,
                CalendarRow.date <= day + timedelta(days=7),
            )
            .group_by(CalendarRow.date, CalendarRow.kind)
        ).all()
    ]
    overdue = _light(
        session.execute(
            select(*LIGHT_COLUMNS)
            # the date bound lets the (site, date) index find the candidates
            .where(here, open_visits, CalendarRow.date < day)
            .where(CalendarRow.date >= first - timedelta(days=WIDEST_WINDOW_DAYS))
            .where(CalendarRow.window_to >= first, CalendarRow.window_to < day)
            .order_by(CalendarRow.window_to, CalendarRow.study_id, CalendarRow.id)
        ).all()
    )
    overdue = [r for r in overdue if remind.unrecorded(r, day)]
    undelivered, late = _delivery(session, site, now)
    current = on_call_at(session, site.id, now)
    open_alerts = [
        {"subject": subject, "step": step, "study_id": study_id}
        for subject, step, study_id in session.execute(
            select(
                AlertRecord.subject, AlertRecord.step, AlertRecord.payload["study_id"].as_string()
            )
            .where(AlertRecord.site_id == site.id, AlertRecord.acked_at.is_(None))
            .order_by(AlertRecord.raised_at, AlertRecord.id)
        ).all()
    ]
    return composer.DigestInput(
        site=site.id,
        day=day,
        timezone=site.timezone,
        closure=None if calendar.is_treatment_day(day) else calendar.closure_reason(day),
        today_rows=today_rows,
        infusion_counts=infusion_counts,
        radiotherapy_today=radiotherapy,
        radiotherapy_names=radiotherapy_names(ctx.rules.schedule),
        brachytherapy_today=brachytherapy,
        next_days=next_days,
        overdue_rows=overdue,
        holds=_holds(session, site),
        awaiting=_awaiting(session, site),
        alerts=open_alerts,
        undelivered=undelivered,
        late=late,
        on_call=current.to_json() if current else None,
        # holds lasting TRIALBOT_HOLD_REVIEW_AFTER days or more: `/trial holds` lists the same
        long_holds=holds_at_site(session, site.id, day, ctx.settings.hold_review_after, ctx),
    )


def _site(session: Session, ctx: ServiceContext, request: Request, site: str | None) -> Site:
    member = session.get(Member, request.user)
    wanted = site or (member.site_id if member and member.site_id else None)
    wanted = wanted or ctx.default_site
    row = session.get(Site, wanted)
    if row is None:
        known = [s.id for s in session.exec(select(Site)).all()]
        raise UserError(f"unknown site {wanted!r}", field="site", allowed=", ".join(known))
    return row


def compose_for(
    ctx: ServiceContext, request: Request, *, site: str | None = None, day: date | None = None
) -> Outcome:
    """The digest of `site` for `day` (default today at the site), not posted."""
    require_role(ctx, request, "viewer", "reading the digest")
    with ctx.db.transaction(readonly=True) as session:
        site_row = _site(session, ctx, request, site)
        wanted = day or ctx.today_at(site_row.timezone)
        data = composer.compose(gather(ctx, session, site_row, wanted, ctx.now()))
        post = digest_post(site_row, data)
    return Outcome(operation="digest", posts=[post], data={"digest": data})


def digest_post(site: Site, data: dict[str, Any]) -> Post:
    return Post(kind="digest", audience=notify.channel_of(site), facts={"digest": data})


def daily(ctx: ServiceContext, site_id: str, day: date, now: datetime) -> bool:
    """Queue the site's digest for `day` (and its reminders), once. False if it was already
    queued (by this or another replica)."""
    now = as_utc(now)
    with ctx.db.transaction() as session:
        site = session.get(Site, site_id)
        key = digest_key(site.id, day)
        placeholder = digest_post(site, {})
        # The insert is the day's lease: a second replica's insert does nothing, and it
        # stops here (its transaction only read).
        if not notify.enqueue_post(session, placeholder, dedupe_key=key, now=now):
            return False
        missed = queue_reminders(ctx, session, site, day, now)
        data_in = gather(ctx, session, site, day, now)
        data_in.stale_reminders = len(missed)
        data = composer.compose(data_in)
        main = session.exec(select(OutboxMessage).where(OutboxMessage.dedupe_key == key)).one()
        main.payload = digest_post(site, data).model_dump(mode="json")
        session.add(main)
    return True


def queue_reminders(
    ctx: ServiceContext, session: Session, site: Site, day: date, now: datetime
) -> list[remind.Reminder]:
    """Queue the reminders that fall on `day`; those of earlier days that were never
    queued (trialbot was down) are recorded as expired and summarised in one message.
    Returns the missed ones."""
    calendar = derive.site_calendar_of(site, ctx.site_calendars)
    settings = ctx.settings
    first = day - timedelta(days=STALE_LOOKBACK_DAYS)
    # infusions up to `remind_days` treatment days ahead; a fortnight covers holidays
    horizon = day + timedelta(days=3 * settings.remind_days + 14)
    rows = _rows_json(
        session.exec(
            select(CalendarRow.study_id, CalendarRow.payload).where(
                CalendarRow.site_id == site.id,
                CalendarRow.kind.not_in(RADIOTHERAPY),
                CalendarRow.status == "planned",
                CalendarRow.date <= horizon,
                CalendarRow.date >= first - timedelta(days=WIDEST_WINDOW_DAYS),
                or_(CalendarRow.date >= first, CalendarRow.window_to >= first),
            )
        ).all()
    )
    found = remind.reminders_for(
        rows, first, day, remind_days=settings.remind_days, calendar=calendar
    )
    channel = notify.channel_of(site)
    zone = ZoneInfo(site.timezone)

    def post(reminder: remind.Reminder) -> Post:
        return Post(
            kind="reminder",
            audience=channel,
            study_id=reminder.study_id,
            facts={"reminder": reminder.to_json()},
        )

    end_of_day = as_utc(datetime.combine(day + timedelta(days=1), datetime.min.time(), zone))
    earlier = [r for r in found if r.day < day]
    known = set()
    if earlier:
        known = set(
            session.exec(
                select(OutboxMessage.dedupe_key).where(
                    OutboxMessage.dedupe_key.in_([r.key for r in earlier])
                )
            ).all()
        )
    missed = [r for r in earlier if r.key not in known]
    for reminder in (r for r in found if r.day == day):
        notify.enqueue_post(
            session, post(reminder), dedupe_key=reminder.key, now=now, expires_at=end_of_day
        )
    if missed:
        for reminder in missed:
            # Born expired: recorded so the same missed reminder is never summarised again.
            notify.enqueue_post(
                session, post(reminder), dedupe_key=reminder.key, now=now, expires_at=now
            )
        session.execute(
            OutboxMessage.__table__.update()
            .where(OutboxMessage.dedupe_key.in_([r.key for r in missed]))
            .where(OutboxMessage.status == "pending")
            .values(status="expired")
        )
        summary = Post(
            kind="reminders_missed",
            audience=channel,
            facts={
                "site": site.id,
                "day": day.isoformat(),
                "missed": [r.to_json() for r in missed],
            },
        )
        notify.enqueue_post(
            session, summary, dedupe_key=f"remind:missed:{site.id}:{day.isoformat()}", now=now
        )
    return missed
