"""What a Slack Web API method needs the bot token to be granted, for the fake Slacks.

Slack answers a call whose token lacks the method's scope with HTTP 200, `ok: false`,
`error: missing_scope` and the scope it `needed`. The fakes grant, by default, exactly the
bot scopes `deploy/slack-app-manifest.yml` asks for, so a call the app makes without the
manifest granting it fails in the tests as it would in a workspace (it once did: the
history read that avoids re-posting after a crash needed `channels:history`).

Scopes per method from Slack's method reference (any one of them suffices); a method not
listed needs no scope (`auth.test`, `views.*`, `response_url`) or an app-level token
(`apps.connections.open`, checked by the fakes on the token's kind).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

MANIFEST = Path(__file__).resolve().parents[1] / "deploy" / "slack-app-manifest.yml"

_HISTORY = {
    # by the conversation id's first letter: a public or private channel, a DM, a group DM
    "C": ("channels:history", "groups:history"),
    "G": ("groups:history", "mpim:history"),
    "D": ("im:history",),
}

METHOD_SCOPES: dict[str, tuple[str, ...]] = {
    "chat.postMessage": ("chat:write",),
    "chat.postEphemeral": ("chat:write",),
    "chat.update": ("chat:write",),
    "conversations.open": ("im:write", "mpim:write"),
    "files.getUploadURLExternal": ("files:write",),
    "files.completeUploadExternal": ("files:write",),
}


def manifest_scopes() -> frozenset[str]:
    manifest = yaml.safe_load(MANIFEST.read_text())
    return frozenset(manifest["oauth_config"]["scopes"]["bot"])


def needed(method: str, params: dict[str, Any]) -> tuple[str, ...]:
    if method in ("conversations.history", "conversations.replies"):
        channel = str(params.get("channel") or "")
        return _HISTORY.get(channel[:1], ("channels:history",))
    return METHOD_SCOPES.get(method, ())


def refusal(method: str, params: dict[str, Any], granted: frozenset[str]) -> dict | None:
    """Slack's answer when `granted` lacks every scope `method` accepts, else None."""
    accepted = needed(method, params)
    if not accepted or granted.intersection(accepted):
        return None
    return {
        "ok": False,
        "error": "missing_scope",
        "needed": accepted[0],
        "provided": ",".join(sorted(granted)),
    }
