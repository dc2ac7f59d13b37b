"""The append-only event log: the only way rows get into `event`, and how to read them.

There is deliberately no update or delete here (and the database refuses both): a wrong
entry is fixed by appending a correction (`corrects=`) or a void (`voids=`) that names the
original and says why. Readers apply amendments; the original stays for the record.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session, or_, select

from bot.clock import as_utc
from bot.errors import UserError
from bot.events import Event, parse_event
from bot.storage.jsonvalues import to_json_value
from bot.storage.models import EventRecord, event_label


def _amended_target(session: Session, patient_id: int, target_id: int, how: str) -> EventRecord:
    target = session.get(EventRecord, target_id)
    label = event_label(target_id)
    if target is None or target.patient_id != patient_id:
        raise UserError(
            f"{label} is not an entry of this patient, so it cannot be {how}", field="event"
        )
    if target.voids is not None:
        raise UserError(
            f"{label} is itself a void of {event_label(target.voids)}; "
            "record the entry again instead of amending the void",
            field="event",
        )
    later = session.exec(
        select(EventRecord)
        .where(or_(EventRecord.corrects == target_id, EventRecord.voids == target_id))
        .order_by(EventRecord.id)
    ).first()
    if later is not None:
        verb = "voided" if later.voids == target_id else "corrected"
        hint = "" if later.voids == target_id else f"; amend {later.label} instead"
        raise UserError(f"{label} was already {verb} by {later.label}{hint}", field="event")
    return target


def append_event(
    session: Session,
    *,
    patient_id: int,
    kind: str,
    clinical_date: date,
    payload: Mapping[str, Any] | BaseModel,
    recorded_by: str,
    source: str,
    now: datetime,
    corrects: int | None = None,
    voids: int | None = None,
    reason: str | None = None,
    request_key: str | None = None,
) -> EventRecord:
    """Append one entry to the patient's log and return it (with its id assigned).

    `payload` is the `bot.events` model (or its JSON dump). An amendment names the event
    it `corrects` or `voids` and needs a `reason`; the target must be this patient's, and
    neither a void nor already amended (amend the latest version instead). Call it after
    `lock_patient`, inside the unit of work's transaction.
    """
    if not kind.strip():
        raise ValueError("an event needs a kind")
    if not recorded_by.strip() or not source.strip():
        raise ValueError("an event needs who recorded it and where it came from")
    if corrects is not None and voids is not None:
        raise UserError("an entry either corrects or voids another one, not both", field="event")
    amended = corrects if corrects is not None else voids
    if amended is not None:
        if reason is None or not reason.strip():
            how = "a correction" if corrects is not None else "a void"
            raise UserError(
                f"{how} needs a reason", field="reason", allowed="a short free-text explanation"
            )
        _amended_target(
            session, patient_id, amended, "corrected" if corrects is not None else "voided"
        )
    body = to_json_value(payload)
    if not isinstance(body, dict):
        raise ValueError("an event payload is a JSON object")
    if "date" in body and body["date"] != clinical_date.isoformat():
        raise ValueError(f"payload date {body['date']} differs from clinical_date {clinical_date}")
    if "kind" in body and body["kind"] != kind:
        raise ValueError(f"payload kind {body['kind']!r} differs from kind {kind!r}")
    row = EventRecord(
        patient_id=patient_id,
        kind=kind,
        clinical_date=clinical_date,
        recorded_at=as_utc(now, what="now"),
        recorded_by=recorded_by,
        source=source,
        payload=body,
        corrects=corrects,
        voids=voids,
        reason=reason.strip() if reason else None,
        request_key=request_key,
    )
    session.add(row)
    session.flush()
    return row


def patient_events(session: Session, patient_id: int) -> list[EventRecord]:
    """Every entry of the patient's log, amendments included, in the order recorded."""
    return list(
        session.exec(
            select(EventRecord).where(EventRecord.patient_id == patient_id).order_by(EventRecord.id)
        )
    )


def clinical_event(row: EventRecord) -> Event:
    """The `bot.events` model stored in `row`, carrying the row's id ("E45") and its
    recording order as `seq`."""
    data = dict(row.payload)
    data["id"] = row.label
    data["seq"] = row.id or 0
    data.setdefault("date", row.clinical_date.isoformat())
    return parse_event(data)
