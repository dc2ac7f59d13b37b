"""Delivering the outbox: each post once, marked sent with its message id; a failed
delivery stays in the outbox to be retried, and does not stop the others."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from bot.posts import Audience, Post
from bot.services.notify import enqueue_post
from bot.storage.models import OutboxMessage
from bot.transports.console import destination, plain_text
from bot.transports.notifier import Notifier, RecordingNotifier, drain_outbox

NOW = datetime(2027, 3, 5, 1, 0, tzinfo=UTC)


def _post(number: int, target: str) -> Post:
    audience = (
        Audience.one_user(target)
        if target.startswith("U")
        else Audience.site_channel("main", target)
    )
    return Post(
        kind="verdict",
        audience=audience,
        study_id="LACC-007",
        decision_ids=(f"D{number}",),
        facts={"decision": {"id": f"D{number}"}, "by": "U0DOC0001"},
    )


def _queue(db, *targets: str) -> None:
    with db.transaction() as session:
        for number, target in enumerate(targets):
            enqueue_post(session, _post(number, target), dedupe_key=f"key-{number}", now=NOW)


def _statuses(db) -> list[tuple[str, str | None]]:
    with db.transaction(readonly=True) as session:
        rows = session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        return [(row.status, row.message_id) for row in rows]


def test_each_post_is_delivered_once_and_marked_sent(db):
    _queue(db, "#trial-main", "U0DOC0001")
    notifier = RecordingNotifier()
    assert isinstance(notifier, Notifier)
    delivered = drain_outbox(db, notifier, now=NOW, owner="test")
    # the recording notifier keeps the posts as data, exactly as the service queued them
    assert notifier.posts == [_post(0, "#trial-main"), _post(1, "U0DOC0001")]
    assert [p.address for p in notifier.posts] == ["#trial-main", "U0DOC0001"]
    assert [d.message_id for d in delivered] == ["recorded-1", "recorded-2"]
    assert _statuses(db) == [("sent", "recorded-1"), ("sent", "recorded-2")]
    assert drain_outbox(db, notifier, now=NOW, owner="test") == []


def test_a_failed_delivery_is_retried_later_without_stopping_the_others(db):
    _queue(db, "#broken", "#trial-main")

    class Flaky:
        def __init__(self) -> None:
            self.posts: list[Post] = []

        def deliver(self, post: Post) -> str:
            if post.address == "#broken" and not self.posts:
                self.posts.append(post)
                raise ConnectionError("channel unreachable")
            self.posts.append(post)
            return f"ok-{len(self.posts)}"

    notifier = Flaky()
    first = drain_outbox(db, notifier, now=NOW, owner="test")
    assert [(d.post.address, d.error) for d in first] == [
        ("#broken", "ConnectionError"),
        ("#trial-main", None),
    ]
    assert _statuses(db) == [("pending", None), ("sent", "ok-2")]
    assert drain_outbox(db, notifier, now=NOW, owner="test") == []  # backing off
    later = drain_outbox(db, notifier, now=NOW + timedelta(minutes=5), owner="test")
    assert [d.message_id for d in later] == ["ok-3"]
    assert _statuses(db)[0] == ("sent", "ok-3")


@pytest.mark.parametrize(
    ("target", "shown"),
    [("#trial-main", "#trial-main"), ("U0DOC0001", "DM @U0DOC0001"), ("C024BE91L", "C024BE91L")],
)
def test_destinations(target, shown):
    assert destination(target) == shown


def test_plain_text_drops_slack_markup_but_keeps_what_to_type():
    text = "```\n*D1* · *cisplatin — REDUCE* at 80%\n```\n→ `confirm D1` by <@U0DOC|doc> :warning:"
    assert plain_text(text) == "D1 · cisplatin — REDUCE at 80%\n→ `confirm D1` by @U0DOC !"
    assert plain_text("EBRT fraction 1/25* planned\n* provisional") == (
        "EBRT fraction 1/25* planned\n* provisional"
    )


def test_emoji_codes_show_as_emoji_and_times_stay_as_typed():
    assert plain_text(":sunrise: *Daily digest · site main*") == "🌅 Daily digest · site main"
    assert plain_text(":hourglass: LACC-007 cisplatin on hold") == "⏳ LACC-007 cisplatin on hold"
    assert plain_text(":tada: done") == "done"  # a code the console does not know: dropped
    assert (
        plain_text("at 10:31:00 · 2027-03-05T09:31+08:00") == "at 10:31:00 · 2027-03-05T09:31+08:00"
    )
    assert plain_text("source slack:command:12") == "source slack:command:12"


def test_every_emoji_code_a_template_writes_has_its_character():
    import re
    from pathlib import Path

    from bot.transports.console import EMOJI

    root = Path(__file__).resolve().parents[2] / "templates"
    codes = set()
    for path in root.rglob("*.j2"):
        codes |= set(re.findall(r"(?<![\w:]):[a-z][a-z0-9_+-]*:(?![\w:])", path.read_text()))
    assert codes and codes <= set(EMOJI), codes - set(EMOJI)
