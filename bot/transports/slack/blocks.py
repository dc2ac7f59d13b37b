"""Posts and replies as Slack Block Kit: mrkdwn escaping, Slack's limits, and for a
decision alert the buttons that answer it.

A click on a button comes back with its `action_id` (`DECISION_CONFIRM`,
`DECISION_OVERRIDE`, `ATTRIBUTE_YES` / `ATTRIBUTE_NO`) and, as its `value`, the decision
id (and for an attribution the entry it asks about, `D12:E45`); the Slack app routes it to
the same confirm / override / attribute services as the typed commands.

Escaping: the product's texts come from the same templates as the console's and are Slack
mrkdwn. Whatever a user typed inside them is escaped here: `&`, `<` and `>` become entities
(Slack's only three), and then the two link forms the templates themselves write — a user
mention `<@U0123ABCD>` and a channel `<#C0123ABCD>` — are restored. So a reason typed as
`<!channel>` or `<http://x|click>` shows literally and pings or links nobody.

Limits (Block Kit reference): 3,000 characters in a section's text, 50 blocks in a
message, 100 in a modal or App Home; messages whose blocks add up to much more than
~12,000 characters are refused (`msg_blocks_too_long`), so a long text is cut into several
messages at line boundaries, never in the middle of a code block.
"""

from __future__ import annotations

import re
from typing import Any

from bot.posts import ALERT_KINDS, Post, file_bytes
from bot.render import Renderer
from bot.transports.text import post_text

DECISION_CONFIRM = "decision_confirm"
DECISION_OVERRIDE = "decision_override"
ATTRIBUTE_YES = "attribute_irae_yes"
ATTRIBUTE_NO = "attribute_irae_no"
ALERT_ACK = "alert_ack"
SECTION_TEXT_LIMIT = 3000  # Slack refuses a section text longer than this
SECTION_LIMIT = SECTION_TEXT_LIMIT
MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
MESSAGE_CHARS = 11000  # summed section text per message, under Slack's undocumented ceiling
FALLBACK_TEXT = 3000  # the notification text beside the blocks

_RESTORE = re.compile(r"&lt;([@#][UWCGD][A-Z0-9]{2,20})&gt;")
# The one special mention the templates write: `@here` opening an escalation post (after
# its emoji). Only there, at the very start of a post's text, where nothing a user typed
# can stand; a typed `<!here>` or `<!channel>` anywhere else stays literal text.
_LEADING_HERE = re.compile(r"\A(:[a-z_]+: )?&lt;!here&gt;")
_FENCE = "```"
# The console's way to answer an alert; in Slack the buttons are the way.
_TYPED_ANSWER = "→ investigator:"

Block = dict[str, Any]


