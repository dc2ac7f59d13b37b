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


def _default_trial() -> str:
    """The trial named by the shipped rules root's `default_trial.txt` (its first line that
    is not a comment): which trial is the default is data, not code."""
    text = (rules_root() / "default_trial.txt").read_text(encoding="utf-8")
    return next(line.strip() for line in text.splitlines() if line.strip()[:1] not in ("#", ""))


DEFAULT_TRIAL = _default_trial()


def trial_rules_dir(trial: str = DEFAULT_TRIAL, root: Path | None = None) -> Path:
    return (root or rules_root()) / trial


def ctcae_dir(version: str = "5.0", root: Path | None = None) -> Path:
    """`<root>/ctcae/v<version>/`, beside the trials' folders (default: the shipped root)."""
    return (root or rules_root()) / "ctcae" / f"v{version}"
