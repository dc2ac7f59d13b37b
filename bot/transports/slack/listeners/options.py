"""Type-ahead for the forms' `external_select` fields: the enrolled study IDs, and all
CTCAE v5.0 terms. Answered within the ack (a lookup in memory or one indexed query)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.transports.slack import forms
from bot.transports.slack.app import SlackTransport


def register(app: App, transport: SlackTransport) -> None:
    @app.options(forms.PATIENT)
    def patients(ack: Ack, payload: dict[str, Any]) -> None:
        ack(options=forms.patient_options(transport.ctx, str(payload.get("value") or "")))

    @app.options(forms.TERM)
    def terms(ack: Ack, payload: dict[str, Any]) -> None:
        ack(options=forms.term_options(transport.ctx, str(payload.get("value") or "")))
