"""The reads every interface needs: a patient's calendar and state, what is due at a site,
open decisions, recent entries. Reading needs any role (viewer or above)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlmodel import Session, select

from bot.calendar.model import CalendarEvent
from bot.calendar.status import stored_status_on
from bot.decisions import fold_treatment
from bot.errors import UserError
from bot.events import DoseRecord, Event
from bot.services import derive, histories
from bot.services.access import require_role
from bot.services.constants import PAGE_PATIENTS
from bot.services.context import Request, ServiceContext
from bot.services.outcome import Outcome
from bot.services.unit import find_patient
from bot.storage.calendar_rows import site_view
from bot.storage.eventlog import patient_events
from bot.storage.models import (
    DecisionRecord,
    EventRecord,
    Member,
    Patient,
    Site,
    decision_label,
)

ACTIVE_STATUSES = ("planned", "due", "overdue")


def _site_of_user(
    session: Session, ctx: ServiceContext, request: Request, site: str | None
) -> Site:
    member = session.get(Member, request.user)
    wanted = (
        site
        or request.site
        or (member.site_id if member and member.site_id else None)
        or ctx.default_site
    )
    row = session.get(Site, wanted)
    if row is None:
        known = [s.id for s in session.exec(select(Site)).all()]
        raise UserError(
            f"unknown site {wanted!r}",
            field="site",
            allowed=", ".join(known) or "no site yet: enroll a patient first",
        )
    return row


LOOKBACK_DAYS = 28  # how far back `today`/`week` look for what is still overdue


def due(
    ctx: ServiceContext,
    request: Request,
    *,
    days: int,
    site: str | None = None,
    start: date | None = None,
    page: int = 1,
) -> Outcome:
    """Everything at the site dated from `start` (default today) for `days` days, plus
    anything still overdue from the last 28 days — filtered and counted in SQL; the
    events of one page of `PAGE_PATIENTS` patients (by study ID) are read in full.
    `data["summary"]` counts the whole period per item and status."""
    require_role(ctx, request, "viewer", "reading the calendar")
    if page < 1:
        raise UserError(f"page {page} does not exist", field="page", allowed="1 or more")
    with ctx.db.transaction(readonly=True) as session:
        site_row = _site_of_user(session, ctx, request, site)
        today = ctx.today_at(site_row.timezone)
        first = start or today
        last = first + timedelta(days=days - 1)
        view = site_view(
            session,
            site_row.id,
            first,
            last,
            today=today,
            lookback=first - timedelta(days=LOOKBACK_DAYS),
            page=page,
            page_size=PAGE_PATIENTS,
        )
    events = []
    for study_id, payload in view.rows:
        event = {**payload, "study_id": study_id}
        # rows are stored without a "today": the calendar core's one rule reads them
        event["status"] = stored_status_on(event, today)
        events.append(event)
    pages = max(1, -(-view.patients // PAGE_PATIENTS))
    return Outcome(
        operation="week" if days > 1 else "today",
        events=events,
        data={
            "site": site_row.id,
            "from": first.isoformat(),
            "to": last.isoformat(),
            "today": today.isoformat(),
            "page": page,
            "pages": pages,
            "patients": view.patients,
            "summary": _summary(view.counts, view.patients_per_item),
        },
    )


def _summary(counts, patients_per_item) -> list[dict[str, Any]]:
    """Per item (in calendar order of kinds): rows, patients, and rows per status."""
    order = ("radiotherapy", "brachytherapy", "infusion", "labs", "assessment")
    items: dict[tuple[str, str], dict[str, Any]] = {}
    for kind, item, status, rows in counts:
        entry = items.setdefault(
            (kind, item),
            {
                "kind": kind,
                "item": item,
                "rows": 0,
                "patients": patients_per_item.get((kind, item), 0),
                "statuses": {},
            },
        )
        entry["rows"] += rows
        entry["statuses"][status] = entry["statuses"].get(status, 0) + rows
    rank = {kind: n for n, kind in enumerate(order)}
    return sorted(items.values(), key=lambda e: (rank.get(e["kind"], len(order)), e["item"]))


def _drug_state(ctx: ServiceContext, history: list[Event], calendar, today: date) -> list[dict]:
    treatment = fold_treatment(history)
    schedule = ctx.rules.schedule
    out = []
    for name in [d.id for d in schedule.drugs] + [c.id for c in schedule.radiotherapy]:
        course = treatment.get(name)
        events = [e for e in calendar.events if e.item == name]
        given = [
            e
            for e in history
            if isinstance(e, DoseRecord) and e.drug == name and e.status == "given"
        ]
        upcoming = [e for e in events if e.date >= today and e.status in ACTIVE_STATUSES]
        state: dict[str, Any] = {
            "drug": name,
            "dose_percent": 100,
            "status": "active",
            "held_since": None,
            "discontinued_on": None,
            "confirmed": True,
            "reason": "",
        }
        if course is not None:
            state["dose_percent"] = course.percent_on(today)
            hold = course.held_on(today)
            if course.is_discontinued_on(today):
                state.update(
                    status="discontinued",
                    discontinued_on=course.discontinued_on.isoformat(),
                    confirmed=course.discontinue_confirmed,
                    reason=course.discontinued_reason,
                )
            elif hold is not None:
                state.update(
                    status="held",
                    held_since=hold.start.isoformat(),
                    confirmed=hold.confirmed,
                    reason=hold.reason,
                )
            elif course.levels:
                state["confirmed"] = course.levels[-1].confirmed
        if state["status"] == "active":
            if not upcoming:
                state["status"] = "completed" if events else "not planned"
            elif not given and not any(e.date < today for e in events):
                state["status"] = "not started"
        state["next"] = upcoming[0].to_json() if upcoming and state["status"] != "held" else None
        state["last_given"] = max(e.date for e in given).isoformat() if given else None
        out.append(state)
    return out


def _open_decisions(
    session: Session, patient_ids: list[int] | None, *, site: str | None = None
) -> list[dict[str, Any]]:
    # The columns shown, as plain rows: a busy site has hundreds open, and building an
    # ORM object for each cost more than the query.
    statement = (
        select(
            DecisionRecord.payload,
            DecisionRecord.id,
            DecisionRecord.status,
            DecisionRecord.proposed_at,
            Patient.study_id,
        )
        .join(Patient, Patient.id == DecisionRecord.patient_id)
        .where(DecisionRecord.status == "proposed")
    )
    if site is not None:
        statement = statement.where(Patient.site_id == site)
    if patient_ids is not None:
        statement = statement.where(DecisionRecord.patient_id.in_(patient_ids))
    out = []
    for payload, number, status, proposed_at, study_id in session.execute(
        statement.order_by(DecisionRecord.id)
    ).all():
        out.append(
            {
                **payload,
                "id": decision_label(number or 0),
                "status": status,
                "study_id": study_id,
                "proposed_at": proposed_at.isoformat(),
            }
        )
    return out


def patient(ctx: ServiceContext, request: Request, study_id: str, *, recent: int = 10) -> Outcome:
    """State per drug, open decisions, recent entries and the calendar, as of today."""
    require_role(ctx, request, "viewer", "reading a patient's record")
    with ctx.db.transaction(readonly=True) as session:
        row = find_patient(session, study_id, lock=False)
        site = session.get(Site, row.site_id)
        rows = patient_events(session, row.id)
        history = derive.history_of(rows)
        today = ctx.today_at(site.timezone)
        calendar = derive.calendar_for(ctx, row, site, history, today=today)
        decisions = _open_decisions(session, [row.id])
        amended = {r.corrects or r.voids: r.label for r in rows if r.corrects or r.voids}
    entries = []
    for record in reversed(rows):
        if record.kind in ("proposal", "verdict") or len(entries) >= recent:
            continue
        entry = {
            "id": record.label,
            "kind": record.kind,
            "date": record.clinical_date.isoformat(),
            "recorded_by": record.recorded_by,
            "payload": record.payload,
            "corrects": f"E{record.corrects}" if record.corrects else None,
            "voids": f"E{record.voids}" if record.voids else None,
            "reason": record.reason,
            "amended_by": amended.get(record.id),
        }
        entries.append(entry)
    plan = {
        "study_id": row.study_id,
        "site": row.site_id,
        "day1": row.day1.isoformat(),
        "fractions": row.fractions,
        "boost": row.boost,
        "bsa_m2": row.bsa_m2,
        "height_cm": row.height_cm,
        "weight_kg": row.weight_kg,
        "stage": row.figo_stage,
        "ecog": row.ecog,
        "age": row.age_at_enrolment,
    }
    return Outcome(
        operation="patient",
        study_id=row.study_id,
        decisions=decisions,
        events=calendar.events_json(),
        data={
            "plan": plan,
            "state": _drug_state(ctx, history, calendar, today),
            "recent": entries,
            "summary": calendar.summary.to_json(),
            "today": today.isoformat(),
        },
    )


def calendar(
    ctx: ServiceContext,
    request: Request,
    study_id: str,
    *,
    start: date | None = None,
    weeks: int | None = None,
) -> Outcome:
    """A patient's calendar, or the part of it from `start` (a date) for `weeks` whole
    calendar weeks (Monday to Sunday, as the reply's table groups them; from the first
    event shown when `start` is not given). `data["total"]`: the whole calendar's count."""
    require_role(ctx, request, "viewer", "reading a patient's calendar")
    with ctx.db.transaction(readonly=True) as session:
        row = find_patient(session, study_id, lock=False)
        site = session.get(Site, row.site_id)
        history = derive.history_of(patient_events(session, row.id))
        today = ctx.today_at(site.timezone)
        result = derive.calendar_for(ctx, row, site, history, today=today)
    events = _calendar_part(result.events, start, weeks)
    return Outcome(
        operation="calendar",
        study_id=row.study_id,
        events=[event.to_json() for event in events],
        data={
            "summary": result.summary.to_json(),
            "today": today.isoformat(),
            "total": len(result.events),
        },
    )


