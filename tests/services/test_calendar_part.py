"""`calendar from= weeks=`: the service chooses the part of the calendar (whole calendar
weeks, Monday to Sunday, from the given day), the handler only hands it on."""

from __future__ import annotations

from datetime import date, timedelta

from bot.services import enrolment, queries

from .conftest import DAY1, NURSE, as_user


def _calendar(ctx, **part):
    return queries.calendar(ctx, as_user(NURSE), "LACC-007", **part)


def test_the_part_of_a_calendar_is_whole_weeks_from_the_day_given(ctx):
    enrolment.enrol(ctx, as_user(NURSE), "LACC-007", start=DAY1, height=160, weight=55)
    whole = _calendar(ctx)
    dates = [date.fromisoformat(e["date"]) for e in whole.events]
    assert whole.data["total"] == len(whole.events) > 50

    wednesday = DAY1 + timedelta(days=9)  # week +1, a Wednesday
    part = _calendar(ctx, start=wednesday, weeks=1)
    shown = [date.fromisoformat(e["date"]) for e in part.events]
    # from Wednesday to that week's Sunday: not seven days on, the next Monday excluded
    assert shown == [d for d in dates if wednesday <= d <= DAY1 + timedelta(days=13)]
    assert shown and part.data["total"] == whole.data["total"]

    later = _calendar(ctx, start=wednesday)
    assert [date.fromisoformat(e["date"]) for e in later.events] == [
        d for d in dates if d >= wednesday
    ]
    # weeks without a day: from the first event's week (screening, before day 1)
    first_two = _calendar(ctx, weeks=2)
    monday = dates[0] - timedelta(days=dates[0].weekday())
    assert dates[0] < DAY1
    assert [date.fromisoformat(e["date"]) for e in first_two.events] == [
        d for d in dates if d < monday + timedelta(weeks=2)
    ]
    # past the end: nothing, and still the whole count
    assert _calendar(ctx, start=dates[-1] + timedelta(days=1), weeks=3).events == []
