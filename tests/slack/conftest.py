"""Slack transport tests: a real Bolt app (built by the factory) against a fake Slack Web
API on a loopback port, on SQLite and PostgreSQL, with the clock pinned.

`slack` dispatches deterministically: the work after each ack runs inline and Bolt holds
the response until the listener is done (`process_before_response=True`), so a test reads
the fake's recorded calls right after its request returns — no sleeping, no polling.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.parse import urlencode
from urllib.request import Request as HttpRequest
from urllib.request import urlopen

import pytest
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import func
from sqlmodel import select

from bot.clock import FixedClock
from bot.commands import run
from bot.services import Request, build_context
from bot.settings import Settings
from bot.storage.models import (
    AuditEntry,
    DecisionRecord,
    EventRecord,
    OutboxMessage,
    RequestRecord,
)
from bot.transports.slack.app import InlineExecutor, SlackApp, create_app
from bot.transports.slack.config import SlackConfig
from bot.transports.slack.http_mode import HttpServer, wsgi_app

_spec = importlib.util.spec_from_file_location(
    "trialbot_fake_slack", Path(__file__).with_name("fake_slack.py")
)
fake_slack_module = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = fake_slack_module  # dataclasses look their module up
_spec.loader.exec_module(fake_slack_module)
FakeSlack = fake_slack_module.FakeSlack
BOT_USER = fake_slack_module.BOT_USER

ADMIN = "U0ADMIN01"
NURSE = "U0NURSE01"
DOCTOR = "U0DOC0001"
VIEWER = "U0VIEW001"
STUDY_CHANNEL = "C0STUDY01"
OTHER_CHANNEL = "C0RANDOM1"
SECRET = "8f742231b10e8888abcd99yyyzzz85a5".replace("y", "0").replace("z", "f")
SID = "LACC-007"
DAY1 = date(2027, 3, 1)
TABLES = (EventRecord, DecisionRecord, OutboxMessage, AuditEntry, RequestRecord)


@pytest.fixture(autouse=True)
def cached_rules(rules_loaded_once: None) -> None:
    """The rules are pure data: loaded once for all the in-process runs."""


@pytest.fixture
def fake_slack() -> Iterator[Any]:
    fake = FakeSlack().start()
    yield fake
    fake.stop()


def web_client(fake: Any, token: str = "xoxb-test-token") -> WebClient:
    return WebClient(
        token=token,
        base_url=fake.url,
        timeout=5,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=1),
            RateLimitErrorRetryHandler(max_retry_count=2),
        ],
    )


@pytest.fixture
def slack_clock() -> FixedClock:
    return FixedClock(datetime(2027, 3, 5, 1, 0, tzinfo=UTC))  # Fri 09:00 at the site


@pytest.fixture
def trial(db, slack_clock):
    """A trial with its team, the study channel of site main set, LACC-007 enrolled."""
    settings = Settings(
        database_url=db.engine.url.render_as_string(hide_password=False), admins=(ADMIN,)
    )
    ctx = build_context(settings, clock=slack_clock, database=db)
    from bot.services.sites import configure_channels

    configure_channels(ctx, {"main": STUDY_CHANNEL})
    for user, role, extra in (
        (NURSE, "coordinator", ""),
        (DOCTOR, "investigator", " oncall=yes"),
        (VIEWER, "viewer", ""),
    ):
        assert run(ctx, Request(user=ADMIN), f"role {user} {role} site=main{extra}").ok
    assert run(
        ctx, Request(user=NURSE), f"enroll {SID} start={DAY1.isoformat()} height=160 weight=55"
    ).ok
    with db.transaction() as session:  # the enrolment post is not what these tests are about
        for row in session.exec(select(OutboxMessage)).all():
            row.status = "sent"
            session.add(row)
    return ctx


def counts(ctx) -> dict[str, int]:
    with ctx.db.transaction(readonly=True) as session:
        return {
            t.__tablename__: session.exec(select(func.count()).select_from(t)).one() for t in TABLES
        }


def config(**overrides: Any) -> SlackConfig:
    values = {
        "bot_token": "xoxb-test-token",
        "mode": "http",
        "signing_secret": SECRET,
        "site_channels": {"main": STUDY_CHANNEL},
    }
    values.update(overrides)
    return SlackConfig(**values)


@pytest.fixture
def slack(trial, fake_slack) -> SlackApp:
    return create_app(
        trial,
        config(api_url=fake_slack.url),
        web_client(fake_slack),
        work=InlineExecutor(),
        listener_executor=InlineExecutor(),
        process_before_response=True,
    )


# --- signed HTTP requests -------------------------------------------------------------
@dataclass
class Answer:
    status: int
    body: str

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Server:
    """The app behind waitress on a loopback port, and Slack-shaped signed requests."""

    base: str
    fake: Any
    ctx: Any
    slack: Any = None
    secret: str = SECRET
    ids: dict[str, int] = field(default_factory=dict)

    # the test trial's people and places (test modules cannot import conftest)
    admin, nurse, doctor, viewer = ADMIN, NURSE, DOCTOR, VIEWER
    sid, study, other, bot = SID, STUDY_CHANNEL, OTHER_CHANNEL, BOT_USER

    def counts(self) -> dict[str, int]:
        return counts(self.ctx)

    def suggest(self, action_id: str, value: str, callback_id: str) -> Answer:
        """Type-ahead: what Slack sends as `value` is typed in a form's field."""
        payload = {
            "type": "block_suggestion",
            "action_id": action_id,
            "block_id": action_id,
            "value": value,
            "user": {"id": self.nurse},
            "team": {"id": "T0TEAM001"},
            "api_app_id": "A0APP0001",
            "view": {"id": "V0FORM001", "type": "modal", "callback_id": callback_id},
        }
        return self.send(
            urlencode({"payload": json.dumps(payload)}),
            content_type="application/x-www-form-urlencoded",
        )

    def events(self) -> list[dict[str, Any]]:
        """The event log's payloads in order (what an entry recorded)."""
        with self.ctx.db.transaction(readonly=True) as session:
            rows = session.exec(select(EventRecord).order_by(EventRecord.id)).all()
            return [dict(row.payload) for row in rows]

    def outbox(self) -> list[Any]:
        with self.ctx.db.transaction(readonly=True) as session:
            rows = session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all()
            for row in rows:
                session.expunge(row)
            return list(rows)

    def decision(self, label: str) -> Any:
        from bot.storage.models import parse_label

        with self.ctx.db.transaction(readonly=True) as session:
            record = session.get(DecisionRecord, parse_label(label, "D", field="decision"))
            session.expunge(record)
            return record

    def _next(self, what: str) -> int:
        self.ids[what] = self.ids.get(what, 0) + 1
        return self.ids[what]

    def send(
        self,
        body: str,
        *,
        content_type: str,
        timestamp: int | None = None,
        signature: str | None = None,
        headers: dict[str, str] | None = None,
        path: str = "/slack/events",
    ) -> Answer:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        signed = SignatureVerifier(self.secret).generate_signature(timestamp=stamp, body=body)
        request = HttpRequest(
            self.base + path,
            data=body.encode(),
            method="POST",
            headers={
                "Content-Type": content_type,
                "X-Slack-Request-Timestamp": stamp,
                "X-Slack-Signature": signature or signed,
                **(headers or {}),
            },
        )
        try:
            with urlopen(request, timeout=30) as response:
                return Answer(response.status, response.read().decode())
        except HTTPError as exc:
            return Answer(exc.code, exc.read().decode())

    def get(self, path: str) -> Answer:
        try:
            with urlopen(self.base + path, timeout=10) as response:
                return Answer(response.status, response.read().decode())
        except HTTPError as exc:
            return Answer(exc.code, exc.read().decode())

    def command(
        self, text: str, *, user: str = NURSE, channel: str = STUDY_CHANNEL, **kw: Any
    ) -> Answer:
        n = self._next("command")
        form = {
            "token": "unused",
            "team_id": "T0TEAM001",
            "channel_id": channel,
            "channel_name": "directmessage" if channel.startswith("D") else "lacc-study",
            "user_id": user,
            "command": "/trial",
            "text": text,
            "response_url": f"{self.fake.webhook}commands/{n}",
            "trigger_id": f"1337.{n}.trigger",
            "api_app_id": "A0APP0001",
        }
        return self.send(urlencode(form), content_type="application/x-www-form-urlencoded", **kw)

    def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        retry: int | None = None,
        **kw: Any,
    ) -> Answer:
        body = {
            "token": "unused",
            "team_id": "T0TEAM001",
            "api_app_id": "A0APP0001",
            "type": "event_callback",
            "event_id": event_id or f"Ev{self._next('event'):08d}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": "T0TEAM001", "user_id": BOT_USER, "is_bot": True}],
            "event": event,
        }
        headers = {}
        if retry is not None:
            headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        return self.send(json.dumps(body), content_type="application/json", headers=headers, **kw)

    def mention(
        self, text: str, *, user: str = NURSE, channel: str = STUDY_CHANNEL, **kw: Any
    ) -> Answer:
        n = self._next("ts")
        return self.event(
            {
                "type": "app_mention",
                "user": user,
                "text": f"<@{BOT_USER}> {text}",
                "channel": channel,
                "ts": f"1700000100.{n:06d}",
                "event_ts": f"1700000100.{n:06d}",
            },
            **kw,
        )

    def dm(self, text: str, *, user: str = NURSE, **kw: Any) -> Answer:
        n = self._next("ts")
        return self.event(
            {
                "type": "message",
                "channel_type": "im",
                "user": user,
                "text": text,
                "channel": "D" + user[1:],
                "ts": f"1700000200.{n:06d}",
                "event_ts": f"1700000200.{n:06d}",
            },
            **kw,
        )

    def click(
        self, action_id: str, value: str, *, user: str, message: dict | None = None
    ) -> Answer:
        n = self._next("click")
        payload = {
            "type": "block_actions",
            "team": {"id": "T0TEAM001"},
            "user": {"id": user},
            "api_app_id": "A0APP0001",
            "trigger_id": f"4242.{n}.trigger",
            "container": {"type": "message", "channel_id": STUDY_CHANNEL, "message_ts": "1.1"},
            "channel": {"id": STUDY_CHANNEL},
            "message": message or {"ts": "1.1", "blocks": []},
            "response_url": f"{self.fake.webhook}actions/{n}",
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": f"decision:{value.split(':')[0]}",
                    "value": value,
                    "action_ts": f"1700000300.{n:06d}",
                }
            ],
        }
        return self.send(
            urlencode({"payload": json.dumps(payload)}),
            content_type="application/x-www-form-urlencoded",
        )

    def submit_view(self, view: dict[str, Any], *, user: str) -> Answer:
        n = self._next("view")
        payload = {
            "type": "view_submission",
            "team": {"id": "T0TEAM001"},
            "user": {"id": user},
            "api_app_id": "A0APP0001",
            "trigger_id": f"5151.{n}.trigger",
            "view": {**view, "id": f"V0VIEW{n:04d}"},
        }
        return self.send(
            urlencode({"payload": json.dumps(payload)}),
            content_type="application/x-www-form-urlencoded",
        )


