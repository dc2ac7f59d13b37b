"""`trialbot health [--json]`: is this deployment working? For container healthchecks,
monitoring and a hospital IT team's first look.

Checks the database (reachable, schema current), Slack (when `SLACK_BOT_TOKEN` is set:
`auth.test` at `SLACK_API_URL`, through `SLACK_PROXY` and `SSL_CERT_FILE` as the bot
would) and the outbox backlog — the same report `GET /healthz` gives in HTTP mode.
Exit 0 when healthy, 1 when not, 2 when the settings themselves are wrong.
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
from typing import Any

from bot.settings import load_settings

EXIT_UNHEALTHY = 1
SLACK_TIMEOUT_SECONDS = 5


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "health",
        help="database, schema, Slack connection and outbox backlog (exit 1 when unhealthy)",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(func=_run)


def slack_state(env: os._Environ[str] | dict[str, str]) -> dict[str, Any]:
    """Slack as the bot would reach it; not configured is not unhealthy (the console)."""
    token = (env.get("SLACK_BOT_TOKEN") or "").strip()
    if not token:
        return {"configured": False}
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    cert = (env.get("SSL_CERT_FILE") or "").strip()
    try:
        client = WebClient(
            token=token,
            base_url=(env.get("SLACK_API_URL") or "https://slack.com/api/").rstrip("/") + "/",
            proxy=(env.get("SLACK_PROXY") or "").strip() or None,
            ssl=ssl.create_default_context(cafile=cert) if cert else None,
            timeout=SLACK_TIMEOUT_SECONDS,
        )
        answer = client.auth_test()
        return {"configured": True, "connected": True, "team": answer.get("team_id")}
    except SlackApiError as exc:
        return {"configured": True, "connected": False, "error": exc.response.get("error")}
    except Exception as exc:  # unreachable, TLS, proxy: say which, never a traceback
        return {"configured": True, "connected": False, "error": type(exc).__name__}


def _run(args: argparse.Namespace) -> int:
    from bot.storage.database import Database
    from bot.transports.slack.http_mode import health

    # Not Database.open: that refuses an out-of-date schema, which health must report.
    database = Database(load_settings().database_url)
    try:
        healthy, report = health(database, lambda: slack_state(os.environ))
    finally:
        database.dispose()
    if args.json:
        print(json.dumps(report))
    else:
        slack = report["slack"]
        slack_text = (
            "not configured"
            if not slack.get("configured")
            else "connected"
            if slack.get("connected")
            else f"NOT connected ({slack.get('error')})"
        )
        outbox = report.get("outbox") or {}
        print(f"{'healthy' if healthy else 'UNHEALTHY'}")
        print(f"  database: {report['database']}; schema: {report['schema']}")
        print(f"  slack: {slack_text}")
        print(
            "  outbox: " + ", ".join(f"{count} {status}" for status, count in outbox.items())
            if outbox
            else "  outbox: unknown"
        )
    return 0 if healthy else EXIT_UNHEALTHY
