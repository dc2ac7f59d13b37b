"""Tier 3: Socket Mode for real. The fake Slack's `apps.connections.open` hands out the URL
of a WebSocket server run here; it sends Socket Mode envelopes to the bot (Bolt's built-in
Socket Mode client, as `trialbot serve` runs it) and checks the acks that come back."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from slack_bolt.adapter.socket_mode import SocketModeHandler
from websockets.sync.server import serve

ACK_TIMEOUT = 20  # seconds; a bound for a broken test, not a timing assertion


class SocketServer:
    """A stand-in for Slack's Socket Mode endpoint: say hello, send envelopes, read acks."""

    def __init__(self) -> None:
        self.outgoing: queue.Queue[dict[str, Any]] = queue.Queue()
        self.acks: queue.Queue[dict[str, Any]] = queue.Queue()
        self.connected = threading.Event()
        self._server = serve(self._handle, "127.0.0.1", 0)
        self.port = self._server.socket.getsockname()[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/link/?ticket=test"

    def _handle(self, websocket) -> None:
        websocket.send(json.dumps({"type": "hello", "num_connections": 1}))
        self.connected.set()

        def sender() -> None:
            while True:
                envelope = self.outgoing.get()
                if envelope is None:
                    return
                websocket.send(json.dumps(envelope))

        threading.Thread(target=sender, daemon=True).start()
        try:
            for message in websocket:
                self.acks.put(json.loads(message))
        except Exception:
            return

    def send(self, envelope: dict[str, Any]) -> None:
        self.outgoing.put(envelope)

    def ack(self, envelope_id: str) -> dict[str, Any]:
        while True:
            ack = self.acks.get(timeout=ACK_TIMEOUT)
            if ack.get("envelope_id") == envelope_id:
                return ack

    def close(self) -> None:
        self.outgoing.put(None)
        self._server.shutdown()


@pytest.fixture
def socket_bot(trial, fake_slack) -> Iterator[tuple[SocketServer, Any]]:
    from bot.transports.slack.app import InlineExecutor, create_app

    config_values = {
        "bot_token": "xoxb-test-token",
        "mode": "socket",
        "app_token": "xapp-1-test",
        "api_url": fake_slack.url,
        "site_channels": {"main": "C0STUDY01"},
    }
    from slack_sdk import WebClient

    from bot.transports.slack.config import SlackConfig

    slack = create_app(
        trial,
        SlackConfig(**config_values),
        WebClient(token="xoxb-test-token", base_url=fake_slack.url, timeout=5),
        work=InlineExecutor(),
        process_before_response=True,
    )
    with _connected(slack.app, fake_slack) as server:
        yield server, fake_slack


@contextmanager
def _connected(app: Any, fake_slack: Any) -> Iterator[SocketServer]:
    """`app` connected in Socket Mode to a local WebSocket server (whose URL the fake
    Slack's apps.connections.open gives); both closed on leaving."""
    server = SocketServer()
    fake_slack.socket_url = server.url
    handler = SocketModeHandler(app, app_token="xapp-1-test")
    handler.connect()
    try:
        assert server.connected.wait(ACK_TIMEOUT)
        yield server
    finally:
        handler.close()
        server.close()


def _command(text: str, n: int, webhook: str) -> dict[str, Any]:
    return {
        "envelope_id": f"env-command-{n}",
        "type": "slash_commands",
        "accepts_response_payload": True,
        "payload": {
            "team_id": "T0TEAM001",
            "channel_id": "C0STUDY01",
            "channel_name": "lacc-study",
            "user_id": "U0NURSE01",
            "command": "/trial",
            "text": text,
            "response_url": f"{webhook}commands/{n}",
            "trigger_id": f"9.{n}.trigger",
            "api_app_id": "A0APP0001",
        },
    }


def _override_without_reason(envelope: str, view: str) -> dict:
    """An override form submitted with its reason left empty (decision D1)."""
    return {
        "envelope_id": envelope,
        "type": "interactive",
        "accepts_response_payload": True,
        "payload": {
            "type": "view_submission",
            "team": {"id": "T0TEAM001"},
            "user": {"id": "U0DOC0001"},
            "api_app_id": "A0APP0001",
            "view": {
                "id": view,
                "type": "modal",
                "callback_id": "decision_override",
                "private_metadata": "D1",
                "state": {"values": {"reason": {"reason_input": {"value": ""}}}},
            },
        },
    }


def _mention(text: str, event_id: str, retry: int) -> dict[str, Any]:
    return {
        "envelope_id": f"env-{event_id}-{retry}",
        "type": "events_api",
        "accepts_response_payload": False,
        "retry_attempt": retry,
        "retry_reason": "timeout" if retry else "",
        "payload": {
            "team_id": "T0TEAM001",
            "api_app_id": "A0APP0001",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": 1,
            "authorizations": [{"team_id": "T0TEAM001", "user_id": "U0BOT0001", "is_bot": True}],
            "event": {
                "type": "app_mention",
                "user": "U0NURSE01",
                "text": f"<@U0BOT0001> {text}",
                "channel": "C0STUDY01",
                "ts": "1700000000.000100",
                "event_ts": "1700000000.000100",
            },
        },
    }


def test_socket_mode_commands_events_and_modal_errors_are_acked(socket_bot, trial):
    server, fake = socket_bot
    # the connection was opened with the app-level token, at SLACK_API_URL
    [opened] = fake.called("apps.connections.open")
    assert opened.token == "xapp-1-test"

    server.send(_command("lab LACC-007 ANC 0.4 PLT 62", 1, fake.webhook))
    assert server.ack("env-command-1") == {"envelope_id": "env-command-1"}
    [reply] = fake.called("response_url")
    assert "Neutrophil count decreased" in reply.text_of_blocks()
    assert {p.params["channel"] for p in fake.called("chat.postMessage")} == {
        "C0STUDY01",
        "D0DOC0001",
    }

    # a retried event is acked every time and recorded once
    server.send(_mention("lab LACC-007 Hb 7.9", "Ev0SOCKET1", 1))
    server.ack("env-Ev0SOCKET1-1")
    server.send(_mention("lab LACC-007 Hb 7.9", "Ev0SOCKET1", 2))
    server.ack("env-Ev0SOCKET1-2")
    assert len(fake.called("chat.postEphemeral")) == 1

    # a modal submission without a reason: the errors ride on the ack
    server.send(_override_without_reason("env-view-1", "V0001"))
    ack = server.ack("env-view-1")
    assert ack["payload"] == {
        "response_action": "errors",
        "errors": {"reason": "An override needs a reason."},
    }


@pytest.fixture
def socket_front(trial, fake_slack, worker) -> Iterator[tuple[SocketServer, Any]]:
    """Socket Mode in process mode: the front acks over the WebSocket, `worker` works."""
    from slack_sdk import WebClient

    from bot.transports.slack.app import create_app
    from bot.transports.slack.config import SlackConfig

    config = SlackConfig(
        bot_token="xoxb-test-token",
        mode="socket",
        app_token="xapp-1-test",
        api_url=fake_slack.url,
        site_channels={"main": "C0STUDY01"},
    )
    client = WebClient(token="xoxb-test-token", base_url=fake_slack.url, timeout=5)
    slack = create_app(trial, config, client, worker=worker)
    with _connected(slack.app, fake_slack) as server:
        yield server, fake_slack


def test_socket_mode_in_process_mode_acks_here_and_works_in_the_worker(socket_front, worker):
    server, fake = socket_front
    server.send(_command("lab LACC-007 ANC 0.4 PLT 62", 1, fake.webhook))
    assert server.ack("env-command-1") == {"envelope_id": "env-command-1"}
    [reply] = fake.wait_for("response_url", 1, ACK_TIMEOUT)
    assert "Neutrophil count decreased" in reply.text_of_blocks()
    posts = fake.wait_for("chat.postMessage", 2, ACK_TIMEOUT)
    assert {p.params["channel"] for p in posts} == {"C0STUDY01", "D0DOC0001"}

    # a retried event is acked every time (by the front) and recorded once (by the worker)
    server.send(_mention("whoami", "Ev0SOCKET2", 1))
    server.ack("env-Ev0SOCKET2-1")
    server.send(_mention("whoami", "Ev0SOCKET2", 2))
    server.ack("env-Ev0SOCKET2-2")
    [answer] = fake.wait_for("chat.postEphemeral", 1, ACK_TIMEOUT)
    assert "coordinator" in answer.text_of_blocks()

    # a modal submission: the worker's answer rides on the front's ack
    server.send(_override_without_reason("env-view-2", "V0002"))
    assert server.ack("env-view-2")["payload"] == {
        "response_action": "errors",
        "errors": {"reason": "An override needs a reason."},
    }
    assert worker.state()["forwarded"] == 4  # the command, both deliveries, the form
    assert len(fake.called("chat.postEphemeral")) == 1
