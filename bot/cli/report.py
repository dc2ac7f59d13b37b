"""`trialbot report swimmer --out trial.png`: a picture of the trial, one bar per patient.

    trialbot report swimmer [--site S] [--out FILE]   (default trial-swimmer.png)

Bars run from day 1, coloured by the schedule's treatment phases (then follow-up), with
markers for holds, reductions, discontinuations, grade ≥ 3 events, responses and
progression, and an arrow where treatment goes on; longest time on study at the top.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.errors import UserError
from bot.settings import load_settings

DEFAULT_OUT = "trial-swimmer.png"


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "report", help="pictures of the trial (swimmer plot)", description=__doc__.splitlines()[0]
    )
    parser.add_argument("what", choices=("swimmer",), help="the picture to draw")
    parser.add_argument("--site", metavar="S", help="only this site's patients")
    parser.add_argument("--out", metavar="FILE", default=DEFAULT_OUT, help="the PNG to write")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from bot.services import build_context
    from bot.services.reports import swimmer_lanes, swimmer_png
    from bot.transports.console import console_clock

    out = Path(args.out)
    if not out.parent.exists():
        raise UserError(
            f"the folder of {args.out!r} does not exist",
            field="--out",
            allowed="a file in an existing folder",
        )
    settings = load_settings()
    ctx = build_context(settings, clock=console_clock(settings))
    try:
        lanes, today = swimmer_lanes(ctx, site=args.site)
    finally:
        ctx.db.dispose()
    if not lanes:
        raise UserError(
            "no patient is enrolled yet", field="--site", allowed="a site with patients"
        )
    title = f"{ctx.rules.name} swimmer plot"
    out.write_bytes(swimmer_png(ctx, lanes, title=title, today=today))
    print(f"wrote {out} ({len(lanes)} patients)", file=sys.stderr)
    return 0
