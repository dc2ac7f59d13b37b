"""`response`: a tumour response assessment (RECIST 1.1)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.commands.args import Args
from bot.commands.registry import Command
from bot.commands.reply import Reply
from bot.entry_rules import RECIST

if TYPE_CHECKING:
    from bot.services.context import Request, ServiceContext

USAGE = "response {study_id} CR|PR|SD|PD|NE [date=YYYY-MM-DD]"


def response(ctx: ServiceContext, request: Request, args: Args) -> Reply:
    from bot.services import entries
    from bot.services.today import today_at_site

    args.only(("date",))
    study_id = args.study_id()
    category = args.word("response", "the RECIST 1.1 response", ", ".join(RECIST))
    args.done(USAGE)
    outcome = entries.record_response(
        ctx,
        request,
        study_id,
        category,
        on=args.date("date", today_at_site(ctx, study_id=study_id)),
    )
    return Reply.of("replies/response.j2", outcome)


COMMANDS = (
    Command(
        name="response",
        usage=USAGE,
        summary="record a RECIST 1.1 response assessment",
        help=(
            "CR complete response, PR partial response, SD stable disease, PD progressive "
            "disease, NE not evaluable. Progression refers every drug still planned to the "
            "investigator."
        ),
        role="coordinator",
        group="enter",
        handler=response,
        examples=("response {study_id} PR", "response {study_id} PD date=2027-06-01"),
    ),
)
