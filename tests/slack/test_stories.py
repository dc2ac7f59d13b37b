"""Tier 4: the console's patient stories replayed through Slack-shaped requests (signed
slash commands, mentions, DMs and button clicks) give the same entries and decisions as
the console dispatcher on a database of its own. And, over generated text, the mention
and DM path answers once, within Block Kit's limits, and never fails."""

from __future__ import annotations

import itertools
import re
from datetime import datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_bolt.request import BoltRequest
from slack_sdk.models.blocks import Block
from sqlmodel import select

from bot.clock import FixedClock
from bot.commands import run
from bot.services import Request, build_context
from bot.settings import Settings
from bot.storage.models import DecisionRecord, EventRecord
from bot.transports.slack.blocks import MESSAGE_BLOCKS, SECTION_LIMIT
from bot.transports.slack.text import command_text

DAY1 = datetime.fromisoformat("2027-03-01T09:00+08:00")

# (day, user, how, text): the neutropenia story of tests/commands/test_patient_stories.py
# and an adverse event with an immune-related attribution; `how` is the Slack entrance.
STORY = [
    (0, "nurse", "slash", "dose LACC-007 cisplatin mg=62"),
    (4, "nurse", "mention", "lab LACC-007 ANC 0.4 PLT 62 Hb 9.1"),
    (4, "doctor", "click", "confirm"),
    (7, "nurse", "dm", "lab LACC-007 ANC 1.2"),
    (7, "doctor", "slash", "confirm {last}"),
    (11, "nurse", "slash", "lab LACC-007 ANC 1.9"),
    (11, "doctor", "click", "confirm"),
    (14, "nurse", "mention", "ae LACC-007 diarrhea grade=3"),
    (15, "doctor", "dm", "decisions"),
]


def _shape(ctx) -> tuple[list, list]:
    with ctx.db.transaction(readonly=True) as session:
        events = [
            (e.kind, e.clinical_date, e.recorded_by, e.payload, e.corrects, e.voids)
            for e in session.exec(select(EventRecord).order_by(EventRecord.id))
        ]
        decisions = [
            (d.drug, d.action, d.dose_percent, d.status, d.rule, d.criterion)
            for d in session.exec(select(DecisionRecord).order_by(DecisionRecord.id))
        ]
    return events, decisions


def _console_twin(tmp_path: Path, clock: FixedClock, server) -> object:
    settings_ = Settings(
        database_url=f"sqlite:///{tmp_path / 'console.db'}", admins=(server.admin,)
    )
    ctx = build_context(settings_, clock=clock)
    from bot.services.sites import configure_channels

    configure_channels(ctx, {"main": server.study})
    for user, role, extra in (
        (server.nurse, "coordinator", ""),
        (server.doctor, "investigator", " oncall=yes"),
        (server.viewer, "viewer", ""),
    ):
        assert run(ctx, Request(user=server.admin), f"role {user} {role} site=main{extra}").ok
    assert run(
        ctx, Request(user=server.nurse), "enroll LACC-007 start=2027-03-01 height=160 weight=55"
    ).ok
    return ctx


def test_a_story_through_slack_equals_the_story_on_the_console(server, slack_clock, tmp_path):
    twin_clock = FixedClock(slack_clock.now())
    twin = _console_twin(tmp_path, twin_clock, server)
    people = {"nurse": server.nurse, "doctor": server.doctor}
    last: str | None = None
    for day, who, how, text in STORY:
        moment = DAY1 + timedelta(days=day)
        slack_clock.set(moment)
        twin_clock.set(moment)
        user = people[who]
        if how == "click":
            assert last is not None
            server.click("decision_confirm", last, user=user)
            typed = f"confirm {last}"
        else:
            typed = text.format(last=last)
            {"slash": server.command, "mention": server.mention, "dm": server.dm}[how](
                typed, user=user
            )
        reply = run(twin, Request(user=user), typed)
        assert reply.ok, reply.text
        proposed = [d["id"] for d in reply.decisions if d.get("status") == "proposed"]
        if proposed:
            last = proposed[0]
    slack_events, slack_decisions = _shape(server.ctx)
    console_events, console_decisions = _shape(twin)
    assert slack_decisions == console_decisions and len(slack_decisions) >= 3
    assert [e[:2] for e in slack_events] == [e[:2] for e in console_events]
    assert slack_events == console_events
    twin.db.dispose()


# --- generated text through the mention and DM path --------------------------------------
WORDS = st.sampled_from(
    [
        "lab",
        "LACC-007",
        "ANC",
        "0.4",
        "PLT",
        "<25",
        "&",
        "ae",
        "grade=3",
        "help",
        "confirm",
        "D1",
        'reason="x"',
        '"',
        "*bold*",
        "<!channel>",
        "<@U0DOC0001>",
        "calendar",
        "🙂",
        "\n",
    ]
)
EVENT_IDS = itertools.count(1)
TEXTS = st.one_of(st.lists(WORDS, max_size=8).map(" ".join), st.text(max_size=200))


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@settings(max_examples=60, deadline=None)
@given(TEXTS)
def test_mention_text_reaches_the_dispatcher_as_typed(text):
    bot = "U0BOT0001"
    # "@trialbot: lab …" and "@trialbot, lab …" read as "lab …"
    after_mention = re.sub(r"^[\s:,]*", "", text).strip()
    assert command_text(f"<@{bot}> {_slack_escape(text)}", bot_user_id=bot) == after_mention
    assert command_text(_slack_escape(text), bot_user_id=bot) == text.strip()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=TEXTS, dm=st.booleans())
def test_any_mention_or_dm_gets_exactly_one_valid_reply(slack, fake_slack, text, dm):
    fake_slack.reset()
    user = "U0VIEW001"  # a viewer: whatever the text, nothing can be written
    event = (
        {"type": "message", "channel_type": "im", "channel": "D0VIEW001"}
        if dm
        else {"type": "app_mention", "channel": "C0STUDY01"}
    )
    body = {
        "type": "event_callback",
        "team_id": "T0TEAM001",
        "api_app_id": "A0APP0001",
        "event_id": f"Ev0PROP{next(EVENT_IDS):06d}",  # a new event each time (no dedupe)
        "authorizations": [{"team_id": "T0TEAM001", "user_id": "U0BOT0001", "is_bot": True}],
        "event": {
            **event,
            "user": user,
            "text": ("" if dm else "<@U0BOT0001> ") + _slack_escape(text),
            "ts": "1700000000.000001",
        },
    }
    response = slack.app.dispatch(BoltRequest(body=body, mode="socket_mode"))
    assert response.status == 200
    method = "chat.postMessage" if dm else "chat.postEphemeral"
    replies = fake_slack.called(method)
    assert replies, fake_slack.methods()
    for reply in replies:
        blocks = reply.blocks()
        assert 0 < len(blocks) <= MESSAGE_BLOCKS
        for block in blocks:
            Block.parse(block).validate_json()
            assert len(block["text"]["text"]) <= SECTION_LIMIT
        assert "<!channel>" not in reply.text_of_blocks()
    assert "something went wrong" not in "\n".join(r.text_of_blocks() for r in replies)
