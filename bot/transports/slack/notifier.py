"""The Slack notifier: delivers one outbox post and returns where it landed.

`deliver(post)` posts with `chat.postMessage` (a direct message first gets its channel
from `conversations.open`, remembered per user), continues a long post in the thread of
its first message, and returns `"<channel>:<ts>"` — the message id the outbox records, and
what `chat.update` needs to change the message later.

Alert copies: a decision's alert is posted twice (the site channel, the on-call
investigator's DM). When the verdict on it is delivered — whether the investigator clicked
a button or typed `confirm D12` — every delivered copy is updated in place to say who did
what and when, without its buttons; a copy still waiting in the outbox is delivered
already closed. The updates happen before the verdict is posted, so a failed update
leaves the verdict in the outbox to try again (updating twice is harmless; posting twice
is not).

Files (`upload` posts: an export for the user who asked, the swimmer plot for a channel)
go up with `files_upload_v2` — files.getUploadURLExternal, the bytes to the URL it gives,
files.completeUploadExternal sharing the file into the channel (a user's: their DM) with
the post's text as its comment. A failure at any step raises and the outbox tries the
whole upload again later; the bytes are the post's, checked against their SHA-256.

Every message carries its outbox key as message metadata, and a post claimed before (an
earlier attempt may have reached Slack) is first looked for in the channel's history
(`deliver_keyed`; the posting is `slack_sender.SlackSender.post_keyed`, so `trialbot
serve` and `trialbot tick` post alike — docs/operations.md, "Exactly what is
at-least-once"). Transport retries (429, resets) are slack_sdk's handlers on the client
under `serve`; anything that still fails raises, and the outbox retries the post later.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from sqlalchemy import bindparam
from sqlalchemy import select as core_select
from sqlmodel import select

from bot.clock import Clock
from bot.posts import Post
from bot.render import Renderer
from bot.services import alerts
from bot.settings import SLACK_USER_ID
from bot.storage.database import Database
from bot.storage.models import DecisionRecord, OutboxMessage, parse_label
from bot.transports.slack import blocks as kit
from bot.transports.slack_sender import SlackSender
from bot.transports.text import post_text


class CopiesInFlight(Exception):
    """A verdict found alert copies still being posted elsewhere: retried later."""


def message_id(channel: str, ts: str) -> str:
    return f"{channel}:{ts}"


def split_message_id(value: str) -> tuple[str, str] | None:
    channel, sep, ts = value.partition(":")
    return (channel, ts) if sep and channel and ts else None


def slack_date(moment: datetime) -> str:
    """A time every reader sees in their own timezone (Slack's date token)."""
    epoch = int(moment.timestamp())
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{epoch}^{{date_short_pretty}} at {{time}}|{fallback}>"


def _parts(blocks: list[kit.Block]) -> list[dict[str, Any]]:
    """Blocks as Slack messages (`{"text", "blocks"}`) within its per-message limits."""
    return [{"text": kit.fallback(part) or " ", "blocks": part} for part in kit.messages(blocks)]


# What became of a decision, read for every alert copy delivered: a Core select built
# once (`session.get` would build an ORM load of the whole row each time).
_DECISION = DecisionRecord.__table__.c
_VERDICT = core_select(_DECISION.status, _DECISION.decided_by, _DECISION.decided_at).where(
    _DECISION.id == bindparam("b_id")
)


def closed_alert_blocks(alert_text: str, verdict_text: str, when: datetime) -> list[kit.Block]:
    return [
        *kit.text_sections(kit.without_typed_answer(alert_text)),
        kit.section(f"{kit.escape(verdict_text)} · {slack_date(when)}"),
    ]


@dataclass
class SlackNotifier:
    client: WebClient
    db: Database
    clock: Clock
    renderer: Renderer
    _dm_channels: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        # the posting itself (outbox key as message metadata, the history lookup that
        # adopts what an interrupted attempt already posted, Slack's refusals told apart
        # from outages) is the tick's sender's: one way to post for `serve` and `tick`
        self._poster = SlackSender(self.client, self.renderer, self._dm_channels)

    # --- delivering one post ------------------------------------------------------------
    def deliver(self, post: Post) -> str:
        return self.deliver_keyed(post, key="", resume=False, since=0)[0]

    def deliver_keyed(
        self, post: Post, *, key: str, resume: bool, since: float
    ) -> tuple[str, bool]:
        """Deliver `post`, each message carrying the outbox `key`; with `resume` (an
        earlier attempt may have reached Slack) what the channel already holds under the
        key is adopted, not posted again. Returns (message id, whether it was found)."""
        if post.kind == "attribution":
            return self.attributed(post), False
        if post.kind == "upload":
            return self.upload(post), False
        text = post_text(self.renderer, post, buttons=True)
        if post.kind == "verdict":
            for decision in post.decision_ids:
                self.close_alert(decision, text)
        blocks = kit.post_blocks(post, text)
        if post.kind == "decision_alert" and post.decision_ids:
            verdict = self._verdict(post.decision_ids[0])
            if verdict is not None:
                blocks = closed_alert_blocks(text, *verdict)
        channel, ts, found = self._poster.post_keyed(
            post.address, _parts(blocks), key=key, resume=resume, since=since
        )
        return message_id(channel, ts), found

    def post(self, target: str, blocks: list[kit.Block]) -> str:
        """Post `blocks` (as several messages if needed; the rest in the thread)."""
        channel, ts, _ = self._poster.post_keyed(
            target, _parts(blocks), key="", resume=False, since=0
        )
        return message_id(channel, ts)

    def upload(self, post: Post) -> str:
        """Upload the post's file where it is addressed; `"<channel>:file:<id>"`."""
        channel = self.channel_for(post.address)
        response = self.client.files_upload_v2(**kit.upload(self.renderer, post, channel))
        return kit.uploaded(channel, response)

    def channel_for(self, target: str) -> str:
        """A channel id as it is; a user id becomes the bot's DM channel with them."""
        if not SLACK_USER_ID.match(target):
            return target
        with self._lock:
            known = self._dm_channels.get(target)
        if known:
            return known
        opened = self.client.conversations_open(users=target)
        channel = str(opened["channel"]["id"])
        with self._lock:
            self._dm_channels[target] = channel
        return channel

    # --- alert copies -----------------------------------------------------------------
    def _verdict(self, decision: str) -> tuple[str, datetime] | None:
        """(what became of it, when) once the decision is no longer open."""
        number = parse_label(decision, "D", field="decision")
        with self.db.transaction(readonly=True) as session:
            record = session.execute(_VERDICT, {"b_id": number}).first()
        if record is None or record.status in ("proposed", "info"):
            return None
        by = f" by <@{record.decided_by}>" if record.decided_by else ""
        text = f"{decision} *{record.status}*{by}"
        return text, record.decided_at or self.clock.now()

    def copies(
        self, decision: str, *, in_flight: list[OutboxMessage] | None = None
    ) -> list[tuple[OutboxMessage, tuple[str, str]]]:
        """The delivered copies of `decision`'s alert with their (channel, ts): the channel's
        and the on-call DM, and the escalation steps' (the backup's DM, the channel's
        @here), which carry the same buttons. `in_flight`, if given, receives the copies
        another drainer is posting at this moment (claimed, no `ts` recorded yet)."""
        with self.db.transaction(readonly=True) as session:
            rows = session.exec(
                select(OutboxMessage).where(
                    OutboxMessage.dedupe_key.in_(alerts.copy_keys(decision)),
                    OutboxMessage.status.in_(("sent", "sending")),
                )
            ).all()
        found = []
        for row in rows:
            if row.status == "sending":
                if in_flight is not None:
                    in_flight.append(row)
                continue
            where = split_message_id(row.message_id or "")
            if where is not None:
                found.append((row, where))
        return found

    def close_alert(self, decision: str, verdict_text: str, *, when: datetime | None = None) -> int:
        """Update every delivered copy of the alert: the verdict, its time, no buttons.

        A copy being posted at this moment by another worker or replica read the decision
        as open before the verdict committed, and its `ts` is not recorded yet, so it
        cannot be updated now: the verdict then fails after updating the others
        (`CopiesInFlight`) and is retried — by then that copy is sent, and updated. (In
        one process the drain delivers a verdict after the copies before it.)"""
        moment = when or self.clock.now()
        updated = 0
        in_flight: list[OutboxMessage] = []
        for row, (channel, ts) in self.copies(decision, in_flight=in_flight):
            alert_text = post_text(self.renderer, Post.model_validate(row.payload), buttons=True)
            blocks = closed_alert_blocks(alert_text, verdict_text, moment)
            self.client.chat_update(
                channel=channel, ts=ts, text=kit.fallback(blocks), blocks=blocks
            )
            updated += 1
        if in_flight:
            raise CopiesInFlight(
                f"{decision}: {len(in_flight)} alert copies still being posted; "
                f"{updated} updated, the rest on the next try"
            )
        return updated

    def attributed(self, post: Post) -> str:
        """An attribution is told where its alerts were posted: every delivered copy of
        each alert gets the answer (the attribution buttons go; Confirm / Override stay
        while the decision is open; a decided alert keeps its verdict). Nothing new is
        posted; the id returned is the first copy updated (or `unchanged:` if none)."""
        answer = "yes" if post.facts["irae"] else "no"
        note = f"{post.facts['target']} immune-related: *{answer}* — <@{post.facts['by']}>"
        first: str | None = None
        for subject in post.facts["alerts"]:
            verdict = self._verdict(subject) if subject.startswith("D") else None
            for row, (channel, ts) in self.copies(subject):
                copy = Post.model_validate(row.payload)
                blocks = self._annotated(copy, note, verdict)
                self.client.chat_update(
                    channel=channel, ts=ts, text=kit.fallback(blocks), blocks=blocks
                )
                first = first or message_id(channel, ts)
        return first or f"unchanged:{post.facts['target']}"

    def _annotated(
        self, copy: Post, note: str, verdict: tuple[str, datetime] | None
    ) -> list[kit.Block]:
        text = post_text(self.renderer, copy, buttons=True)
        stamp = f"{note} · {slack_date(self.clock.now())}"
        if verdict is not None:
            return [*closed_alert_blocks(text, *verdict), kit.section(stamp)]
        blocks = [*kit.text_sections(text), kit.section(stamp)]
        if copy.kind == "decision_alert":
            blocks.extend(kit.decision_buttons(d) for d in copy.decision_ids)
        return blocks
