"""Console transport tests: `trialbot chat` and `trialbot demo` in a temporary working
directory, with the clock pinned by TRIALBOT_NOW."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from bot.services.rules import TrialRules

_load_rules = TrialRules.load.__func__  # the real loader


@cache
def _rules(directory: str) -> TrialRules:
    return _load_rules(TrialRules, Path(directory))


@pytest.fixture(autouse=True)
def cached_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rules are pure data: loaded once for all the in-process runs."""
    monkeypatch.setattr(
        TrialRules, "load", classmethod(lambda cls, directory: _rules(str(directory)))
    )


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory, the default database (trialbot.db in it), no admins
    configured (so the console user is an admin), 09:00 on Fri 26 Feb 2027 at the site."""
    monkeypatch.chdir(tmp_path)
    for name in ("TRIALBOT_DATABASE_URL", "TRIALBOT_ADMINS", "TRIALBOT_USER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TRIALBOT_NOW", "2027-02-26T09:00+08:00")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    return tmp_path
