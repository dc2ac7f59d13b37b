"""Command-language tests: `trialbot chat --json` in-process (bot.cli.main + capsys) on
SQLite and PostgreSQL, with the clock pinned by TRIALBOT_NOW and the admin set by
TRIALBOT_ADMINS — exactly how a script replaying a trial drives it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import select

from bot.cli import main
from bot.services.rules import TrialRules
from bot.storage.database import Database
from bot.storage.models import (
    AuditEntry,
    CalendarRow,
    DecisionRecord,
    EventRecord,
    Member,
    OutboxMessage,
    Patient,
    RequestRecord,
)

ADMIN = "U0ADMIN01"
NURSE = "U0NURSE01"
DOCTOR = "U0DOC0001"
VIEWER = "U0VIEW001"
DAY1 = date(2027, 3, 1)  # a Monday, a treatment day at the main site
SID = "LACC-007"

TABLES = (
    Patient,
    EventRecord,
    DecisionRecord,
    CalendarRow,
    OutboxMessage,
    AuditEntry,
    RequestRecord,
    Member,
)


_load_rules = TrialRules.load.__func__  # the real loader, unpatched


@cache
def _rules(directory: str) -> TrialRules:
    return _load_rules(TrialRules, Path(directory))


@pytest.fixture(autouse=True)
def cached_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each `trialbot chat` builds its context, as a process would; the rules are pure
    data, so the tests load them once."""
    monkeypatch.setattr(
        TrialRules, "load", classmethod(lambda cls, directory: _rules(str(directory)))
    )


def day(n: int) -> date:
    return DAY1 + timedelta(days=n)


def at(n: int, hour: int = 9, minute: int = 0) -> str:
    """TRIALBOT_NOW for day n at the site (Asia/Shanghai), e.g. 2027-03-06T09:00+08:00."""
    return f"{day(n).isoformat()}T{hour:02d}:{minute:02d}+08:00"


@dataclass
class Answer:
    code: int
    reply: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.reply["ok"]

    @property
    def text(self) -> str:
        return self.reply["text"]

    def decision(self, drug: str, action: str | None = None) -> dict[str, Any]:
        for decision in self.reply["decisions"]:
            if decision["drug"] == drug and (action is None or decision["action"] == action):
                return decision
        raise AssertionError(f"no {drug} {action} decision in {self.reply['decisions']}")

    def actions(self) -> dict[str, str]:
        return {d["drug"]: d["action"] for d in self.reply["decisions"]}


@dataclass
class Chat:
    """`trialbot chat --json …` as a script would run it, one process-like call each.

    Carries the test trial's people and dates (test modules cannot import conftest)."""

    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture[str]
    database: Database
    day: int = 0

    admin, nurse, doctor, viewer = ADMIN, NURSE, DOCTOR, VIEWER
    sid = SID
    day1 = DAY1

    @staticmethod
    def date(n: int) -> date:
        return day(n)

    def __call__(self, text: str, *, user: str = NURSE, on: int | None = None) -> Answer:
        if on is not None:
            self.day = on
        self.monkeypatch.setenv("TRIALBOT_NOW", at(self.day))
        self.capsys.readouterr()
        code = main(["chat", "--json", "--as", user, text])
        out = self.capsys.readouterr().out
        lines = [line for line in out.splitlines() if line.strip()]
        assert len(lines) == 1, f"--json must print exactly one object, got: {out!r}"
        reply = json.loads(lines[0])
        assert set(reply) == {"ok", "error", "text", "grades", "decisions", "events", "posts"}
        assert code == (0 if reply["ok"] else 2), (code, reply)
        return Answer(code, reply)

    def counts(self) -> dict[str, int]:
        with self.database.transaction(readonly=True) as session:
            return {
                table.__tablename__: session.exec(select(func.count()).select_from(table)).one()
                for table in TABLES
            }


@pytest.fixture
def chat(
    db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys, tmp_path: Path
) -> Iterator[Chat]:
    """A configured trial: the database (SQLite or PostgreSQL), an admin, and the clock."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TRIALBOT_DATABASE_URL", database_url)
    monkeypatch.setenv("TRIALBOT_ADMINS", ADMIN)
    monkeypatch.delenv("TRIALBOT_USER", raising=False)
    yield Chat(monkeypatch, capsys, db)


@pytest.fixture
def team(chat: Chat) -> Chat:
    """The chat with a coordinator, an on-call investigator and a viewer at the main site."""
    chat.day = -3
    for user, role, extra in (
        (NURSE, "coordinator", ""),
        (DOCTOR, "investigator", " oncall=yes"),
        (VIEWER, "viewer", ""),
    ):
        assert chat(f"role {user} {role} site=main{extra}", user=ADMIN).ok
    return chat


@pytest.fixture
def enrolled(team: Chat) -> Chat:
    """LACC-007 enrolled three days before day 1 (Mon 01 Mar 2027)."""
    answer = team(f"enroll {SID} start={DAY1.isoformat()} height=160 weight=55", on=-3)
    assert answer.ok, answer.reply
    return team


Step = Callable[..., Answer]


# --- the dispatcher directly (fast; for the language's details) ---------------------------
@dataclass
class Say:
    """`run(ctx, request, text)` as the Slack and console transports call it."""

    ctx: Any
    clock: Any

    admin, nurse, doctor, viewer = ADMIN, NURSE, DOCTOR, VIEWER
    sid = SID
    day1 = DAY1

    @staticmethod
    def date(n: int) -> date:
        return day(n)

    def at(self, n: int, hour: int = 9) -> None:
        from datetime import datetime

        self.clock.set(datetime.fromisoformat(at(n, hour)))

    def __call__(self, text: str, *, user: str = NURSE):
        from bot.commands import run
        from bot.services import Request

        return run(self.ctx, Request(user=user, source="test"), text)

    def counts(self) -> dict[str, int]:
        with self.ctx.db.transaction(readonly=True) as session:
            return {
                table.__tablename__: session.exec(select(func.count()).select_from(table)).one()
                for table in TABLES
            }


@pytest.fixture
def say(tmp_path: Path) -> Iterator[Say]:
    """A trial on a SQLite file with the team set and LACC-007 enrolled (day 1 = Mon 01
    Mar 2027), the clock at 09:00 on day 4 at the site."""
    from datetime import datetime

    from bot.clock import FixedClock
    from bot.services import build_context
    from bot.settings import Settings

    clock = FixedClock(datetime.fromisoformat(at(-3)))
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'say.db'}", admins=(ADMIN,))
    ctx = build_context(settings, clock=clock)
    helper = Say(ctx, clock)
    for user, role, extra in (
        (NURSE, "coordinator", ""),
        (DOCTOR, "investigator", " oncall=yes"),
        (VIEWER, "viewer", ""),
    ):
        assert helper(f"role {user} {role} site=main{extra}", user=ADMIN).ok
    assert helper(f"enroll {SID} start={DAY1.isoformat()} height=160 weight=55").ok
    helper.at(4)
    yield helper
    ctx.db.dispose()
