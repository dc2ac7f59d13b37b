"""The materialised calendar: every patient's planned events as rows, so "what is due at
a site this week" is one index range scan on (site_id, date) instead of recomputing
every patient's calendar.

The rows are derived data. `replace_calendar_rows` brings a patient's set up to date (only
the rows that changed are written) inside the transaction that changed the patient (after
`lock_patient`), so readers see the old set or the new one, never a mix.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from sqlalchemy import and_, case, delete, func, insert, literal, or_, text, union_all, update
from sqlmodel import Session, select

from bot.storage.jsonvalues import to_json_value
from bot.storage.models import OPEN_VISITS, CalendarRow, Patient

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
        "presumed_done_from": _as_date(
            payload.get("presumed_done_from"), "presumed_done_from", index
        ),
        "payload": payload,
    }


def replace_calendar_rows(
    session: Session,
    patient_id: int,
    site_id: str,
    rows: Iterable[Mapping[str, Any] | _HasJson],
) -> int:
    """Make the patient's calendar rows `rows` (the calendar's event JSON: `date`, `kind`,
    `item`, `phase`, `status`, optional `number` and `window` [from, to]; the whole object
    is kept as `payload`), in order. Returns how many rows the patient has now.

    Written as a difference: a new entry changes a handful of a calendar's hundred-odd
    events, and deleting and inserting them all was most of a write's database time. Row
    `i` of the new calendar goes to the patient's `i`-th stored row (by id) and is
    rewritten only if its content differs; surplus rows are deleted, missing ones
    inserted — so the rows read back by id are the calendar in order, as a whole
    replacement left them."""
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise ValueError(f"no patient with id {patient_id}")
    # One JSON conversion for the whole calendar: a hundred small ones cost more than the
    # insert itself.
    payloads = to_json_value(
        [row.to_json() if hasattr(row, "to_json") else dict(row) for row in rows]
    )
    values = [_row_values(payload, patient, site_id, i) for i, payload in enumerate(payloads)]
    stored = session.execute(
        select(CalendarRow.id, CalendarRow.site_id, CalendarRow.payload)
        .where(CalendarRow.patient_id == patient_id)
        .order_by(CalendarRow.id)
    ).all()
    changed = [
        {"id": row_id, **new}
        for (row_id, old_site, old_payload), new in zip(stored, values, strict=False)
        if old_site != site_id or old_payload != new["payload"]
    ]
    if changed:
        session.execute(update(CalendarRow), changed)
    surplus = [row_id for row_id, _site, _payload in stored[len(values) :]]
    if surplus:
        session.execute(
            delete(CalendarRow)
            .where(CalendarRow.id.in_(surplus))
            .execution_options(synchronize_session=False)
        )
    if len(values) > len(stored):
        session.execute(insert(CalendarRow), values[len(stored) :])
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


# --- a site's view of a period, filtered and counted in SQL --------------------------
_RECORDED_BY_EXCEPTION = ("radiotherapy", "brachytherapy")  # bot.calendar.status's


def status_on_sql(today: date, columns: Any = CalendarRow):
    """`bot.calendar.status.stored_status_on(row, today)` as an SQL expression over the
    row's columns (`columns`: the table, or a subquery's `.c` with the same names), so a
    view can count and filter by status without loading rows — every column it reads is in
    the (site, date) index; `tests/services` checks it against the Python rule."""
    c = columns
    presumed = c.presumed_done_from
    return case(
        (c.status != "planned", c.status),
        (and_(presumed.is_not(None), presumed <= today), literal("presumed_done")),
        (
            c.kind.in_(_RECORDED_BY_EXCEPTION),
            case(
                (c.date < today, literal("presumed_given")),
                (c.date == today, literal("due")),
                else_=literal("planned"),
            ),
        ),
        (and_(c.date < today, c.window_to < today), literal("overdue")),
        (or_(c.date <= today, c.window_from <= today), literal("due")),
        else_=literal("planned"),
    )


def _shown(first: date, last: date, today: date, lookback: date) -> list:
    """The rows a `today`/`week` view lists, as two disjoint conditions: every row dated
    `first`–`last`; and the rows dated from `lookback` to before `first` that are overdue
    on `today` — planned visits, infusions or labs (the partial index of open visits)
    whose window closed before `today`, not presumed done. With the site they are each one
    range of an index; with a patient, one range of the patient's rows."""
    presumed = CalendarRow.presumed_done_from
    return [
        and_(CalendarRow.date >= first, CalendarRow.date <= last),
        and_(
            text(OPEN_VISITS),  # literally the partial index's condition
            CalendarRow.date >= lookback,
            CalendarRow.date < first,
            CalendarRow.date < today,
            CalendarRow.window_to < today,
            or_(presumed.is_(None), presumed > today),
        ),
    ]


