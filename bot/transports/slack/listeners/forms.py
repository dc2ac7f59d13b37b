"""The lab and AE forms: opened by `/trial lab` or `/trial ae` with nothing after them,
submitted through the dispatcher as the typed command. The check runs before the ack so
that a refusal can be shown on its field (`response_action: errors`); the reply then goes
to the person by direct message, and the posts it caused are delivered."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.transports.slack import forms
from bot.transports.slack.app import SlackTransport, send_reply

ERROR_LIMIT = 150
LAB_HINT = (
    "e.g. ANC 0.4 PLT 62 Hb 9.1 ALT 130 U/L (7-40) — `/trial help lab` lists analytes and units"
)


def open_form(transport: SlackTransport, client: WebClient, which: str, trigger_id: str) -> None:
    view = forms.lab_form(LAB_HINT) if which == "lab" else forms.ae_form(transport.ctx)
    client.views_open(trigger_id=trigger_id, view=view)


def register(app: App, transport: SlackTransport) -> None:
    @app.action(forms.TERM)
    def term_chosen(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        term = str((action.get("selected_option") or {}).get("value") or "")
        view = body.get("view") or {}
        client.views_update(
            view_id=view.get("id"), hash=view.get("hash"), view=forms.ae_form(transport.ctx, term)
        )

    @app.view(forms.LAB_CALLBACK)
    def lab_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        _submit(transport, ack, body, view, forms.lab_command(view), forms.LAB_FIELDS, forms.PANEL)

    @app.view(forms.AE_CALLBACK)
    def ae_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        _submit(transport, ack, body, view, forms.ae_command(view), forms.AE_FIELDS, forms.TERM)


def _submit(
    transport: SlackTransport,
    ack: Ack,
    body: dict[str, Any],
    view: dict[str, Any],
    text: str,
    fields: tuple[str, ...],
    default: str,
) -> None:
    user = str((body.get("user") or {}).get("id") or "")
    view_id = str(view.get("id") or "")
    reply = transport.run(
        user, text, source=f"slack:view:{view_id}", key=f"slack:view:{view_id}" if view_id else None
    )
    if not reply.ok:
        message = reply.error or "refused"
        ack(
            response_action="errors",
            errors={forms.error_block(message, fields, default): message[:ERROR_LIMIT]},
        )
        return
    ack()
    transport.submit("form reply", _reply_and_deliver, transport, user, reply)


def _reply_and_deliver(transport: SlackTransport, user: str, reply) -> None:
    channel = transport.notifier.channel_for(user)
    send_reply(
        lambda **message: transport.client.chat_postMessage(channel=channel, **message), reply
    )
    transport.posted()
