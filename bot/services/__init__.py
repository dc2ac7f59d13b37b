"""The transactional service layer every interface calls (Slack, console, scheduler).

Each write is one transaction: append the entry, derive state and decisions with the pure
core, refresh the patient's calendar rows, queue notifications in the outbox with dedupe
keys, write the audit row — and remember the request's idempotency key. Modules:

- `enrolment.enrol`; `entries.record_lab / record_ae / record_dose / record_response /
  attribute`; `verdicts.confirm / override`; `amend.correct / void`; `members.set_role`
- `queries.patient / calendar / due / open_decisions / whoami`
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.lazy import lazy_names

if TYPE_CHECKING:
    from bot.clock import Clock
    from bot.services.context import Request, ServiceContext
    from bot.services.rules import TrialRules
    from bot.settings import Settings
    from bot.storage.database import Database

# Imported when first asked for (`from bot.services import Request`): importing a module of
# the package (the command language's constants, labs) must not load the database layer.
_LAZY = {
    "Request": "bot.services.context",
    "ServiceContext": "bot.services.context",
    "TrialRules": "bot.services.rules",
}


__getattr__ = lazy_names(__name__, _LAZY)


def load_rules(settings: Settings) -> TrialRules:
    """The trial's rules (through the validated-rules cache), with the configured default
    site checked against them."""
    from bot.services.rules import TrialRules

    rules = TrialRules.cached(settings.trial_dir(), settings.cache_dir)
    check_default_site(
        settings, rules.name, [site.id for site in rules.sites.sites], rules.sites.default_site
    )
    return rules


def check_default_site(settings: Settings, trial: str, known: list[str], default: str) -> None:
    """Refuse a `TRIALBOT_DEFAULT_SITE` that is not one of the trial's sites (`known`)."""
    from bot.errors import UserError, closest

    if settings.default_site is not None and settings.default_site not in known:
        raise UserError(
            f"{settings.default_site!r} is not a site of {trial}",
            field="TRIALBOT_DEFAULT_SITE",
            allowed=", ".join(known) + f" (its sites.yaml), or leave it unset for {default!r}",
            suggestion=closest(settings.default_site, known),
        )


def build_context(
    settings: Settings, *, clock: Clock | None = None, database: Database | None = None
) -> ServiceContext:
    """Open the database (SQLite is migrated on first use; PostgreSQL must be up to date)
    and load the trial's rules, once per process."""
    from bot.clock import SystemClock
    from bot.render import Renderer
    from bot.services.context import ServiceContext
    from bot.services.enrolment import ensure_sites
    from bot.storage.database import Database

    rules = load_rules(settings)
    db = database or Database.open(settings.database_url)
    db.ensure_schema()
    context = ServiceContext(
        db=db, rules=rules, clock=clock or SystemClock(), settings=settings, renderer=Renderer()
    )
    with db.transaction() as session:
        ensure_sites(session, context)
    return context


__all__ = ["Request", "ServiceContext", "TrialRules", "build_context", "load_rules"]
