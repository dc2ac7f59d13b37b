"""Modal submissions. The override modal goes to the same `verdicts.override` service as
`override D12 reason="…"`; a missing reason or a refusal (role, already decided) is shown
inline on the reason field (`response_action: errors`), so the ack waits for that check —
a few milliseconds of database work, well inside Slack's 3 s."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App

from bot.errors import UserError
from bot.services import verdicts
from bot.services.context import Request
from bot.transports.slack.app import SlackTransport
from bot.transports.slack.views import OVERRIDE_CALLBACK, REASON_BLOCK, submitted_reason

log = logging.getLogger("trialbot.slack")
ERROR_LIMIT = 150


def register(app: App, transport: SlackTransport) -> None:
    @app.view(OVERRIDE_CALLBACK)
    def override(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        decision = str(view.get("private_metadata") or "")
        reason = submitted_reason(view).strip()
        if not reason:
            ack(response_action="errors", errors={REASON_BLOCK: "An override needs a reason."})
            return
        user = str((body.get("user") or {}).get("id") or "")
        request = Request(
            user=user,
            source=f"slack:view:{view.get('id', '')}",
            key=f"slack:view:{view.get('id', '')}" if view.get("id") else None,
        )
        try:
            verdicts.override(transport.ctx, request, decision, reason)
        except UserError as exc:
            ack(response_action="errors", errors={REASON_BLOCK: exc.message[:ERROR_LIMIT]})
            return
        except Exception as exc:  # the transaction rolled back: say so, on the form
            log.error("override submission failed: %s", type(exc).__name__)
            ack(
                response_action="errors",
                errors={REASON_BLOCK: "Something went wrong — nothing was recorded. Try again."},
            )
            return
        ack()
        transport.posted()