def _calendar_part(
    events: list[CalendarEvent], start: date | None, weeks: int | None
) -> list[CalendarEvent]:
    if start is not None:
        events = [e for e in events if e.date >= start]
    if weeks is not None and events:
        first = start or events[0].date
        end = first - timedelta(days=first.weekday()) + timedelta(weeks=weeks)
        events = [e for e in events if e.date < end]
    return events


def open_decisions(ctx: ServiceContext, request: Request, site: str | None = None) -> Outcome:
    require_role(ctx, request, "viewer", "reading open decisions")
    with ctx.db.transaction(readonly=True) as session:
        site_row = _site_of_user(session, ctx, request, site)
        decisions = _open_decisions(session, None, site=site_row.id)
    return Outcome(operation="decisions", decisions=decisions, data={"site": site_row.id})


def recent_entries(
    ctx: ServiceContext, request: Request, study_id: str, limit: int = 20
) -> list[dict[str, Any]]:
    return patient(ctx, request, study_id, recent=limit).data["recent"]


def whoami(ctx: ServiceContext, request: Request) -> dict[str, Any]:
    from bot.services.who import whoami as who

    return who(ctx, request)


def modified_treatment(
    ctx: ServiceContext, request: Request, site: str | None = None
) -> dict[str, Any]:
    """Every patient of the user's site with a drug on hold or at a reduced dose today:
    [{"study_id", "drug", "status": "held"|"reduced", "since"|"dose_percent", "confirmed"}]."""
    require_role(ctx, request, "viewer", "reading the site's treatment")
    with ctx.db.transaction(readonly=True) as session:
        site_row = _site_of_user(session, ctx, request, site)
        today = ctx.today_at(site_row.timezone)
        patients = _patients_with_decisions(session, site_row.id, ("hold", "reduce", "resume"))
        histories = [
            (p.study_id, derive.history_of(patient_events(session, p.id))) for p in patients
        ]
    rows: list[dict[str, Any]] = []
    for study_id, history in histories:
        for drug, course in sorted(fold_treatment(history).items()):
            if course.is_discontinued_on(today):
                continue
            hold = course.held_on(today)
            if hold is not None:
                rows.append(
                    {
                        "study_id": study_id,
                        "drug": drug,
                        "status": "held",
                        "since": hold.start.isoformat(),
                        "confirmed": hold.confirmed,
                    }
                )
            elif course.percent_on(today) < 100:
                rows.append(
                    {
                        "study_id": study_id,
                        "drug": drug,
                        "status": "reduced",
                        "dose_percent": course.percent_on(today),
                        "confirmed": course.levels[-1].confirmed if course.levels else True,
                    }
                )
    return {"site": site_row.id, "today": today.isoformat(), "rows": rows}


