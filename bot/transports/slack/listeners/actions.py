"""Alert buttons. A click runs the same command a person would type (`confirm D12`,
`attribute E45 irae=yes`) through the same dispatcher, roles included: a refusal comes back
ephemerally to the one who clicked and the alert stays as it was. A successful verdict is
posted and every copy of the alert is updated in place (see `notifier`). The idempotency
key is the decision, the action and the person: a double click acts once and the second
click gets the first answer.

Acknowledge runs `ack D12`: it stops the alert's escalation; the decision stays open and
its buttons stay.

Override… opens the reason modal at once (the trigger expires in about 3 s).
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.commands.reply import Reply
from bot.transports.slack.app import SlackTransport, send_reply
from bot.transports.slack.views import override_modal


def register(app: App, transport: SlackTransport) -> None:
    @app.action("decision_confirm")
    def confirm(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        transport.submit("confirm click", on_confirm, transport, body, action, respond)

    @app.action("decision_override")
    def override(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        decision = str(action.get("value") or "")
        view = override_modal(decision)
        transport.soon("override form", _open, client, body["trigger_id"], view)

    @app.action("alert_ack")
    def acknowledge(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond
    ) -> None:
        ack()
        transport.submit("acknowledge click", on_ack, transport, body, action, respond)

    for answer in ("yes", "no"):

        @app.action(f"attribute_irae_{answer}")
        def attribute(
            ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond
        ) -> None:
            ack()
            transport.submit("attribution click", on_attribute, transport, body, action, respond)


def _open(client: WebClient, trigger_id: str, view: dict[str, Any]) -> None:
    client.views_open(trigger_id=trigger_id, view=view)


def _ephemeral(respond: Respond):
    def send(**message: Any) -> None:
        respond(response_type="ephemeral", replace_original=False, **message)

    return send


def _user(body: dict[str, Any]) -> str:
    return str((body.get("user") or {}).get("id") or "")


def _click(
    transport: SlackTransport,
    body: dict[str, Any],
    respond: Respond,
    command: str,
    subject: str,
    verb: str,
) -> Reply:
    """Run `command` for the person who clicked, keyed on what was clicked, the verb and
    the person (a double click acts once), and answer them ephemerally."""
    user = _user(body)
    reply = transport.run(
        user,
        command,
        source=f"slack:action:{body.get('trigger_id', '')}",
        key=f"slack:click:{subject}:{verb}:{user}",
    )
    send_reply(_ephemeral(respond), reply)
    return reply


def _decision_click(verb: str):
    """A button whose value is what it acts on (`D12`): runs `<verb> D12`, as typed."""

    def on_click(
        transport: SlackTransport, body: dict[str, Any], action: dict[str, Any], respond: Respond
    ) -> None:
        subject = str(action.get("value") or "")
        _click(transport, body, respond, f"{verb} {subject}", subject, verb)
        transport.posted()

    return on_click


on_confirm = _decision_click("confirm")
on_ack = _decision_click("ack")


def on_attribute(
    transport: SlackTransport, body: dict[str, Any], action: dict[str, Any], respond: Respond
) -> None:
    _decision, _, entry = str(action.get("value") or "").partition(":")
    answer = "yes" if str(action.get("action_id")).endswith("yes") else "no"
    command = f"attribute {entry} irae={answer}"
    _click(transport, body, respond, command, entry, "attribute")
    # the alert's copies are updated by the attribution post the service queued
    transport.posted()
