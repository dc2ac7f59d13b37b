"""TRIALBOT_SLACK_WORKERS: several worker processes behind one acking front, on
PostgreSQL (SQLite takes one writing process and is refused more than one at start). The
work happens after the ack in other processes, so each test waits for what it expects
(with a bound for a broken test), never for a length of time."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.services import Request
from bot.services.enrolment import enrol
from bot.transports.slack.app import create_app
from bot.transports.slack.config import MAX_WORKERS, SlackConfig, worker_count
from bot.transports.slack.http_mode import HttpServer, wsgi_app
from tests.slack.conftest import DAY1, NURSE, Server, config, web_client

BOUND = 60.0  # seconds; a bound for a broken test, not a timing assertion


def _until(read, done):
    deadline = time.monotonic() + BOUND
    while True:
        value = read()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


# --- how many ---------------------------------------------------------------------------
def test_auto_is_one_worker_on_sqlite_and_one_per_cpu_on_postgresql():
    auto = SlackConfig(bot_token="xoxb-1")
    assert worker_count(auto, "sqlite", 16) == 1
    assert worker_count(auto, "postgresql", 2) == 2
    assert worker_count(auto, "postgresql", 64) == MAX_WORKERS
    assert worker_count(auto, "postgresql", None) == 1  # the CPU count unknown
    assert worker_count(SlackConfig(bot_token="xoxb-1", workers=3), "postgresql", 2) == 3


def test_serve_refuses_several_workers_on_sqlite(tmp_path, monkeypatch, capsys):
    from bot.transports.slack.serve import ServeOptions, run

    monkeypatch.setenv("TRIALBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'bot.db'}")
    monkeypatch.setenv("TRIALBOT_ADMINS", "U0ADMIN01")
    env = {
        "SLACK_BOT_TOKEN": "xoxb-1-test",
        "SLACK_SIGNING_SECRET": "8f742231b10e8888abcd990000ff85a5",
        "TRIALBOT_SLACK_WORKERS": "2",
    }
    assert run(ServeOptions(http=True, port=0), env) == 2
    err = capsys.readouterr().err
    assert "TRIALBOT_SLACK_WORKERS: 2 worker processes need PostgreSQL" in err
    assert "Traceback" not in err


# --- two workers on PostgreSQL -----------------------------------------------------------
@pytest.fixture
def db(pg_db):
    """These tests are PostgreSQL's: several writing processes."""
    return pg_db


@pytest.fixture
def pool(trial, fake_slack) -> Iterator[Any]:
    from bot.transports.slack.front import WorkerPool
    from bot.transports.slack.worker import WorkerSpec

    specs = [
        WorkerSpec(
            trial.settings, config(api_url=fake_slack.url), scheduler=False, clock=trial.clock
        )
        for _ in range(2)
    ]
    handle = WorkerPool(specs).start()
    yield handle
    handle.stop()


@pytest.fixture
def front(trial, fake_slack, pool) -> Iterator[Server]:
    slack = create_app(trial, config(api_url=fake_slack.url), web_client(fake_slack), worker=pool)
    app = wsgi_app(
        SlackRequestHandler(slack.app), trial.db, lambda: {"mode": "http"}, worker=pool.state
    )
    http = HttpServer(app, "127.0.0.1", 0, threads=4)
    thread = threading.Thread(target=http.serve, daemon=True)
    thread.start()
    yield Server(f"http://127.0.0.1:{http.port}", fake_slack, trial, slack)
    http.stop()
    thread.join(timeout=5)


def _patients(ctx, count: int) -> list[str]:
    ids = [f"LACC-{200 + n}" for n in range(count)]
    for study_id in ids:
        enrol(ctx, Request(user=NURSE), study_id, start=DAY1, height=160, weight=55)
    for row in (m for m in Server("", None, ctx).outbox() if m.status == "pending"):
        with ctx.db.transaction() as session:  # the enrolment posts are not the subject
            row.status = "sent"
            session.add(row)
    return ids


def test_commands_are_shared_by_the_workers_and_every_alert_is_posted_once(front, pool):
    patients = _patients(front.ctx, 6)
    for study_id in patients:
        answer = front.command(f"lab {study_id} ANC 0.4 PLT 62")
        assert answer.status == 200 and answer.body == ""  # acked by the front
    front.fake.wait_for("response_url", 6, BOUND)
    alerts = _until(
        lambda: [m for m in front.outbox() if m.kind == "decision_alert" and m.message_id],
        lambda found: len(found) == 12,  # the channel's copy and the on-call DM, each
    )
    assert len(alerts) == 12
    posted = Counter(
        (p.params["channel"], p.params["text"]) for p in front.fake.called("chat.postMessage")
    )
    assert len(posted) == 12 and set(posted.values()) == {1}  # once each, none twice
    owners = {m.lease_owner.rsplit(":", 1)[1] for m in alerts}
    assert owners == {str(pid) for pid in pool.pids}  # both processes worked and delivered
    assert front.counts()["event"] >= 12 + 6  # each lab and its proposal, plus enrolments


def test_healthz_reports_every_worker(front, pool):
    report = front.get("/healthz").json()
    assert report["ok"] is True
    worker = report["worker"]
    assert worker["alive"] is True and worker["restarts"] == 0
    assert [w["pid"] for w in worker["workers"]] == pool.pids
    assert all(w["alive"] for w in worker["workers"])


def test_one_worker_killed_the_other_serves_and_it_is_started_again(front, pool):
    first, second = pool.workers
    os.kill(first.pid, signal.SIGKILL)
    assert _until(lambda: first.alive, lambda alive: not alive) is False
    for _ in range(2):  # the turn would have been the dead one's once
        answer = front.command("whoami")
        assert answer.status == 200
    replies = front.fake.wait_for("response_url", 2, BOUND)
    assert all("coordinator" in r.text_of_blocks() for r in replies)
    assert first.wait_started(1, BOUND)
    assert (
        _until(lambda: front.get("/healthz").json()["worker"], lambda w: w["alive"])["restarts"]
        == 1
    )
    assert second.state()["restarts"] == 0