@pytest.fixture
def server(slack: SlackApp, fake_slack) -> Iterator[Server]:
    app = wsgi_app(SlackRequestHandler(slack.app), slack.transport.ctx.db, lambda: {"mode": "http"})
    http = HttpServer(app, "127.0.0.1", 0, threads=4)
    thread = threading.Thread(target=http.serve, daemon=True)
    thread.start()
    yield Server(f"http://127.0.0.1:{http.port}", fake_slack, slack.transport.ctx, slack)
    http.stop()
    thread.join(timeout=5)


@pytest.fixture
def signed_client(trial, fake_slack):
    """Signed requests to an app served elsewhere (e.g. by `serve.run`) at `base`."""
    return lambda base: Server(base, fake_slack, trial)


@contextmanager
def serving(env: dict[str, str], bound: float = 60) -> Iterator[int]:
    """`trialbot serve --http` (`serve.run`, on port 0) in a thread, with `env`: yields its
    port once it listens; stops it on leaving and checks it stopped, with exit code 0."""
    import queue

    from bot.transports.slack.serve import ServeOptions, run

    stop, ports, codes = threading.Event(), queue.Queue(), queue.Queue()
    thread = threading.Thread(
        target=lambda: codes.put(
            run(ServeOptions(http=True, port=0), env, stop=stop, ready=ports.put)
        )
    )
    thread.start()
    try:
        yield ports.get(timeout=bound)
    finally:
        stop.set()
        thread.join(timeout=bound)  # a bound for a broken test, not a timing assertion
    assert not thread.is_alive(), "serve did not stop when asked"
    assert codes.get_nowait() == 0


