"""The materialised calendar: a patient's rows are replaced whole, and "what is due at a
site in a date range" is a range query on (site_id, date)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import text

from bot.storage.calendar_rows import due_at_site, patient_calendar_rows, replace_calendar_rows


class _CalendarEvent:
    """Stands in for the calendar engine's event objects, which offer `to_json()`."""

    def __init__(self, day: date, number: int) -> None:
        self.day, self.number = day, number

    def to_json(self) -> dict:
        return {
            "date": self.day.isoformat(),
            "kind": "radiotherapy",
            "item": "ebrt",
            "phase": "ccrt",
            "number": self.number,
            "window": [self.day.isoformat(), self.day.isoformat()],
            "dose": None,
            "status": "planned",
            "source": "protocol §6.1",
        }


def _week(start: date, count: int = 5) -> list[_CalendarEvent]:
    return [_CalendarEvent(start + timedelta(days=n), n + 1) for n in range(count)]


def test_rows_are_replaced_whole_and_keep_the_calendar_json(db, patient_id, make_patient):
    other = make_patient("LACC-008", "east")
    with db.transaction() as session:
        assert replace_calendar_rows(session, patient_id, "main", _week(date(2026, 12, 1))) == 5
        replace_calendar_rows(session, other, "east", _week(date(2026, 12, 1)))
    with db.transaction() as session:
        replaced = replace_calendar_rows(
            session,
            patient_id,
            "main",
            [
                {
                    "date": "2026-12-03",
                    "kind": "infusion",
                    "item": "cisplatin",
                    "phase": "ccrt",
                    "number": 1,
                    "window": ["2026-12-03", "2026-12-05"],
                    "status": "planned",
                    "dose": {"amount": 40, "unit": "mg/m2", "mg": 64.8},
                }
            ],
        )
        assert replaced == 1
    with db.transaction(readonly=True) as session:
        rows = patient_calendar_rows(session, patient_id)
        assert len(patient_calendar_rows(session, other)) == 5  # another patient untouched
    (row,) = rows
    assert (row.date, row.item, row.window_from, row.window_to) == (
        date(2026, 12, 3),
        "cisplatin",
        date(2026, 12, 3),
        date(2026, 12, 5),
    )
    assert row.payload["dose"] == {"amount": 40, "unit": "mg/m2", "mg": 64.8}


def test_an_empty_calendar_clears_the_patients_rows(db, patient_id):
    with db.transaction() as session:
        replace_calendar_rows(session, patient_id, "main", _week(date(2026, 12, 1)))
        assert replace_calendar_rows(session, patient_id, "main", []) == 0
    with db.transaction(readonly=True) as session:
        assert patient_calendar_rows(session, patient_id) == []


def test_due_at_site_is_an_inclusive_date_range_for_one_site(db, patient_id, make_patient):
    other_site = make_patient("LACC-008", "east")
    second = make_patient("LACC-009", "main")
    with db.transaction() as session:
        replace_calendar_rows(session, patient_id, "main", _week(date(2026, 11, 30), 10))
        replace_calendar_rows(session, second, "main", _week(date(2026, 12, 2), 2))
        replace_calendar_rows(session, other_site, "east", _week(date(2026, 11, 30), 10))
    with db.transaction(readonly=True) as session:
        due = due_at_site(session, "main", date(2026, 12, 2), date(2026, 12, 4))
        given = due_at_site(
            session, "main", date(2026, 12, 2), date(2026, 12, 4), statuses={"given"}
        )
        with_payload = due_at_site(
            session, "main", date(2026, 12, 2), date(2026, 12, 2), with_payload=True
        )
    assert [(r.date.day, r.study_id) for r in due] == [
        (2, "LACC-007"),
        (2, "LACC-009"),
        (3, "LACC-007"),
        (3, "LACC-009"),
        (4, "LACC-007"),
    ]
    assert due[0].patient_id == patient_id and due[0].item == "ebrt" and due[0].number == 3
    assert due[0].payload is None
    assert given == []
    assert with_payload[0].payload["source"] == "protocol §6.1"


def test_calendar_rows_need_an_enrolled_patient(db, patient_id):
    with pytest.raises(ValueError, match="no patient"), db.transaction() as session:
        replace_calendar_rows(session, 999_999, "main", _week(date(2026, 12, 1)))


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"kind": "labs", "item": "x", "phase": "ccrt", "status": "planned"}, "lacks date"),
        (
            {
                "date": "2026-13-01",
                "kind": "labs",
                "item": "x",
                "phase": "ccrt",
                "status": "planned",
            },
            "not an ISO date",
        ),
        (
            {
                "date": "2026-12-01",
                "kind": "labs",
                "item": "x",
                "phase": "ccrt",
                "status": "planned",
                "window": ["2026-12-01"],
            },
            "window must be",
        ),
    ],
)
def test_malformed_calendar_rows_are_refused_and_nothing_changes(db, patient_id, row, message):
    with db.transaction() as session:
        replace_calendar_rows(session, patient_id, "main", _week(date(2026, 12, 1)))
    with pytest.raises(ValueError, match=message), db.transaction() as session:
        replace_calendar_rows(session, patient_id, "main", [row])
    with db.transaction(readonly=True) as session:
        assert len(patient_calendar_rows(session, patient_id)) == 5


def test_the_site_date_index_serves_the_due_query_on_postgres(pg_db, pg_patient_id):
    with pg_db.transaction() as session:
        replace_calendar_rows(session, pg_patient_id, "main", _week(date(2026, 11, 30), 30))
        session.execute(text("SET LOCAL enable_seqscan = off"))  # a tiny table otherwise
        plan = "\n".join(
            session.execute(
                text(
                    "EXPLAIN SELECT * FROM calendar_row WHERE site_id = 'main' "
                    "AND date BETWEEN '2026-12-01' AND '2026-12-07'"
                )
            ).scalars()
        )
    assert "ix_calendar_row_site_date" in plan
