"""Where a message was written, and what trialbot does there: a site's study channel
(commands act for that site), a direct message (the user's own site), or elsewhere (an
ephemeral pointer to the study channel; nothing is recorded)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.services import sites
from bot.services.context import ServiceContext


@dataclass(frozen=True)
class Place:
    kind: str  # "site", "dm" or "elsewhere"
    site: str | None = None

    @property
    def accepted(self) -> bool:
        return self.kind != "elsewhere"


def place_of(ctx: ServiceContext, channel: str | None, channel_type: str | None = None) -> Place:
    if not channel:
        return Place("elsewhere")
    if channel_type in ("im", "directmessage") or channel.startswith("D"):
        return Place("dm")
    site = sites.site_of_channel(ctx, channel)
    return Place("site", site) if site else Place("elsewhere")


def pointer(ctx: ServiceContext) -> str:
    """The answer outside a study channel: where to go instead."""
    known = [f"<#{channel}>" for channel in sites.channels(ctx).values() if channel]
    where = (
        " or ".join(known)
        if known
        else "the study channel (none is set yet: an admin runs `/trial site main channel=#…`)"
    )
    return f"trialbot works in {where} and in a direct message with me. Nothing was recorded here."
