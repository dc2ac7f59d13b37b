"""`enroll`: a patient enters the trial under a study ID, with the plan the calendar reads."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.commands.args import Args
from bot.commands.registry import Command
from bot.commands.reply import Reply
from bot.errors import UserError
from bot.services.constants import PLAN_FIELDS

if TYPE_CHECKING:
    from bot.services.context import Request, ServiceContext

USAGE = (
    "enroll {study_id} start=YYYY-MM-DD [fractions={fractions_default}] {boost_option}"
    "[height=160 weight=55 | bsa=1.62] {enrol_criteria} "
    '[diagnosed=YYYY-MM-DD] [site=main] [baseline="ALT 60 U/L (7-40)"]'
)
OPTIONS = (*PLAN_FIELDS, "site", "baseline")


def enroll(ctx: ServiceContext, request: Request, args: Args) -> Reply:
    from bot.services import enrolment
    from bot.services.today import today_at_site

    args.only(OPTIONS)
    study_id = args.study_id()
    args.done(USAGE)
    site = args.text("site", allowed="a site id, e.g. main")
    today = today_at_site(ctx, site=site)
    start = args.date("start", today)
    if start is None:
        raise UserError(
            "start= is missing",
            field="start",
            allowed=args.filled("start=YYYY-MM-DD: day 1, the first {fraction} (a treatment day)"),
        )
    _check_body_size(args)
    outcome = enrolment.enrol(
        ctx,
        request,
        study_id,
        start=start,
        fractions=args.whole("fractions"),
        boost=bool(args.yes_no("boost")),
        height=args.number("height", unit="cm"),
        weight=args.number("weight", unit="kg"),
        bsa=args.number("bsa", unit="m²"),
        stage=args.text("stage", allowed=ctx.rules.stage_allowed),
        ecog=args.whole("ecog"),
        age=args.whole("age"),
        diagnosed=args.date("diagnosed", today),
        site=site,
        baseline_text=args.text("baseline", allowed='lab text, e.g. "ALT 60 U/L (7-40)"'),
    )
    return Reply.of(
        "replies/enroll.j2",
        outcome,
        summary=outcome.data.get("summary", {}),
        stage_system=ctx.rules.stage_system_name,
    )


def _check_body_size(args: Args) -> None:
    """Said in the command's words (height=, weight=, bsa=), not the plan's field names."""
    height, weight, bsa = (args.has(key) for key in ("height", "weight", "bsa"))
    if bsa and (height or weight):
        raise UserError(
            "give bsa=, or height= with weight=, not both",
            field="bsa",
            allowed="bsa=M2, or height=CM weight=KG",
        )
    if height != weight:
        missing = "weight" if height else "height"
        raise UserError(
            f"height= and weight= go together; {missing}= is missing",
            field=missing,
            allowed="height=CM weight=KG, or bsa=M2",
        )


COMMANDS = (
    Command(
        name="enroll",
        usage=USAGE,
        summary="enrol a patient under a study ID; builds the protocol calendar",
        help=(
            "Enrols a patient (study ID only: never a name, record number or birth date) and "
            "builds the calendar from day 1 = the first {fraction}, which must be a "
            "treatment day at the site. fractions: planned {fractions}; "
            "boost: simultaneous nodal boost. Body size as height (cm) and weight (kg), or "
            "bsa (m²): doses are shown in mg only when it is known. stage, ecog and age, when "
            "given, must meet the trial's eligibility criteria (an ineligible patient is refused). baseline: the "
            "patient's baseline labs (abnormal baselines change ALT/AST/ALP/bilirubin grading)."
        ),
        role="coordinator",
        group="enter",
        handler=enroll,
        examples=(
            "enroll {study_id} start=2027-03-01 height=160 weight=55 {enrol_answers}",
            "enroll {study_id} start=2027-03-08 fractions={fractions_max} {boost_example}bsa=1.62",
        ),
        aliases=("enrol",),
    ),
)
