"""The manifest asks for what the app uses, and the app listens to what the manifest
subscribes to (an event without a listener is answered 404 and retried by Slack)."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _manifest() -> dict:
    return yaml.safe_load((ROOT / "deploy" / "slack-app-manifest.yml").read_text())


def test_socket_mode_command_interactivity_and_events():
    manifest = _manifest()
    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is True
    assert settings["interactivity"]["is_enabled"] is True
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == "/trial" and command["should_escape"] is True
    assert sorted(settings["event_subscriptions"]["bot_events"]) == [
        "app_home_opened",
        "app_mention",
        "message.im",
    ]
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == sorted(
        [
            "commands",
            "chat:write",
            "im:write",
            "im:history",
            "app_mentions:read",
            "channels:history",
            "groups:history",
            "files:write",
        ]
    )


def test_every_subscribed_event_has_a_listener(slack):
    from slack_bolt.request import BoltRequest

    samples = {
        "app_home_opened": {"type": "app_home_opened", "user": "U0VIEW001", "tab": "home"},
        "app_mention": {
            "type": "app_mention",
            "user": "U0VIEW001",
            "text": "<@U0BOT0001> whoami",
            "channel": "C0STUDY01",
            "ts": "1.1",
        },
        "message.im": {
            "type": "message",
            "channel_type": "im",
            "user": "U0VIEW001",
            "text": "whoami",
            "channel": "D0VIEW001",
            "ts": "1.2",
        },
    }
    for n, event in enumerate(_manifest()["settings"]["event_subscriptions"]["bot_events"]):
        body = {
            "type": "event_callback",
            "team_id": "T0TEAM001",
            "api_app_id": "A0APP0001",
            "event_id": f"Ev0MANIFEST{n}",
            "authorizations": [{"team_id": "T0TEAM001", "user_id": "U0BOT0001", "is_bot": True}],
            "event": samples[event],
        }
        response = slack.app.dispatch(BoltRequest(body=body, mode="socket_mode"))
        assert response.status == 200, event  # 404 would make Slack retry it


def test_the_setup_guide_names_every_setting():
    guide = (ROOT / "docs" / "slack-setup.md").read_text()
    for name in (
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_API_URL",
        "SLACK_PROXY",
        "SSL_CERT_FILE",
        "TRIALBOT_SITE_CHANNELS",
        "TRIALBOT_ADMINS",
        "trialbot serve --http",
        "/healthz",
        "deploy/slack-app-manifest.yml",
    ):
        assert name in guide, name
