"""`ae`: an adverse event graded by the clinician, matched to its CTCAE v5.0 term."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bot import inputs
from bot.commands.args import Args
from bot.commands.registry import Command
from bot.commands.reply import Reply
from bot.entry_rules import ENTRY_RULES
from bot.errors import UserError

if TYPE_CHECKING:
    from bot.services.context import Request, ServiceContext

USAGE = (
    "ae {study_id} <CTCAE term> grade=0-5 [date=YYYY-MM-DD] [irae=yes|no|unknown] [steroid_mg=20]"
)
RULE = ENTRY_RULES["ae"]
OPTIONS = RULE.command_options
STEROID = RULE.option("steroid_mg")
GRADES = "grade=0–5 (the CTCAE grade; 0 records that an earlier event has resolved)"
# "pneumonitis 2", "pneumonitis grade 2", "pneumonitis G2": the grade typed as a word.
_GRADE_WORD = re.compile(r"^(?:g|gr|grade)?([0-5])$", re.I)


def _grade_typed_as_words(words: list[str]) -> tuple[list[str], int] | None:
    if not words:
        return None
    match = _GRADE_WORD.match(words[-1])
    if match is None:
        return None
    term = words[:-1]
    if term and term[-1].lower() in ("grade", "gr", "g"):
        term = term[:-1]
    return term, int(match.group(1))


def ae(ctx: ServiceContext, request: Request, args: Args) -> Reply:
    from bot.services import entries
    from bot.services.today import today_at_site

    args.only(OPTIONS)
    study_id = args.study_id()
    words = args.rest()
    grade = args.whole("grade", low=0, high=5)
    if grade is None:
        typed = _grade_typed_as_words(words)
        hint = f"'{' '.join(typed[0])} grade={typed[1]}'" if typed and typed[0] else None
        raise UserError("grade= is missing", field="grade", allowed=GRADES, suggestion=hint)
    term = inputs.check_free_text(" ".join(words).strip(), "term")
    if not term:
        raise UserError(
            "no adverse event term given",
            field="term",
            allowed="a CTCAE v5.0 term or a common synonym, e.g. pneumonitis, diarrhoea, SJS",
        )
    outcome = entries.record_ae(
        ctx,
        request,
        study_id,
        term,
        grade,
        on=args.date("date", today_at_site(ctx, study_id=study_id)),
        irae=args.yes_no("irae", unknown=True),
        steroid_mg=args.number("steroid_mg", low=STEROID.low, high=STEROID.high, unit=STEROID.unit),
    )
    return Reply.of("replies/ae.j2", outcome, ae=outcome.data)


COMMANDS = (
    Command(
        name="ae",
        usage=USAGE,
        summary="enter an adverse event: matched to its CTCAE term, decisions proposed",
        help=(
            "The term is every free word, as the clinician wrote it: a CTCAE v5.0 term "
            "(`rash maculo-papular`, `infusion related reaction`) or a common synonym "
            "(`diarrhoea`, `SJS`, `hepatitis`). A typo is never guessed: the reply suggests "
            "the closest term. grade is the CTCAE grade (0 records resolution of an earlier "
            "event); the reply says what that grade means for the term. irae: the "
            "investigator's attribution to immunotherapy (leave it out or `unknown` when "
            "not yet made — the investigator is then asked). steroid_mg: current "
            "prednisone-equivalent dose per day."
        ),
        role="coordinator",
        group="enter",
        handler=ae,
        examples=(
            "ae {study_id} pneumonitis grade=2",
            "ae {study_id} diarrhoea grade=3 irae=yes steroid_mg=60 date=2027-04-12",
            'ae {study_id} "infusion related reaction" grade=1 irae=no',
        ),
    ),
)
