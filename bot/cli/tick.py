"""`trialbot tick`: run all the scheduler's work due at an instant once, deliver, exit.

    trialbot tick [--now 2027-03-08T07:31+08:00] [--json]

For catch-up after downtime, cron, and tests: the digests and reminders of each site whose
digest time has passed, the daily review (time-based rules), alert escalations, expiry —
then delivery of everything due. Delivery goes to Slack when SLACK_BOT_TOKEN is set (to
SLACK_API_URL if given), else it is printed like `trialbot chat` prints posts. Without
--now the instant is TRIALBOT_NOW, else the system clock.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import time
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from bot.errors import UserError
from bot.settings import load_settings

if TYPE_CHECKING:
    from bot.services.context import ServiceContext


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "tick",
        help="run the scheduler's work due at an instant once (digests, reminders, alerts)",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument(
        "--now", metavar="INSTANT", help="ISO instant with offset, e.g. 2027-03-08T07:31+08:00"
    )
    parser.add_argument("--json", action="store_true", help="print what was done as JSON")
    parser.set_defaults(func=_run)


def parse_instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UserError(
            f"{text!r} is not an ISO instant",
            field="--now",
            allowed="an ISO instant with its UTC offset, e.g. 2027-03-08T07:31+08:00",
        ) from None
    if moment.tzinfo is None:
        raise UserError(
            f"{text!r} has no UTC offset",
            field="--now",
            allowed="an ISO instant with its UTC offset, e.g. 2027-03-08T07:31+08:00",
        )
    return moment


def owner_name(prefix: str) -> str:
    """Who holds a lease: host and process, so a stuck row names its sender."""
    return f"{prefix}:{socket.gethostname()}:{os.getpid()}"


def store_site_channels(ctx: ServiceContext, env: Mapping[str, str]) -> None:
    """`TRIALBOT_SITE_CHANNELS`, as `serve` stores it at start: a deployment that runs
    `tick` from cron before (or without) `serve` must post to the study channels too."""
    from bot.services.sites import configure_channels
    from bot.transports.slack.config import parse_site_channels

    text = env.get("TRIALBOT_SITE_CHANNELS") or ""
    if not text.strip():
        return
    channels, problems = parse_site_channels(text, [s.id for s in ctx.rules.sites.sites])
    if problems:
        raise UserError(
            "; ".join(problems),
            field="TRIALBOT_SITE_CHANNELS",
            allowed="site=CHANNEL_ID pairs of the trial's sites, e.g. main=C0123ABCD",
        )
    configure_channels(ctx, channels)


def _run(args: argparse.Namespace) -> int:
    from bot.clock import FixedClock, SystemClock
    from bot.services import build_context
    from bot.services.tick import tick
    from bot.transports.console import ConsoleNotifier, TextPrinter, log_to_stderr
    from bot.transports.delivery import PACE, deliver
    from bot.transports.notifier import RecordingNotifier
    from bot.transports.slack_sender import client_from_environment
    from bot.transports.text import post_text

    log_to_stderr()
    settings = load_settings()
    moment = parse_instant(args.now) if args.now else settings.now
    clock = FixedClock(moment) if moment is not None else SystemClock()
    ctx = build_context(settings, clock=clock)
    try:
        client = client_from_environment(os.environ)
        if client is not None:  # before any work: a bad setting changes nothing
            store_site_channels(ctx, os.environ)
        report = tick(ctx, clock.now())
        recorder = None
        if client is not None:
            from bot.transports.slack.notifier import SlackNotifier

            # the Slack app's notifier, as under `trialbot serve`: buttons on alerts, and a
            # verdict or an attribution updates the alert's copies in place
            notifier = SlackNotifier(client, ctx.db, clock, ctx.renderer)
            pace = PACE

            def sleep(seconds: float) -> None:
                time.sleep(seconds)
                if isinstance(clock, FixedClock):
                    clock.advance(seconds=seconds)
        else:
            recorder = RecordingNotifier() if args.json else None
            notifier = recorder or ConsoleNotifier(TextPrinter(), ctx.renderer)
            pace, sleep = None, None
        delivered = deliver(
            ctx.db, notifier, clock, owner=owner_name("tick"), pace=pace, sleep=sleep
        )
        if args.json:
            out = {**report.to_json(), "delivery": delivered.to_json()}
            if recorder is not None:
                out["posts"] = [
                    {"channel": p.address, "kind": p.kind, "text": post_text(ctx.renderer, p)}
                    for p in recorder.posts
                ]
            print(json.dumps(out, ensure_ascii=False))
        else:
            print(
                f"tick {report.now.isoformat()}: {len(report.digests)} digest(s), "
                f"{len(report.proposals)} proposal(s), {len(report.escalations)} escalation(s), "
                f"{report.expired} expired; delivered {len(delivered.delivered)}, "
                f"failed {len(delivered.failed)}"
            )
    finally:
        ctx.db.dispose()
    return 0
