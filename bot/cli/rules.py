"""`trialbot rules check [DIR]`: validate a trial's rules directory against its schemas."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.cli import configured_rules
from bot.paths import ctcae_dir
from bot.protocol.loader import RULE_FILES, load_trial


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("rules", help="validate the protocol rules files")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    check = actions.add_parser(
        "check", help="validate a rules directory (default: the configured trial)"
    )
    check.add_argument(
        "directory",
        nargs="?",
        type=Path,
        default=None,
        help="rules directory (default: the trial TRIALBOT_TRIAL or --trial names)",
    )
    check.set_defaults(func=_check)
    parser.set_defaults(func=lambda args: parser.print_help() or 2)


def _check(args: argparse.Namespace) -> int:
    trial_dir, _ = configured_rules()
    directory = args.directory or trial_dir
    trial = load_trial(directory)  # never the start-up cache: every file is read and checked
    names = ", ".join(sorted(trial.files)) or "no files"
    print(f"{directory}: OK ({len(trial.files)} of {len(RULE_FILES)} rules files: {names})")
    ctcae = trial.ctcae
    assert ctcae is not None
    print(
        f"{ctcae_dir(ctcae.version, trial.root)}: OK (CTCAE v{ctcae.version}: {len(ctcae.terms)} terms, "
        f"{len(ctcae.lab)} lab criteria, {len(ctcae.synonyms)} synonyms)"
    )
    return 0
