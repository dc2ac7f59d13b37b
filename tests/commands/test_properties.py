"""Property tests: no text crashes the language, and a refused command writes nothing."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.commands import Reply, build_registry
from bot.transports.slack.blocks import message

NAMES = build_registry().names()
KEYS = (
    "date", "irae", "symptomatic", "grade", "steroid_mg", "mg", "reason", "status", "start",
    "fractions", "boost", "height", "weight", "bsa", "stage", "ecog", "age", "diagnosed",
    "site", "oncall", "from", "weeks", "recent", "baseline", "ALT", "anc", "Hb", "glu", "x",
)  # fmt: skip
SAMPLE_VALUES = (
    "yes", "no", "unknown", "today", "yesterday", "2027-03-04", "2027-02-30", "0", "-1",
    "2.5", "1e400", "nan", "inf", "99999999999999999999", "IIIC1", "main", "", "“x”",
    "130 U/L (7-40)", "U0ABCDEF",
)  # fmt: skip
SAMPLE_WORDS = (
    "LACC-007", "lacc-007", "LACC-008", "LACC007", "E1", "E2", "E0", "D1", "D99", "e3",
    "ANC", "0.4", "PLT", "62", "ALT", "130", "U/L", "(7-40)", "pneumonitis", "grade",
    "cisplatin", "held", "given", "skipped", "PR", "PD", "investigator", "U0NURSE01",
    '"', "'", "=", "==", "(", "/trial", "help", "--json",
)  # fmt: skip
VALUES = st.one_of(st.sampled_from(SAMPLE_VALUES), st.text(max_size=12))
WORDS = st.one_of(
    st.sampled_from(SAMPLE_WORDS),
    st.text(min_size=1, max_size=10).filter(lambda w: not w.isspace()),
)
OPTIONS = st.builds(lambda k, v: f"{k}={v}", st.sampled_from(KEYS), VALUES)
COMMAND = st.builds(
    lambda name, parts: " ".join([name, *parts]),
    st.one_of(st.sampled_from(NAMES), st.sampled_from(["lba", "LAB", "/trial lab", "Enrol"])),
    st.lists(st.one_of(WORDS, OPTIONS), max_size=8),
)
CHECK = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _always_a_reply(say, text: str) -> None:
    before = say.counts()
    reply = say(text, user=say.admin)
    assert isinstance(reply, Reply)
    assert not reply.failed, f"unexpected error for {text!r}"
    assert reply.text.strip()
    json.dumps(reply.to_json(lambda post: message(say.ctx.renderer, post)))  # as --json prints
    if not reply.ok:
        assert reply.error
        assert say.counts() == before, f"refused {text!r} but wrote something"


@CHECK
@given(text=st.text(max_size=200))
def test_any_text_gets_a_reply(say, text):
    _always_a_reply(say, text)


@CHECK
@given(text=COMMAND)
def test_any_command_shaped_text_gets_a_reply_and_a_refusal_writes_nothing(say, text):
    _always_a_reply(say, text)