# --- process mode: the acking front and its worker process -------------------------------
@pytest.fixture
def worker(trial, fake_slack) -> Iterator[Any]:
    """The worker process of TRIALBOT_SLACK_WORKER=process, built from the trial's
    settings and clock (no scheduler: these tests are about requests)."""
    from bot.transports.slack.front import Worker
    from bot.transports.slack.worker import WorkerSpec

    spec = WorkerSpec(
        trial.settings, config(api_url=fake_slack.url), scheduler=False, clock=trial.clock
    )
    handle = Worker(spec).start()
    yield handle
    handle.stop()


@pytest.fixture
def front(trial, fake_slack, worker) -> Iterator[Server]:
    """The app as `trialbot serve --http` runs it in process mode: the acking front behind
    waitress, everything after the ack in `worker`."""
    slack = create_app(trial, config(api_url=fake_slack.url), web_client(fake_slack), worker=worker)
    app = wsgi_app(
        SlackRequestHandler(slack.app), trial.db, lambda: {"mode": "http"}, worker=worker.state
    )
    http = HttpServer(app, "127.0.0.1", 0, threads=4)
    thread = threading.Thread(target=http.serve, daemon=True)
    thread.start()
    yield Server(f"http://127.0.0.1:{http.port}", fake_slack, trial, slack)
    http.stop()
    thread.join(timeout=5)
