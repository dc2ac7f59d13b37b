"""`trialbot serve`: the Slack app.

    trialbot serve                               Socket Mode (SLACK_APP_TOKEN, SLACK_BOT_TOKEN)
    trialbot serve --http [--host H] [--port N]  HTTP mode at POST /slack/events, GET /healthz
                                                 (SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN)
    --no-scheduler                               a bot-only replica
    TRIALBOT_SLACK_WORKER=process (default)      acks here, the work in a worker process
    TRIALBOT_SLACK_WORKER=thread                 everything in one process

Every setting is checked at start; each problem is one line, and the exit code is 2.
"""

from __future__ import annotations

import argparse

from bot.transports.slack.config import DEFAULT_HOST, DEFAULT_PORT


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "serve",
        help="run the Slack app (Socket Mode, or HTTP mode with --http)",
        description=__doc__.splitlines()[0],
        epilog=__doc__.split("\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--http", action="store_true", help="HTTP mode instead of Socket Mode")
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help=f"HTTP mode: address (default {DEFAULT_HOST})"
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"HTTP mode: port (default {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--no-scheduler",
        dest="scheduler",
        action="store_false",
        help="a bot-only replica: do not run the scheduler",
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from bot.transports.slack.serve import ServeOptions, run

    return run(
        ServeOptions(http=args.http, host=args.host, port=args.port, scheduler=args.scheduler)
    )
