"""`trialbot export`: the log as CSV tables, the calendar as an iCalendar feed.

    trialbot export events|labs|aes|doses|decisions --format csv [--site S] [--out FILE]
    trialbot export ics [--patient ID | --site S] [--out FILE]

Reads the configured database (TRIALBOT_DATABASE_URL); writes to FILE, or to standard
output. A CSV opens in a spreadsheet as it is (UTF-8 with a byte-order mark, one header
row); a text cell that a spreadsheet would run as a formula is written with a leading
apostrophe. The .ics imports into Outlook or Google Calendar; importing it again updates
the events instead of duplicating them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.errors import UserError
from bot.settings import load_settings

TABLES = ("events", "labs", "aes", "doses", "decisions")
FORMATS = ("csv",)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "export",
        help="export the log as CSV (events, labs, aes, doses, decisions) or the calendar as .ics",
        description=__doc__.splitlines()[0],
        epilog="examples:\n  trialbot export aes --format csv --out aes.csv\n"
        "  trialbot export ics --patient {study_id} --out {study_id}.ics",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("what", choices=(*TABLES, "ics"), help="the table to export, or ics")
    parser.add_argument(
        "--format", choices=FORMATS, default="csv", help="table format (csv; ics has its own)"
    )
    parser.add_argument("--site", metavar="S", help="only this site's patients")
    parser.add_argument("--patient", metavar="ID", help="ics: one patient's calendar")
    parser.add_argument("--out", metavar="FILE", help="write here instead of standard output")
    parser.set_defaults(func=_run)


def _write(data: bytes, out: str | None) -> None:
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    path = Path(out)
    if not path.parent.exists():
        raise UserError(
            f"the folder of {out!r} does not exist",
            field="--out",
            allowed="a file in an existing folder",
        )
    path.write_bytes(data)
    print(f"wrote {path}", file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    from bot.reports.tables import csv_bytes
    from bot.services import build_context
    from bot.services.exports import export_table
    from bot.services.ics import calendar_feed
    from bot.transports.console import console_clock

    if args.what == "ics":
        if args.patient and args.site:
            raise UserError(
                "give --patient or --site, not both", field="--patient", allowed="one of the two"
            )
    elif args.patient:
        raise UserError(
            "--patient goes with `export ics`", field="--patient", allowed="--site S for tables"
        )
    settings = load_settings()
    ctx = build_context(settings, clock=console_clock(settings))
    try:
        if args.what == "ics":
            data = calendar_feed(ctx, study_id=args.patient, site=args.site)
        else:
            table = export_table(ctx, args.what, site=args.site)
            data = csv_bytes(table.columns, table.rows)
    finally:
        ctx.db.dispose()
    _write(data, args.out)
    return 0
