"""`/trial …`: ack at once (empty: Slack then shows nothing but the reply), then run the
command and answer ephemerally through the command's `response_url`."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.transports.slack.app import SlackTransport, send_reply
from bot.transports.slack.listeners.forms import FORMS, open_form
from bot.transports.slack.text import command_text

# FORMS: with nothing after them, these commands open a form


def register(app: App, transport: SlackTransport) -> None:
    @app.command("/trial")
    def trial(ack: Ack, command: dict[str, Any], respond: Respond, client: WebClient) -> None:
        ack()
        which = command_text(command.get("text") or "").lower()
        if which in FORMS:
            # the trigger expires in about 3 s: open the form before any other work
            transport.soon("form", form_or_command, transport, command, respond, client, which)
            return
        transport.submit("command", handle, transport, command, respond)


def form_or_command(
    transport: SlackTransport,
    command: dict[str, Any],
    respond: Respond,
    client: WebClient,
    which: str,
) -> None:
    if transport.place(command.get("channel_id")).accepted:
        open_form(transport, client, which, str(command.get("trigger_id") or ""))
    else:
        transport.submit("command", handle, transport, command, respond)


def handle(transport: SlackTransport, command: dict[str, Any], respond: Respond) -> None:
    def send(**message: Any) -> None:
        respond(response_type="ephemeral", replace_original=False, **message)

    place = transport.place(command.get("channel_id"), command.get("channel_name"))
    if not place.accepted:
        send_reply(send, transport.pointer())
        return
    trigger = command.get("trigger_id") or ""
    reply = transport.run(
        str(command.get("user_id") or ""),
        command_text(command.get("text") or ""),
        source=f"slack:command:{trigger}",
        key=f"slack:command:{trigger}" if trigger else None,
        site=place.site,
    )
    send_reply(send, reply)
    transport.posted()
