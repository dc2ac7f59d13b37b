"""The lab, AE and dose forms: opened by `/trial lab`, `/trial ae` or `/trial dose` with
nothing after them (or App Home's buttons), submitted through the dispatcher as the typed
command. The check runs before the ack so that a refusal can be shown on its field
(`response_action: errors`); the reply then goes to the person by direct message, and the
posts it caused are delivered."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.transports.slack import forms
from bot.transports.slack.app import SlackTransport, send_reply

ERROR_LIMIT = 150
OTHERS_HINT = "e.g. BUN 7.1 — `/trial help lab` lists analytes and units"
FORMS = ("lab", "ae", "dose")


def form_view(transport: SlackTransport, which: str) -> dict[str, Any]:
    if which == "lab":
        return forms.lab_form(transport.ctx, OTHERS_HINT)
    if which == "dose":
        return forms.dose_form(transport.ctx)
    return forms.ae_form(transport.ctx)


def open_form(transport: SlackTransport, client: WebClient, which: str, trigger_id: str) -> None:
    client.views_open(trigger_id=trigger_id, view=form_view(transport, which))


def register(app: App, transport: SlackTransport) -> None:
    @app.action(forms.TERM)
    def term_chosen(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        term = str((action.get("selected_option") or {}).get("value") or "")
        view = body.get("view") or {}
        transport.soon("form update", _update_ae_form, transport, client, view, term)

    for which in FORMS:

        @app.action(f"home_open_{which}")
        def home_button(
            ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
        ) -> None:
            ack()
            form = str(action.get("action_id") or "").removeprefix("home_open_")
            trigger = str(body.get("trigger_id") or "")
            transport.soon("form from home", open_form, transport, client, form, trigger)

    @app.view(forms.LAB_CALLBACK)
    def lab_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        errors = forms.lab_errors(transport.ctx, view)
        if errors:
            ack(
                response_action="errors",
                errors={block: text[:ERROR_LIMIT] for block, text in errors.items()},
            )
            return
        ctx = transport.ctx
        fields = (*forms.LAB_FIELDS, *(forms.analyte_block(a) for a in forms.lab_analytes(ctx)))
        _submit(
            transport,
            ack,
            body,
            view,
            forms.lab_command(ctx, view),
            fields,
            forms.PANEL,
            lambda message: forms.lab_field_of(ctx, message),
        )

    @app.view(forms.DOSE_CALLBACK)
    def dose_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        _submit(transport, ack, body, view, forms.dose_command(view), forms.DOSE_FIELDS, forms.DRUG)

    @app.view(forms.AE_CALLBACK)
    def ae_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        _submit(transport, ack, body, view, forms.ae_command(view), forms.AE_FIELDS, forms.TERM)


def _update_ae_form(
    transport: SlackTransport, client: WebClient, view: dict[str, Any], term: str
) -> None:
    client.views_update(
        view_id=view.get("id"), hash=view.get("hash"), view=forms.ae_form(transport.ctx, term)
    )


def _submit(
    transport: SlackTransport,
    ack: Ack,
    body: dict[str, Any],
    view: dict[str, Any],
    text: str,
    fields: tuple[str, ...],
    default: str,
    field_of: Callable[[str], str | None] = lambda message: None,
) -> None:
    user = str((body.get("user") or {}).get("id") or "")
    view_id = str(view.get("id") or "")
    reply = transport.run(
        user, text, source=f"slack:view:{view_id}", key=f"slack:view:{view_id}" if view_id else None
    )
    if not reply.ok:
        message = reply.error or "refused"
        block = field_of(message) or forms.error_block(message, fields, default)
        ack(response_action="errors", errors={block: message[:ERROR_LIMIT]})
        return
    ack()
    transport.submit("form reply", _reply_and_deliver, transport, user, reply)


def _reply_and_deliver(transport: SlackTransport, user: str, reply) -> None:
    channel = transport.notifier.channel_for(user)
    send_reply(
        lambda **message: transport.client.chat_postMessage(channel=channel, **message), reply
    )
    transport.posted()
