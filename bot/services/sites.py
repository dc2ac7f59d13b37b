"""Each site's study channel: set by an admin (`site main channel=#trial-study`) or at start
from `TRIALBOT_SITE_CHANNELS`; stored on the site row and audited either way."""

from __future__ import annotations

import re
from collections.abc import Mapping

from sqlmodel import select

from bot.errors import UserError
from bot.services.access import require_role
from bot.services.context import Request, ServiceContext
from bot.services.enrolment import ensure_sites
from bot.services.outcome import Outcome
from bot.storage.audit import add_audit
from bot.storage.models import Site

SETTINGS_ACTOR = "TRIALBOT_SITE_CHANNELS"
# Public and private channel ids (C…, G…); Slack ids are upper-case letters and digits.
CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{6,20}$")
# `<#C0123ABCD|trial-study>`: how Slack sends a channel typed as #trial-study.
CHANNEL_LINK = re.compile(r"^<#([CG][A-Z0-9]{6,20})(?:\|[^>]*)?>$")
CHANNEL_ALLOWED = (
    "the channel as Slack links it (type #channel-name in Slack) or its id, e.g. C0123ABCD"
)


def channel_id(text: str) -> str | None:
    """A channel id from `C0123ABCD` or Slack's `<#C0123ABCD|name>`; else None."""
    candidate = text.strip()
    link = CHANNEL_LINK.match(candidate)
    if link:
        return link.group(1)
    return candidate if CHANNEL_ID.match(candidate) else None


def parse_channel(text: str) -> str:
    found = channel_id(text)
    if found is None:
        raise UserError(
            f"{text.strip()!r} is not a Slack channel", field="channel", allowed=CHANNEL_ALLOWED
        )
    return found


def _site(session, site_id: str) -> Site:
    site = session.get(Site, site_id.strip().lower())
    if site is None:
        known = [s.id for s in session.exec(select(Site).order_by(Site.id)).all()]
        raise UserError(f"unknown site {site_id!r}", field="site", allowed=", ".join(known))
    return site


def _claimed_by(session, channel: str, site_id: str) -> str | None:
    other = session.exec(
        select(Site.id).where(Site.channel_id == channel, Site.id != site_id)
    ).first()
    return other


def set_channel(ctx: ServiceContext, request: Request, site_id: str, channel: str) -> Outcome:
    """Make `channel` (a Slack channel id) the study channel of `site_id` (admins)."""
    require_role(ctx, request, "admin", "setting a site's channel")
    with ctx.db.transaction() as session:
        ensure_sites(session, ctx)
        site = _site(session, site_id)
        other = _claimed_by(session, channel, site.id)
        if other is not None:
            raise UserError(
                f"channel {channel} is already the study channel of site {other}",
                field="channel",
                allowed="one channel per site",
            )
        before = site.channel_id
        site.channel_id = channel
        session.add(site)
        add_audit(
            session,
            actor=request.user,
            action="site_channel",
            subject=f"site:{site.id}",
            details={"channel": channel, "previous": before, "source": request.source},
            now=ctx.now(),
        )
    return Outcome(
        operation="site_channel", data={"site": site.id, "channel": channel, "previous": before}
    )


def configure_channels(ctx: ServiceContext, channels: Mapping[str, str]) -> list[str]:
    """Apply `TRIALBOT_SITE_CHANNELS` at start: sites whose stored channel differs get the
    configured one (audited with the setting as actor). Returns the sites changed."""
    changed: list[str] = []
    with ctx.db.transaction() as session:
        ensure_sites(session, ctx)
        for site_id, channel in channels.items():
            site = _site(session, site_id)
            if site.channel_id == channel:
                continue
            holder = session.exec(select(Site).where(Site.channel_id == channel)).first()
            if holder is not None and holder.id != site.id:
                holder.channel_id = None  # the setting wins over an earlier /trial site
                session.add(holder)
            add_audit(
                session,
                actor=SETTINGS_ACTOR,
                action="site_channel",
                subject=f"site:{site.id}",
                details={"channel": channel, "previous": site.channel_id, "source": "settings"},
                now=ctx.now(),
            )
            site.channel_id = channel
            session.add(site)
            session.flush()
            changed.append(site.id)
    return changed


def site_of_channel(ctx: ServiceContext, channel: str) -> str | None:
    """The site whose study channel `channel` is, or None."""
    with ctx.db.transaction(readonly=True) as session:
        return session.exec(select(Site.id).where(Site.channel_id == channel)).first()


def channels(ctx: ServiceContext) -> dict[str, str | None]:
    """Every site and its study channel (None before one is set)."""
    with ctx.db.transaction(readonly=True) as session:
        return {s.id: s.channel_id for s in session.exec(select(Site).order_by(Site.id)).all()}


def listing(ctx: ServiceContext, request: Request) -> dict[str, str | None]:
    """Every site and its study channel, for any member (`site` without arguments)."""
    require_role(ctx, request, "viewer", "listing the sites")
    return channels(ctx)
