"""Tier 2: mentions, DMs, retries, alert buttons and the override modal through signed
HTTP requests against the fake Slack."""

from __future__ import annotations

import json

from slack_sdk.models.blocks import Block


def _alert(server) -> tuple[str, str]:
    """Record a grade 4 neutropenia; (decision label, trigger entry label)."""
    server.command(f"lab {server.sid} ANC 0.4 PLT 62")
    [alert, *_] = [m for m in server.outbox() if m.kind == "decision_alert"]
    decision = alert.payload["decision_ids"][0]
    server.fake.reset()
    return decision, alert.payload["facts"]["entry"]["id"]


def test_a_mention_in_the_study_channel_runs_the_command_ephemerally(server):
    server.mention("whoami", user=server.nurse)
    [reply] = server.fake.called("chat.postEphemeral")
    assert reply.params["channel"] == server.study and reply.params["user"] == server.nurse
    assert "coordinator" in reply.text_of_blocks()


def test_a_mention_elsewhere_points_to_the_study_channel(server):
    before = server.counts()
    server.mention(f"lab {server.sid} ANC 0.4", channel=server.other)
    [reply] = server.fake.called("chat.postEphemeral")
    assert f"<#{server.study}>" in reply.text_of_blocks()
    assert server.counts()["event"] == before["event"]


def test_a_direct_message_is_answered_in_the_dm(server):
    server.dm("whoami", user=server.doctor)
    [reply] = server.fake.called("chat.postMessage")
    assert reply.params["channel"] == "D" + server.doctor[1:]
    assert "investigator" in reply.text_of_blocks()


def test_a_retried_event_records_once_and_a_first_delivery_with_a_retry_header_counts(server):
    before = server.counts()["event"]
    # the first attempt never reached us: the first delivery we see carries Retry-Num 1
    assert server.mention(f"lab {server.sid} ANC 0.4", event_id="Ev0RETRY01", retry=1).status == 200
    assert server.counts()["event"] == before + 2  # lab + proposal
    assert server.mention(f"lab {server.sid} ANC 0.4", event_id="Ev0RETRY01", retry=2).status == 200
    assert server.counts()["event"] == before + 2
    assert len(server.fake.called("chat.postEphemeral")) == 1


def test_edits_and_bot_messages_in_the_dm_are_acknowledged_and_ignored(server):
    before = server.counts()
    for extra in ({"subtype": "message_changed"}, {"bot_id": "B0BOT0001"}):
        event = {
            "type": "message",
            "channel_type": "im",
            "user": server.nurse,
            "text": f"lab {server.sid} ANC 0.4",
            "channel": "D0NURSE01",
            "ts": "1.2",
            **extra,
        }
        assert server.event(event).status == 200
    assert (
        server.event({"type": "app_home_opened", "user": server.nurse, "tab": "home"}).status == 200
    )
    assert server.counts()["event"] == before["event"]
    assert server.fake.called("chat.postMessage") == []


def test_confirm_by_the_investigator_updates_every_copy_and_removes_the_buttons(server):
    decision, _ = _alert(server)
    assert server.click("decision_confirm", decision, user=server.doctor).status == 200
    assert server.decision(decision).status == "confirmed"
    updates = server.fake.called("chat.update")
    assert {u.params["channel"] for u in updates} == {server.study, "D" + server.doctor[1:]}
    for update in updates:
        blocks = update.blocks()
        assert not [b for b in blocks if b["type"] == "actions"]
        assert (
            "confirmed" in update.text_of_blocks()
            and f"<@{server.doctor}>" in update.text_of_blocks()
        )
        assert "<!date^" in update.text_of_blocks()  # when, in each reader's timezone
    # the verdict is posted to the channel too
    verdicts = [
        p for p in server.fake.called("chat.postMessage") if "confirmed" in p.text_of_blocks()
    ]
    assert [p.params["channel"] for p in verdicts] == [server.study]


def test_a_double_click_acts_once(server):
    decision, _ = _alert(server)
    before = server.counts()
    server.click("decision_confirm", decision, user=server.doctor)
    server.click("decision_confirm", decision, user=server.doctor)
    after = server.counts()
    assert after["event"] == before["event"] + 1  # one verdict
    replies = server.fake.called("response_url")
    assert len(replies) == 2 and all("confirmed" in r.text_of_blocks() for r in replies)
    assert len(server.fake.called("chat.update")) == 2  # two copies, updated once


def test_a_coordinator_clicking_confirm_is_refused_and_the_alert_stays_open(server):
    decision, _ = _alert(server)
    server.click("decision_confirm", decision, user=server.nurse)
    [reply] = server.fake.called("response_url")
    assert reply.params["response_type"] == "ephemeral"
    assert "needs the investigator role" in reply.text_of_blocks()
    assert server.decision(decision).status == "proposed"
    assert server.fake.called("chat.update") == []


def test_override_opens_a_modal_and_needs_a_reason(server):
    decision, _ = _alert(server)
    server.click("decision_override", decision, user=server.doctor)
    [opened] = server.fake.called("views.open")
    view = (
        json.loads(opened.params["view"])
        if isinstance(opened.params["view"], str)
        else opened.params["view"]
    )
    assert view["private_metadata"] == decision
    empty = {**view, "state": {"values": {"reason": {"reason_input": {"value": "  "}}}}}
    answer = server.submit_view(empty, user=server.doctor)
    assert answer.status == 200
    assert answer.json() == {
        "response_action": "errors",
        "errors": {"reason": "An override needs a reason."},
    }
    assert server.decision(decision).status == "proposed"
    reason = "ANC 1.6 on repeat <!channel> & <http://x|y>"
    given = {**view, "state": {"values": {"reason": {"reason_input": {"value": reason}}}}}
    assert server.submit_view(given, user=server.doctor).status == 200
    record = server.decision(decision)
    assert record.status == "overridden" and record.override_reason == reason
    texts = [u.text_of_blocks() for u in server.fake.called("chat.update")]
    assert len(texts) == 2 and all("overridden" in t for t in texts)
    verdict = next(
        p for p in server.fake.called("chat.postMessage") if "overridden" in p.text_of_blocks()
    )
    shown = verdict.text_of_blocks()
    assert "&lt;!channel&gt; &amp; &lt;http://x|y&gt;" in shown and "<!channel>" not in shown


