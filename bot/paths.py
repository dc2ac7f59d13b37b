"""Where the shipped data folders (rules/, templates/) live.

In a checkout (editable install) they sit next to the `bot` package; in a wheel they are
packed under `bot/_data/`. `TRIALBOT_RULES_DIR` overrides the rules location.
"""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _data_dir(name: str) -> Path:
    beside = _PACKAGE.parent / name
    if beside.is_dir():
        return beside
    return _PACKAGE / "_data" / name


def rules_root() -> Path:
    """The folder holding one sub-folder per trial (e.g. `nct05084677/`) and `ctcae/`."""
    override = os.environ.get("TRIALBOT_RULES_DIR")
    return Path(override) if override else _data_dir("rules")


def templates_dir() -> Path:
    return _data_dir("templates")


DEFAULT_TRIAL = "nct05084677"


def trial_rules_dir(trial: str = DEFAULT_TRIAL) -> Path:
    return rules_root() / trial


def ctcae_dir(version: str = "5.0") -> Path:
    return rules_root() / "ctcae" / f"v{version}"
