"""TRIALBOT_SLACK_WORKER=process: the real HTTP front (waitress, Bolt's signature check,
the acks) with every command's work in a worker process, against the fake Slack, on
SQLite and PostgreSQL. The work happens after the ack in another process, so each test
waits for what it expects to be recorded (the fake's calls, with a bound for a broken
test) — never for a length of time."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from bot.transports.slack import forms

BOUND = 60.0  # seconds; a bound for a broken test, not a timing assertion


def _state(**values: dict) -> dict:
    return {"values": {block: {block: value} for block, value in values.items()}}


def _alerted(front) -> str:
    """A grade 4 neutropenia through the front; the decision, once both copies are sent."""
    answer = front.command(f"lab {front.sid} ANC 0.4 PLT 62")
    assert answer.status == 200 and answer.body == ""
    assert len(front.fake.wait_for("chat.postMessage", 2, BOUND)) == 2
    alerts = _until(
        lambda: [m for m in front.outbox() if m.kind == "decision_alert" and m.message_id],
        lambda found: len(found) == 2,
    )
    front.fake.reset()
    return alerts[0].payload["decision_ids"][0]


def _until(read, done):
    """Read until `done(value)`, within BOUND — for database rows another process writes."""
    deadline = time.monotonic() + BOUND
    while True:
        value = read()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


def test_a_command_is_acked_empty_and_its_work_is_done_by_the_worker(front, worker):
    before = front.counts()
    answer = front.command(f"lab {front.sid} ANC 0.4 PLT 62")
    assert answer.status == 200 and answer.body == ""  # the ack: empty, from the front
    [reply] = front.fake.wait_for("response_url", 1, BOUND)
    text = reply.text_of_blocks()
    assert reply.params["response_type"] == "ephemeral"
    assert "Neutrophil count decreased" in text and "grade 4" in text.lower()
    posts = front.fake.wait_for("chat.postMessage", 2, BOUND)
    assert {p.params["channel"] for p in posts} == {front.study, "D" + front.doctor[1:]}
    assert front.counts()["event"] == before["event"] + 2  # the lab and the proposal
    # delivered by the worker's delivery thread, not by the front
    alerts = _until(
        lambda: [m for m in front.outbox() if m.kind == "decision_alert" and m.lease_owner],
        lambda found: len(found) == 2,
    )
    assert {m.lease_owner.rsplit(":", 1)[1] for m in alerts} == {str(worker.pid)}
    assert worker.pid != os.getpid()


def test_a_confirm_click_acts_once_and_updates_every_copy(front):
    decision = _alerted(front)
    before = front.counts()
    assert front.click("decision_confirm", decision, user=front.doctor).status == 200
    updates = front.fake.wait_for("chat.update", 2, BOUND)
    assert {u.params["channel"] for u in updates} == {front.study, "D" + front.doctor[1:]}
    assert all(not [b for b in u.blocks() if b["type"] == "actions"] for u in updates)
    assert front.decision(decision).status == "confirmed"
    front.click("decision_confirm", decision, user=front.doctor)  # a double click
    replies = front.fake.wait_for("response_url", 2, BOUND)
    assert len(replies) == 2 and all("confirmed" in r.text_of_blocks() for r in replies)
    assert front.counts()["event"] == before["event"] + 1  # one verdict
    assert len(front.fake.called("chat.update")) == 2


def test_lab_alone_opens_the_form_from_the_worker(front):
    before = front.counts()
    assert front.command("lab").status == 200
    [opened] = front.fake.wait_for("views.open", 1, BOUND)
    view = opened.params["view"]
    view = view if isinstance(view, dict) else json.loads(view)
    assert view["callback_id"] == forms.LAB_CALLBACK
    assert opened.params["trigger_id"] == "1337.1.trigger"
    assert front.counts() == before


def test_type_ahead_is_answered_by_the_front(front, worker):
    forwarded = worker.state()["forwarded"]
    answer = front.suggest(forms.PATIENT, front.sid[:6], forms.LAB_CALLBACK)
    assert answer.status == 200
    assert [o["value"] for o in answer.json()["options"]] == [front.sid]
    assert worker.state()["forwarded"] == forwarded  # nothing went to the worker


def test_a_form_with_a_bad_field_is_refused_inline_and_records_nothing(front, worker):
    before = front.counts()
    view = {
        "type": "modal",
        "callback_id": forms.LAB_CALLBACK,
        "state": _state(
            patient={"selected_option": {"value": front.sid}},
            lab_anc={"value": "0.4"},
            lab_plt={"value": "lots"},
        ),
    }
    body = front.submit_view(view, user=front.nurse).json()
    assert body["response_action"] == "errors" and set(body["errors"]) == {"lab_plt"}
    assert front.counts() == before
    # a good one is recorded (by the worker, its answer relayed on the ack) and replied to
    view["state"] = _state(
        patient={"selected_option": {"value": front.sid}}, lab_anc={"value": "0.4"}
    )
    assert front.submit_view(view, user=front.nurse).body == ""
    assert [e for e in front.events() if e["kind"] == "lab"]
    dm = "D" + front.nurse[1:]  # the reply, by direct message (the alerts go elsewhere)
    posts = _until(
        lambda: front.fake.called("chat.postMessage"),
        lambda calls: any(c.params["channel"] == dm for c in calls),
    )
    assert [c for c in posts if c.params["channel"] == dm]
    assert worker.state()["forwarded"] == 2


def test_a_bad_signature_is_refused_and_nothing_is_forwarded(front, worker):
    before = front.counts()
    forwarded = worker.state()["forwarded"]
    stale = front.command(f"lab {front.sid} ANC 0.4", timestamp=int(time.time()) - 6 * 60)
    forged = front.command(f"lab {front.sid} ANC 0.4", signature="v0=" + "0" * 64)
    assert stale.status == 401 and forged.status == 401
    assert worker.state()["forwarded"] == forwarded
    assert front.command("whoami").status == 200  # the next signed one is
    [reply] = front.fake.wait_for("response_url", 1, BOUND)
    assert "coordinator" in reply.text_of_blocks()
    assert worker.state()["forwarded"] == forwarded + 1
    assert front.counts() == before


def test_a_worker_that_dies_is_started_again_and_the_next_command_works(front, worker):
    first = worker.pid
    os.kill(first, signal.SIGKILL)
    assert worker.wait_started(1, BOUND)
    assert worker.pid != first
    health = front.get("/healthz").json()
    assert health["worker"]["alive"] is True and health["worker"]["restarts"] == 1
    assert health["ok"] is True
    front.command(f"lab {front.sid} ANC 0.4 PLT 62")
    [reply] = front.fake.wait_for("response_url", 1, BOUND)
    assert "Neutrophil count decreased" in reply.text_of_blocks()
    assert len(front.fake.wait_for("chat.postMessage", 2, BOUND)) == 2


def test_a_command_sent_while_the_worker_is_down_is_answered_by_the_next_one(front, worker):
    """The front acks it; its write to the dead worker's pipe fails, so it is sent again,
    once, to the worker started in its place (or, if that one was already up, to it)."""
    os.kill(worker.pid, signal.SIGKILL)
    assert _until(lambda: worker.state()["alive"], lambda alive: not alive) is False
    answer = front.command("whoami")
    assert answer.status == 200 and answer.body == ""
    [reply] = front.fake.wait_for("response_url", 1, BOUND)
    assert "coordinator" in reply.text_of_blocks()
    assert worker.state()["restarts"] == 1


def test_healthz_reports_the_worker(front, worker):
    report = front.get("/healthz").json()
    assert report["ok"] is True and report["database"] == "ok"
    assert report["worker"] == {
        "mode": "process",
        "alive": True,
        "pid": worker.pid,
        "restarts": 0,
        "forwarded": 0,
        "scheduler": "off",
    }


def test_serve_runs_the_worker_with_the_scheduler_and_stops_it(
    trial, fake_slack, signed_client, monkeypatch
):
    """`trialbot serve --http` with the default TRIALBOT_SLACK_WORKER: the worker runs the
    scheduler (the front none), a signed command works, and stopping serve stops the
    worker."""
    import threading

    from tests.slack.conftest import serving

    monkeypatch.setenv("TRIALBOT_DATABASE_URL", trial.settings.database_url)
    monkeypatch.setenv("TRIALBOT_ADMINS", "U0ADMIN01")
    env = {
        "SLACK_BOT_TOKEN": "xoxb-1-test",
        "SLACK_SIGNING_SECRET": signed_client("").secret,
        "SLACK_API_URL": fake_slack.url,
        "TRIALBOT_SITE_CHANNELS": "main=C0STUDY01",
    }
    with serving(env, BOUND) as port:
        server = signed_client(f"http://127.0.0.1:{port}")
        health = server.get("/healthz").json()
        assert health["ok"] is True
        assert health["worker"]["alive"] is True and health["worker"]["scheduler"] == "running"
        pid = health["worker"]["pid"]
        assert [t for t in threading.enumerate() if t.name == "APScheduler"] == []
        server.command("whoami")
        [reply] = fake_slack.wait_for("response_url", 1, BOUND)
        assert "coordinator" in reply.text_of_blocks()
    with pytest.raises(ProcessLookupError):  # the worker has exited (and was reaped)
        os.kill(pid, 0)
