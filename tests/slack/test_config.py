"""Every Slack setting is checked at start: one clear line per problem, exit 2, no
traceback — and the good values are read exactly as the contract names them."""

from __future__ import annotations

import pytest

from bot.cli import main
from bot.transports.slack.config import (
    DEFAULT_API_URL,
    SlackConfigError,
    load_slack_config,
    parse_site_channels,
)

GOOD = {
    "SLACK_BOT_TOKEN": "xoxb-1-abc",
    "SLACK_APP_TOKEN": "xapp-1-abc",
    "SLACK_SIGNING_SECRET": "8f742231b10e8888abcd990000ff85a5",
}


def problems(env: dict[str, str], *, http: bool = False) -> list[str]:
    with pytest.raises(SlackConfigError) as caught:
        load_slack_config(env, http=http, known_sites=["main", "east"])
    return caught.value.problems


def test_socket_mode_defaults():
    config = load_slack_config(GOOD, http=False, known_sites=["main"])
    assert config.mode == "socket" and config.api_url == DEFAULT_API_URL
    assert config.proxy is None and config.ssl_context() is None and config.site_channels == {}


def test_every_value_is_read():
    env = {
        **GOOD,
        "SLACK_API_URL": "http://127.0.0.1:9999/api",
        "SLACK_PROXY": "http://proxy.hospital.example:3128",
        "TRIALBOT_SITE_CHANNELS": "main=C0123ABCD, east=<#C0456EFGH|east-study>",
    }
    config = load_slack_config(env, http=True, known_sites=["main", "east"])
    assert config.mode == "http" and config.api_url == "http://127.0.0.1:9999/api/"
    assert config.proxy == "http://proxy.hospital.example:3128"
    assert config.site_channels == {"main": "C0123ABCD", "east": "C0456EFGH"}


def test_all_problems_are_reported_at_once():
    found = problems(
        {
            "SLACK_BOT_TOKEN": "xoxp-user-token",
            "SLACK_API_URL": "slack.com/api",
            "SLACK_PROXY": "proxy:3128",
            "SSL_CERT_FILE": "/nonexistent/ca.pem",
            "TRIALBOT_SITE_CHANNELS": "main=#lacc-study,west=C0123ABCD,east",
        }
    )
    assert found == [
        "SLACK_BOT_TOKEN: does not start with xoxb- (a bot token is needed)",
        "SLACK_APP_TOKEN: not set (Socket Mode needs an app-level token xapp-… with "
        "connections:write; or run with --http)",
        "SLACK_API_URL: 'slack.com/api' is not a URL (https:// or http://host…)",
        "SLACK_PROXY: 'proxy:3128' is not a URL (http:// or https://host…)",
        "SSL_CERT_FILE: /nonexistent/ca.pem is not a file",
        "TRIALBOT_SITE_CHANNELS: '#lacc-study' for site main is not a channel id (C or G "
        "followed by letters and digits, e.g. C0123ABCD; copy it from the channel's details "
        "in Slack)",
        "TRIALBOT_SITE_CHANNELS: unknown site 'west' (sites: main, east)",
        "TRIALBOT_SITE_CHANNELS: 'east' is not site=CHANNEL_ID (e.g. main=C0123ABCD)",
    ]


def test_http_mode_needs_the_signing_secret_not_the_app_token():
    found = problems({"SLACK_BOT_TOKEN": "xoxb-1"}, http=True)
    assert found == [
        "SLACK_SIGNING_SECRET: not set (needed by --http; Basic Information → App Credentials)"
    ]


def test_a_certificate_file_that_is_not_pem_is_refused(tmp_path):
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    [problem] = problems({**GOOD, "SSL_CERT_FILE": str(bad)})
    assert problem.startswith(f"SSL_CERT_FILE: {bad} is not a PEM bundle of certificates")


def test_the_worker_mode_is_process_unless_thread_is_asked_for():
    assert load_slack_config(GOOD, http=False).worker == "process"
    for given, read in (("thread", "thread"), ("Process", "process"), (" thread ", "thread")):
        env = {**GOOD, "TRIALBOT_SLACK_WORKER": given}
        assert load_slack_config(env, http=True).worker == read
    [problem] = problems({**GOOD, "TRIALBOT_SLACK_WORKER": "threads"})
    assert problem == (
        "TRIALBOT_SLACK_WORKER: 'threads' is not a worker mode (process: the work in a worker "
        "process beside the acks — the default; thread: all in one process)"
    )


