"""The materialised calendar: every patient's planned events as rows, so "what is due at
a site this week" is one index range scan on (site_id, date) instead of recomputing
every patient's calendar.

The rows are derived data. `replace_calendar_rows` swaps a patient's whole set inside the
transaction that changed the patient (after `lock_patient`), so readers see the old set
or the new one, never a mix.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from sqlalchemy import delete, insert
from sqlmodel import Session, select

from bot.storage.jsonvalues import to_json_value
from bot.storage.models import CalendarRow, Patient

REQUIRED_KEYS = ("date", "kind", "item", "phase", "status")


class _HasJson(Protocol):
    def to_json(self) -> Mapping[str, Any]: ...


def _as_date(value: Any, key: str, index: int) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"calendar row {index}: {key} {value!r} is not an ISO date") from None


def _row_values(
    payload: dict[str, Any], patient: Patient, site_id: str, index: int
) -> dict[str, Any]:
    missing = [key for key in REQUIRED_KEYS if payload.get(key) in (None, "")]
    if missing:
        raise ValueError(f"calendar row {index} lacks {', '.join(missing)}: {payload}")
    window = payload.get("window") or (None, None)
    if len(window) != 2:
        raise ValueError(f"calendar row {index}: window must be [from, to], got {window!r}")
    number = payload.get("number")
    return {
        "patient_id": patient.id,
        "study_id": patient.study_id,
        "site_id": site_id,
        "date": _as_date(payload["date"], "date", index),
        "kind": str(payload["kind"]),
        "item": str(payload["item"]),
        "phase": str(payload["phase"]),
        "number": int(number) if number is not None else None,
        "window_from": _as_date(window[0], "window", index),
        "window_to": _as_date(window[1], "window", index),
        "status": str(payload["status"]),
        "payload": payload,
    }


def replace_calendar_rows(
    session: Session,
    patient_id: int,
    site_id: str,
    rows: Iterable[Mapping[str, Any] | _HasJson],
) -> int:
    """Replace the patient's calendar rows with `rows` (the calendar's event JSON:
    `date`, `kind`, `item`, `phase`, `status`, optional `number` and `window` [from, to];
    the whole object is kept as `payload`). Returns how many rows were written."""
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise ValueError(f"no patient with id {patient_id}")
    # One JSON conversion for the whole calendar: a hundred small ones cost more than the
    # insert itself.
    payloads = to_json_value(
        [row.to_json() if hasattr(row, "to_json") else dict(row) for row in rows]
    )
    values = [_row_values(payload, patient, site_id, i) for i, payload in enumerate(payloads)]
    session.execute(
        delete(CalendarRow)
        .where(CalendarRow.patient_id == patient_id)
        .execution_options(synchronize_session=False)
    )
    if values:
        session.execute(insert(CalendarRow), values)
    return len(values)


@dataclass(frozen=True, slots=True)
class DueItem:
    """One calendar event due at a site: what a digest or `/trial due` lists."""

    patient_id: int
    study_id: str
    date: date
    kind: str
    item: str
    phase: str
    number: int | None
    window_from: date | None
    window_to: date | None
    status: str
    payload: dict[str, Any] | None  # the calendar event's JSON, when asked for


_DUE_COLUMNS = (
    CalendarRow.patient_id,
    CalendarRow.study_id,
    CalendarRow.date,
    CalendarRow.kind,
    CalendarRow.item,
    CalendarRow.phase,
    CalendarRow.number,
    CalendarRow.window_from,
    CalendarRow.window_to,
    CalendarRow.status,
)


def due_at_site(
    session: Session,
    site_id: str,
    start: date,
    end: date,
    *,
    statuses: Collection[str] | None = None,
    with_payload: bool = False,
) -> list[DueItem]:
    """Calendar events at `site_id` dated `start` to `end` inclusive, by date, study ID.

    One index range scan on (site_id, date), no join. Plain rows rather than ORM objects,
    and the JSON payload only when `with_payload` (decoding it is most of the cost for a
    busy site). `statuses` narrows the result (e.g. only "planned").
    """
    payload = CalendarRow.payload if with_payload else None
    columns = (*_DUE_COLUMNS, payload) if payload is not None else _DUE_COLUMNS
    statement = select(*columns).where(
        CalendarRow.site_id == site_id, CalendarRow.date >= start, CalendarRow.date <= end
    )
    if statuses is not None:
        statement = statement.where(CalendarRow.status.in_(list(statuses)))
    statement = statement.order_by(CalendarRow.date, CalendarRow.study_id, CalendarRow.id)
    if with_payload:
        return [DueItem(*row) for row in session.execute(statement)]
    return [DueItem(*row, None) for row in session.execute(statement)]


def patient_calendar_rows(session: Session, patient_id: int) -> list[CalendarRow]:
    """The patient's calendar rows, by date."""
    return list(
        session.exec(
            select(CalendarRow)
            .where(CalendarRow.patient_id == patient_id)
            .order_by(CalendarRow.date, CalendarRow.id)
        )
    )
