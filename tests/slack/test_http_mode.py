"""Tier 2: the real Bolt app in HTTP mode behind waitress, driven by signed requests, its
WebClient pointed at the fake Slack."""

from __future__ import annotations

import time


def _respond_text(fake) -> str:
    calls = fake.called("response_url")
    assert calls, fake.methods()
    return "\n".join(c.text_of_blocks() for c in calls)


def test_signed_slash_command_records_the_lab_and_replies_ephemerally(server):
    before = server.counts()
    answer = server.command(f"lab {server.sid} ANC 0.4 PLT 62")
    assert answer.status == 200 and answer.body == ""  # the ack: empty, at once
    [reply] = server.fake.called("response_url")
    assert reply.params["response_type"] == "ephemeral"
    text = reply.text_of_blocks()
    assert "Neutrophil count decreased" in text and "grade 4" in text.lower()
    assert "CTCAE" in text and "Table 3" in text  # the criterion and the protocol citation
    after = server.counts()
    assert after["event"] == before["event"] + 2  # the lab and the proposal


def test_stale_timestamp_and_bad_signature_are_refused_and_record_nothing(server):
    before = server.counts()
    stale = server.command(f"lab {server.sid} ANC 0.4", timestamp=int(time.time()) - 6 * 60)
    forged = server.command(f"lab {server.sid} ANC 0.4", signature="v0=" + "0" * 64)
    assert stale.status == 401 and forged.status == 401
    assert server.counts() == before
    assert server.fake.called("response_url") == []
    assert server.fake.called("chat.postMessage") == []


def test_the_alert_goes_to_the_channel_and_the_on_call_dm_with_buttons(server):
    server.command(f"lab {server.sid} ANC 0.4 PLT 62")
    posts = server.fake.called("chat.postMessage")
    assert {p.params["channel"] for p in posts} == {server.study, "D" + server.doctor[1:]}
    [opened] = server.fake.called("conversations.open")
    assert opened.params["users"] == server.doctor
    for post in posts:
        actions = [b for b in post.blocks() if b["type"] == "actions"]
        ids = [e["action_id"] for e in actions[0]["elements"]]
        assert ids[:2] == ["decision_confirm", "decision_override"]
        assert "needs an investigator decision" in post.text_of_blocks()
    # each copy's ts is recorded, for the in-place updates
    alerts = [m for m in server.outbox() if m.kind == "decision_alert"]
    assert len(alerts) == 2 and all(m.status == "sent" for m in alerts)
    assert {m.message_id.split(":")[0] for m in alerts} == {server.study, "D" + server.doctor[1:]}


def test_outside_a_study_channel_the_bot_points_to_it_and_records_nothing(server):
    before = server.counts()
    server.command(f"lab {server.sid} ANC 0.4", channel=server.other)
    text = _respond_text(server.fake)
    assert f"<#{server.study}>" in text and "Nothing was recorded" in text
    assert server.counts() == before


def test_a_direct_message_slash_command_is_accepted(server):
    server.command("whoami", channel="D" + server.nurse[1:])
    assert "coordinator" in _respond_text(server.fake)


def test_healthz_reports_database_schema_and_outbox(server):
    answer = server.get("/healthz")
    assert answer.status == 200
    report = answer.json()
    assert report["ok"] is True and report["database"] == "ok" and report["schema"] == "current"
    assert report["slack"] == {"mode": "http"}
    assert set(report["outbox"]) == {"pending", "sending", "dead"}


def test_unknown_path_is_404(server):
    assert server.get("/nope").status == 404
