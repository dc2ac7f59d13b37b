"""What a person typed in Slack, as the `/trial` language reads it.

Slack delivers typed text HTML-escaped (`ANC &lt;0.5`) and a mention of the bot as
`<@U0BOT>`; this undoes exactly that, nothing more: the dispatcher parses the rest, as it
does for the console.
"""

from __future__ import annotations

import re

_LEADING_MENTION = re.compile(r"^\s*<@[UW][A-Z0-9]+(?:\|[^>]*)?>[\s:,]*")


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def command_text(text: str, *, bot_user_id: str | None = None) -> str:
    """The command in a slash command, a mention (`@trialbot lab …`) or a DM."""
    body = text or ""
    if bot_user_id:
        body = re.sub(rf"^\s*<@{re.escape(bot_user_id)}(?:\|[^>]*)?>[\s:,]*", "", body)
    else:
        body = _LEADING_MENTION.sub("", body)
    return unescape(body).strip()
