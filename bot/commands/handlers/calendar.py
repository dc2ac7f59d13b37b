"""`calendar` (one patient's protocol calendar), `today` and `week` (what is due at the
user's site)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from bot.commands.args import Args
from bot.commands.registry import Command
from bot.commands.reply import Reply
from bot.commands.views import by_patient, by_week, day
from bot.services.constants import PAGE_PATIENTS

if TYPE_CHECKING:
    from bot.services.context import Request, ServiceContext

CALENDAR_USAGE = "calendar {study_id} [from=YYYY-MM-DD] [weeks=N]"
TODAY_USAGE = "today [site=main] [page=N]"
WEEK_USAGE = "week [site=main] [from=YYYY-MM-DD] [page=N]"


def calendar(ctx: ServiceContext, request: Request, args: Args) -> Reply:
    from bot.services import queries
    from bot.services.today import today_at_site

    args.only(("from", "weeks"))
    study_id = args.study_id()
    args.done(CALENDAR_USAGE)
    first = args.date("from", today_at_site(ctx, study_id=study_id))
    weeks = args.whole("weeks", low=1, high=200)
    outcome = queries.calendar(ctx, request, study_id, start=first, weeks=weeks)
    summary = outcome.data["summary"]
    return Reply.of(
        "replies/calendar.j2",
        outcome,
        study_id=outcome.study_id,
        weeks=by_week(outcome.events, date.fromisoformat(summary["day1"])),
        summary=summary,
        today=outcome.data["today"],
        shown=len(outcome.events),
        total=outcome.data["total"],
    )


def _due(ctx: ServiceContext, request: Request, args: Args, days: int, usage: str) -> Reply:
    from bot.services import queries
    from bot.services.today import today_at_site

    options = ("site", "from", "page") if days > 1 else ("site", "page")
    args.only(options)
    args.done(usage)
    site = args.text("site", allowed="a site id, e.g. main")
    start = args.date("from", today_at_site(ctx, site=site)) if days > 1 else None
    page = args.whole("page", low=1, high=100_000) or 1
    outcome = queries.due(ctx, request, days=days, site=site, start=start, page=page)
    data = outcome.data
    # the command that shows the next page: the same options, page= one more
    again = " ".join(
        ["today" if days == 1 else "week"]
        + ([f"site={site}"] if site else [])
        + ([f"from={start.isoformat()}"] if start else [])
    )
    return Reply.of(
        "replies/due.j2",
        outcome,
        period="today" if days == 1 else "week",
        site=data["site"],
        first=data["from"],
        last=data["to"],
        today=data["today"],
        patients=by_patient(outcome.events),
        title_day=day(data["from"]),
        page=data["page"],
        pages=data["pages"],
        total_patients=data["patients"],
        summary=data["summary"] if data["pages"] > 1 or data["page"] > 1 else [],
        again=again,
    )


def today(ctx: ServiceContext, request: Request, args: Args) -> Reply:
    return _due(ctx, request, args, 1, TODAY_USAGE)


def week(ctx: ServiceContext, request: Request, args: Args) -> Reply:
    return _due(ctx, request, args, 7, WEEK_USAGE)


COMMANDS = (
    Command(
        name="calendar",
        usage=CALENDAR_USAGE,
        summary="a patient's protocol calendar, week by week, with statuses",
        help=(
            "Every protocol event of the patient (treatment, labs, assessments, follow-up), "
            "grouped by week — week +0 holds day 1, as in a protocol's schedule of assessments — with doses in mg where "
            "the body size is known, windows, and statuses as of today (planned, due, "
            "OVERDUE, given, held, skipped, done). Consecutive radiotherapy fractions fold "
            "into one line. from= and weeks= show a part of it. * marks a provisional date."
        ),
        role="viewer",
        group="read",
        handler=calendar,
        examples=("calendar {study_id}", "calendar {study_id} from=today weeks=2"),
        aliases=("cal",),
    ),
    Command(
        name="today",
        usage=TODAY_USAGE,
        summary="what is due today at your site, by patient (and anything overdue)",
        help=(
            "Everything dated today at your site (your member site, or site=), grouped by "
            "patient, with its status; items still overdue from the last four weeks are "
            f"listed too. A busy site's day is summarised by item and paged, "
            f"{PAGE_PATIENTS} patients a page (page=2 for the next)."
        ),
        role="viewer",
        group="read",
        handler=today,
        examples=("today", "today site=main"),
    ),
    Command(
        name="week",
        usage=WEEK_USAGE,
        summary="what is due in the next 7 days at your site, by patient",
        help=(
            "Seven days from today (or from=), grouped by patient, with statuses; items "
            "still overdue from the last four weeks are listed too. A busy site's week is "
            f"summarised by item and paged, {PAGE_PATIENTS} patients a page (page=2 for "
            "the next)."
        ),
        role="viewer",
        group="read",
        handler=week,
        examples=("week", "week from=2027-03-15", "week page=2"),
    ),
)
