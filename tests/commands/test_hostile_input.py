"""Hostile and careless input over the whole dispatcher, on SQLite and PostgreSQL.

Generators for what Slack will bring: Unicode digits and letters (full-width, superscript,
Arabic-Indic, circled), control characters, lone surrogates, huge and negative numbers,
extreme dates, quotes and long strings, spliced into every subcommand's real shape. For
each generated command: never an internal error ("something went wrong"), always a
reply; a refusal writes nothing (every table's row count is the same after it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func
from sqlmodel import select

from bot.clock import FixedClock
from bot.commands import Reply, dispatch, run
from bot.commands.tokens import split_command
from bot.inputs import COMMAND_LIMIT
from bot.services import Request, build_context
from bot.settings import Settings
from bot.storage.models import (
    AuditEntry,
    CalendarRow,
    DecisionRecord,
    EventRecord,
    Member,
    OutboxMessage,
    Patient,
    RequestRecord,
    Site,
)
from bot.transports.slack import blocks as slack_blocks

ADMIN = "U0ADMIN01"
DOCTOR = "U0DOC0001"
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
    Site,
)

# --- the pieces hostile text is made of ---------------------------------------------------
FULL_WIDTH = "０１２３４５６７８９ＬＡＣＣ－ｌａｃｃ"
OTHER_DIGITS = "²³¹⁰⁹₂①٣۴३৫๖᠗𝟘𝟙"  # superscript, subscript, circled, Arabic-Indic, Thai …
CONTROLS = "\x00\x01\x07\x08\x0b\x0c\x1b\x7f\x85\u200b\u200e\u202e\u2066\ufeff"
SURROGATES = "\ud800\udc00\udfff"
QUOTES = "\"'“”‘’`"
HUGE = (
    "2147483647", "2147483648", "4294967296", "9223372036854775808",
    "99999999999999999999", "-1", "-2147483649", "0", "00000000000000000001",
    "1e400", "1e-400", "nan", "inf", "-0", "1_000", "0x10", "1.5e3", "１２", "٣",
)  # fmt: skip
DATES = (
    "0001-01-01", "9999-12-31", "1000-01-01", "2027-02-30", "0000-00-00", "10000-01-01",
    "2027-3-4", "1975-03-12", "2099-12-31", "2100-01-01", "2027-03-04T10:00", "today",
    "yesterday", "２０２７－０３－０４",
)  # fmt: skip
IDS = (
    "LACC-007", "ＬＡＣＣ－００７", "lacc-007", "LACC-００７", "LACC-0０7", "LACC-007²",
    "LACC-٠٠٧", "LACC-008", "SMITHJ-1975", "MRN1234567-1", "E1", "E2", "Ｅ１", "E²",
    "E2147483648", "D2147483648", "D1", "Ｄ１", "D¹", "D99999999999999999999", "E0", "D-1",
    "U0DOC0001", "U0ADMIN01", "<@U0DOC0001>",
)  # fmt: skip
KEYS = (
    "date", "irae", "symptomatic", "grade", "steroid_mg", "mg", "reason", "status", "start",
    "fractions", "boost", "height", "weight", "bsa", "stage", "ecog", "age", "diagnosed",
    "site", "oncall", "from", "weeks", "recent", "baseline", "ALT", "anc", "Hb", "x",
)  # fmt: skip
COMMANDS = (
    "lab LACC-007", "ae LACC-007 pneumonitis", "dose LACC-007 cisplatin given",
    "response LACC-007", "enroll", "patient", "calendar", "decisions", "confirm",
    "override", "attribute", "correct", "void", "role", "whoami", "help", "screen",
    "today", "week", "due",
)  # fmt: skip


def _odd_text(max_size: int = 12) -> st.SearchStrategy[str]:
    alphabet = st.one_of(
        st.sampled_from(FULL_WIDTH + OTHER_DIGITS + CONTROLS + SURROGATES + QUOTES),
        st.characters(codec="utf-8"),
        st.characters(categories=["Nd", "No", "Lo", "Cc", "Cf", "Zs"]),
    )
    return st.text(alphabet, min_size=1, max_size=max_size)


VALUES = st.one_of(
    st.sampled_from(HUGE + DATES + IDS),
    _odd_text(),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.text(max_size=20),
)
WORDS = st.one_of(st.sampled_from(HUGE + DATES + IDS), _odd_text())
OPTIONS = st.builds(lambda k, v: f"{k}={v}", st.sampled_from(KEYS), VALUES)
QUOTED = st.builds(lambda k, v: f'{k}="{v}"', st.sampled_from(("reason", "baseline")), VALUES)
FREE = st.builds(lambda head, parts: " ".join([head, *parts]), st.sampled_from(COMMANDS),
                 st.lists(st.one_of(WORDS, OPTIONS, QUOTED), max_size=6))  # fmt: skip
# Every subcommand's real shape, with one hostile value in each slot.
SHAPES = (
    "enroll {id} start={date} bsa={num}", "enroll LACC-0{num} start=2027-03-01 height={num} "
    "weight={num} age={num} ecog={num} fractions={num}", "lab {id} date={date} ANC {num}",
    "lab LACC-007 {word} {num} PLT {num}", "ae {id} pneumonitis grade={num} date={date}",
    "ae LACC-007 {word} grade=2 steroid_mg={num}", "dose {id} cisplatin given mg={num}",
    "dose LACC-007 {word} held date={date} reason={quoted}", "response {id} {word}",
    "confirm {id}", "override {id} reason={quoted}", "attribute {id} irae={word}",
    "correct {id} grade={num} reason={quoted}", "correct E2 ANC {num} reason={quoted}",
    "correct E1 start={date} fractions={num} reason={quoted}", "void {id} reason={quoted}",
    "patient {id}", "calendar {id} from={date} weeks={num}", "decisions site={word}",
    "role {id} {word} site={word} oncall={word}", "screen age={num} stage={word} anc={num}",
    "help {word}", "week {date}", "today site={word}",
)  # fmt: skip
SLOTS = {
    "id": st.one_of(st.sampled_from(IDS), _odd_text()),
    "date": st.one_of(st.sampled_from(DATES), _odd_text()),
    "num": st.one_of(
        st.sampled_from(HUGE),
        st.integers(-(10**25), 10**25).map(str),
        st.floats(allow_nan=True).map(str),
        _odd_text(6),
    ),
    "word": st.one_of(st.sampled_from(IDS + HUGE), _odd_text()),
    "quoted": st.one_of(st.sampled_from(IDS), _odd_text(30)).map(lambda v: f'"{v}"'),
}
SHAPED = st.sampled_from(SHAPES).flatmap(
    lambda shape: st.fixed_dictionaries(SLOTS).map(lambda slots: shape.format(**slots))
)
HOSTILE = st.one_of(SHAPED, FREE)
LONG = st.builds(
    lambda head, size, char: f"{head} {char * size}",
    st.sampled_from(COMMANDS),
    st.integers(min_value=1000, max_value=20000),
    st.sampled_from(("9", "x", "ａ", " ", '"', "=", "(")),
)

BUDGET = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class Trial:
    def __init__(self, ctx, clock: FixedClock) -> None:
        self.ctx = ctx
        self.clock = clock

    def __call__(self, text: str, *, user: str = ADMIN) -> Reply:
        return run(self.ctx, Request(user=user, source="test"), text)

    def counts(self) -> dict[str, int]:
        with self.ctx.db.transaction(readonly=True) as session:
            return {
                table.__tablename__: session.exec(select(func.count()).select_from(table)).one()
                for table in TABLES
            }


@pytest.fixture
def trial(db, database_url: str, tmp_path: Path) -> Iterator[Trial]:
    """LACC-007 enrolled, a lab panel with a proposal (D1), an investigator on call."""
    clock = FixedClock(datetime.fromisoformat("2027-02-26T09:00+08:00"))
    ctx = build_context(Settings(database_url=database_url, admins=(ADMIN,)), clock=clock)
    helper = Trial(ctx, clock)
    assert helper(f"role {DOCTOR} investigator site=main oncall=yes").ok
    assert helper(f"enroll {SID} start=2027-03-01 height=160 weight=55").ok
    clock.set(datetime.fromisoformat("2027-03-05T09:00+08:00"))
    assert helper(f"lab {SID} ANC 0.4 PLT 62").ok
    yield helper
    ctx.db.dispose()


def _holds(trial: Trial, text: str) -> Reply:
    before = trial.counts()
    reply = trial(text)
    assert isinstance(reply, Reply)
    assert not reply.failed, f"internal error for {text!r}: {reply.error}"
    assert reply.text.strip()
    json.dumps(reply.to_json(lambda post: slack_blocks.message(trial.ctx.renderer, post)))
    if not reply.ok:
        assert reply.error
        assert trial.counts() == before, f"refused {text!r} but wrote something"
    assert trial.counts()["patient"] == 1 or text.split()[0] == "enroll"
    return reply


@BUDGET
@given(text=HOSTILE)
def test_hostile_commands_get_a_reply_and_a_refusal_writes_nothing(trial, text):
    _holds(trial, text)


# The findings of the hostile-input review, one by one.
FINDINGS = (
    "confirm D2147483648", "confirm D99999999999999999999", "void E99999999999999999999 "
    "reason=x", "confirm D²", "attribute E² irae=yes", "lab LACC-٠٠٧ ANC 1",
    "lab LACC-007 ANC ٠.٤", "dose LACC-007 cisplatin given mg=١٢", "patient LACC-007\x00",
    "patient LACC-007\x1b[2J", "void E2 reason=\"a\ud800b\"", "enroll LACC-009 "
    "start=9999-12-31 bsa=1.6", "enroll LACC-010 start=0001-01-01 bsa=1.6",
    "lab LACC-007 date=0001-01-01 ANC 1", "calendar LACC-007 from=9999-12-31",
    "ae LACC-007 pneumonitis grade=2 steroid_mg=1e400", "lab LACC-007 " + "ANC 1 " * 900,
    'void E2 reason="' + "x" * 5000 + '"', 'void E2 reason="' + "x" * 600 + '"',
    "enroll ＬＡＣＣ－００７ start=2027-03-01 bsa=1.6",
)  # fmt: skip


FIELDS = (
    "decision", "event", "study_id", "panel", "mg", "command", "start", "date", "from",
    "steroid_mg", "reason",
)  # fmt: skip


def test_each_finding_is_a_refusal_naming_the_field_that_writes_nothing(trial):
    for text in FINDINGS:
        reply = _holds(trial, text)
        assert not reply.ok, (text, reply.text)
        assert reply.error.split(":")[0] in FIELDS, (text, reply.error)


def test_a_full_width_study_id_is_the_enrolled_patient(trial):
    reply = _holds(trial, "lab ＬＡＣＣ－００７ ＡＮＣ ０.５")
    assert reply.ok, reply.error
    assert trial.counts()["patient"] == 1
    assert "LACC-007" in reply.text


@settings(BUDGET, max_examples=25)
@given(text=LONG)
def test_long_commands_are_refused_before_any_work(trial, text):
    """Over the limit, a command is refused on its size alone: it is not split into
    words and no database session is opened (the work is counted, not timed)."""
    work: list[str] = []
    transaction = trial.ctx.db.transaction

    def counted_transaction(*args, **kwargs):
        work.append("transaction")
        return transaction(*args, **kwargs)

    def counted_split(*args, **kwargs):
        work.append("split")
        return split_command(*args, **kwargs)

    before = trial.counts()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dispatch, "split_command", counted_split)
        patch.setattr(trial.ctx.db, "transaction", counted_transaction)
        reply = trial(text)
    assert not reply.failed, f"internal error for {text!r}: {reply.error}"
    if len(text) > COMMAND_LIMIT:
        assert not reply.ok
        assert reply.error.startswith("command:"), reply.error
        assert f"at most {COMMAND_LIMIT} characters" in reply.error
        assert work == [], f"a {len(text)}-character command was worked on: {work}"
        assert trial.counts() == before
    else:
        assert "split" in work  # the counter sees the work a command under the limit gets


@BUDGET
@given(text=st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
def test_any_text_gets_a_reply(trial, text):
    _holds(trial, text)
