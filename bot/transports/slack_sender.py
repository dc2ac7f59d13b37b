"""Posting the outbox to Slack: `chat.postMessage` with the outbox key as message metadata,
direct messages through `conversations.open`, long digests continued in their thread, and
the history lookup that recognises what an earlier, interrupted attempt already posted.

The posting client has no retry handlers of its own: `chat.postMessage` is not idempotent,
so a retry is the outbox's decision (with the history check first), and a 429 goes back to
the outbox with its Retry-After instead of blocking the sender.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.posts import Post
from bot.render import Renderer
from bot.settings import SLACK_USER_ID
from bot.transports.delivery import DeliveryError
from bot.transports.slack.blocks import post_messages as messages

log = logging.getLogger("trialbot.delivery")

METADATA_TYPE = "trialbot_outbox"
HISTORY_LIMIT = 200


def slack_client(token: str, base_url: str | None = None):
    from slack_sdk import WebClient

    options: dict[str, Any] = {"token": token, "retry_handlers": []}
    if base_url:
        options["base_url"] = base_url.rstrip("/") + "/"
    return WebClient(**options)


def client_from_environment(env: Mapping[str, str]):
    """A WebClient when `SLACK_BOT_TOKEN` is set in `env` (pointed at `SLACK_API_URL` if
    given). The entry point passes its environment: nothing below it reads `os.environ`."""
    token = env.get("SLACK_BOT_TOKEN", "").strip()
    if not token:
        return None
    return slack_client(token, env.get("SLACK_API_URL", "").strip() or None)


@dataclass
class SlackSender:
    client: Any  # slack_sdk.WebClient
    renderer: Renderer
    _dm_channels: dict[str, str] = field(default_factory=dict)

    def _channel(self, target: str) -> str:
        if not SLACK_USER_ID.match(target):
            return target
        if target not in self._dm_channels:
            response = self._call(self.client.conversations_open, users=target)
            self._dm_channels[target] = response["channel"]["id"]
        return self._dm_channels[target]

    def _call(self, method, **arguments):
        from slack_sdk.errors import SlackApiError

        try:
            return method(**arguments)
        except SlackApiError as exc:
            response = exc.response
            retry_after = None
            headers = (response.headers or {}) if response is not None else {}
            status = response.status_code if response is not None else 0
            if status == 429:
                header = headers.get("Retry-After") or headers.get("retry-after")
                retry_after = float(header) if header else 1.0
            error = response.get("error") if response is not None else None
            raise DeliveryError(
                f"Slack {getattr(method, '__name__', 'call')}: {status} {error or ''}".strip(),
                retry_after=retry_after,
                # Slack said no (200 with ok=false, or a 4xx other than 429): the same
                # message would be refused again; an outage (5xx, 429) is worth retrying.
                permanent=status == 200 or (400 <= status < 500 and status != 429),
            ) from None

    def _post(self, channel: str, part: dict[str, Any], key: str, thread_ts: str | None) -> str:
        arguments: dict[str, Any] = {
            "channel": channel,
            "text": part["text"],
            # a study channel's messages never unfurl links or media
            "unfurl_links": False,
            "unfurl_media": False,
        }
        if part.get("blocks"):
            arguments["blocks"] = part["blocks"]
        if thread_ts:
            arguments["thread_ts"] = thread_ts
        if key:
            arguments["metadata"] = {"event_type": METADATA_TYPE, "event_payload": {"key": key}}
        return str(self._call(self.client.chat_postMessage, **arguments)["ts"])

    def deliver(self, post: Post) -> str:
        return self.deliver_keyed(post, key="", resume=False, since=0)[0]

    def deliver_keyed(
        self, post: Post, *, key: str, resume: bool, since: float
    ) -> tuple[str, bool]:
        """Post `post` (a long digest as several messages, the rest in the first one's
        thread), each carrying its key. With `resume`, what the channel already has under
        these keys is adopted and only the rest is posted. Returns (ts, all found).
        A file (`upload` post) is uploaded instead (`upload`)."""
        if post.kind == "upload":
            return self.upload(post), False
        _, main, everything_found = self.post_keyed(
            post.address, messages(self.renderer, post), key=key, resume=resume, since=since
        )
        return main, everything_found

    def post_keyed(
        self, target: str, parts: list[dict[str, Any]], *, key: str, resume: bool, since: float
    ) -> tuple[str, str, bool]:
        """Post `parts` (each `{"text", "blocks"}`; the rest in the first one's thread) to
        `target`, each message carrying its key; with `resume`, adopt what the channel
        already holds under these keys. Returns (channel, ts of the first, all found) —
        the Slack app's notifier posts its own blocks through this too."""
        channel = self._channel(target)
        keys = [key] + [f"{key}#part{n}" for n in range(2, len(parts) + 1)] if key else []
        found = self._found(channel, keys, since) if resume and key else {}
        main = found.get(key) if key else None
        everything_found = main is not None
        if main is None:
            main = self._post(channel, parts[0], key, None)
        for number, part in enumerate(parts[1:], start=2):
            part_key = f"{key}#part{number}" if key else ""
            if part_key and part_key in found:
                continue
            everything_found = False
            self._post(channel, part, part_key, main)
        return channel, main, everything_found

    def upload(self, post: Post) -> str:
        """The post's file with `files_upload_v2` (the upload URL, the bytes, the share
        with the post's text as comment); `"<channel>:file:<id>"`. A file carries no
        message metadata, so an upload interrupted after Slack shared it may be shared
        again on the retry (as a message without the history scopes may)."""
        from bot.transports.slack.blocks import upload, uploaded

        channel = self._channel(post.address)
        response = self._call(self.client.files_upload_v2, **upload(self.renderer, post, channel))
        return uploaded(channel, response)

    def _found(self, channel: str, keys: list[str], since: float) -> dict[str, str]:
        """key → ts of the messages carrying these keys posted since `since` (the channel's
        history, and the thread of the first one).

        Slack refusing the read for good (`missing_scope` in a workspace that installed an
        older manifest, `not_in_channel`) must not make the message undeliverable: an alert
        that might be posted twice is posted; one that is never posted is lost. The refusal
        is logged (no patient data: the channel and Slack's error only) and the message
        posted as if nothing were found; an outage (5xx, 429) still goes back to the
        outbox to retry."""
        try:
            return self._history(channel, keys, since)
        except DeliveryError as exc:
            if not exc.permanent:
                raise
            log.warning(
                "could not read %s's history to avoid a double post (%s); posting", channel, exc
            )
            return {}

    def _history(self, channel: str, keys: list[str], since: float) -> dict[str, str]:
        oldest = f"{since:.6f}"
        history = self._call(
            self.client.conversations_history,
            channel=channel,
            oldest=oldest,
            include_all_metadata=True,
            limit=HISTORY_LIMIT,
        )
        found = _keyed(history.get("messages") or [], keys)
        if keys[0] in found and len(keys) > 1:
            replies = self._call(
                self.client.conversations_replies,
                channel=channel,
                ts=found[keys[0]],
                oldest=oldest,
                include_all_metadata=True,
                limit=HISTORY_LIMIT,
            )
            found.update(_keyed(replies.get("messages") or [], keys))
        return found


def _keyed(messages_: list[dict[str, Any]], keys: list[str]) -> dict[str, str]:
    out = {}
    for message in messages_:
        metadata = message.get("metadata") or {}
        key = (metadata.get("event_payload") or {}).get("key")
        if metadata.get("event_type") == METADATA_TYPE and key in keys:
            out.setdefault(key, str(message["ts"]))
    return out
