"""`export` (a table of the log or the calendar, as a file for you) and `swimmer` (the
swimmer plot, posted to the site's study channel): one service call each
(`bot.services.files`); the file leaves through the outbox."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.commands.args import Args
from bot.commands.registry import Command
from bot.commands.reply import Reply
from bot.errors import UserError
from bot.services.constants import EXPORTS, FILE_ROLE, FORMATS

if TYPE_CHECKING:
    from bot.services.context import Request, ServiceContext

EXPORT_USAGE = "export events|labs|aes|doses|decisions|ics [format=csv] [site=S] [patient=ID]"
SWIMMER_USAGE = "swimmer [site=S]"


def _format(args: Args) -> str:
    """format=csv, or `--format csv` as on the command line."""
    if "--format" in args.words:
        at = args.words.index("--format")
        if at + 1 >= len(args.words) or args.has("format"):
            raise UserError("--format needs one value", field="format", allowed="csv")
        value = args.words[at + 1]
        del args.words[at : at + 2]
        return value.lower()
    value = args.text("format", allowed=", ".join(FORMATS))
    return value.lower() if value else "csv"


def export(ctx: ServiceContext, request: Request, args: Args) -> Reply:
    from bot.services import files

    args.only(("format", "site", "patient"))
    fmt = _format(args)
    what = args.word("export", "what to export", ", ".join(EXPORTS)).lower()
    args.done(EXPORT_USAGE)
    outcome = files.export(
        ctx,
        request,
        what,
        fmt=fmt,
        site=args.text("site", allowed="a site id, e.g. main"),
        study_id=args.text("patient", allowed=f"a study ID such as {args.study_id_example}"),
    )
    return Reply.of("replies/file.j2", outcome, file=outcome.data)


def swimmer(ctx: ServiceContext, request: Request, args: Args) -> Reply:
    from bot.services import files

    args.only(("site",))
    args.done(SWIMMER_USAGE)
    outcome = files.swimmer(ctx, request, site=args.text("site", allowed="a site id, e.g. main"))
    return Reply.of("replies/file.j2", outcome, file=outcome.data)


COMMANDS = (
    Command(
        name="export",
        usage=EXPORT_USAGE,
        summary="a table of the log (CSV) or the calendar (.ics), sent to you as a file",
        help=(
            "The same files as `trialbot export`: events (the log as written, amendments "
            "included), labs (every value with its range and CTCAE grade), aes (term, MedDRA "
            "code, grade, attribution, onset, resolution), doses, decisions (rule, who "
            "confirmed or overrode and why) as CSV, or ics (the calendar for Outlook or "
            "Google Calendar; patient= for one patient). Every site unless site=. In Slack "
            "the file comes to you as a direct message; the console writes it to its folder. "
            "Study IDs only. Needs the coordinator role: the tables are the study's data in "
            "bulk, and every export is audited."
        ),
        role=FILE_ROLE,
        group="files",
        handler=export,
        examples=(
            "export aes",
            "export labs format=csv site=main",
            "export ics patient={study_id}",
        ),
    ),
    Command(
        name="swimmer",
        usage=SWIMMER_USAGE,
        summary="the swimmer plot of the site's patients, posted to its study channel",
        help=(
            "One bar per patient from day 1, coloured by the schedule's phases (then "
            "follow-up), with holds, reductions, discontinuations, grade ≥ 3 "
            "events, responses and progression; an arrow where treatment goes on. The site "
            "is the study channel's (or site=, or your own); the picture is posted to that "
            "site's study channel for everyone in it, hence the coordinator role."
        ),
        role=FILE_ROLE,
        group="files",
        handler=swimmer,
        examples=("swimmer", "swimmer site=main"),
    ),
)
