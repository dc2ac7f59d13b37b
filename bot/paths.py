"""Where the shipped data folders (rules/, templates/) live — the defaults only.

In a checkout (editable install) they sit next to the `bot` package; in a wheel they are
packed under `bot/_data/`. Nothing here reads the environment: which rules a process
uses is its `Settings.rules_dir` (`TRIALBOT_RULES_DIR`), built once by the entry point.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _data_dir(name: str) -> Path:
    beside = _PACKAGE.parent / name
    if beside.is_dir():
        return beside
    return _PACKAGE / "_data" / name


def rules_root() -> Path:
    """The shipped folder holding one sub-folder per trial (named by its registry id) and
    `ctcae/`: the default of `Settings.rules_dir`."""
    return _data_dir("rules")


def templates_dir() -> Path:
    return _data_dir("templates")


DEFAULT_TRIAL = "nct05084677"


def trial_rules_dir(trial: str = DEFAULT_TRIAL, root: Path | None = None) -> Path:
    return (root or rules_root()) / trial


def ctcae_dir(version: str = "5.0", root: Path | None = None) -> Path:
    """`<root>/ctcae/v<version>/`, beside the trials' folders (default: the shipped root)."""
    return (root or rules_root()) / "ctcae" / f"v{version}"
