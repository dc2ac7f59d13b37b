"""`oncall` (set or show the on-call rota) and `ack` (acknowledge an alert)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.commands.args import Args
from bot.commands.registry import Command, decision_command
from bot.commands.reply import Reply

if TYPE_CHECKING:
    from bot.services.context import Request, ServiceContext

ONCALL_USAGE = "oncall [U0DOC0001 [backup=U0DOC0002] [site=main] [from=DATE] [to=DATE]]"
ACK_USAGE = "ack D12|E45"


def oncall(ctx: ServiceContext, request: Request, args: Args) -> Reply:
    from bot.services import rota

    args.only(("backup", "site", "from", "to"))
    site = args.text("site", allowed="a site id, e.g. main")
    if not args.words:
        if any(args.has(k) for k in ("backup", "from", "to")):
            args.word("user", "who is on call", "a Slack user id such as U0DOC0001")
        args.done(ONCALL_USAGE)
        outcome = rota.show_rota(ctx, request, site)
        return Reply.of("replies/oncall.j2", outcome, rota=outcome.data, added=None)
    user = args.word("user", "who is on call", "a Slack user id such as U0DOC0001")
    args.done(ONCALL_USAGE)
    outcome = rota.set_rota(
        ctx,
        request,
        user,
        backup=args.text("backup", allowed="a Slack user id such as U0DOC0002"),
        site=site,
        start=args.text("from", allowed="YYYY-MM-DD or YYYY-MM-DDTHH:MM"),
        end=args.text("to", allowed="YYYY-MM-DD or YYYY-MM-DDTHH:MM"),
    )
    return Reply.of("replies/oncall.j2", outcome, rota=outcome.data, added=outcome.data["added"])


def ack(ctx: ServiceContext, request: Request, args: Args) -> Reply:
    from bot.services import alerts

    args.only(())
    subject = args.word("alert", "which alert", "a decision or entry id: D12, E45")
    args.done(ACK_USAGE)
    outcome = alerts.ack(ctx, request, subject)
    return Reply.of("replies/ack.j2", outcome, ack=outcome.data)


COMMANDS = (
    Command(
        name="oncall",
        usage=ONCALL_USAGE,
        summary="who is on call now and next; set the rota (investigator)",
        help=(
            "Alerts (decisions that need an investigator, grade ≥ 3 entries) go by direct "
            "message to the investigator on call; unacknowledged after "
            "TRIALBOT_ESCALATE_AFTER they go to the backup, then to the channel with @here. "
            "With a user, sets the rota from from= (default now) to to= (default no end; "
            "dates are site-local); the newest entry covering an instant wins. Without one, "
            "shows who is on call now and who takes over next."
        ),
        role="viewer",
        group="admin",
        handler=oncall,
        examples=(
            "oncall",
            "oncall U0DOC0001 backup=U0DOC0002",
            "oncall U0DOC0002 site=main from=2027-03-13 to=2027-03-15",
        ),
    ),
    decision_command(
        "ack",
        usage=ACK_USAGE,
        summary="acknowledge an alert so it stops escalating (investigator)",
        help=(
            "Stops the alert's escalation chain at once (confirming, overriding or "
            "attributing counts too). The decision itself stays open until confirmed or "
            "overridden."
        ),
        handler=ack,
        examples=("ack D12", "ack E45"),
    ),
)
