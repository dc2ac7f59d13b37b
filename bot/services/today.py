""" "Today" where a command is about: relative dates a person types (`date=yesterday`,
`from=today`) are read in the site's timezone, like every clinical date.

Each function gives a function of no arguments, asked only when a relative word needs
it: the patient's site (or the site named, or the default site) is read then, in a
read-only transaction of its own. The command language's parsers take it as `Today`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from bot.services import lookup
from bot.services.context import ServiceContext
from bot.storage.database import patient_by_study_id
from bot.storage.models import Patient, Site

Today = Callable[[], date]


def today_at_site(
    ctx: ServiceContext, *, study_id: str | None = None, site: str | None = None
) -> Today:
    """Today at the patient's site (or at `site`, or the default site)."""

    def today() -> date:
        timezone = None
        with ctx.db.transaction(readonly=True) as session:
            patient: Patient | None = (
                patient_by_study_id(session, study_id) if study_id is not None else None
            )
            wanted = patient.site_id if patient is not None else site
            row = session.get(Site, wanted) if wanted else None
            if row is not None:
                timezone = row.timezone
        if timezone is None:
            timezone = _default_timezone(ctx, site)
        return ctx.today_at(timezone)

    return today


def today_of_entry(ctx: ServiceContext, number: int) -> Today:
    """Today at the site of the patient whose entry E<number> is (`correct E45 date=…`)."""

    def today() -> date:
        return today_at_site(ctx, study_id=lookup.patient_of_event(ctx, number))()

    return today


def _default_timezone(ctx: ServiceContext, site: str | None) -> str:
    sites = ctx.rules.sites
    known = {config.id: config for config in sites.sites}
    wanted = (site or ctx.default_site).strip().lower()
    config = known.get(wanted) or known.get(sites.default_site) or sites.sites[0]
    return config.timezone
