"""`screen`: eligibility against the trial's criteria (its eligibility.yaml). Records nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot import inputs
from bot.commands.args import Args
from bot.commands.registry import Command
from bot.commands.reply import Reply
from bot.errors import UserError

if TYPE_CHECKING:
    from bot.services.context import Request, ServiceContext

USAGE = "screen {screen_answers} [site=main]"


def screen(ctx: ServiceContext, request: Request, args: Args) -> Reply:
    from bot.services import screening

    answers = {
        key: inputs.check_free_text(value, key, inputs.LAB_TEXT_LIMIT)
        for key, value in args.options.items()
    }
    if args.words:
        raise UserError(
            f"'{args.words[0]}' is not an answer",
            field="answers",
            allowed=args.filled("key=value answers, e.g. {screen_example}"),
        )
    result = screening.screen(ctx, request, answers)
    by_status: dict[str, list[dict[str, Any]]] = {"fail": [], "unanswered": [], "pass": []}
    for criterion in result.criteria:
        by_status[criterion.status].append(criterion.to_json())
    return Reply.of(
        "replies/screen.j2",
        eligible=result.eligible,
        failed=by_status["fail"],
        unanswered=by_status["unanswered"],
        passed=by_status["pass"],
    )


def screen_details(ctx: ServiceContext) -> dict[str, Any]:
    return {
        "criteria": [
            {"key": c.key, "section": c.section, "label": c.label}
            for c in ctx.rules.eligibility.criteria
        ]
    }


COMMANDS = (
    Command(
        name="screen",
        usage=USAGE,
        summary="check a candidate against the eligibility criteria (records nothing)",
        help=(
            "Each eligibility criterion is pass, fail or unanswered; the candidate is "
            'eligible only when all pass. Labs as in a lab entry (hb=10.2, "alt=35 U/L '
            '(7-40)") or, for the ×ULN criteria, a multiple (ast=1.1xULN). Checklist items '
            "take yes/no (na where the protocol allows it; unknown leaves it unanswered). "
            "Nothing is recorded: enrol with `enroll` once eligible."
        ),
        role="viewer",
        group="read",
        handler=screen,
        examples=("screen {screen_example}",),
        details=screen_details,
        details_template="replies/help_screen.j2",
    ),
)
