"""`hold` and `resume`: the investigator interrupts or resumes a drug by decision, with the
reason; `holds`: the drugs on hold for longer than the review time."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.commands.args import Args
from bot.commands.handlers._common import reason_option
from bot.commands.registry import Command, decision_command
from bot.commands.reply import Reply

if TYPE_CHECKING:
    from bot.services.context import Request, ServiceContext

RESUME_USAGE = 'resume {study_id} <drug> reason="why the hold ends"'
HOLD_USAGE = 'hold {study_id} <drug> reason="why the drug is held"'
HOLDS_USAGE = "holds [days=21] [site=main]"


def _change(ctx: ServiceContext, request: Request, args: Args, action: str, usage: str) -> Reply:
    from bot.services import course

    args.only(("reason",))
    study_id = args.study_id()
    drug = args.word("drug", "which drug", ", ".join(course.drugs_of(ctx)))
    why = "why the drug is held" if action == "hold" else "why the hold ends"
    reason = reason_option(args, f"{action} {study_id} {drug}", why, usage)
    outcome = course.change_course(ctx, request, study_id, drug, action, reason)
    return Reply.of("replies/course.j2", outcome)


def resume(ctx: ServiceContext, request: Request, args: Args) -> Reply:
    return _change(ctx, request, args, "resume", RESUME_USAGE)


def hold(ctx: ServiceContext, request: Request, args: Args) -> Reply:
    return _change(ctx, request, args, "hold", HOLD_USAGE)


def holds(ctx: ServiceContext, request: Request, args: Args) -> Reply:
    from bot.services import queries

    args.only(("days", "site"))
    args.done(HOLDS_USAGE)
    outcome = queries.holds_older_than(
        ctx,
        request,
        days=args.whole("days", low=0, high=3650),
        site=args.text("site", allowed="a site id, e.g. main"),
    )
    return Reply.of("replies/holds.j2", outcome, **outcome.data)


COMMANDS = (
    decision_command(
        "resume",
        usage=RESUME_USAGE,
        summary="end a hold by investigator decision, with the reason (investigator)",
        help=(
            "Ends the hold of a drug for the patient, as the investigator decides — for "
            "example an endocrinopathy stable on hormone replacement, whose grade stays II "
            "by CTCAE's definitions so the hold would never lift by itself. The reason is "
            "required; the decision is recorded as the investigator's own (proposed and "
            "confirmed by them), audited like an override, and posted to the site channel. "
            "The calendar gives the drug's next dose from today."
        ),
        handler=resume,
        examples=('resume {study_id} {immunotherapy} reason="stable on levothyroxine"',),
    ),
    decision_command(
        "hold",
        usage=HOLD_USAGE,
        summary="interrupt a drug by investigator decision, with the reason (investigator)",
        help=(
            "Holds (interrupts) a drug for the patient, as the investigator decides — for "
            "example an immune-related rule's choice 'interrupt {immunotherapy} or "
            "hormone replacement therapy'. The reason is required; recorded, audited and posted "
            "like `resume`, which ends it. The calendar has no dose of the drug until then."
        ),
        handler=hold,
        examples=('hold {study_id} {immunotherapy} reason="hypothyroidism grade 2: interrupt"',),
    ),
    Command(
        name="holds",
        usage=HOLDS_USAGE,
        summary="drugs on hold longer than the review time, at your site",
        help=(
            "Every drug on hold at your site (your member site, or site=) for at least "
            "days= days — by default the setting TRIALBOT_HOLD_REVIEW_AFTER (21 days) — "
            "oldest first, with the reason and the decision that started it: a hold must "
            "have a way to end (`resume`)."
        ),
        role="viewer",
        group="read",
        handler=holds,
        examples=("holds", "holds days=0"),
    ),
)
