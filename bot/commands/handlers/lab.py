"""`lab`: a lab panel as typed off a report — graded with CTCAE v5.0, decisions proposed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot import inputs
from bot.commands.args import Args
from bot.commands.registry import Command
from bot.commands.reply import Reply
from bot.commands.views import grade_view
from bot.entry_rules import ENTRY_RULES
from bot.errors import UserError

if TYPE_CHECKING:
    from bot.services.context import Request, ServiceContext

USAGE = (
    "lab {study_id} [date=YYYY-MM-DD] ANC 0.4 PLT 62 Hb 9.1 ALT 130 U/L (7-40) "
    "[irae=yes|no] [symptomatic=yes|no]"
)
OPTIONS = ENTRY_RULES["lab"].command_options
PANEL_EXAMPLE = "e.g. ANC 0.4 PLT 62 Hb 9.1 ALT 130 U/L (7-40)"


def is_analyte(key: str) -> bool:
    """Whether `key` (an option key) names an analyte the grading knows."""
    from bot.services import labs

    return labs.is_analyte(key)


def _reference(ctx: ServiceContext) -> dict:
    from bot.services import labs

    return labs.reference(ctx)


def panel_text(args: Args) -> str:
    """The panel: the free words and the analytes written as options, in the order typed."""
    from bot.services import labs

    text = " ".join(args.rest_in_order(is_analyte, labs.written_as)).strip()
    return inputs.check_free_text(text, "panel", inputs.LAB_TEXT_LIMIT)


def lab(ctx: ServiceContext, request: Request, args: Args) -> Reply:
    from bot.services import entries
    from bot.services.today import today_at_site

    args.only(OPTIONS, also=is_analyte)
    study_id = args.study_id()
    on = args.date("date", today_at_site(ctx, study_id=study_id))
    irae = args.yes_no("irae")
    symptomatic = args.yes_no("symptomatic")
    text = panel_text(args)
    if not text:
        raise UserError("no lab values given", field="panel", allowed=PANEL_EXAMPLE)
    outcome = entries.record_lab(
        ctx, request, study_id, text, on=on, irae=irae, symptomatic=symptomatic
    )
    return Reply.of(
        "replies/lab.j2",
        outcome,
        grades=[grade_view(g) for g in outcome.grades],
    )


COMMANDS = (
    Command(
        name="lab",
        usage=USAGE,
        summary="enter a lab panel: each value graded (CTCAE v5.0), decisions proposed",
        help=(
            "Type the values as the report prints them, in any order: a name or alias, the "
            "number, optionally its unit and the report's reference range in parentheses "
            "(`ALT 130 U/L (7-40)`). A bare number is read in the site's usual unit; a "
            "missing range comes from the site's reference ranges. `ALT=130` works too. "
            "irae: the investigator's attribution of abnormal values to immunotherapy (if "
            "known); symptomatic: signs or symptoms, for amylase and lipase. The reply lists "
            "each analyte's CTCAE term, grade and the criterion applied, then the decisions "
            "per drug with what the investigator must do."
        ),
        role="coordinator",
        group="enter",
        handler=lab,
        examples=(
            "lab {study_id} ANC 0.4 PLT 62 Hb 9.1",
            "lab {study_id} date=2027-03-06 ALT 130 U/L (7-40) AST 90 U/L (13-35)",
            "lab {study_id} date=yesterday hb=102 g/L wbc=2.1",
        ),
        aliases=("labs",),
        details=_reference,
        details_template="replies/help_lab.j2",
    ),
)
