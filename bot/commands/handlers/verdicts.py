"""The investigator's part: `confirm` or `override` a proposed decision, and `attribute`
an event as immune-related or not."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.commands.args import Args
from bot.commands.handlers._common import reason_option
from bot.commands.registry import decision_command
from bot.commands.reply import Reply
from bot.errors import UserError

if TYPE_CHECKING:
    from bot.services.context import Request, ServiceContext

CONFIRM_USAGE = "confirm D12"
OVERRIDE_USAGE = 'override D12 reason="why the protocol action is not taken"'
ATTRIBUTE_USAGE = "attribute E45 irae=yes|no"
OVERRIDE_WHY = "why the protocol action is not taken"


def confirm(ctx: ServiceContext, request: Request, args: Args) -> Reply:
    from bot.services import verdicts

    args.only(())
    decision = args.label("D", "decision", "decision")
    args.done(CONFIRM_USAGE)
    outcome = verdicts.confirm(ctx, request, decision)
    return Reply.of("replies/verdict.j2", outcome)


def override(ctx: ServiceContext, request: Request, args: Args) -> Reply:
    from bot.services import verdicts

    args.only(("reason",))
    decision = args.label("D", "decision", "decision")
    reason = reason_option(args, f"override {decision}", OVERRIDE_WHY, OVERRIDE_USAGE)
    if reason is None:
        raise UserError(
            "an override needs a reason",
            field="reason",
            allowed=f'reason="{OVERRIDE_WHY}"',
        )
    outcome = verdicts.override(ctx, request, decision, reason)
    return Reply.of("replies/verdict.j2", outcome)


def attribute(ctx: ServiceContext, request: Request, args: Args) -> Reply:
    from bot.services import entries

    args.only(("irae",))
    event = args.label("E", "event", "entry")
    # `attribute E45 yes` reads naturally too
    word = args.take({"yes": "yes", "no": "no", "y": "yes", "n": "no"})
    if word is not None and args.has("irae"):
        raise UserError("irae is given twice", field="irae", allowed="irae=yes|no, once")
    args.done(ATTRIBUTE_USAGE)
    irae = args.yes_no("irae") if word is None else word == "yes"
    if irae is None:
        raise UserError(
            "say whether it is immune-related", field="irae", allowed="irae=yes or irae=no"
        )
    outcome = entries.attribute(ctx, request, event, irae)
    return Reply.of("replies/attribute.j2", outcome, target=event, irae=irae)


COMMANDS = (
    decision_command(
        "confirm",
        usage=CONFIRM_USAGE,
        summary="confirm a proposed decision (investigator)",
        help=(
            "Confirms decision D… as proposed: the hold, reduction, resumption or "
            "discontinuation takes effect in the calendar as confirmed, and the site channel "
            "is told."
        ),
        handler=confirm,
        examples=("confirm D12",),
    ),
    decision_command(
        "override",
        usage=OVERRIDE_USAGE,
        summary="override a proposed decision, with the reason (investigator)",
        help=(
            "The protocol action of decision D… is not taken; the reason is kept in the "
            "audit trail and posted to the site channel. The calendar goes on as if the "
            "decision had not been proposed."
        ),
        handler=override,
        examples=('override D12 reason="ANC 1.6 on repeat the same day"',),
    ),
    decision_command(
        "attribute",
        usage=ATTRIBUTE_USAGE,
        summary="say whether a lab or adverse event is immune-related (investigator)",
        help=(
            "The investigator's call on entry E… (a lab panel or an adverse event): is it an "
            "immunotherapy-related adverse event (irAE)? {table}'s {immunotherapy} rules "
            "apply only to immune-related events, so a referral that asked this question is "
            "followed by their decision."
        ),
        handler=attribute,
        examples=("attribute E45 irae=yes", "attribute E45 irae=no"),
    ),
)
