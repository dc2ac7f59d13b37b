"""`trialbot health`, as a container healthcheck runs it: against a real database and the
fake Slack Web API, healthy or not, with the reason on the line."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from bot.cli import main


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TRIALBOT_DATABASE_URL", database_url)
    for name in ("SLACK_BOT_TOKEN", "SLACK_API_URL", "SLACK_PROXY", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)


def _report(capsys) -> dict:
    return json.loads(capsys.readouterr().out)


def test_healthy_with_slack_reachable(configured, db, fake_slack, monkeypatch, capsys) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    monkeypatch.setenv("SLACK_API_URL", fake_slack.url)
    assert main(["health", "--json"]) == 0
    report = _report(capsys)
    assert report["ok"] and report["schema"] == "current"
    assert report["slack"]["connected"] is True
    assert report["outbox"] == {"pending": 0, "sending": 0, "dead": 0}
    assert fake_slack.called("auth.test")


def test_unhealthy_when_slack_refuses_the_token(configured, db, fake_slack, monkeypatch, capsys):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-revoked")
    monkeypatch.setenv("SLACK_API_URL", fake_slack.url)
    fake_slack.fail("auth.test", error="invalid_auth")
    assert main(["health"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("UNHEALTHY") and "NOT connected (invalid_auth)" in out


def test_unhealthy_when_slack_is_unreachable(configured, db, monkeypatch, capsys) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    monkeypatch.setenv("SLACK_API_URL", f"http://127.0.0.1:{port}/api/")
    assert main(["health", "--json"]) == 1
    report = _report(capsys)
    assert report["ok"] is False and report["slack"]["connected"] is False


def test_unhealthy_when_the_schema_is_behind(configured, database_url, monkeypatch, capsys):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite is migrated on first use; only PostgreSQL can be behind")
    assert main(["health", "--json"]) == 1
    assert _report(capsys)["schema"] == "out of date"
