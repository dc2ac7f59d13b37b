"""From a patient's stored rows to what the pure core needs, and back.

Plan, site calendar, baseline labs and effective history come from the database rows;
the calendar, treatment state and decisions come from the pure core.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from bot.calendar import Calendar, PatientPlan, SiteCalendar, SiteConfig, build_calendar
from bot.decisions import DecisionContext, fold_treatment, planning
from bot.events import Event, parse_event
from bot.history import LogEntry, effective_history
from bot.services.rules import TrialRules
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


def site_calendar_of(site: Site) -> SiteCalendar:
    """The site's calendar from its stored settings (a copy of the rules' sites file)."""
    settings = (
        dict(site.calendar)
        if site.calendar
        else {"country": site.country or None, "timezone": site.timezone}
    )
    settings["id"] = site.id
    return SiteCalendar(SiteConfig.model_validate(settings))


def plan_of(patient: Patient) -> PatientPlan:
    return PatientPlan(
        day1=patient.day1,
        fractions=patient.fractions,
        boost=patient.boost,
        bsa_m2=patient.bsa_m2,
        height_cm=patient.height_cm,
        weight_kg=patient.weight_kg,
        site=patient.site_id,
    )


def calendar_for(
    rules: TrialRules,
    patient: Patient,
    site: Site,
    history: Sequence[Event],
    treatment: TreatmentState | None = None,
    today: date | None = None,
) -> Calendar:
    if treatment is None:
        treatment = fold_treatment(history)
    return build_calendar(
        rules.schedule,
        plan_of(patient),
        history,
        site_calendar_of(site),
        today=today,
        treatment=treatment,
    )


def decision_context(
    rules: TrialRules, patient: Patient, site: Site, history: Sequence[Event], on: date
) -> DecisionContext:
    return planning.decision_context(
        rules.schedule,
        rules.dose_modifications,
        rules.ctcae,
        plan_of(patient),
        site_calendar_of(site),
        history,
        on,
    )


def calendar_rows(calendar: Calendar) -> list[Mapping]:
    return calendar.events_json()
