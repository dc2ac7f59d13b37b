"""The Slack notifier draining the outbox: chat.postMessage, conversations.open for DMs,
429 with Retry-After waited out by slack_sdk's handler, a 500 left to the outbox's retry,
each message's channel and ts recorded; long posts continue in the thread."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlmodel import select

from bot.posts import Audience, Post
from bot.services.notify import enqueue_post
from bot.storage.models import OutboxMessage
from bot.transports.slack.blocks import text_sections


def _queue(ctx, target: str, text: str, key: str) -> None:
    """An enrolment notice for `target` (`text` only tells the posts apart)."""
    audience = (
        Audience.one_user(target)
        if target.startswith("U")
        else Audience.site_channel("main", target)
    )
    post = Post(
        kind="enrolled",
        audience=audience,
        study_id="LACC-007",
        facts={
            "site": text,
            "summary": {
                "day1": "2027-03-01",
                "last_fraction": "2027-04-02",
                "consolidation_start": None,
            },
            "by": "U0NURSE01",
        },
    )
    with ctx.db.transaction() as session:
        enqueue_post(session, post, dedupe_key=key, now=ctx.now())


def _rows(ctx) -> dict[str, OutboxMessage]:
    with ctx.db.transaction(readonly=True) as session:
        rows = session.exec(select(OutboxMessage)).all()
        for row in rows:
            session.expunge(row)
        return {r.dedupe_key: r for r in rows}


def test_rate_limited_post_is_retried_after_retry_after_and_lands_once(slack, fake_slack):
    ctx = slack.transport.ctx
    _queue(ctx, "C0STUDY01", "hello", "k1")
    fake_slack.fail("chat.postMessage", status=429, retry_after=0)
    [delivery] = slack.transport.deliver()
    assert delivery.error is None
    assert len(fake_slack.called("chat.postMessage")) == 2  # the 429, then the post
    row = _rows(ctx)["k1"]
    assert (
        row.status == "sent" and row.message_id == "C0STUDY01:" + delivery.message_id.split(":")[1]
    )


def test_a_server_error_leaves_the_post_to_the_outbox_retry(slack, fake_slack, slack_clock):
    ctx = slack.transport.ctx
    _queue(ctx, "C0STUDY01", "hello", "k2")
    fake_slack.fail("chat.postMessage", status=500)
    [failed] = slack.transport.deliver()
    assert failed.error is not None
    row = _rows(ctx)["k2"]
    assert row.status == "pending" and row.attempts == 1 and row.message_id is None
    slack_clock.advance(minutes=1)
    [delivered] = slack.transport.deliver()
    assert delivered.error is None and _rows(ctx)["k2"].status == "sent"


def test_a_dm_opens_the_conversation_once_per_user(slack, fake_slack):
    ctx = slack.transport.ctx
    _queue(ctx, "U0DOC0001", "one", "k3")
    _queue(ctx, "U0DOC0001", "two", "k4")
    slack.transport.deliver()
    assert len(fake_slack.called("conversations.open")) == 1
    assert {c.params["channel"] for c in fake_slack.called("chat.postMessage")} == {"D0DOC0001"}
    assert _rows(ctx)["k3"].message_id.startswith("D0DOC0001:")


def test_a_long_post_is_split_and_continues_in_its_thread(slack, fake_slack):
    text = "\n".join(f"line {n} " + "x" * 200 for n in range(400))  # ~84,000 characters
    ts = slack.transport.notifier.post("C0STUDY01", text_sections(text))
    posts = fake_slack.called("chat.postMessage")
    assert len(posts) > 1
    first_ts = ts.split(":")[1]
    assert "thread_ts" not in posts[0].params
    assert all(p.params["thread_ts"] == first_ts for p in posts[1:])
    shown = "\n".join(p.text_of_blocks() for p in posts)
    assert all(f"line {n} " in shown for n in range(400))  # nothing lost
    for post in posts:
        blocks = post.blocks()
        assert len(blocks) <= 50 and all(len(b["text"]["text"]) <= 3000 for b in blocks)


def test_an_alert_delivered_after_its_verdict_arrives_closed(server):
    # the DM copy could not be delivered before the investigator acted in the channel
    server.fake.fail("conversations.open", status=500)
    server.command(f"lab {server.sid} ANC 0.4 PLT 62")
    dm = next(m for m in server.outbox() if m.dedupe_key.endswith(":alert:dm"))
    assert dm.status == "pending"
    server.command(f"confirm {dm.payload['decision_ids'][0]}", user=server.doctor)
    server.slack.transport.ctx.clock.advance(timedelta(minutes=5))
    server.fake.reset()
    server.slack.transport.deliver()
    [late] = server.fake.called("chat.postMessage")
    assert late.params["channel"] == "D0DOC0001"
    assert "confirmed" in late.text_of_blocks()
    assert not [b for b in late.blocks() if b["type"] == "actions"]


def test_in_production_one_delivery_thread_sends_what_listeners_queued(trial, fake_slack):
    from slack_sdk import WebClient

    from bot.transports.slack.app import create_app
    from bot.transports.slack.config import SlackConfig

    slack = create_app(
        trial,
        SlackConfig(bot_token="xoxb-test-token", api_url=fake_slack.url),
        WebClient(token="xoxb-test-token", base_url=fake_slack.url, timeout=5),
    )
    try:
        assert slack.transport.delivery is not None
        _queue(trial, "C0STUDY01", "hello", "k9")
        slack.transport.posted()  # returns at once; the delivery thread posts it
        [post] = fake_slack.wait_for("chat.postMessage", timeout=20)
        assert post.params["channel"] == "C0STUDY01"
    finally:
        slack.transport.delivery.stop()
    assert _rows(trial)["k9"].status == "sent"


def test_each_post_carries_its_outbox_key_and_a_retried_one_already_in_slack_is_not_posted_again(
    slack, fake_slack
):
    """`trialbot serve` delivers as the scheduler's sender does: the outbox key as message
    metadata, and a message whose earlier attempt may have reached Slack (its sender died
    before recording the ts) is found in the channel's history instead of posted twice."""
    ctx = slack.transport.ctx
    _queue(ctx, "C0STUDY01", "hello", "k-interrupted")
    [first] = slack.transport.deliver()
    [posted] = fake_slack.called("chat.postMessage")
    metadata = posted.params["metadata"]
    metadata = json.loads(metadata) if isinstance(metadata, str) else metadata
    assert metadata["event_payload"]["key"] == "k-interrupted"
    with ctx.db.transaction() as session:  # as if the process died before finishing
        row = session.exec(
            select(OutboxMessage).where(OutboxMessage.dedupe_key == "k-interrupted")
        ).one()
        row.status, row.message_id, row.lease_owner, row.lease_until = "pending", None, None, None
        session.add(row)
    [again] = slack.transport.deliver()
    assert len(fake_slack.called("chat.postMessage")) == 1  # adopted, not re-posted
    assert fake_slack.called("conversations.history")
    assert _rows(ctx)["k-interrupted"].message_id == first.message_id == again.message_id


