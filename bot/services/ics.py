"""The calendar as an iCalendar feed a coordinator imports into Outlook or Google Calendar.

Read from the materialised calendar rows (derived from the log in the transaction of every
change), so the feed is exactly what `calendar` and `week` show. One all-day event per
infusion, lab draw, imaging or visit, and one per patient per week for radiotherapy
fractions (25 separate fraction events would bury everything else). Each event's UID is
built from the study ID and the calendar's stable key of the slot, so a re-import after a
re-flow moves the event instead of adding a second one. Held and skipped attempts are not
exported: the slot they belonged to moves on and keeps its UID. Study IDs only.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from icalendar import Calendar, Event
from sqlmodel import select

from bot.calendar.schema import radiotherapy_names
from bot.calendar.status import stored_status_on
from bot.errors import UserError
from bot.services.context import ServiceContext
from bot.services.exports import patients_of
from bot.storage.models import CalendarRow, Site, normalise_study_id

PRODID = "-//trialbot//trial calendar//EN"
UID_DOMAIN = "trialbot"
GROUPED_PER_WEEK = ("radiotherapy", "brachytherapy")
NOT_EXPORTED = ("held", "skipped")


def _window_text(payload: dict[str, Any]) -> str:
    low, high = payload.get("window") or (None, None)
    if not low or low == high:
        return "window: that day only"
    return f"window: {low} to {high}"


def _dose_text(payload: dict[str, Any]) -> str:
    dose = payload.get("dose") or {}
    if not dose:
        return ""
    amount = f"{dose.get('amount')} {dose.get('unit')}"
    if dose.get("basis") == "auc":  # a target AUC reads as one: "AUC 5"
        amount = f"AUC {dose.get('amount')}"
    if dose.get("mg") is None and (dose.get("derivation") or {}).get("missing"):
        amount += f" (no mg: refer, needs {', '.join(dose['derivation']['missing'])})"
    if dose.get("mg") is not None and dose.get("unit") != "mg":
        amount += f" = {dose['mg']} mg"
    if dose.get("percent") not in (None, 100):
        amount += f" ({dose['percent']}% of the protocol dose)"
    return amount


def _single(study_id: str, row: CalendarRow, stamp: datetime, today: date) -> Event:
    payload = row.payload or {}
    label = payload.get("label") or row.item
    dose = _dose_text(payload)
    event = Event()
    event.add("uid", f"{study_id}/{payload.get('key') or f'{row.item}#{row.number}'}@{UID_DOMAIN}")
    event.add("dtstamp", stamp)
    event.add("summary", f"{study_id} · {label}" + (f" · {dose}" if dose else ""))
    event.add("dtstart", row.date)
    event.add("dtend", row.date + timedelta(days=1))
    lines = [
        f"{study_id}: {label}",
        _window_text(payload),
        f"status: {stored_status_on(payload, today) if payload else row.status}",
        f"phase: {row.phase}",
    ]
    if dose:
        lines.append(f"dose: {dose}")
    if payload.get("source"):
        lines.append(f"protocol: {payload['source']}")
    event.add("description", "\n".join(lines))
    event.add("categories", [row.kind])
    event.add("transp", "TRANSPARENT")
    return event


def _week(
    study_id: str, rows: list[CalendarRow], stamp: datetime, today: date, names: dict[str, str]
) -> Event:
    rows = sorted(rows, key=lambda r: (r.date, r.number or 0))
    first, last = rows[0], rows[-1]
    year, week, _ = first.date.isocalendar()
    numbers = [r.number for r in rows if r.number]
    span = f"{min(numbers)}–{max(numbers)}" if numbers else ""
    name = names.get(first.item) or first.item.replace("_", " ")  # the schedule's name
    event = Event()
    event.add("uid", f"{study_id}/{first.item}-week-{year}W{week:02d}@{UID_DOMAIN}")
    event.add("dtstamp", stamp)
    event.add("summary", f"{study_id} · {name} fractions {span} ({len(rows)})".replace("  ", " "))
    event.add("dtstart", first.date)
    event.add("dtend", last.date + timedelta(days=1))
    lines = [f"{study_id}: {name}, {len(rows)} fraction(s) in week {year}-W{week:02d}"]
    for row in rows:
        payload = row.payload or {}
        status = stored_status_on(payload, today) if payload else row.status
        lines.append(f"{row.date.isoformat()} {payload.get('label') or row.item} — {status}")
    event.add("description", "\n".join(lines))
    event.add("categories", [first.kind])
    event.add("transp", "TRANSPARENT")
    return event


def calendar_feed(
    ctx: ServiceContext, *, study_id: str | None = None, site: str | None = None
) -> bytes:
    """The .ics text for one patient (`study_id`) or every patient of `site` (or all)."""
    if study_id is not None:
        study_id = normalise_study_id(study_id)
    stamp = ctx.now()
    feed = Calendar()
    feed.add("prodid", PRODID)
    feed.add("version", "2.0")
    feed.add("calscale", "GREGORIAN")
    with ctx.db.transaction(readonly=True) as session:
        patients = patients_of(session, site, study_id)
        if study_id is not None and not patients:
            raise UserError(
                f"no patient {study_id!r}", field="patient", allowed="an enrolled study ID"
            )
        name = study_id or (f"site {site}" if site else "all sites")
        feed.add("x-wr-calname", f"trialbot {ctx.rules.name} — {name}")
        names = radiotherapy_names(ctx.rules.schedule)
        for patient in patients:
            site_row = session.get(Site, patient.site_id)
            today = ctx.today_at(site_row.timezone if site_row else "UTC")
            rows = session.exec(
                select(CalendarRow)
                .where(CalendarRow.patient_id == patient.id)
                .order_by(CalendarRow.date, CalendarRow.id)
            ).all()
            weeks: dict[tuple[str, int, int], list[CalendarRow]] = defaultdict(list)
            for row in rows:
                if row.status in NOT_EXPORTED:
                    continue
                if row.kind in GROUPED_PER_WEEK:
                    year, week, _ = row.date.isocalendar()
                    weeks[(row.item, year, week)].append(row)
                else:
                    feed.add_component(_single(patient.study_id, row, stamp, today))
            for group in weeks.values():
                feed.add_component(_week(patient.study_id, group, stamp, today, names))
    return feed.to_ical()
