"""The one `slack_sdk.WebClient` of the process: Slack's base URL, proxy, CA bundle and
retry handlers are set here, once. Bolt copies them into the client each listener gets,
and Socket Mode uses the same client for `apps.connections.open` and its TLS context.

Retries: one connection-level retry (a reset or refused connection) and up to two waits
on HTTP 429, as long as Slack's `Retry-After` says. Delivery that still fails goes back to
the outbox, whose own backoff takes over; retrying here more would multiply the attempts.
"""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

from bot.transports.slack.config import SlackConfig

TIMEOUT_SECONDS = 10


def retry_handlers() -> list:
    return [
        ConnectionErrorRetryHandler(max_retry_count=1),
        RateLimitErrorRetryHandler(max_retry_count=2),
    ]


def build_client(config: SlackConfig) -> WebClient:
    return WebClient(
        token=config.bot_token,
        base_url=config.api_url,
        proxy=config.proxy,
        ssl=config.ssl_context(),
        timeout=TIMEOUT_SECONDS,
        retry_handlers=retry_handlers(),
    )