def test_a_verdict_waits_for_a_copy_another_worker_is_still_posting(server):
    """Two delivering processes: one posts the DM copy (having read the decision as open)
    while the investigator confirms in the channel. The verdict updates the channel copy
    at once and is retried until the DM copy's ts is recorded — then that copy is updated
    too, so no copy keeps its buttons."""
    server.command(f"lab {server.sid} ANC 0.4 PLT 62")
    dm = next(m for m in server.outbox() if m.dedupe_key.endswith(":alert:dm"))
    assert dm.status == "sent"
    posted_as = dm.message_id
    with server.ctx.db.transaction() as session:  # the other worker's claim, not finished
        row = session.get(OutboxMessage, dm.id)
        row.status, row.message_id = "sending", None
        row.lease_owner = "other-worker:4242"
        row.lease_until = server.ctx.now() + timedelta(minutes=1)
        session.add(row)
    server.fake.reset()
    decision = dm.payload["decision_ids"][0]
    server.command(f"confirm {decision}", user=server.doctor)
    [channel_copy] = server.fake.called("chat.update")
    assert channel_copy.params["channel"] == server.study
    verdict = next(m for m in server.outbox() if m.kind == "verdict")
    assert verdict.status == "pending" and "CopiesInFlight" in verdict.last_error
    with server.ctx.db.transaction() as session:  # the other worker records its ts
        row = session.get(OutboxMessage, dm.id)
        row.status, row.message_id, row.lease_until = "sent", posted_as, None
        session.add(row)
    server.fake.reset()
    server.slack.transport.ctx.clock.advance(timedelta(minutes=5))
    server.slack.transport.deliver()
    updates = server.fake.called("chat.update")
    assert "D0DOC0001" in {u.params["channel"] for u in updates}
    assert all(not [b for b in u.blocks() if b["type"] == "actions"] for u in updates)
    assert all("confirmed" in u.text_of_blocks() for u in updates)
    assert next(m for m in server.outbox() if m.kind == "verdict").status == "sent"
