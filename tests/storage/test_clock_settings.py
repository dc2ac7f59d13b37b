"""The clock and the settings: injected time, environment configuration, no globals."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

import bot.settings
from bot.clock import Clock, FixedClock, SystemClock
from bot.errors import UserError
from bot.settings import Settings, load_settings

BOT = Path(__file__).resolve().parents[2] / "bot"


def test_fixed_clock_stands_still_until_advanced():
    clock = FixedClock(datetime(2026, 11, 27, 16, 0, tzinfo=timezone(timedelta(hours=8))))
    assert clock.now() == datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    assert clock.now().tzinfo is UTC
    assert clock.now() == clock.now()
    assert clock.advance(minutes=5) == datetime(2026, 11, 27, 8, 5, tzinfo=UTC)
    assert clock.advance(timedelta(days=1)) == datetime(2026, 11, 28, 8, 5, tzinfo=UTC)
    assert clock.now() == datetime(2026, 11, 28, 8, 5, tzinfo=UTC)


def test_fixed_clock_refuses_naive_time_and_running_backwards():
    with pytest.raises(ValueError, match="timezone-aware"):
        FixedClock(datetime(2026, 11, 27, 8, 0))
    clock = FixedClock(datetime(2026, 11, 27, 8, 0, tzinfo=UTC))
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(seconds=-1)
    with pytest.raises(TypeError):
        clock.advance(timedelta(seconds=1), seconds=1)


def test_system_clock_gives_aware_utc():
    now = SystemClock().now()
    assert now.tzinfo is UTC
    assert isinstance(SystemClock(), Clock) and isinstance(FixedClock(now), Clock)


def _clock_reads(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("now", "utcnow", "today")
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in ("datetime", "date")
        ):
            found.append(f"{path.relative_to(BOT.parent)}:{node.lineno}")
    return found


def test_only_the_clock_module_reads_the_system_clock():
    offenders = [
        hit
        for path in sorted(BOT.rglob("*.py"))
        if path.name != "clock.py"
        for hit in _clock_reads(path)
    ]
    assert offenders == [], "read the time through bot.clock.Clock instead: " + ", ".join(offenders)


def test_settings_defaults(monkeypatch, tmp_path):
    for name in ("USER", "ADMINS", "TRIAL", "DEFAULT_SITE"):
        monkeypatch.delenv(f"TRIALBOT_{name}", raising=False)
    monkeypatch.setenv("TRIALBOT_DATABASE_URL", "")  # empty counts as not set
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.database_url == f"sqlite:///{tmp_path / 'trialbot.db'}"
    assert settings.user == "console"
    assert settings.admins == ()
    assert settings.trial == "nct05084677"
    assert settings.default_site is None  # the trial's own sites.yaml default_site


def test_settings_come_from_trialbot_environment_variables(monkeypatch, tmp_path):
    monkeypatch.setenv("TRIALBOT_DATABASE_URL", "postgresql+psycopg://bot@db:5432/trial")
    monkeypatch.setenv("TRIALBOT_ADMINS", "U012ABCDEF, W0456XYZ,")
    monkeypatch.setenv("TRIALBOT_USER", "U0CONSOLE")
    monkeypatch.setenv("TRIALBOT_RULES_DIR", str(tmp_path))
    monkeypatch.setenv("TRIALBOT_DEFAULT_SITE", "east")
    settings = load_settings()
    assert settings.database_url == "postgresql+psycopg://bot@db:5432/trial"
    assert settings.admins == ("U012ABCDEF", "W0456XYZ")
    assert settings.user == "U0CONSOLE"
    assert settings.rules_dir == tmp_path
    assert settings.default_site == "east"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("TRIALBOT_ADMINS", "U012ABCDEF,alice", "TRIALBOT_ADMINS: 'alice' is not a Slack user id"),
        (
            "TRIALBOT_DATABASE_URL",
            "mysql://db/trial",
            "TRIALBOT_DATABASE_URL: unsupported database",
        ),
        ("TRIALBOT_DEFAULT_SITE", "  ", "TRIALBOT_DEFAULT_SITE: must not be empty"),
    ],
)
def test_bad_settings_name_the_variable(monkeypatch, variable, value, expected):
    monkeypatch.setenv(variable, value)
    with pytest.raises(UserError) as refused:
        load_settings()
    assert refused.value.message.startswith(expected)


def test_settings_are_built_on_demand_not_at_import():
    instances = [name for name, value in vars(bot.settings).items() if isinstance(value, Settings)]
    assert instances == []
    assert Settings(user="U0ME").user == "U0ME"


def test_the_settings_rules_dir_decides_every_rules_file_ctcae_included(monkeypatch, tmp_path):
    import shutil

    from bot.errors import RulesError
    from bot.paths import rules_root
    from bot.services.rules import TrialRules

    monkeypatch.setenv("TRIALBOT_RULES_DIR", str(tmp_path / "elsewhere"))
    assert rules_root() != tmp_path / "elsewhere"  # only the Settings read the environment
    assert load_settings().rules_dir == tmp_path / "elsewhere"

    root = tmp_path / "rules"
    shutil.copytree(rules_root(), root)
    settings = Settings(rules_dir=root)
    rules = TrialRules.load(settings.rules_dir / settings.trial)
    assert rules.ctcae.version == "5.0"
    # without CTCAE data beside the trial, the load fails: the shipped copy is not used
    shutil.rmtree(root / "ctcae")
    with pytest.raises(RulesError, match=r"ctcae/v5\.0"):
        TrialRules.load(settings.rules_dir / settings.trial)


def test_the_rules_terms_are_checked_against_the_ctcae_of_the_settings_rules_dir(tmp_path):
    """`bot.decisions.schema.check_terms_exist` reads the CTCAE data beside the trial (the
    Settings' rules dir), not the shipped copy: a term missing from that copy is named."""
    import json
    import shutil

    from bot.errors import RulesError
    from bot.paths import rules_root
    from bot.protocol.loader import load_trial

    root = tmp_path / "rules"
    shutil.copytree(rules_root(), root)
    terms = root / "ctcae" / "v5.0" / "terms.json"
    data = json.loads(terms.read_text(encoding="utf-8"))
    for term in data["terms"]:
        if term["term"] == "Hypopituitarism":
            term["term"] = "Hypopituitarism of this copy"
    terms.write_text(json.dumps(data), encoding="utf-8")
    settings = Settings(rules_dir=root)
    with pytest.raises(RulesError) as refused:
        load_trial(settings.rules_dir / settings.trial)
    problems = [str(p) for p in refused.value.problems]
    assert any(
        p.startswith("nct05084677/dose_modifications.yaml: immunotherapy.categories[")
        and "'Hypopituitarism' is not a CTCAE v5.0 term" in p
        for p in problems
    ), problems


# Modules that may read the process environment: the settings, the Slack transport's
# settings, and the entry points that hand it to them (`bot/cli/`, `trialbot serve`).
ENVIRONMENT_READERS = ("bot/settings.py", "bot/transports/slack/config.py", "bot/cli/")
_ENV_NAMES = {"environ", "environb", "getenv", "getenvb"}


def _reads_environment(tree: ast.AST) -> bool:
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
            and node.attr in _ENV_NAMES
        ):
            return True
        if (
            isinstance(node, ast.ImportFrom)
            and node.module == "os"
            and any(alias.name in _ENV_NAMES for alias in node.names)
        ):
            return True
    return False


def test_only_the_settings_and_the_entry_points_read_the_environment(repo):
    readers = []
    for path in sorted((repo / "bot").rglob("*.py")):
        relative = path.relative_to(repo).as_posix()
        if relative.startswith(ENVIRONMENT_READERS) or relative == "bot/transports/slack/serve.py":
            continue
        if _reads_environment(ast.parse(path.read_text(encoding="utf-8"))):
            readers.append(relative)
    assert readers == []
    # the check would see one: the entry points do read it
    assert _reads_environment(ast.parse((repo / "bot" / "cli" / "tick.py").read_text()))
    assert _reads_environment(ast.parse("from os import getenv"))
