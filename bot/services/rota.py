"""The on-call rota: who answers a site's alerts now, and their backup.

A rota entry covers a site (or every site) from an instant to an instant, or with no end.
At any instant the newest entry covering it wins, so a cover shift set for a weekend sits
on top of the standing rota and the standing rota comes back when it ends. `role …
oncall=yes` adds an entry with no end; `oncall=no` ends the member's open entries.
Setting the rota needs the investigator role or above; reading it, any role.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_
from sqlmodel import Session, select

from bot.clock import as_utc
from bot.errors import UserError
from bot.services.access import require_role
from bot.services.context import Request, ServiceContext
from bot.services.outcome import Outcome
from bot.settings import SLACK_USER_ID
from bot.storage.audit import add_audit
from bot.storage.models import Member, OnCallEntry, Site

ON_CALL_ROLES = ("investigator", "admin")


@dataclass(frozen=True)
class OnCall:
    user: str
    backup: str | None
    starts_at: datetime
    ends_at: datetime | None
    site: str | None
    entry_id: int

    def to_json(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "backup": self.backup,
            "from": self.starts_at.isoformat(),
            "to": self.ends_at.isoformat() if self.ends_at else None,
            "site": self.site,
            "entry": self.entry_id,
        }


def _of(entry: OnCallEntry) -> OnCall:
    return OnCall(
        user=entry.user_id,
        backup=entry.backup_id,
        starts_at=entry.starts_at,
        ends_at=entry.ends_at,
        site=entry.site_id,
        entry_id=entry.id or 0,
    )


def _entries_for(session: Session, site_id: str) -> list[OnCallEntry]:
    return list(
        session.exec(
            select(OnCallEntry)
            .where(or_(OnCallEntry.site_id == site_id, OnCallEntry.site_id.is_(None)))
            .order_by(OnCallEntry.created_at, OnCallEntry.id)
        )
    )


def covering(entries: list[OnCallEntry], at: datetime) -> OnCallEntry | None:
    """The entry in force at `at`: the newest one (last created) whose period covers it."""
    found = None
    for entry in entries:
        if entry.starts_at <= at and (entry.ends_at is None or at < entry.ends_at):
            found = entry
    return found


def on_call_at(session: Session, site_id: str, at: datetime) -> OnCall | None:
    """Who is on call for the site at `at` (and their backup), or None."""
    entry = covering(_entries_for(session, site_id), as_utc(at))
    return _of(entry) if entry else None


def next_change(session: Session, site_id: str, at: datetime) -> OnCall | None:
    """The next rota entry to take over after `at` (the next shift), if one is set."""
    at = as_utc(at)
    entries = _entries_for(session, site_id)
    current = covering(entries, at)
    starts = sorted(
        {e.starts_at for e in entries if e.starts_at > at}
        | ({current.ends_at} if current and current.ends_at else set())
    )
    for moment in starts:
        entry = covering(entries, moment)
        if entry is not None and (current is None or entry.id != current.id):
            return _of(entry)
    return None


def _user_id(text: str, field: str) -> str:
    value = text.strip().lstrip("<@").rstrip(">").split("|")[0].upper()
    if not SLACK_USER_ID.match(value):
        raise UserError(
            f"{text!r} is not a Slack user id",
            field=field,
            allowed="a Slack user id such as U0123ABCD (or an @mention)",
        )
    return value


def _instant(text: str, zone: ZoneInfo, field: str) -> datetime:
    """An ISO date (the start of that day at the site) or date and time (site-local unless
    it carries an offset)."""
    value = text.strip()
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(0), zone)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UserError(
            f"{value!r} is not a date or a date and time",
            field=field,
            allowed="YYYY-MM-DD or YYYY-MM-DDTHH:MM (site time unless an offset is given)",
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def _check_can_be_on_call(ctx: ServiceContext, session: Session, user: str, field: str) -> None:
    if user in ctx.settings.admins:
        return
    member = session.get(Member, user)
    if member is None or member.role not in ON_CALL_ROLES:
        role = member.role if member else "no role"
        raise UserError(
            f"{user} cannot be on call ({role})",
            field=field,
            allowed=f"an investigator or admin (an admin can grant it: role {user} investigator)",
        )


def set_rota(
    ctx: ServiceContext,
    request: Request,
    user: str,
    *,
    backup: str | None = None,
    site: str | None = None,
    start: str | None = None,
    end: str | None = None,
) -> Outcome:
    """Add a rota entry: `user` (and `backup`) on call for `site` from `start` (default now)
    until `end` (default: no end)."""
    require_role(ctx, request, "investigator", "setting the on-call rota")
    on_call = _user_id(user, "user")
    backup_id = _user_id(backup, "backup") if backup else None
    if backup_id == on_call:
        raise UserError("the backup must be someone else", field="backup")
    with ctx.db.transaction() as session:
        from bot.services.enrolment import ensure_sites

        ensure_sites(session, ctx)
        site_id = site or ctx.default_site
        site_row = session.get(Site, site_id)
        if site_row is None:
            known = [s.id for s in session.exec(select(Site)).all()]
            raise UserError(f"unknown site {site_id!r}", field="site", allowed=", ".join(known))
        zone = ZoneInfo(site_row.timezone)
        now = ctx.now()
        starts = as_utc(_instant(start, zone, "from")) if start else now
        ends = as_utc(_instant(end, zone, "to")) if end else None
        if ends is not None and ends <= starts:
            raise UserError(
                f"to= ({ends.astimezone(zone).isoformat(timespec='minutes')}) is not after from=",
                field="to",
                allowed="a date or time after from=",
            )
        _check_can_be_on_call(ctx, session, on_call, "user")
        if backup_id:
            _check_can_be_on_call(ctx, session, backup_id, "backup")
        entry = OnCallEntry(
            site_id=site_row.id,
            user_id=on_call,
            backup_id=backup_id,
            starts_at=starts,
            ends_at=ends,
            created_by=request.user,
            created_at=now,
        )
        session.add(entry)
        session.flush()
        add_audit(
            session,
            actor=request.user,
            action="oncall",
            subject=f"site:{site_row.id}",
            details={"entry": _of(entry).to_json()},
            now=now,
        )
        data = _rota_view(session, site_row, now)
        data["added"] = _local(_of(entry), zone)
    return Outcome(operation="oncall", data=data)


def _local(shift: OnCall | None, zone: ZoneInfo) -> dict[str, Any] | None:
    if shift is None:
        return None
    data = shift.to_json()
    data["from_local"] = shift.starts_at.astimezone(zone).strftime("%a %d %b %Y %H:%M")
    data["to_local"] = (
        shift.ends_at.astimezone(zone).strftime("%a %d %b %Y %H:%M") if shift.ends_at else None
    )
    return data


def _rota_view(session: Session, site: Site, now: datetime) -> dict[str, Any]:
    zone = ZoneInfo(site.timezone)
    return {
        "site": site.id,
        "timezone": site.timezone,
        "now": _local(on_call_at(session, site.id, now), zone),
        "next": _local(next_change(session, site.id, now), zone),
    }


def show_rota(ctx: ServiceContext, request: Request, site: str | None = None) -> Outcome:
    """Who is on call now at the site, and who takes over next."""
    require_role(ctx, request, "viewer", "reading the on-call rota")
    with ctx.db.transaction(readonly=True) as session:
        member = session.get(Member, request.user)
        site_id = site or (member.site_id if member and member.site_id else None)
        site_id = site_id or ctx.default_site
        site_row = session.get(Site, site_id)
        if site_row is None:
            known = [s.id for s in session.exec(select(Site)).all()]
            raise UserError(f"unknown site {site_id!r}", field="site", allowed=", ".join(known))
        data = _rota_view(session, site_row, ctx.now())
    return Outcome(operation="oncall", data=data)


def follow_role_flag(
    session: Session, member: Member, on_call: bool | None, *, by: str, now: datetime
) -> None:
    """`role … oncall=yes|no` as rota entries: yes starts an entry with no end (unless one
    is already open for the member), no ends the member's open entries now."""
    if on_call is None:
        return
    open_entries = list(
        session.exec(
            select(OnCallEntry).where(
                OnCallEntry.user_id == member.user_id,
                or_(OnCallEntry.ends_at.is_(None), OnCallEntry.ends_at > now),
            )
        )
    )
    if on_call:
        if not any(e.ends_at is None and e.starts_at <= now for e in open_entries):
            session.add(
                OnCallEntry(
                    site_id=member.site_id,
                    user_id=member.user_id,
                    starts_at=now,
                    created_by=by,
                    created_at=now,
                )
            )
        return
    for entry in open_entries:
        entry.ends_at = max(now, entry.starts_at + timedelta(microseconds=1))
        session.add(entry)
