"""The `trialbot` command line: one sub-command per module in this package.

Each module exposes `register(subparsers)`, which adds its parser and sets `func`; `func`
takes the parsed arguments and returns the process exit code. A `UserError` or a
`RulesError` becomes a one-line message (or `{"error": ...}` under `--json`) and exit 2.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from bot.errors import RulesError, UserError

# Modules under bot.cli that contribute a sub-command, in the order `--help` lists them.
COMMAND_MODULES = (
    "demo",
    "chat",
    "serve",
    "calendar",
    "grade",
    "screen",
    "decide",
    "rules",
    "db",
    "audit",
    "export",
    "health",
    "report",
    "tick",
    "digest",
    "outbox",
)

EXIT_REFUSED = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error under `--json` is still one JSON object, and an epilog's
    `{study_id}` is the configured trial's (`configured_help_names`, read only
    when help is shown). A sub-command may set `epilog_from`, a function giving the epilog
    from the loaded trial (`screen`: its criteria), called only when help is shown."""

    epilog_from: Callable[[], str] | None = None

    def format_help(self) -> str:
        if self.epilog_from is not None:
            self.epilog = self.epilog_from()
        if self.epilog and "{" in self.epilog:
            from bot.settings import configured_help_names

            for key, value in configured_help_names().items():
                self.epilog = self.epilog.replace("{" + key + "}", value)
        return super().format_help()

    def error(self, message: str) -> None:  # type: ignore[override]
        if "--json" in sys.argv[1:]:
            print(json.dumps({"error": f"{self.prog}: {message}"}))
            raise SystemExit(EXIT_REFUSED)
        super().error(message)


TRIAL_HELP = (
    "the trial's rules directory under the rules folder (default: TRIALBOT_TRIAL, "
    "else the shipped trial)"
)


def _trial_named(words: Sequence[str]) -> str | None:
    """What `--trial NAME` (or `--trial=NAME`) says in `words`, read before parsing so that
    `--help` shows that trial's examples."""
    for index, word in enumerate(words):
        if word == "--trial" and index + 1 < len(words):
            return words[index + 1]
        if word.startswith("--trial="):
            return word.split("=", 1)[1]
    return None


def _add_trial_option(parser: argparse.ArgumentParser, top: bool = False) -> None:
    """`--trial NAME` on the top level and on every (sub-)command. Below the top level
    its default is SUPPRESS, so a sub-command does not erase `trialbot --trial X …`."""
    parser.add_argument(
        "--trial",
        metavar="NAME",
        default=None if top else argparse.SUPPRESS,
        help=TRIAL_HELP,
    )
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                _add_trial_option(child)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The `trialbot` parser; with `only`, just that sub-command's module is imported and
    registered (start-up: `trialbot chat` need not import what `report` or `serve` do).
    The parser answers the same either way: its usage names COMMAND, not the list."""
    parser = _Parser(prog="trialbot", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES if only is None else (only,):
        module = importlib.import_module(f"bot.cli.{name}")
        module.register(sub)
    _add_trial_option(parser, top=True)
    return parser


def _command_named(argv: Sequence[str]) -> str | None:
    """The sub-command `argv` runs, when its first word names one; else None (then
    `--help`, a typo or nothing: the full parser answers)."""
    first = argv[0] if argv else None
    return first if first in COMMAND_MODULES else None


@contextlib.contextmanager
def trial_setting(trial: str | None) -> Iterator[None]:
    """`--trial NAME` is `TRIALBOT_TRIAL=NAME` for this command: every part of the command
    builds its settings from the environment (`load_settings`), so this is the one way
    the option reaches them all — calendar, grade, decide, screen, the services, the demo.
    The previous value is put back afterwards (main() may run in a test's process)."""
    if trial is None:
        yield
        return
    name = "TRIALBOT_TRIAL"
    before = os.environ.get(name)
    os.environ[name] = trial
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def configured_rules() -> tuple[Path, Path]:
    """The trial's rules folder and the rules root, as the settings say
    (`TRIALBOT_RULES_DIR`, `TRIALBOT_TRIAL`; default the shipped rules)."""
    from bot.settings import load_settings

    settings = load_settings()
    return settings.trial_dir(), settings.rules_dir


def load_configured_trial(directory: Path | None = None):
    """The trial in `directory` (default: the one the settings name), through the
    validated-rules cache of `Settings.cache_dir` (`bot.protocol.cache`)."""
    from bot.protocol.cache import load_cached
    from bot.protocol.loader import load_trial
    from bot.settings import load_settings

    settings = load_settings()
    return load_cached(directory or settings.trial_dir(), settings.cache_dir, load_trial)


def report_refusal(message: str, as_json: bool) -> int:
    if as_json:
        print(json.dumps({"error": message}, ensure_ascii=False))
    else:
        print(f"error: {message}", file=sys.stderr)
    return EXIT_REFUSED


EXIT_BROKEN_PIPE = 141  # as a shell reports a process ended by SIGPIPE


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(only=_command_named(words))
    with trial_setting(_trial_named(words)):  # `--help` shows that trial's examples
        args = parser.parse_args(words)
        if not getattr(args, "func", None):
            parser.print_help()
            return EXIT_REFUSED
    as_json = bool(getattr(args, "json", False))
    try:
        with trial_setting(getattr(args, "trial", None)):
            return int(args.func(args) or 0)
    except BrokenPipeError:
        # the reader went away (`trialbot chat … | head`): whatever was done is done and
        # committed; say nothing more, and no traceback (Python's documented remedy)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except UserError as exc:
        return report_refusal(exc.message, as_json)
    except RulesError as exc:
        if as_json:
            print(
                json.dumps(
                    {"error": "rules do not validate", "problems": [str(p) for p in exc.problems]}
                )
            )
            return EXIT_REFUSED
        print("error: the rules do not validate:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_REFUSED


if __name__ == "__main__":
    raise SystemExit(main())
