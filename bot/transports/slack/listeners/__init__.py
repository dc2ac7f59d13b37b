"""Bolt listeners by kind, each a thin adapter onto the command language and the services:
`register(app, transport)` wires them all."""

from __future__ import annotations

from slack_bolt import App

from bot.transports.slack.app import SlackTransport
from bot.transports.slack.listeners import actions, commands, events, forms, options, views


def register(app: App, transport: SlackTransport) -> None:
    commands.register(app, transport)
    events.register(app, transport)
    actions.register(app, transport)
    views.register(app, transport)
    forms.register(app, transport)
    options.register(app, transport)
