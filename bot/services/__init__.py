"""The transactional service layer every interface calls (Slack, console, scheduler).

Each write is one transaction: append the entry, derive state and decisions with the pure
core, refresh the patient's calendar rows, queue notifications in the outbox with dedupe
keys, write the audit row — and remember the request's idempotency key. Modules:

- `enrolment.enrol`; `entries.record_lab / record_ae / record_dose / record_response /
  attribute`; `verdicts.confirm / override`; `amend.correct / void`; `members.set_role`
- `queries.patient / calendar / due / open_decisions / whoami`
"""

from __future__ import annotations

from bot.clock import Clock, SystemClock
from bot.render import Renderer
from bot.services.context import Request, ServiceContext
from bot.services.rules import TrialRules
from bot.settings import Settings
from bot.storage.database import Database


def build_context(
    settings: Settings, *, clock: Clock | None = None, database: Database | None = None
) -> ServiceContext:
    """Open the database (SQLite is migrated on first use; PostgreSQL must be up to date)
    and load the trial's rules, once per process."""
    from bot.services.enrolment import ensure_sites

    rules = TrialRules.cached(settings.rules_dir / settings.trial, settings.cache_dir)
    db = database or Database.open(settings.database_url)
    db.ensure_schema()
    context = ServiceContext(
        db=db, rules=rules, clock=clock or SystemClock(), settings=settings, renderer=Renderer()
    )
    with db.transaction() as session:
        ensure_sites(session, context)
    return context


__all__ = ["Request", "ServiceContext", "TrialRules", "build_context"]