def _patients_with_decisions(
    session: Session, site_id: str, actions: tuple[str, ...], *, dated_by: date | None = None
):
    """The site's patients (by study ID) who have a standing decision (proposed or
    confirmed) of one of `actions`, whose proposal entry is dated `dated_by` or earlier:
    only they can have a drug held (since then) or reduced — a hold or a dose level comes
    from a proposal in the log that was not overridden or withdrawn, and each has its row
    in the decision table pointing at it — so only their histories are read."""
    ids = (
        select(DecisionRecord.patient_id)
        .join(EventRecord, EventRecord.id == DecisionRecord.proposal_event_id)
        .where(
            DecisionRecord.action.in_(actions),
            DecisionRecord.status.in_(("proposed", "confirmed")),
        )
    )
    if dated_by is not None:
        ids = ids.where(EventRecord.clinical_date <= dated_by)
    return session.exec(
        select(Patient)
        .where(Patient.site_id == site_id, Patient.id.in_(ids.distinct().scalar_subquery()))
        .order_by(Patient.study_id)
    ).all()


def holds_at_site(
    session: Session,
    site_id: str,
    today: date,
    limit: int,
    ctx: ServiceContext,
) -> list[dict[str, Any]]:
    """Every drug on hold at the site on `today` for at least `limit` days, oldest first
    (what `holds_older_than` and the daily digest list). Each patient's log is read
    through its kept parse (`ctx.histories`), not parsed again every morning."""
    found = []
    dated_by = today - timedelta(days=limit)
    for row in _patients_with_decisions(session, site_id, ("hold",), dated_by=dated_by):
        _entries, history = histories.read_log(session, row.id, ctx.histories)
        treatment = ctx.calendars.treatment(row.id, history)
        for drug, course in sorted(treatment.items()):
            hold = course.open_hold
            if hold is None or course.is_discontinued_on(today):
                continue
            held_days = (today - hold.start).days
            if held_days < limit:
                continue
            found.append(
                {
                    "study_id": row.study_id,
                    "drug": drug,
                    "since": hold.start.isoformat(),
                    "days": held_days,
                    "reason": hold.reason,
                    "decision": hold.decision_id,
                    "confirmed": hold.confirmed,
                }
            )
    found.sort(key=lambda h: (h["since"], h["study_id"], h["drug"]))
    return found


