"""`trialbot digest`: print a site's daily digest without posting it.

    trialbot digest [--site S] [--date D] [--json]

The digest as the channel would get it (default: the user's site, today at the site).
`--json` prints {"digest": data, "text", "messages": [Slack messages]}.
"""

from __future__ import annotations

import argparse
import json

from bot.errors import UserError
from bot.settings import load_settings


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "digest",
        help="print a site's daily digest without posting it",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument(
        "--site", metavar="S", help="site id (default: your site, else TRIALBOT_DEFAULT_SITE)"
    )
    parser.add_argument(
        "--date", metavar="D", help="the day (YYYY-MM-DD; default today at the site)"
    )
    parser.add_argument("--json", action="store_true", help="print the digest as JSON")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from datetime import date

    from bot.services import Request, build_context
    from bot.services.digest import compose_for
    from bot.transports.console import TextPrinter, console_clock
    from bot.transports.slack.blocks import post_messages
    from bot.transports.text import post_text

    day = None
    if args.date:
        try:
            day = date.fromisoformat(args.date.strip())
        except ValueError:
            raise UserError(
                f"{args.date!r} is not a date", field="--date", allowed="YYYY-MM-DD"
            ) from None
    settings = load_settings()
    ctx = build_context(settings, clock=console_clock(settings))
    try:
        request = Request(user=settings.user, source="console", console=True)
        outcome = compose_for(ctx, request, site=args.site, day=day)
    finally:
        ctx.db.dispose()
    post = outcome.posts[0]
    text = post_text(ctx.renderer, post)
    if args.json:
        out = {**outcome.data, "text": text, "messages": post_messages(ctx.renderer, post)}
        print(json.dumps(out, ensure_ascii=False))
    else:
        TextPrinter().text(text)
    return 0
