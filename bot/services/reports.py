"""The data behind the pictures of the trial, read in one transaction."""

from __future__ import annotations

from datetime import date

from sqlmodel import select

from bot.reports.swimmer import Lane, lane_of, phases_of
from bot.services import derive
from bot.services.context import ServiceContext
from bot.services.exports import lab_rows, patients_of
from bot.storage.eventlog import patient_events
from bot.storage.models import CalendarRow, Site


def swimmer_lanes(ctx: ServiceContext, *, site: str | None = None) -> tuple[list[Lane], date]:
    """One lane per patient (of `site`, or all), and the day they are drawn as of (today
    in the first site's timezone)."""
    with ctx.db.transaction(readonly=True) as session:
        patients = patients_of(session, site)
        zone = session.get(Site, site or (patients[0].site_id if patients else "")) or None
        today = ctx.today_at(zone.timezone if zone else "UTC")
        lanes = []
        phases = phases_of(ctx.rules.schedule)
        for patient in patients:
            history = derive.history_of(patient_events(session, patient.id or 0))
            rows = session.exec(
                select(
                    CalendarRow.date, CalendarRow.kind, CalendarRow.phase, CalendarRow.status
                ).where(CalendarRow.patient_id == patient.id)
            ).all()
            high = [
                (date.fromisoformat(r["date"]), f"{r['ctcae_term'] or r['analyte']} G{r['grade']}")
                for r in lab_rows(ctx, patient, history)
                if r["grade"] != "" and r["grade"] >= 3
            ]
            lanes.append(
                lane_of(
                    patient.study_id,
                    patient.day1,
                    history,
                    [{"date": d, "kind": k, "phase": p, "status": s} for d, k, p, s in rows],
                    today,
                    phases=phases,
                    high_grade_labs=high,
                )
            )
    return lanes, today


def swimmer_png(ctx: ServiceContext, lanes: list[Lane], *, title: str, today: date) -> bytes:
    """The lanes drawn with the trial's own phases and day 1 (its first fraction)."""
    from bot.reports.swimmer import render_png

    schedule = ctx.rules.schedule
    first = schedule.series_by_id(schedule.summary.ott_series).label
    return render_png(
        lanes, title=title, today=today, phases=phases_of(schedule), day1=f"day 1 (first {first})"
    )
