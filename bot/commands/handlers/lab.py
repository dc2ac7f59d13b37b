"""`lab`: a lab panel as typed off a report — graded with CTCAE v5.0, decisions proposed."""

from __future__ import annotations

from typing import Any

from bot import inputs
from bot.commands.args import Args
from bot.commands.handlers._common import site_today
from bot.commands.registry import Command
from bot.commands.reply import Reply
from bot.commands.views import grade_view
from bot.errors import UserError
from bot.grading.analytes import ALIASES, ANALYTES, GLUCOSE_ALIASES, plain
from bot.grading.grader import display_unit
from bot.services import entries
from bot.services.context import Request, ServiceContext

USAGE = (
    "lab LACC-007 [date=YYYY-MM-DD] ANC 0.4 PLT 62 Hb 9.1 ALT 130 U/L (7-40) "
    "[irae=yes|no] [symptomatic=yes|no]"
)
OPTIONS = ("date", "irae", "symptomatic")
PANEL_EXAMPLE = "e.g. ANC 0.4 PLT 62 Hb 9.1 ALT 130 U/L (7-40)"


def is_analyte(key: str) -> bool:
    """`ALT=130` is a lab value written as an option."""
    return key.lower() in ALIASES or key.lower() in GLUCOSE_ALIASES


def _as_written(key: str, value: str) -> str:
    """`alt=130` (keys arrive lower-cased) reads back as `ALT 130`."""
    code = ALIASES.get(key.lower())
    return f"{ANALYTES[code].label if code else key} {value}"


def panel_text(args: Args) -> str:
    """The panel: the free words and the analytes written as options, in the order typed."""
    text = " ".join(args.rest_in_order(is_analyte, _as_written)).strip()
    return inputs.check_free_text(text, "panel", inputs.LAB_TEXT_LIMIT)


def lab(ctx: ServiceContext, request: Request, args: Args) -> Reply:
    args.only(OPTIONS, also=is_analyte)
    study_id = args.study_id()
    on = args.date("date", site_today(ctx, study_id=study_id))
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


def lab_details(ctx: ServiceContext) -> dict[str, Any]:
    """The analytes, their aliases and units, and the default site's units and ranges."""
    ranges = ctx.rules.ranges.for_site(None)
    rows = []
    for code, analyte in ANALYTES.items():
        limit = ranges.get(code)
        shown_range = ""
        if limit is not None and (limit.lln is not None or limit.uln is not None):
            unit = limit.default_unit
            low = "" if limit.lln is None else plain(analyte.from_canonical(limit.lln, unit))
            high = "" if limit.uln is None else plain(analyte.from_canonical(limit.uln, unit))
            shown_range = f"{low}–{high} {display_unit(unit)}"
        rows.append(
            {
                "label": analyte.label,
                "name": analyte.name,
                "aliases": [a for a in analyte.aliases if a != analyte.label.lower()],
                "units": [display_unit(u) for u in analyte.units],
                "default_unit": display_unit(ranges.default_unit(code)),
                "range": shown_range,
            }
        )
    return {"analytes": rows, "site": ranges.site}


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
            "lab LACC-007 ANC 0.4 PLT 62 Hb 9.1",
            "lab LACC-007 date=2027-03-06 ALT 130 U/L (7-40) AST 90 U/L (13-35)",
            "lab LACC-007 date=yesterday hb=102 g/L wbc=2.1",
        ),
        aliases=("labs",),
        details=lab_details,
        details_template="replies/help_lab.j2",
    ),
)
