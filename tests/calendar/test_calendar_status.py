"""One status rule: a calendar stored without a "today" and read on a later day gives
every event the status the engine gives it when built on that day."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bot.calendar.status import status_on, stored_status_on
from bot.events import DoseRecord, LabPanel

DAY1 = date(2027, 3, 1)


@pytest.mark.parametrize("offset", [-3, 0, 1, 4, 9, 20, 40, 60, 120, 400])
def test_a_stored_calendar_read_later_agrees_with_the_engine(calendar_for, offset):
    history = [
        DoseRecord(id="E2", date=DAY1, drug="cisplatin", status="given"),
        LabPanel(id="E3", date=DAY1 + timedelta(days=6), results=()),
    ]
    today = DAY1 + timedelta(days=offset)
    stored = calendar_for(DAY1, history=history).events_json()
    live = calendar_for(DAY1, history=history, today=today).events_json()
    assert [e["label"] for e in stored] == [e["label"] for e in live]
    read = [stored_status_on(event, today) for event in stored]
    assert read == [event["status"] for event in live]
    assert {"planned", "due", "overdue", "presumed_given", "given"} & set(read)


def test_the_rule():
    window = {"window_from": date(2027, 3, 8), "window_to": date(2027, 3, 10)}
    visit = {"kind": "labs", "day": date(2027, 3, 9), "presumed_from": None, **window}
    assert status_on(**visit, today=None) == "planned"
    assert status_on(**visit, today=date(2027, 3, 7)) == "planned"
    assert status_on(**visit, today=date(2027, 3, 8)) == "due"
    assert status_on(**visit, today=date(2027, 3, 10)) == "due"
    assert status_on(**visit, today=date(2027, 3, 11)) == "overdue"
    later = {**visit, "presumed_from": date(2027, 3, 11)}
    assert status_on(**later, today=date(2027, 3, 11)) == "presumed_done"
    fraction = {**visit, "kind": "radiotherapy"}
    assert status_on(**fraction, today=date(2027, 3, 9)) == "due"
    assert status_on(**fraction, today=date(2027, 3, 10)) == "presumed_given"