def test_a_coordinator_submitting_an_override_sees_the_refusal_on_the_form(server):
    decision, _ = _alert(server)
    view = {
        "type": "modal",
        "callback_id": "decision_override",
        "private_metadata": decision,
        "state": {"values": {"reason": {"reason_input": {"value": "why"}}}},
    }
    answer = server.submit_view(view, user=server.nurse)
    assert answer.json()["response_action"] == "errors"
    assert "investigator role" in answer.json()["errors"]["reason"]
    assert server.decision(decision).status == "proposed"


def test_typed_confirm_updates_the_alert_copies_too(server):
    decision, _ = _alert(server)
    server.command(f"confirm {decision}", user=server.doctor)
    assert len(server.fake.called("chat.update")) == 2


def test_every_message_sent_is_valid_block_kit(server):
    server.command(f"lab {server.sid} ANC 0.4 PLT 62")
    server.command("help")
    server.command(f"calendar {server.sid}")
    for call in server.fake.calls:
        if call.method in ("chat.postMessage", "chat.update", "chat.postEphemeral", "response_url"):
            blocks = call.blocks()
            assert 0 < len(blocks) <= 50
            for block in blocks:
                Block.parse(block).validate_json()


def test_acknowledge_on_an_alert_stops_its_escalation_and_leaves_the_decision_open(server):
    from sqlmodel import select

    from bot.storage.models import AlertRecord

    decision, _ = _alert(server)
    copies = [m for m in server.outbox() if m.kind == "decision_alert"]
    assert {m.dedupe_key for m in copies} == {
        f"decision:{decision}:alert",
        f"decision:{decision}:alert:dm",
    }
    assert server.click("alert_ack", decision, user=server.doctor).status == 200
    [reply] = server.fake.called("response_url")
    assert f"Alert {decision}" in reply.text_of_blocks()
    assert "will not escalate further" in reply.text_of_blocks()
    assert server.decision(decision).status == "proposed"
    with server.ctx.db.transaction(readonly=True) as session:
        record = session.exec(select(AlertRecord).where(AlertRecord.subject == decision)).one()
        assert (record.acked_by, record.acked_how, record.next_at) == (server.doctor, "ack", None)


def _updates_for(server, text: str) -> dict[str, str]:
    """channel → the text of its latest chat.update that mentions `text`."""
    found = {}
    for call in server.fake.called("chat.update"):
        body = call.text_of_blocks()
        if text in body:
            found[call.params["channel"]] = body
    return found


def test_a_typed_attribution_updates_both_copies_of_the_alert_in_place(server):
    decision, entry = _alert(server)
    answer = server.command(f"attribute {entry} irae=no", user=server.doctor)
    assert answer.status == 200
    assert server.fake.called("chat.postMessage") == []  # edits, not a new message
    updated = _updates_for(server, f"{entry} immune-related: *no*")
    assert set(updated) == {server.study, "D" + server.doctor[1:]}
    assert all(f"<@{server.doctor}>" in text for text in updated.values())
    [sent] = [m for m in server.outbox() if m.kind == "attribution"]
    assert sent.status == "sent" and sent.payload["facts"]["alerts"] == [decision]


def test_the_attribution_button_goes_through_the_same_post(server):
    decision, entry = _alert(server)
    server.click("attribute_irae_yes", f"{decision}:{entry}", user=server.doctor)
    updated = _updates_for(server, f"{entry} immune-related: *yes*")
    assert set(updated) == {server.study, "D" + server.doctor[1:]}
    [sent] = [m for m in server.outbox() if m.kind == "attribution"]
    assert sent.status == "sent"
    # the decision is still open: its Confirm button is still on the copies
    [last, *_] = [c for c in reversed(server.fake.called("chat.update"))]
    assert any(
        e.get("action_id") == "decision_confirm"
        for b in last.blocks()
        if b["type"] == "actions"
        for e in b["elements"]
    )


def test_a_coordinators_attribution_is_refused_and_changes_no_copy(server):
    _decision, entry = _alert(server)
    server.command(f"attribute {entry} irae=no", user=server.nurse)
    assert server.fake.called("chat.update") == []
    assert [m for m in server.outbox() if m.kind == "attribution"] == []


def test_an_alert_says_in_words_what_the_investigator_is_asked_and_buttons_answer_it(server):
    server.command(f"dose {server.sid} toripalimab", user=server.nurse)
    server.fake.reset()
    server.command(f"lab {server.sid} ALT 500", user=server.nurse)
    alerts = [
        p
        for p in server.fake.called("chat.postMessage")
        if "toripalimab — REFER" in p.text_of_blocks()
    ]
    assert alerts  # the channel copy (and the on-call DM)
    for alert in alerts:
        shown = alert.text_of_blocks()
        entry = shown.split("lab ", 1)[1].split(" ", 1)[0]  # "lab E3 of …"
        assert f"→ investigator: Is {entry} immune-related?" in shown
        assert "`attribute" not in shown and "`confirm" not in shown  # the console's commands
        values = [
            element.get("value", "")
            for block in alert.blocks()
            if block.get("type") == "actions"
            for element in block["elements"]
        ]
        assert any(entry in value for value in values)  # Immune-related yes / no buttons
