"""Team members and their roles (admins only). Members are Slack user ids: no names."""

from __future__ import annotations

from sqlmodel import select

from bot.errors import UserError
from bot.services import rota
from bot.services.access import effective_role, require_write
from bot.services.context import Request, ServiceContext
from bot.services.enrolment import ensure_sites
from bot.services.outcome import Outcome
from bot.services.unit import transaction
from bot.settings import SLACK_USER_ID
from bot.storage.audit import add_audit
from bot.storage.models import ROLES, Member, Site


def set_role(
    ctx: ServiceContext,
    request: Request,
    user_id: str,
    role: str,
    *,
    site: str | None = None,
    on_call: bool | None = None,
) -> Outcome:
    require_write(ctx, request, "role")
    target = user_id.strip().lstrip("<@").rstrip(">").split("|")[0].upper()
    if not SLACK_USER_ID.match(target):
        raise UserError(
            f"{user_id!r} is not a Slack user id",
            field="user",
            allowed="a Slack user id such as U0123ABCD (or an @mention)",
        )
    wanted = role.strip().lower()
    if wanted not in ROLES:
        from bot.errors import closest

        raise UserError(
            f"unknown role {role!r}",
            field="role",
            allowed=", ".join(ROLES),
            suggestion=closest(wanted, ROLES),
        )
    if target in ctx.settings.admins and wanted != "admin":
        # The settings make them admin whatever the member table says: saying "is now
        # viewer" would claim an effect that does not take place.
        raise UserError(
            f"{target} is an admin through the TRIALBOT_ADMINS setting, so a {wanted} role "
            "here would not take effect",
            field="role",
            allowed=f"admin (to set their site or on-call flag), or first remove {target} "
            "from TRIALBOT_ADMINS",
        )
    with transaction(ctx, request, "role") as session:  # the admin role checked inside
        ensure_sites(session, ctx)
        if site is not None and session.get(Site, site) is None:
            known = [s.id for s in session.exec(select(Site)).all()]
            raise UserError(f"unknown site {site!r}", field="site", allowed=", ".join(known))
        now = ctx.now()
        member = session.get(Member, target)
        before = member.role if member else None
        if member is None:
            member = Member(
                user_id=target,
                role=wanted,
                site_id=site,
                on_call=bool(on_call),
                created_at=now,
                updated_at=now,
            )
        else:
            member.role = wanted
            member.updated_at = now
            if site is not None:
                member.site_id = site
            if on_call is not None:
                member.on_call = on_call
        if member.on_call and wanted not in ("investigator", "admin"):
            raise UserError(
                "only an investigator can be on call",
                field="oncall",
                allowed="oncall=yes with the investigator or admin role",
            )
        session.add(member)
        session.flush()
        effective = effective_role(session, ctx, Request(user=target))
        if effective != wanted:  # a rule above missed a way the role is decided
            raise UserError(
                f"{target} would still be {effective}, not {wanted}: nothing was changed",
                field="role",
            )
        rota.follow_role_flag(session, member, on_call, by=request.user, now=now)
        add_audit(
            session,
            actor=request.user,
            action="role",
            subject=f"member:{target}",
            details={
                "from": before,
                "to": wanted,
                "site": member.site_id,
                "on_call": member.on_call,
            },
            now=now,
        )
        data = {
            "user": target,
            "role": wanted,
            "previous": before,
            "site": member.site_id,
            "on_call": member.on_call,
        }
    return Outcome(operation="role", data=data)
