"""Console transport tests: `trialbot chat` and `trialbot demo` in a temporary working
directory, with the clock pinned by TRIALBOT_NOW."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def cached_rules(rules_loaded_once: None) -> None:
    """The rules are pure data: loaded once for all the in-process runs."""


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory, the default database (trialbot.db in it), no admins
    configured (so the console user is an admin), 09:00 on Fri 26 Feb 2027 at the site."""
    monkeypatch.chdir(tmp_path)
    for name in ("TRIALBOT_DATABASE_URL", "TRIALBOT_ADMINS", "TRIALBOT_USER", "SLACK_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TRIALBOT_NOW", "2027-02-26T09:00+08:00")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    return tmp_path
