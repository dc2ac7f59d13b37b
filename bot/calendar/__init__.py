"""The calendar: site treatment days, BSA and doses, and the protocol calendar engine.

Pure core — no I/O, no clock. Public API:

- `build_calendar(schedule, patient, history, site, today=None, treatment=None) -> Calendar`
- `PatientPlan`, `SiteCalendar`, `SiteConfig`, `Schedule`, `SitesFile`
- `Calendar` (`events`, `summary`, `to_json()`), `CalendarEvent` (`to_json()`)
- `bot.calendar.dosing`: `bsa_m2`, `round_bsa`, `dose_mg`, `round_to_step`;
  `bot.calendar.derived_dose`: mg/kg, AUC (Calvert, Cockcroft–Gault) and capped doses
- `schedule_of(trial)`, `sites_of(trial)`, `site_calendar(trial, site_id)` for a loaded
  rules directory (`bot.protocol.loader.load_trial`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.lazy import lazy_names

if TYPE_CHECKING:
    from bot.calendar.engine import build_calendar
    from bot.calendar.model import (
        STATUSES,
        Calendar,
        CalendarEvent,
        CalendarSummary,
        EventDose,
    )
    from bot.calendar.plan import PatientPlan
    from bot.calendar.schema import Schedule
    from bot.calendar.sites import SiteCalendar, SiteConfig, SitesFile

# Imported when first asked for: `bot.calendar.dates` (the command language's date
# parsing) must not load the engine and every schema (start-up, docs/benchmarks.md).
__getattr__ = lazy_names(
    __name__,
    {
        "build_calendar": "bot.calendar.engine",
        "STATUSES": "bot.calendar.model",
        "Calendar": "bot.calendar.model",
        "CalendarEvent": "bot.calendar.model",
        "CalendarSummary": "bot.calendar.model",
        "EventDose": "bot.calendar.model",
        "PatientPlan": "bot.calendar.plan",
        "Schedule": "bot.calendar.schema",
        "SiteCalendar": "bot.calendar.sites",
        "SiteConfig": "bot.calendar.sites",
        "SitesFile": "bot.calendar.sites",
    },
)

SCHEDULE_FILE = "schedule.yaml"
SITES_FILE = "sites.yaml"


def schedule_of(trial) -> Schedule:
    """The validated schedule of a loaded rules directory (`bot.protocol.loader.Trial`)."""
    return trial.get(SCHEDULE_FILE)


def sites_of(trial) -> SitesFile:
    return trial.get(SITES_FILE)


def site_calendar(trial, site_id: str | None = None) -> SiteCalendar:
    """The calendar of a site of the trial (default: the sites file's default site).
    An unknown id is a `UserError` naming the known sites."""
    from bot.calendar.sites import SiteCalendar

    return SiteCalendar(sites_of(trial).config(site_id))


__all__ = [
    "STATUSES",
    "Calendar",
    "CalendarEvent",
    "CalendarSummary",
    "EventDose",
    "PatientPlan",
    "Schedule",
    "SiteCalendar",
    "SiteConfig",
    "SitesFile",
    "build_calendar",
    "schedule_of",
    "site_calendar",
    "sites_of",
]
