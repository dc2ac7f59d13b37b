"""App Home: the user's site's day — due today, the decisions awaiting an investigator,
active holds and reductions — published when the user opens the Home tab.

The first two are the replies of `today` and `decisions` through the same dispatcher as
everywhere else (so Home says what the command says); holds and reductions come from
`queries.modified_treatment`. A view holds at most 100 blocks: a long day is cut, with a
pointer to the command that shows it all. Buttons at the top open the lab, AE and dose
forms, as `/trial lab`, `/trial ae` and `/trial dose` alone do (`listeners/forms`).
"""

from __future__ import annotations

from typing import Any

from bot.errors import UserError
from bot.services import queries
from bot.services.context import Request
from bot.transports.slack import blocks as kit
from bot.transports.slack.app import SlackTransport

SECTION_BUDGET = 30  # per part, so three parts and the header stay under 100 blocks
FORM_BUTTONS = (("lab", "Enter labs"), ("ae", "Report an adverse event"), ("dose", "Record a dose"))


def form_buttons() -> kit.Block:
    return {
        "type": "actions",
        "block_id": "home_forms",
        "elements": [
            {
                "type": "button",
                "action_id": f"home_open_{which}",
                "text": {"type": "plain_text", "text": label},
                "value": which,
            }
            for which, label in FORM_BUTTONS
        ],
    }


def _part(text: str, command: str) -> list[kit.Block]:
    sections = kit.text_sections(text)
    if len(sections) > SECTION_BUDGET:
        sections = sections[: SECTION_BUDGET - 1]
        sections.append(kit.section(f"… more with `/trial {command}`"))
    return sections


def home_view(transport: SlackTransport, user: str) -> dict[str, Any]:
    today = transport.run(user, "today", source="slack:home", key=None)
    decisions = transport.run(user, "decisions", source="slack:home", key=None)
    blocks: list[kit.Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": "trialbot — your site today"}},
        form_buttons(),
        *_part(today.text, "today"),
        {"type": "divider"},
        *_part(decisions.text, "decisions"),
        {"type": "divider"},
    ]
    try:
        modified = queries.modified_treatment(
            transport.ctx, Request(user=user, source="slack:home")
        )
        text = transport.ctx.renderer.render("slack/home_treatment.j2", **modified)
    except UserError as exc:  # no role yet: the two replies above already say so
        text = exc.message
    blocks.extend(_part(text, "patient <study ID>"))
    return {"type": "home", "blocks": blocks[: kit.VIEW_BLOCKS]}


def publish(transport: SlackTransport, user: str) -> None:
    transport.client.views_publish(user_id=user, view=home_view(transport, user))
