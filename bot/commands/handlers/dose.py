"""`dose`: a drug given, held (postponed) or skipped, or a radiotherapy fraction."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.commands.args import Args
from bot.commands.registry import Command
from bot.commands.reply import Reply
from bot.entry_rules import ENTRY_RULES, STATUS_WORDS
from bot.errors import UserError

if TYPE_CHECKING:
    from bot.services.context import Request, ServiceContext

USAGE = 'dose {study_id} <drug> [given|held|skipped] [mg=52] [date=YYYY-MM-DD] [reason="…"]'
RULE = ENTRY_RULES["dose"]
OPTIONS = RULE.command_options
MG = RULE.option("mg")


def dose(ctx: ServiceContext, request: Request, args: Args) -> Reply:
    from bot.services import entries
    from bot.services.today import today_at_site

    args.only(OPTIONS)
    study_id = args.study_id()
    status = args.take(STATUS_WORDS)
    written = args.text("status", allowed="given, held, skipped")
    if written is not None:
        if status is not None:
            raise UserError(
                "the status is given twice", field="status", allowed="given, held or skipped, once"
            )
        status = STATUS_WORDS.get(written.lower(), written.lower())
    treatments = ", ".join(entries.treatments_of(ctx))
    drug = args.word("drug", "which drug or treatment", treatments)
    args.done(USAGE)
    outcome = entries.record_dose(
        ctx,
        request,
        study_id,
        drug,
        status=status or "given",
        on=args.date("date", today_at_site(ctx, study_id=study_id)),
        mg=args.number("mg", low=MG.low, high=MG.high, unit=MG.unit),
        reason=args.text("reason", allowed='reason="why"'),
    )
    return Reply.of("replies/dose.j2", outcome)


COMMANDS = (
    Command(
        name="dose",
        usage=USAGE,
        summary="record a dose given, held (postponed) or skipped",
        help=(
            "given (the default): administered — mg is the amount given, if you want it "
            "recorded. held: postponed, the slot moves to a later treatment day. skipped: "
            "not given and not made up. The treatments are the schedule's drugs and "
            "radiotherapy courses (the trial's own names, e.g. {chemotherapy} or "
            "{radiotherapy}). Radiotherapy fractions are presumed given: record only the "
            "exceptions."
        ),
        role="coordinator",
        group="enter",
        handler=dose,
        examples=(
            "dose {study_id} {chemotherapy} mg=62",
            'dose {study_id} {chemotherapy} held reason="ANC 0.9"',
            'dose {study_id} {radiotherapy} skipped date=2027-03-10 reason="machine down"',
        ),
    ),
)
