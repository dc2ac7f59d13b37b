"""From a patient's stored rows to what the pure core needs, and back.

Plan, site calendar, baseline labs and effective history come from the database rows;
the calendar, treatment state and decisions come from the pure core.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date

from bot.calendar import (
    Calendar,
    PatientPlan,
    Schedule,
    SiteCalendar,
    SiteConfig,
    build_calendar,
)
from bot.decisions import DecisionContext, fold_treatment, planning
from bot.events import Event, LabValue, parse_event
from bot.history import LogEntry, effective_history
from bot.services.context import ServiceContext
from bot.storage.models import EventRecord, Patient, Site
from bot.treatment import TreatmentState


def log_entries(rows: Sequence[EventRecord]) -> list[LogEntry]:
    entries = []
    for row in rows:
        data = dict(row.payload)
        data.setdefault("date", row.clinical_date.isoformat())
        data["id"] = row.label
        data["seq"] = row.id or 0
        entries.append(
            LogEntry(
                number=row.id or 0, event=parse_event(data), corrects=row.corrects, voids=row.voids
            )
        )
    return entries


def history_of(rows: Sequence[EventRecord]) -> list[Event]:
    """The patient's effective history: amendments applied, in recording order."""
    return effective_history(log_entries(rows))


def site_calendar_of(site: Site, cache: dict[str, SiteCalendar] | None = None) -> SiteCalendar:
    """The site's calendar from its stored settings (a copy of the rules' sites file),
    reused from `cache` while the settings are unchanged."""
    settings = (
        dict(site.calendar)
        if site.calendar
        else {"country": site.country or None, "timezone": site.timezone}
    )
    settings["id"] = site.id
    key = json.dumps(settings, sort_keys=True, default=str)
    if cache is not None and key in cache:
        return cache[key]
    calendar = SiteCalendar(SiteConfig.model_validate(settings))
    if cache is not None:
        # Threads may race to build the same site's calendar: `setdefault` (atomic on a
        # dict) keeps the first, so every thread then shares one (thread-safe) calendar.
        calendar = cache.setdefault(key, calendar)
    return calendar


def plan_of(patient: Patient) -> PatientPlan:
    return PatientPlan(
        day1=patient.day1,
        fractions=patient.fractions,
        boost=patient.boost,
        bsa_m2=patient.bsa_m2,
        height_cm=patient.height_cm,
        weight_kg=patient.weight_kg,
        site=patient.site_id,
        age=patient.age_at_enrolment,
    )


def calendar_for(
    ctx: ServiceContext,
    patient: Patient,
    site: Site,
    history: Sequence[Event],
    treatment: TreatmentState | None = None,
    today: date | None = None,
) -> Calendar:
    """The patient's calendar. Without `today` (the stored rows, the next doses) it is
    kept in `ctx.calendars` while the history and the plan are the same
    (bot/services/calendars.py): the same history is built once, not once per question."""
    if today is not None:
        if treatment is None:
            treatment = fold_treatment(history)
        return build_calendar(
            ctx.rules.schedule,
            plan_of(patient),
            history,
            site_calendar_of(site, ctx.site_calendars),
            today=today,
            treatment=treatment,
        )
    if treatment is None:
        treatment = ctx.calendars.treatment(patient.id, history)
    return _kept_calendar(
        ctx,
        patient.id,
        ctx.rules.schedule,
        plan_of(patient),
        history,
        site_calendar_of(site, ctx.site_calendars),
        treatment,
    )


def _kept_calendar(
    ctx: ServiceContext,
    patient_id: int | None,
    schedule: Schedule,
    plan: PatientPlan,
    history: Sequence[Event],
    site: SiteCalendar,
    treatment: TreatmentState,
) -> Calendar:
    return ctx.calendars.calendar(
        patient_id,
        history,
        objects=(schedule, site),
        values=(plan, treatment),
        build=lambda events: build_calendar(schedule, plan, events, site, treatment=treatment),
    )


def decision_context(
    ctx: ServiceContext,
    patient: Patient,
    site: Site,
    history: Sequence[Event],
    on: date,
    entry: Event | None = None,
) -> DecisionContext:
    def fold(events: Sequence[Event]) -> TreatmentState:
        return ctx.calendars.treatment(patient.id, events)

    def build(schedule, plan, events, site_calendar, *, treatment) -> Calendar:
        return _kept_calendar(ctx, patient.id, schedule, plan, events, site_calendar, treatment)

    return planning.decision_context(
        ctx.rules.schedule,
        ctx.rules.dose_modifications,
        ctx.rules.ctcae,
        plan_of(patient),
        site_calendar_of(site, ctx.site_calendars),
        history,
        on,
        memo=ctx.findings_memo,
        fold=fold,
        build=build,
        baseline=baseline(ctx, patient, history),
        entry=entry,
    )


def baseline(
    ctx: ServiceContext, patient: Patient, history: Sequence[Event]
) -> dict[str, LabValue]:
    """`planning.baseline_of(history, day 1)`, computed once per history
    (bot/services/calendars.py)."""
    day1 = patient.day1
    found = ctx.calendars.derived(
        patient.id, history, ("baseline", day1), lambda events: planning.baseline_of(events, day1)
    )
    return dict(found)


def calendar_rows(calendar: Calendar) -> list[Mapping]:
    return calendar.events_json()
