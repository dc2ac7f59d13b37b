"""`trialbot audit verify`, all of it: the chain, the rows it covers, and the projections.

1. The audit chain itself (`verify_chain`): every row's hash, every link, no gap in ids.
2. The data it covers (`verify_rows`): each event, decision, patient and member row
   against the hash the chain recorded for it — an edited, deleted or unaudited row, and
   an empty chain beside data, are named.
3. The projections against a rebuild from the log: each `decision` row against the
   proposal and verdict entries of the log (its drug, action and status), each proposal
   entry against its `decision` row, and each patient's `calendar_row` set against the
   calendar rebuilt from the patient's effective history.

The first problem found is returned; None means everything holds.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

from bot.services import derive
from bot.services.context import ServiceContext
from bot.storage.audit import verify_chain
from bot.storage.eventlog import patient_events
from bot.storage.integrity import verify_rows
from bot.storage.jsonvalues import canonical_json
from bot.storage.models import CalendarRow, DecisionRecord, Patient, Site


@dataclass(frozen=True)
class Problem:
    """The first thing that does not hold: where (`table`, `row`), and what."""

    table: str  # "audit", "event", "decision", "patient", "member", "calendar_row"
    row: str  # "12", "E5", "D3", "AB-007", "U0NURSE01"
    field: str  # what disagrees: "hash", "prev_hash", "id", "content", "status", …
    problem: str

    def __str__(self) -> str:
        return f"{self.table} {self.row}: {self.problem}"


def verify(ctx: ServiceContext, session: Session) -> Problem | None:
    broken = verify_chain(session)
    if broken is not None:
        return Problem("audit", str(broken.row_id), broken.field, broken.problem)
    row = verify_rows(session)
    if row is not None:
        return Problem(row.table, row.key, "content", row.problem)
    return verify_projections(ctx, session)


def verify_projections(ctx: ServiceContext, session: Session) -> Problem | None:
    patients = session.exec(select(Patient).order_by(Patient.id)).all()
    for patient in patients:
        problem = _decisions_of(session, patient) or _calendar_of(ctx, session, patient)
        if problem is not None:
            return problem
    return None


def _decisions_of(session: Session, patient: Patient) -> Problem | None:
    rows = patient_events(session, patient.id)
    proposals: dict[str, tuple[int, dict]] = {}
    verdicts: dict[str, str] = {}
    for row in rows:
        if row.kind == "proposal":
            proposals[str(row.payload.get("decision_id"))] = (row.id, row.payload)
        elif row.kind == "verdict":
            verdicts[str(row.payload.get("decision_id"))] = str(row.payload.get("status"))
    records = session.exec(
        select(DecisionRecord)
        .where(DecisionRecord.patient_id == patient.id)
        .order_by(DecisionRecord.id)
    ).all()
    for record in records:
        label = record.label
        if not record.needs_confirmation:
            if record.status != "info":
                return Problem(
                    "decision",
                    label,
                    "status",
                    f"it needed no confirmation, so its status is info, but the table says "
                    f"{record.status}",
                )
            continue
        proposal = proposals.pop(label, None)
        if proposal is None or record.proposal_event_id != proposal[0]:
            return Problem(
                "decision",
                label,
                "proposal_event_id",
                "the log has no proposal entry for it: the row does not come from the log",
            )
        payload = proposal[1]
        for column in ("drug", "action"):
            if getattr(record, column) != payload.get(column):
                return Problem(
                    "decision",
                    label,
                    column,
                    f"the table says {column} {getattr(record, column)!r} but its proposal "
                    f"E{proposal[0]} says {payload.get(column)!r}",
                )
        expected = verdicts.get(label, "proposed")
        if record.status != expected:
            return Problem(
                "decision",
                label,
                "status",
                f"the table says {record.status} but the log says {expected}",
            )
    if proposals:
        label, (event_id, _payload) = min(proposals.items(), key=lambda item: item[1][0])
        return Problem(
            "decision",
            label,
            "missing",
            f"proposal E{event_id} of {patient.study_id} in the log has no decision row {label}",
        )
    return None


def _calendar_of(ctx: ServiceContext, session: Session, patient: Patient) -> Problem | None:
    site = session.get(Site, patient.site_id)
    history = derive.history_of(patient_events(session, patient.id))
    expected = derive.calendar_for(ctx, patient, site, history).events_json()
    stored = session.exec(
        select(CalendarRow.payload)
        .where(CalendarRow.patient_id == patient.id)
        .order_by(CalendarRow.id)
    ).all()
    if len(stored) != len(expected):
        return Problem(
            "calendar_row",
            patient.study_id,
            "count",
            f"{len(stored)} calendar rows are stored but the log gives {len(expected)}",
        )
    for index, (have, want) in enumerate(zip(stored, expected, strict=True)):
        if canonical_json(have) != canonical_json(want):
            what = f"{want.get('item')} on {want.get('date')}"
            return Problem(
                "calendar_row",
                patient.study_id,
                "payload",
                f"calendar row {index + 1} ({what}) differs from the calendar rebuilt from "
                "the log (edited behind the application's back, or the rules changed)",
            )
    return None
