"""A one-shot command imports what it uses and nothing else (start-up time,
docs/benchmarks.md): `trialbot chat "/trial help"` loads no Slack, plotting, scheduling,
calendar-export or terminal-styling library, no database library at all (it reads who
you are with the standard library's sqlite3) and — once the rules are cached — not the
rules' YAML; `trialbot calendar` needs no database library either. Each runs in a new interpreter, as a user's
command would, and reports its `sys.modules`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NEVER_FOR_HELP = ("slack_bolt", "slack_sdk", "matplotlib", "apscheduler", "icalendar", "rich")
_PROBE = (
    "import json, sys\n"
    "from bot.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "sys.stdout.flush()\n"
    "print(json.dumps({'code': code, 'modules': sorted(sys.modules)}), file=sys.stderr)\n"
)


@pytest.fixture
def run(tmp_path: Path):
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TRIALBOT_", "SLACK_"))
    }
    env.update(
        TRIALBOT_CACHE_DIR=str(tmp_path / "cache"),
        TRIALBOT_NOW="2027-02-26T09:00+08:00",
        PYTHONPATH=str(REPO),
    )

    def run(*argv: str) -> tuple[str, set[str]]:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE, *argv],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        report = json.loads(done.stderr.strip().splitlines()[-1])
        assert report["code"] == 0, done.stderr
        return done.stdout, set(report["modules"])

    return run


def _loaded(modules: set[str], package: str) -> bool:
    return package in modules or any(m.startswith(package + ".") for m in modules)


NO_DATABASE_LAYER = ("sqlalchemy", "sqlmodel", "alembic", "mako", "psycopg", "bot.storage.models")


def test_chat_help_imports_no_slack_plotting_scheduler_styling_or_database(run):
    first, modules = run("chat", "/trial help")  # caches the rules
    assert "/trial" in first and "you are console (admin)" in first
    for package in (*NEVER_FOR_HELP, *NO_DATABASE_LAYER):
        assert not _loaded(modules, package), package
    assert run("chat", "/trial whoami")[0]  # an ordinary command: creates trialbot.db
    again, modules = run("chat", "/trial help")
    assert again == first
    for package in (*NEVER_FOR_HELP, *NO_DATABASE_LAYER, "yaml", "holidays.countries"):
        assert not _loaded(modules, package), package
    # nor, with the trial's names cached, the rules' schemas, the calendar engine, the
    # grader or the decision engine (unpickling the whole rules imported them all)
    for module in ("bot.calendar.engine", "bot.grading.grader", "bot.decisions.engine"):
        assert module not in modules, module
    topic, modules = run("chat", "/trial help lab")
    assert "neut" in topic
    assert not any(_loaded(modules, package) for package in NO_DATABASE_LAYER)
    # the check would see them: any other command does load the database layer
    _, modules = run("chat", "/trial whoami")
    assert _loaded(modules, "sqlalchemy") and _loaded(modules, "bot.storage.models")


def test_calendar_imports_no_database_and_lists_no_holiday_countries(run):
    out, modules = run("calendar", "--start", "2027-03-01", "--json")
    assert "2027-03-01" in {event["date"] for event in json.loads(out)}
    for package in (*NEVER_FOR_HELP, "sqlalchemy", "sqlmodel", "alembic", "jinja2"):
        assert not _loaded(modules, package), package
    assert _loaded(modules, "holidays")  # China's calendar is computed
    # the next run reads what the package said from the cache: the same calendar
    again, modules = run("calendar", "--start", "2027-03-01", "--json")
    assert again == out
    assert not _loaded(modules, "holidays")
