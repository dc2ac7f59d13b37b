"""Events: a mention of the bot in a study channel and a direct message to it run the
command they contain (ephemeral reply in the channel; in the DM for DMs). Each delivery is
processed once per `event_id` (Slack retries). Subscribed events trialbot does not act on
still get a listener, or Bolt would answer 404 and Slack would retry them."""

from __future__ import annotations

from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot.transports.slack.app import SlackTransport, send_reply
from bot.transports.slack.dedupe import first_delivery
from bot.transports.slack.home import publish
from bot.transports.slack.text import command_text


def register(app: App, transport: SlackTransport) -> None:
    @app.event("app_mention")
    def mention(body: dict[str, Any], event: dict[str, Any], context: BoltContext) -> None:
        transport.submit("mention", on_mention, transport, body, event, context.bot_user_id)

    @app.event("message")
    def message(body: dict[str, Any], event: dict[str, Any], context: BoltContext) -> None:
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return  # edits, joins, the bot's own posts: nothing to answer
        transport.submit("direct message", on_dm, transport, body, event, context.bot_user_id)

    @app.event("app_home_opened")
    def home_opened(event: dict[str, Any]) -> None:
        if event.get("tab") != "home":
            return  # the Messages tab: nothing to publish
        transport.submit("home", publish, transport, str(event.get("user") or ""))


def on_mention(
    transport: SlackTransport, body: dict[str, Any], event: dict[str, Any], bot: str | None
) -> None:
    if not first_delivery(transport.ctx, body.get("event_id")):
        return
    client: WebClient = transport.client
    channel, user = str(event.get("channel") or ""), str(event.get("user") or "")
    thread = event.get("thread_ts")

    def send(**message: Any) -> None:
        client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread, **message)

    place = transport.place(channel, event.get("channel_type"))
    if not place.accepted:
        send_reply(send, transport.pointer())
        return
    event_id = body.get("event_id")
    reply = transport.run(
        user,
        command_text(event.get("text") or "", bot_user_id=bot),
        source=f"slack:event:{event_id}",
        key=f"slack:event:{event_id}" if event_id else None,
        site=place.site,
    )
    send_reply(send, reply)
    transport.posted()


def on_dm(
    transport: SlackTransport, body: dict[str, Any], event: dict[str, Any], bot: str | None
) -> None:
    if not first_delivery(transport.ctx, body.get("event_id")):
        return
    client: WebClient = transport.client
    channel = str(event.get("channel") or "")
    event_id = body.get("event_id")
    reply = transport.run(
        str(event.get("user") or ""),
        command_text(event.get("text") or "", bot_user_id=bot),
        source=f"slack:event:{event_id}",
        key=f"slack:event:{event_id}" if event_id else None,
    )
    first: list[str] = []

    def send(**message: Any) -> None:
        response = client.chat_postMessage(
            channel=channel, thread_ts=first[0] if first else None, **message
        )
        if not first:
            first.append(str(response["ts"]))

    send_reply(send, reply)
    transport.posted()