def holds_older_than(
    ctx: ServiceContext,
    request: Request,
    *,
    days: int | None = None,
    site: str | None = None,
) -> Outcome:
    """Every drug on hold at the site for at least `days` days (default the setting
    `TRIALBOT_HOLD_REVIEW_AFTER`), oldest first: a hold must have a way to end, and one
    that has lasted this long is put in front of an investigator (the `holds` view, the
    scheduler's daily digest). `data["holds"]` holds one dict per hold: study_id, drug,
    since, days, reason, decision, confirmed."""
    require_role(ctx, request, "viewer", "reading the holds")
    limit = days if days is not None else ctx.settings.hold_review_after
    if limit < 0:
        raise UserError(f"{limit} days is negative", field="days", allowed="0 or more days")
    with ctx.db.transaction(readonly=True) as session:
        site_row = _site_of_user(session, ctx, request, site)
        today = ctx.today_at(site_row.timezone)
        found = holds_at_site(session, site_row.id, today, limit, ctx)
    return Outcome(
        operation="holds",
        data={
            "site": site_row.id,
            "today": today.isoformat(),
            "older_than_days": limit,
            "holds": found,
        },
    )


def site_of_user(session: Session, ctx: ServiceContext, request: Request, site: str | None) -> Site:
    """The site a request is for: site=, the study channel's, the member's own, the
    default (for services that post to a site, e.g. the swimmer plot)."""
    return _site_of_user(session, ctx, request, site)
