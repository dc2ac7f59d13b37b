"""`correct` and `void`: a wrong entry is amended with a reason, never edited or deleted.

`correct E45 …` reads its words the way that kind of entry is written: lab values for a
lab panel, the term for an adverse event, the drug and given|held|skipped for a dose, the
RECIST word for a response; options as the entry took them (`grade=`, `date=`, `irae=`,
`mg=` …) and, for the enrolment entry, the plan's keys (`start=`, `fractions=`, `bsa=` …).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot import inputs
from bot.commands.args import Args
from bot.commands.handlers.lab import is_analyte, panel_text
from bot.commands.registry import Command
from bot.commands.reply import Reply
from bot.entry_rules import ENTRY_RULES, STATUS_WORDS
from bot.errors import UserError
from bot.events import AMENDABLE_KINDS
from bot.services.constants import PLAN_FIELDS

if TYPE_CHECKING:
    from bot.services.amend import Changes
    from bot.services.context import Request, ServiceContext

CORRECT_USAGE = 'correct E45 <what the entry should say> reason="what was wrong"'
VOID_USAGE = 'void E45 reason="what was wrong"'
REASON = 'reason="what was wrong"'
PLAN_OPTIONS = PLAN_FIELDS
# The options a correction reads: every correctable option of the declared entries.
ENTRY_OPTIONS = tuple(
    dict.fromkeys(
        name
        for rule in ENTRY_RULES.values()
        for name in rule.correctable
        if name == "date" or name in rule.option_names
    )
)
WORDS_BY_KIND = {kind: rule.words for kind, rule in ENTRY_RULES.items() if rule.dated}


def _reason(args: Args, what: str) -> str:
    reason = args.text("reason", allowed=REASON)
    if reason is None:
        raise UserError(f"{what} needs a reason", field="reason", allowed=REASON)
    return reason


def _plan(ctx: ServiceContext, args: Args, today) -> dict[str, Any]:
    plan: dict[str, Any] = {}
    readers = {
        "start": lambda key: args.date(key, today),
        "diagnosed": lambda key: args.date(key, today),
        "fractions": args.whole,
        "ecog": args.whole,
        "age": args.whole,
        "boost": args.yes_no,
        "height": lambda key: args.number(key, unit="cm"),
        "weight": lambda key: args.number(key, unit="kg"),
        "bsa": lambda key: args.number(key, unit="m²"),
        "stage": lambda key: args.text(key, allowed=ctx.rules.stage_allowed),
    }
    for key in PLAN_OPTIONS:
        if args.has(key):
            plan[key] = readers[key](key)
    return plan


def read_changes(ctx: ServiceContext, label: str, kind: str, args: Args) -> Changes:
    """What `correct` should set, read as entry `label` (of `kind`) is written."""
    from bot.services import amend
    from bot.services.today import today_of_entry

    today = today_of_entry(ctx, int(label[1:]))
    values: dict[str, Any] = {}
    analytes = [key for key in args.options if is_analyte(key)]
    if analytes and kind != "lab":
        shown = analytes[0].upper()
        raise UserError(
            f"{shown}= is a lab value, and {label} is a {kind} entry",
            field=analytes[0],
            allowed=WORDS_BY_KIND.get(kind, "its own fields"),
        )
    if kind == "lab":
        text = panel_text(args)
        if text:
            values["lab_text"] = text
    elif kind == "ae":
        term = inputs.check_free_text(" ".join(args.rest()).strip(), "term")
        if term:
            values["term"] = term
    elif kind == "dose":
        status = args.take(STATUS_WORDS)
        if status is not None:
            values["status"] = status
        if args.words:
            values["drug"] = args.words.pop(0)
    elif kind == "response" and args.words:
        values["category"] = args.words.pop(0)  # the service checks it against RECIST
    if args.words:
        raise UserError(
            f"did not understand {inputs.shown(' '.join(args.words), 80)} for a {kind} entry",
            field="words",
            allowed=WORDS_BY_KIND.get(kind, "options only (key=value)"),
        )
    values["on"] = args.date("date", today)
    values["irae"] = args.yes_no("irae")
    values["symptomatic"] = args.yes_no("symptomatic")
    values["grade"] = args.whole("grade", low=0, high=5)
    for key in ("steroid_mg", "mg"):
        option = ENTRY_RULES["ae" if key == "steroid_mg" else "dose"].option(key)
        values[key] = args.number(key, low=option.low, high=option.high, unit=option.unit)
    written = args.text("status", allowed="given, held, skipped")
    if written is not None:
        if "status" in values:
            raise UserError("the status is given twice", field="status")
        values["status"] = STATUS_WORDS.get(written.lower(), written.lower())
    plan = _plan(ctx, args, today)
    if plan:
        values["plan"] = plan
    return amend.Changes(**{k: v for k, v in values.items() if v is not None})


def correct(ctx: ServiceContext, request: Request, args: Args) -> Reply:
    from bot.services import amend

    args.only(("reason", *ENTRY_OPTIONS, *PLAN_OPTIONS), also=is_analyte)
    label = args.label("E", "event", "entry")
    reason = _reason(args, "a correction")
    kind = amend.kind_to_correct(ctx, request, label)
    if kind not in AMENDABLE_KINDS:
        # a proposal or verdict: the service says why it cannot be amended
        changes = amend.Changes()
    else:
        changes = read_changes(ctx, label, kind, args)
    outcome = amend.correct(ctx, request, label, changes, reason)
    return Reply.of("replies/amend.j2", outcome, operation="correct", target=label)


def void(ctx: ServiceContext, request: Request, args: Args) -> Reply:
    from bot.services import amend

    args.only(("reason",))
    label = args.label("E", "event", "entry")
    args.done(VOID_USAGE)
    reason = _reason(args, "a void")
    outcome = amend.void(ctx, request, label, reason)
    return Reply.of("replies/amend.j2", outcome, operation="void", target=label)


COMMANDS = (
    Command(
        name="correct",
        usage=CORRECT_USAGE,
        summary="correct an entry (a new version with a reason; the old one is kept)",
        help=(
            "Write what entry E… should say, the way it was entered: lab values (only the "
            "analytes given change), an ae's term or grade=, a dose's drug, "
            "given|held|skipped or mg=, a response's RECIST word, date=, irae=; for the "
            "enrolment entry the plan's keys (start= fractions= boost= height= weight= bsa= "
            "stage= ecog= age= diagnosed=). Proposals derived from the old version and not "
            "yet confirmed are withdrawn and the corrected entry is decided afresh; "
            "confirmed ones are flagged for review. `patient` shows the entry ids."
        ),
        role="coordinator",
        group="amend",
        handler=correct,
        examples=(
            'correct E45 ANC 0.6 reason="typo: 0.6 not 0.4"',
            'correct E46 grade=1 reason="re-graded by the investigator"',
            'correct E1 fractions=28 reason="plan changed to 28 fractions"',
        ),
    ),
    Command(
        name="void",
        usage=VOID_USAGE,
        summary="void an entry entered by mistake (kept, with the reason, but withdrawn)",
        help=(
            "Withdraws entry E… (wrong patient, entered twice …). It stays in the log with "
            "the reason; decisions derived from it and not yet confirmed are withdrawn. "
            "The enrolment entry cannot be voided: correct it instead."
        ),
        role="coordinator",
        group="amend",
        handler=void,
        examples=('void E45 reason="entered for the wrong patient"',),
    ),
)
