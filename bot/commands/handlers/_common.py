"""What several handlers share: "today" at the right site, read lazily."""

from __future__ import annotations

from datetime import date

from bot.commands.args import Today
from bot.services.context import ServiceContext
from bot.storage.database import patient_by_study_id
from bot.storage.models import Patient, Site


def site_today(
    ctx: ServiceContext, *, study_id: str | None = None, site: str | None = None
) -> Today:
    """A function giving today's date at the patient's site (or at `site`, or the default
    site): relative dates (`date=yesterday`) are read in the site's timezone, like every
    clinical date. Asked only when a relative word needs it."""

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


def _default_timezone(ctx: ServiceContext, site: str | None) -> str:
    sites = ctx.rules.sites
    known = {config.id: config for config in sites.sites}
    wanted = (site or ctx.settings.default_site or sites.default_site).strip().lower()
    config = known.get(wanted) or known.get(sites.default_site) or sites.sites[0]
    return config.timezone