# What the status rule reads: rows alike in these have the same status on any day, so the
# counts group by them first — in the (site, date) index's own order, without sorting.
_STATUS_INPUTS = (
    CalendarRow.date,
    CalendarRow.kind,
    CalendarRow.item,
    CalendarRow.status,
    CalendarRow.window_from,
    CalendarRow.window_to,
    CalendarRow.presumed_done_from,
)


@dataclass(frozen=True)
class SiteView:
    """One page of a site's period: counts for the whole of it, rows for the page."""

    patients: int  # patients with at least one row shown
    counts: list[tuple[str, str, str, int]]  # (kind, item, status on today, rows)
    patients_per_item: dict[tuple[str, str], int]  # (kind, item) → patients
    page_ids: list[str]  # the study IDs of this page, in order
    rows: list[tuple[str, dict[str, Any]]]  # (study_id, payload) of the page's patients


def site_view(
    session: Session,
    site_id: str,
    first: date,
    last: date,
    *,
    today: date,
    lookback: date,
    page: int,
    page_size: int,
) -> SiteView:
    """What `today` and `week` show, read in SQL: the rows dated `first`–`last` and those
    from `lookback` still overdue on `today`, counted per item and status for the whole
    site, and — for the `page`-th `page_size` patients by study ID only — the rows
    themselves (their JSON decoded for those alone), by date, study ID, id.

    The counts read the covering (site, date) index only. The page's patients are found
    from the patient table in study-ID order, each asked whether it has a row shown (one
    index probe), so a page costs what its position costs, not what the site holds."""
    shown = _shown(first, last, today, lookback)
    # Counted for the whole site, each condition one range of the site's index...
    conditions = [and_(CalendarRow.site_id == site_id, condition) for condition in shown]
    # rows per status: grouped by the status rule's inputs (index order), then the rule
    # applied once per group rather than once per row
    groups = union_all(
        *(
            select(
                CalendarRow.kind,
                CalendarRow.item,
                status_on_sql(today).label("shown_status"),
                func.count().label("n"),
            )
            .where(condition)
            .group_by(*_STATUS_INPUTS)
            for condition in conditions
        )
    ).subquery()
    counts = [
        (kind, item, state, int(rows))
        for kind, item, state, rows in session.execute(
            select(
                groups.c.kind, groups.c.item, groups.c.shown_status, func.sum(groups.c.n)
            ).group_by(groups.c.kind, groups.c.item, groups.c.shown_status)
        )
    ]
    parts = union_all(
        *(
            select(CalendarRow.kind, CalendarRow.item, CalendarRow.patient_id).where(condition)
            for condition in conditions
        )
    ).subquery()
    patients_per_item = {
        (kind, item): patients
        for kind, item, patients in session.execute(
            select(
                parts.c.kind, parts.c.item, func.count(func.distinct(parts.c.patient_id))
            ).group_by(parts.c.kind, parts.c.item)
        )
    }
    patients = session.execute(select(func.count(func.distinct(parts.c.patient_id)))).scalar_one()
    # ...and read for a page's patients by the patient's own rows, naming no site (so the
    # database seeks (patient, date) rather than scanning the site's period): a patient's
    # rows carry the patient's site (rewritten with it when an enrolment correction moves
    # the patient), so the site's patients with a row shown are these.
    chosen = session.execute(
        select(Patient.id, Patient.study_id)
        .where(
            Patient.site_id == site_id,
            select(CalendarRow.id)
            .where(
                CalendarRow.patient_id == Patient.id,
                CalendarRow.date >= lookback,
                CalendarRow.date <= last,
                or_(*shown),
            )
            .exists(),
        )
        .order_by(Patient.study_id)
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    rows: list[tuple[str, dict[str, Any]]] = []
    if chosen:
        ids = [patient_id for patient_id, _ in chosen]
        found = union_all(
            *(
                select(
                    CalendarRow.study_id,
                    CalendarRow.payload,
                    CalendarRow.date,
                    CalendarRow.id,
                ).where(condition, CalendarRow.patient_id.in_(ids))
                for condition in shown
            )
        ).subquery()
        rows = [
            (study_id, payload)
            for study_id, payload in session.execute(
                select(found.c.study_id, found.c.payload).order_by(
                    found.c.date, found.c.study_id, found.c.id
                )
            )
        ]
    return SiteView(
        patients=patients,
        counts=counts,
        patients_per_item=patients_per_item,
        page_ids=[study_id for _, study_id in chosen],
        rows=rows,
    )
