"""`decisions`: the decisions awaiting an investigator at the user's site."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.commands.args import Args
from bot.commands.registry import Command
from bot.commands.reply import Reply

if TYPE_CHECKING:
    from bot.services.context import Request, ServiceContext

USAGE = "decisions [site=main]"


def decisions(ctx: ServiceContext, request: Request, args: Args) -> Reply:
    from bot.services import queries

    args.only(("site",))
    args.done(USAGE)
    outcome = queries.open_decisions(
        ctx, request, site=args.text("site", allowed="a site id, e.g. main")
    )
    return Reply.of("replies/decisions.j2", outcome, site=outcome.data["site"])


COMMANDS = (
    Command(
        name="decisions",
        usage=USAGE,
        summary="decisions awaiting an investigator's confirmation at your site",
        help=(
            "Every proposed decision not yet confirmed or overridden at your site (your "
            "member site, or site=), oldest first, each with its drug, action, dose, reason, "
            "rule and what the investigator must do."
        ),
        role="viewer",
        group="read",
        handler=decisions,
        examples=("decisions",),
        aliases=("decision", "open"),
    ),
)