def test_site_channels_twice():
    _, found = parse_site_channels("main=C0123ABCD,main=C0456EFGH,east=C0123ABCD", ["main", "east"])
    assert found == [
        "TRIALBOT_SITE_CHANNELS: site main is given twice",
        "TRIALBOT_SITE_CHANNELS: channel C0123ABCD is given to two sites",
    ]


def test_serve_prints_one_line_per_problem_and_exits_2(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "TRIALBOT_ADMINS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TRIALBOT_DATABASE_URL", f"sqlite:///{tmp_path / 't.db'}")
    monkeypatch.setenv("TRIALBOT_SITE_CHANNELS", "nowhere=C0123ABCD")
    code = main(["serve", "--http", "--port", "70000"])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert err.splitlines() == [
        "trialbot serve: cannot start:",
        "  --port: 70000 is not a port (0–65535)",
        "  TRIALBOT_ADMINS: not set — Slack needs at least one admin (a Slack user id such as "
        "U012ABCDEF) to grant the team's roles",
        "  SLACK_BOT_TOKEN: not set (the bot token, xoxb-…, from OAuth & Permissions)",
        "  SLACK_SIGNING_SECRET: not set (needed by --http; Basic Information → App Credentials)",
        "  TRIALBOT_SITE_CHANNELS: unknown site 'nowhere' (sites: main)",
    ]


def test_serve_reports_a_token_slack_refuses(monkeypatch, capsys, tmp_path, fake_slack):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TRIALBOT_DATABASE_URL", f"sqlite:///{tmp_path / 't.db'}")
    monkeypatch.setenv("TRIALBOT_ADMINS", "U0ADMIN01")
    monkeypatch.setenv("SLACK_API_URL", fake_slack.url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-revoked")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-x")
    fake_slack.fail("auth.test", error="invalid_auth")
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "  SLACK_BOT_TOKEN: Slack did not accept it (invalid_auth)" in err.splitlines()


def test_serve_http_runs_until_stopped_and_answers_healthz(monkeypatch, tmp_path, fake_slack):
    import json
    from urllib.request import urlopen

    from tests.slack.conftest import serving

    monkeypatch.chdir(tmp_path)
    env = {
        "SLACK_BOT_TOKEN": "xoxb-1-test",
        "SLACK_SIGNING_SECRET": "8f742231b10e8888abcd990000ff85a5",
        "SLACK_API_URL": fake_slack.url,
        "TRIALBOT_SITE_CHANNELS": "main=C0STUDY01",
    }
    monkeypatch.setenv("TRIALBOT_DATABASE_URL", f"sqlite:///{tmp_path / 't.db'}")
    monkeypatch.setenv("TRIALBOT_ADMINS", "U0ADMIN01")
    with serving(env) as port:
        with urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            report = json.loads(response.read())
        assert response.status == 200 and report["ok"] and report["schema"] == "current"
    assert [c.method for c in fake_slack.calls][:1] == ["auth.test"]


def test_starting_with_the_token_in_the_environment_logs_no_warning_about_it(
    monkeypatch, caplog, trial, fake_slack
):
    """Bolt reads SLACK_BOT_TOKEN itself and warned at every start that the client given to
    it wins — the client is built from that token: nothing for an operator to act on."""
    import logging

    from bot.transports.slack.app import InlineExecutor, create_app
    from tests.slack.conftest import config, web_client

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    with caplog.at_level(logging.WARNING):
        create_app(
            trial,
            config(api_url=fake_slack.url),
            web_client(fake_slack),
            work=InlineExecutor(),
            listener_executor=InlineExecutor(),
        )
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_the_number_of_workers_is_auto_unless_a_number_is_given():
    assert load_slack_config(GOOD, http=False).workers is None
    for given, read in (("auto", None), (" AUTO ", None), ("1", 1), ("4", 4)):
        env = {**GOOD, "TRIALBOT_SLACK_WORKERS": given}
        assert load_slack_config(env, http=True).workers == read
    for bad in ("0", "-1", "two", "9", "1.5"):
        [problem] = problems({**GOOD, "TRIALBOT_SLACK_WORKERS": bad})
        assert problem == (
            f"TRIALBOT_SLACK_WORKERS: {bad!r} is not a number of worker processes "
            "(auto — the default — or 1 to 8)"
        )
    [problem] = problems({**GOOD, "TRIALBOT_SLACK_WORKER": "thread", "TRIALBOT_SLACK_WORKERS": "2"})
    assert problem == (
        "TRIALBOT_SLACK_WORKERS: 2 worker processes need TRIALBOT_SLACK_WORKER=process "
        "(thread runs everything in one process)"
    )
