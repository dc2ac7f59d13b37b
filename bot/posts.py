"""Posts as data: what the product tells people, as facts — never as wording or markup.

A service decides *what* is to be said and *to whom*, and queues it in the outbox (in the
transaction that caused it) as a `Post`:

- `kind` — which message it is (`decision_alert`, `entry_summary`, `verdict`, `amendment`,
  `enrolled`, … `upload`: a file); each kind names the facts it must carry (`FACTS`);
- `audience` — a site's channel, the site's on-call investigator, or one user, with the
  address (Slack channel or user id) resolved when it was queued: who was on call then
  is part of what happened;
- `study_id` and `decision_ids` — the patient and the decisions it is about;
- `facts` — the data a rendering needs (the entry, each decision as the engine gave it,
  who did what), fixed when queued.

Nothing here is text, mrkdwn, Block Kit or a button. Each transport renders a post its own
way: the console as text from `templates/posts/<kind>.j2` (`bot.transports.text`), Slack
as Block Kit with the confirm/override buttons (`bot.transports.slack.blocks`), and the
recording notifier keeps the `Post` itself. Because the facts are stored, not the text, an
outbox row rendered a day later — after a template fix — still says the same facts.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

AudienceKind = Literal["site_channel", "on_call", "user"]
PostKind = Literal[
    "decision_alert",
    "entry_summary",
    "verdict",
    "amendment",
    "enrolled",
    "grade_alert",
    "review_alert",
    "digest",
    "reminder",
    "reminders_missed",
    "attribution",
    "upload",
]
FILE_ENCODING = "zlib+base64"
# Posts that climb an escalation chain (facts `alert`: the subject, `escalation`: the step
# beyond the first, or None); each carries an Acknowledge answer.
ALERT_KINDS = ("decision_alert", "grade_alert", "review_alert")

# The facts each kind of post carries (its template reads exactly these, plus study_id).
FACTS: dict[str, tuple[str, ...]] = {
    "decision_alert": ("decision", "entry", "recorded_by", "on_call"),
    "entry_summary": ("entry", "decisions", "grades", "recorded_by", "on_call"),
    "verdict": ("decision", "by"),
    "amendment": ("operation", "label", "reason", "by", "withdrawn", "review"),
    "enrolled": ("site", "summary", "by"),
    "grade_alert": ("entry", "grades", "worst", "recorded_by", "on_call"),
    "review_alert": ("decision", "day", "on_call"),
    "digest": ("digest",),
    "reminder": ("reminder",),
    "reminders_missed": ("site", "day", "missed"),
    # an investigator's attribution of entry `target`: the alerts about it (`alerts`, their
    # subjects: the entry, the decisions it triggered) are updated where they were posted
    "attribution": ("target", "irae", "by", "alerts"),
    # a file for its audience (`file`: see `file_fact`; `about`: what it is, for the
    # comment beside it): an export to the user who asked, the swimmer plot to a channel
    "upload": ("file", "about"),
}


class Audience(BaseModel):
    """Who a post is for, and the address it was resolved to when queued."""

    model_config = ConfigDict(frozen=True)

    kind: AudienceKind
    site: str | None = None
    user: str | None = None  # the on-call investigator, or the one user
    address: str  # a channel (id or "#trial-<site>") or a Slack user id

    @classmethod
    def site_channel(cls, site: str, address: str) -> Audience:
        return cls(kind="site_channel", site=site, address=address)

    @classmethod
    def on_call(cls, site: str, user: str) -> Audience:
        return cls(kind="on_call", site=site, user=user, address=user)

    @classmethod
    def one_user(cls, user: str) -> Audience:
        return cls(kind="user", user=user, address=user)


class Post(BaseModel):
    """One message the product posts, as data (see the module docstring)."""

    model_config = ConfigDict(frozen=True)

    kind: PostKind
    audience: Audience
    study_id: str | None = None
    decision_ids: tuple[str, ...] = ()
    facts: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _has_its_facts(self) -> Post:
        missing = [name for name in FACTS[self.kind] if name not in self.facts]
        if missing:
            raise ValueError(f"a {self.kind} post needs the facts {', '.join(missing)}")
        return self

    @property
    def address(self) -> str:
        return self.audience.address


def file_fact(name: str, title: str, mime: str, data: bytes) -> dict[str, Any]:
    """A file as a post's fact: the bytes compressed and base64-encoded (an outbox row is
    JSON), with their size and SHA-256, so the bytes delivered are checked to be the bytes
    queued — an export is what the log said when it was asked for, even if it is delivered
    after an outage."""
    return {
        "name": name,
        "title": title,
        "mime": mime,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "encoding": FILE_ENCODING,
        "data": base64.b64encode(zlib.compress(data, 6)).decode("ascii"),
    }


def file_bytes(fact: dict[str, Any]) -> bytes:
    """The bytes of a `file_fact`; a damaged one raises (the outbox keeps the row)."""
    if fact.get("encoding") != FILE_ENCODING:
        raise ValueError(f"unknown file encoding {fact.get('encoding')!r}")
    data = zlib.decompress(base64.b64decode(fact["data"]))
    if hashlib.sha256(data).hexdigest() != fact["sha256"] or len(data) != fact["size"]:
        raise ValueError(f"the file {fact.get('name')!r} does not match its checksum")
    return data


__all__ = [
    "ALERT_KINDS",
    "FACTS",
    "Audience",
    "AudienceKind",
    "Post",
    "PostKind",
    "file_bytes",
    "file_fact",
]
