"""`trialbot chat`: the `/trial` language on the console, interactively or one command.

    trialbot chat [--as USER]                     a REPL (`trial> `), Ctrl-D to leave
    trialbot chat [--as USER] [--json] "/trial lab <study ID> ANC 0.4"
    trialbot chat --request-id KEY …              one command, recorded once per KEY

One command prints its reply (and the posts it caused, marked with their destination) and
exits 0, or 2 when refused (1 if something unexpected went wrong; nothing is recorded
then). `--json` prints one object per command: {"ok", "error", "text", "grades",
"decisions", "events", "posts"} (docs/commands.md). The database is the configured one
(TRIALBOT_DATABASE_URL, default trialbot.db in the working directory), so a sequence of
one-shot commands builds up a patient's history; TRIALBOT_NOW pins the clock.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys

from bot.cli import report_refusal
from bot.errors import UserError
from bot.inputs import check_request_key
from bot.settings import load_settings


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "chat",
        help="talk to trialbot on the console (the /trial language), or run one command",
        description=__doc__.splitlines()[0],
        epilog="examples:\n  trialbot chat\n"
        '  trialbot chat "/trial enroll {study_id} start=2027-03-01 height=160 weight=55"\n'
        "  trialbot chat --json lab {study_id} ANC 0.4 PLT 62\n"
        "  trialbot chat --as U0DOC0001 confirm D1",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--as",
        dest="user",
        metavar="USER",
        help="act as this user (a Slack user id); default TRIALBOT_USER, else 'console'",
    )
    parser.add_argument("--json", action="store_true", help="print each reply as one JSON object")
    parser.add_argument(
        "--request-id",
        dest="request_id",
        metavar="KEY",
        help="an idempotency key for the one command: run again with the same key and the "
        "same command, it is recorded once and answers as the first time; with a different "
        "command it is refused (1-128 visible ASCII characters)",
    )
    parser.add_argument(
        "command",
        nargs=argparse.REMAINDER,
        help='one command, e.g. "/trial help" (without it: the interactive console)',
    )
    parser.set_defaults(func=_run)


def command_text(words: list[str]) -> str:
    """One argument is the command as typed; several are re-quoted, so that
    `reason="dose given elsewhere"` (unquoted by the shell) stays one option."""
    if len(words) == 1:
        return words[0]
    return shlex.join(words)


def _trailing_flags(args: argparse.Namespace) -> list[str]:
    """`trialbot chat lab … --json` means what `trialbot chat --json lab …` does: the
    flags have no meaning inside the /trial language, so they are taken out of it."""
    words = list(args.command)
    while "--json" in words:
        words.remove("--json")
        args.json = True
    if "--as" in words:
        at = words.index("--as")
        if at + 1 >= len(words):
            raise UserError("--as needs a user id", field="--as", allowed="--as U0123ABCD")
        args.user = words[at + 1]
        del words[at : at + 2]
    if "--request-id" in words:
        at = words.index("--request-id")
        if at + 1 >= len(words):
            raise UserError(
                "--request-id needs a key", field="--request-id", allowed="--request-id KEY"
            )
        args.request_id = words[at + 1]
        del words[at : at + 2]
    return words


def _run(args: argparse.Namespace) -> int:
    from bot.services import build_context
    from bot.transports.console import (
        Console,
        JsonPrinter,
        TextPrinter,
        console_clock,
        help_once,
        is_help,
        log_to_stderr,
        repl,
    )

    log_to_stderr()
    try:
        words = _trailing_flags(args)
        if args.request_id is not None:
            check_request_key(args.request_id)
            if not words:
                raise UserError(
                    "a request id names one command; the interactive console takes none",
                    field="--request-id",
                    allowed='trialbot chat --request-id KEY "/trial …"',
                )
        settings = load_settings()
        user = (args.user if args.user is not None else settings.user).strip()
        if not user:
            raise UserError("the user is empty", field="--as", allowed="a user id, e.g. U0123ABCD")
        if words and args.request_id is None and is_help(command_text(words)):
            code = help_once(settings, user, command_text(words), as_json=args.json)
            if code is not None:
                return code
        ctx = build_context(settings, clock=console_clock(settings))
    except UserError as exc:
        # a trailing --json was only seen here: answer in JSON too
        return report_refusal(exc.message, args.json)
    printer = JsonPrinter(ctx.renderer) if args.json else TextPrinter()
    console = Console(
        ctx,
        user=user,
        printer=printer,
        request_id=args.request_id,
        # with Slack configured, posts are Slack's to deliver (Console.slack_delivers)
        slack_delivers=bool(os.environ.get("SLACK_BOT_TOKEN", "").strip()),
    )
    try:
        if words:
            return console.run(command_text(words)).exit_code
        return repl(console, stdin=sys.stdin)
    except BrokenPipeError:
        # The reader went away (`| head`): what ran is recorded; posts not yet delivered
        # stay in the outbox for the next drain. Silence the interpreter's final flush.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    finally:
        ctx.db.dispose()
