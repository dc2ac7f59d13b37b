"""Modals (Block Kit views): what trialbot opens and what their submissions carry."""

from __future__ import annotations

from typing import Any

OVERRIDE_CALLBACK = "decision_override"
REASON_BLOCK = "reason"
REASON_ACTION = "reason_input"


def override_modal(decision: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": OVERRIDE_CALLBACK,
        "private_metadata": decision,
        "title": {"type": "plain_text", "text": f"Override {decision}"[:24]},
        "submit": {"type": "plain_text", "text": "Override"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"The protocol action of *{decision}* will not be taken. "
                    "The reason is kept in the audit trail and posted to the site channel.",
                },
            },
            {
                "type": "input",
                "block_id": REASON_BLOCK,
                "label": {"type": "plain_text", "text": "Reason"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": REASON_ACTION,
                    "multiline": True,
                    "max_length": 1000,
                },
            },
        ],
    }


def submitted_reason(view: dict[str, Any]) -> str:
    values = (view.get("state") or {}).get("values") or {}
    return str(((values.get(REASON_BLOCK) or {}).get(REASON_ACTION) or {}).get("value") or "")
