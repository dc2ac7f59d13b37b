"""`today` and `week` at a busy site: filtered and counted in SQL, summarised by item and
paged 10 patients at a time (`week page=2`), each page at most two Slack messages
within Block Kit's limits; the pages together are exactly the unpaged answer. On SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from bot.calendar.status import stored_status_on
from bot.commands import run
from bot.services import queries
from bot.storage.calendar_rows import status_on_sql
from bot.storage.models import CalendarRow
from bot.transports.slack.blocks import MESSAGE_BLOCKS, SECTION_TEXT_LIMIT, reply_messages
from tests.scheduler.conftest import ADMIN, NURSE, VIEWER, as_user, enrol, make_context

PATIENTS = 32
DAY1 = date(2027, 3, 8)


@pytest.fixture
def busy(db):
    from bot.clock import FixedClock
    from bot.services.members import set_role

    clock = FixedClock(datetime(2027, 3, 1, 1, 0, tzinfo=UTC))
    ctx = make_context(db, clock)
    set_role(ctx, as_user(ADMIN), NURSE, "coordinator", site="main")
    set_role(ctx, as_user(ADMIN), VIEWER, "viewer", site="main")
    for n in range(PATIENTS):
        # day 1 spread over five weeks: fractions, infusions, labs and visits every day
        enrol(ctx, f"LACC-{n + 100}", start=DAY1 + timedelta(weeks=n % 5 - 3))
    clock.set(datetime(2027, 3, 16, 1, 0, tzinfo=UTC))  # Tue 09:00 at the site
    return ctx


def _ask(ctx, text):
    reply = run(ctx, as_user(VIEWER), text)
    assert reply.ok, reply.text
    return reply


def _key(event):
    return (event["date"], event["study_id"], event["key"])


@pytest.mark.parametrize("command", ["today", "week"])
def test_pages_summarise_and_together_are_the_whole_answer(busy, monkeypatch, command):
    pages = [_ask(busy, f"{command} page={n}") for n in (1, 2, 3, 4)]
    first = pages[0].text
    assert f"{PATIENTS} patients · page 1 of 4" in first
    assert f"next: `{command} page=2`" in first and "next:" not in pages[3].text
    assert "• ebrt:" in first  # the summary, by item
    shown = [{e["study_id"] for e in p.events} for p in pages]
    assert [len(s) for s in shown] == [10, 10, 10, PATIENTS - 30]
    assert set.union(*shown) == {f"LACC-{n + 100}" for n in range(PATIENTS)}
    for reply in pages:  # within Block Kit's limits
        messages = reply_messages(reply.text)
        assert 1 <= len(messages) <= 2  # nothing here records a visit: the worst case
        for _, blocks in messages:
            assert len(blocks) <= MESSAGE_BLOCKS
            assert all(len(b["text"]["text"]) <= SECTION_TEXT_LIMIT for b in blocks)
    past = _ask(busy, f"{command} page=5")
    assert past.events == [] and "page 5 is past the end: 4 pages" in past.text

    monkeypatch.setattr(queries, "PAGE_PATIENTS", 1000)
    whole = _ask(busy, command)
    assert "page 1 of" not in whole.text  # one page: no summary, as before
    paged = sorted((e for p in pages for e in p.events), key=_key)
    assert paged == sorted(whole.events, key=_key)


def test_a_page_is_a_whole_number_from_one(busy):
    reply = run(busy, as_user(VIEWER), "week page=0")
    assert not reply.ok and "page" in reply.text


@pytest.mark.parametrize("offset", [-40, -9, -1, 0, 1, 6, 30])
def test_the_sql_status_rule_is_the_calendar_cores(busy, offset):
    """`status_on_sql` says of every stored row what `stored_status_on` says."""
    today = date(2027, 3, 16) + timedelta(days=offset)
    with busy.db.transaction(readonly=True) as session:
        rows = session.execute(
            select(CalendarRow.payload, status_on_sql(today)).where(
                CalendarRow.date <= date(2027, 6, 30)
            )
        ).all()
    assert len(rows) > 1000
    wrong = [
        (p["key"], p["date"], sql, stored_status_on(p, today))
        for p, sql in rows
        if sql != stored_status_on(p, today)
    ]
    assert wrong == []