def escape(text: str) -> str:
    """mrkdwn-escape `text`; the templates' own user and channel mentions stay links, and
    so does the `@here` an escalation post opens with (`posts/_escalation.j2`)."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _LEADING_HERE.sub(r"\1<!here>", _RESTORE.sub(r"<\1>", escaped), count=1)


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _pieces(text: str, limit: int) -> list[str]:
    """Cut `text` into pieces of at most `limit` characters at line ends; a code block
    cut in two is closed and reopened, so each piece renders on its own."""
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    in_fence = False
    reserve = len(_FENCE) + 1  # room to close a fence

    def flush() -> None:
        nonlocal current, size
        if current:
            body = "\n".join(current)
            if in_fence:
                body += "\n" + _FENCE
            pieces.append(body)
        current = [_FENCE] if in_fence else []
        size = len(_FENCE) if in_fence else 0

    for raw in text.split("\n"):
        lines = [raw[i : i + limit - 2 * reserve] for i in range(0, len(raw), limit - 2 * reserve)]
        for line in lines or [""]:
            if current and size + 1 + len(line) + reserve > limit:
                flush()
            current.append(line)
            size += len(line) + (1 if size else 0)
            if line.strip().startswith(_FENCE) and line.strip().count(_FENCE) % 2 == 1:
                in_fence = not in_fence
    if current and any(part.strip() for part in current if part != _FENCE):
        body = "\n".join(current)
        pieces.append(body + ("\n" + _FENCE if in_fence else ""))
    return pieces or [""]


def text_sections(text: str, *, escape_text: bool = True) -> list[Block]:
    """The text as sections of ≤ 3,000 characters each."""
    body = escape(text) if escape_text else text
    return [section(piece) for piece in _pieces(body, SECTION_LIMIT) if piece.strip()] or [
        section(" ")
    ]


def messages(blocks: list[Block]) -> list[list[Block]]:
    """`blocks` split into messages of ≤ 50 blocks and ≤ MESSAGE_CHARS characters."""
    out: list[list[Block]] = []
    current: list[Block] = []
    size = 0
    for block in blocks:
        length = len(block.get("text", {}).get("text", "")) if isinstance(block, dict) else 0
        if current and (len(current) >= MESSAGE_BLOCKS or size + length > MESSAGE_CHARS):
            out.append(current)
            current, size = [], 0
        current.append(block)
        size += length
    if current:
        out.append(current)
    return out


def reply_messages(text: str) -> list[tuple[str, list[Block]]]:
    """A reply as one or more Slack messages: (fallback text, blocks) each."""
    chunks = messages(text_sections(text))
    return [(fallback(blocks), blocks) for blocks in chunks]


def fallback(blocks: list[Block]) -> str:
    """The plain `text` beside the blocks (notifications, screen readers)."""
    joined = "\n".join(b["text"]["text"] for b in blocks if b.get("type") == "section")
    return joined[:FALLBACK_TEXT]


# --- posts ----------------------------------------------------------------------------
def text_blocks(text: str) -> list[Block]:
    """`text` (already rendered, not yet escaped) as escaped sections."""
    return text_sections(text)


def _attribution_buttons(decision_id: str, entry_id: str, *, named: bool) -> list[Block]:
    """Immune-related yes / no for one entry (`named`: the entry is said on the button,
    when the alert asks about more than one)."""
    label = f"{entry_id} immune-related" if named else "Immune-related"
    return [
        {
            "type": "button",
            "action_id": action_id,
            "text": {"type": "plain_text", "text": f"{label}: {answer}"},
            "value": f"{decision_id}:{entry_id}",
        }
        for action_id, answer in ((ATTRIBUTE_YES, "yes"), (ATTRIBUTE_NO, "no"))
    ]


def decision_buttons(
    decision_id: str, *, entry_id: str | None = None, named: bool = False
) -> Block:
    """Confirm and Override… for one proposed decision, and Immune-related yes / no for
    the entry whose attribution it asks for (if any)."""
    elements: list[Block] = [
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
            "text": {"type": "plain_text", "text": f"Override {decision_id}…"},
            "value": decision_id,
        },
    ]
    if entry_id:
        elements.extend(_attribution_buttons(decision_id, entry_id, named=named))
    return {"type": "actions", "block_id": f"decision:{decision_id}", "elements": elements}


def asked_entries(decision: dict[str, Any], entry: dict[str, Any]) -> list[str]:
    """The entries whose immune-related attribution `decision` asks for (the engine's
    questions; a row queued before they were data: its own entry, if the immunotherapy rules wait on it)."""
    if "questions" in decision:
        return [
            q["entry"]
            for q in decision["questions"]
            if q["kind"] == "immune_related" and q["entry"]
        ]
    return [entry["id"]] if decision.get("if_immune_related") and entry.get("id") else []


def without_typed_answer(text: str) -> str:
    """An alert's text without the console's "→ investigator: `confirm D…`" line: in
    Slack the buttons (or, once decided, the verdict) take its place."""
    return "\n".join(line for line in text.splitlines() if _TYPED_ANSWER not in line)


def alert_buttons(post: Post) -> list[Block]:
    """Per decision: Confirm / Override… with the first asked entry's Immune-related
    yes / no, then one row per further entry asked about (a button's action_id is unique
    within its block)."""
    asked = asked_entries(post.facts.get("decision") or {}, post.facts.get("entry") or {})
    blocks: list[Block] = []
    for decision_id in post.decision_ids:
        first = asked[0] if asked else None
        blocks.append(decision_buttons(decision_id, entry_id=first, named=len(asked) > 1))
        blocks.extend(
            {
                "type": "actions",
                "block_id": f"decision:{decision_id}:{entry_id}",
                "elements": _attribution_buttons(decision_id, entry_id, named=True),
            }
            for entry_id in asked[1:]
        )
    return blocks


def ack_button(subject: str) -> Block:
    """Acknowledge: stops the alert's escalation (the decision itself stays open)."""
    return {
        "type": "actions",
        "block_id": f"alert:{subject}",
        "elements": [
            {
                "type": "button",
                "action_id": ALERT_ACK,
                "text": {"type": "plain_text", "text": "Acknowledge"},
                "value": subject,
            }
        ],
    }


def post_blocks(post: Post, text: str) -> list[Block]:
    """The blocks of `post` whose text is `text`: a decision alert asks for an answer, and
    an escalating alert can be acknowledged."""
    if post.kind in ("decision_alert", "review_alert"):
        blocks = [*text_sections(text), *alert_buttons(post)]
    else:
        blocks = text_sections(text)
    if post.kind in ALERT_KINDS and post.facts.get("alert"):
        blocks.append(ack_button(post.facts["alert"]))
    return blocks


def message(renderer: Renderer, post: Post) -> dict[str, Any]:
    """What `chat.postMessage` is given for `post`: channel, fallback text and blocks
    (a notifier splits blocks beyond one message's limits, see `messages`)."""
    text = post_text(renderer, post, buttons=True)
    return {"channel": post.address, "text": text, "blocks": post_blocks(post, text)}


def upload(renderer: Renderer, post: Post, channel: str) -> dict[str, Any]:
    """What `files_upload_v2` is given for an `upload` post into `channel`: the file's
    bytes (checked against their SHA-256), its name and title, the post's text as the
    comment."""
    file = post.facts["file"]
    return {
        "channel": channel,
        "content": file_bytes(file),
        "filename": file["name"],
        "title": file["title"],
        "initial_comment": escape(post_text(renderer, post)),
    }


def uploaded(channel: str, response: Any) -> str:
    """How a delivered upload is remembered: `"<channel>:file:<id>"`."""
    file = response.get("file") or {}
    return f"{channel}:file:{file.get('id') or '?'}"


def post_messages(renderer: Renderer, post: Post) -> list[dict[str, Any]]:
    """`post` as one or more `chat.postMessage` calls: a long digest is split into
    paragraphs of sections, at most 50 blocks a message, the rest in the first's thread."""
    if post.kind != "digest":
        return [message(renderer, post)]
    from bot.scheduler.digest import messages as split

    text = post_text(renderer, post, buttons=True)
    return [{"channel": post.address, **part} for part in split(text)]
