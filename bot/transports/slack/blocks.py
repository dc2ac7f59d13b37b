"""Posts as Slack Block Kit: the text section, and for a decision alert the buttons that
answer it.

A click on a button comes back with its `action_id` (`DECISION_CONFIRM`,
`DECISION_OVERRIDE`) and the decision id as its `value`; the Slack app routes it to the
same confirm/override services as the typed commands.
"""

from __future__ import annotations

from typing import Any

from bot.posts import Post
from bot.render import Renderer
from bot.transports.text import post_text

DECISION_CONFIRM = "decision_confirm"
DECISION_OVERRIDE = "decision_override"
SECTION_TEXT_LIMIT = 3000  # Slack refuses a section text longer than this

Block = dict[str, Any]


def text_blocks(text: str) -> list[Block]:
    return [{"type": "section", "text": {"type": "mrkdwn", "text": text[:SECTION_TEXT_LIMIT]}}]


def decision_buttons(decision_id: str) -> Block:
    """Confirm and override, for one proposed decision."""
    return {
        "type": "actions",
        "block_id": f"decision:{decision_id}",
        "elements": [
            {
                "type": "button",
                "style": "primary",
                "action_id": DECISION_CONFIRM,
                "text": {"type": "plain_text", "text": f"Confirm {decision_id}"},
                "value": decision_id,
            },
            {
                "type": "button",
                "style": "danger",
                "action_id": DECISION_OVERRIDE,
                "text": {"type": "plain_text", "text": f"Override {decision_id}"},
                "value": decision_id,
            },
        ],
    }


def post_blocks(post: Post, text: str) -> list[Block]:
    """The blocks of `post` whose text is `text`: a decision alert asks for an answer."""
    blocks = text_blocks(text)
    if post.kind == "decision_alert":
        blocks.extend(decision_buttons(decision_id) for decision_id in post.decision_ids)
    return blocks


def message(renderer: Renderer, post: Post) -> dict[str, Any]:
    """What `chat.postMessage` is given for `post`: channel, fallback text and blocks."""
    text = post_text(renderer, post)
    return {"channel": post.address, "text": text, "blocks": post_blocks(post, text)}
