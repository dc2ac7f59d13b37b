"""`site`: the sites and their study channels; an admin sets a site's channel."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.commands.args import Args
from bot.commands.registry import Command
from bot.commands.reply import Reply
from bot.errors import UserError

if TYPE_CHECKING:
    from bot.services.context import Request, ServiceContext

SITE_USAGE = "site [SITE channel=#channel]"


def site(ctx: ServiceContext, request: Request, args: Args) -> Reply:
    from bot.services import sites

    args.only(("channel",))
    if not args.words and not args.has("channel"):
        args.done(SITE_USAGE)
        return Reply.of("replies/site.j2", sites=sites.listing(ctx, request), changed=None)
    site_id = args.word("site", "which site", "a site id, e.g. main")
    channel = args.text("channel", allowed=sites.CHANNEL_ALLOWED)
    args.done(SITE_USAGE)
    if channel is None:
        raise UserError(
            "say which channel",
            field="channel",
            allowed=f"channel=#channel ({sites.CHANNEL_ALLOWED})",
        )
    outcome = sites.set_channel(ctx, request, site_id, sites.parse_channel(channel))
    return Reply.of("replies/site.j2", outcome, changed=outcome.data)


COMMANDS = (
    Command(
        name="site",
        usage=SITE_USAGE,
        summary="the sites and their study channels; set a site's channel (admin)",
        help=(
            "Without arguments: every site and its study channel. With a site and "
            "channel=#channel (typed in Slack, so Slack links it): that channel becomes the "
            "site's study channel, where commands act for the site and alerts are posted. "
            "TRIALBOT_SITE_CHANNELS sets the same at start."
        ),
        role="admin",
        group="admin",
        handler=site,
        examples=("site", "site main channel=#trial-study"),
    ),
)
