"""Tier 1: the listeners' work functions with a transcript stub in place of Slack — what
each entrance says to whom, with no HTTP at all."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import pytest

from bot.transports.slack.app import InlineExecutor, SlackTransport
from bot.transports.slack.config import SlackConfig
from bot.transports.slack.listeners import actions, commands, events
from bot.transports.slack.notifier import SlackNotifier


@dataclass
class Transcript:
    """Records every Slack call as (method, arguments); answers like Slack would."""

    lines: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _ts: Any = field(default_factory=lambda: itertools.count(1))

    def said(self, method: str) -> list[dict[str, Any]]:
        return [args for name, args in self.lines if name == method]

    def text(self, method: str) -> str:
        return "\n".join(
            b["text"]["text"]
            for args in self.said(method)
            for b in args.get("blocks") or []
            if b.get("type") == "section"
        )

    # the WebClient methods the transport uses
    def chat_postMessage(self, **kw: Any) -> dict[str, Any]:
        self.lines.append(("chat.postMessage", kw))
        return {"ok": True, "channel": kw["channel"], "ts": f"1.{next(self._ts)}"}

    def chat_postEphemeral(self, **kw: Any) -> dict[str, Any]:
        self.lines.append(("chat.postEphemeral", kw))
        return {"ok": True}

    def chat_update(self, **kw: Any) -> dict[str, Any]:
        self.lines.append(("chat.update", kw))
        return {"ok": True}

    def conversations_open(self, **kw: Any) -> dict[str, Any]:
        self.lines.append(("conversations.open", kw))
        return {"ok": True, "channel": {"id": "D" + kw["users"][1:]}}

    def respond(self, **kw: Any) -> None:
        self.lines.append(("respond", kw))


@pytest.fixture
def stub(trial) -> tuple[SlackTransport, Transcript]:
    transcript = Transcript()
    transport = SlackTransport(
        ctx=trial,
        config=SlackConfig(bot_token="xoxb-stub", site_channels={"main": "C0STUDY01"}),
        client=transcript,  # type: ignore[arg-type]
        notifier=SlackNotifier(transcript, trial.db, trial.clock, trial.renderer),  # type: ignore[arg-type]
        work=InlineExecutor(),
    )
    return transport, transcript


def _command(text: str, user: str = "U0NURSE01", channel: str = "C0STUDY01") -> dict[str, Any]:
    return {"text": text, "user_id": user, "channel_id": channel, "trigger_id": f"t-{text}"}


def test_slash_command_replies_ephemerally_then_delivers_the_alerts(stub):
    transport, transcript = stub
    commands.handle(transport, _command("lab LACC-007 ANC 0.4"), transcript.respond)
    methods = [name for name, _ in transcript.lines]
    assert methods[0] == "respond"  # the reply comes before the posts it caused
    assert transcript.said("respond")[0]["response_type"] == "ephemeral"
    assert "grade 4" in transcript.text("respond").lower()
    assert {a["channel"] for a in transcript.said("chat.postMessage")} == {"C0STUDY01", "D0DOC0001"}


def test_the_three_entrances_give_the_same_reply(stub):
    transport, transcript = stub
    commands.handle(transport, _command("patient LACC-007"), transcript.respond)
    body = {"event_id": "Ev1"}
    events.on_mention(
        transport,
        body,
        {"user": "U0NURSE01", "channel": "C0STUDY01", "text": "<@U0BOT0001> patient LACC-007"},
        "U0BOT0001",
    )
    events.on_dm(
        transport,
        {"event_id": "Ev2"},
        {"user": "U0NURSE01", "channel": "D0NURSE01", "text": "patient LACC-007"},
        "U0BOT0001",
    )
    slash = transcript.text("respond")
    assert slash and slash == transcript.text("chat.postEphemeral") == transcript.text(
        "chat.postMessage"
    )


def test_a_command_elsewhere_is_answered_with_a_pointer(stub):
    transport, transcript = stub
    commands.handle(
        transport, _command("lab LACC-007 ANC 0.4", channel="C0RANDOM1"), transcript.respond
    )
    assert "<#C0STUDY01>" in transcript.text("respond")
    assert transcript.said("chat.postMessage") == []


def test_slack_escaped_text_reaches_the_parser_unescaped(stub):
    transport, transcript = stub
    # typed "PLT <25": Slack sends it HTML-escaped; the parser must read "<25" (a bound)
    commands.handle(transport, _command("lab LACC-007 PLT &lt;25"), transcript.respond)
    shown = transcript.text("respond")
    assert "is a bound, not a value" in shown
    assert "'&lt;25'" in shown and "&amp;lt;" not in shown  # escaped once, for display


def test_a_refused_click_changes_nothing_in_slack(stub):
    transport, transcript = stub
    commands.handle(transport, _command("lab LACC-007 ANC 0.4"), transcript.respond)
    decision = transcript.said("chat.postMessage")[0]["blocks"][-1]["elements"][0]["value"]
    transcript.lines.clear()
    actions.on_confirm(
        transport, {"user": {"id": "U0VIEW001"}}, {"value": decision}, transcript.respond
    )
    assert [name for name, _ in transcript.lines] == ["respond"]
    assert "needs the investigator role" in transcript.text("respond")


def test_in_a_study_channel_commands_act_for_its_site(stub):
    import dataclasses

    transport, transcript = stub
    # no default site to fall back on, and the admin has no site of their own
    settings = transport.ctx.settings.model_copy(update={"default_site": "nowhere"})
    transport.ctx = dataclasses.replace(transport.ctx, settings=settings)
    commands.handle(transport, _command("today", user="U0ADMIN01"), transcript.respond)
    assert "at site main" in transcript.text("respond")
    transcript.lines.clear()
    commands.handle(
        transport, _command("today", user="U0ADMIN01", channel="D0ADMIN01"), transcript.respond
    )
    assert "unknown site 'nowhere'" in transcript.text("respond")
