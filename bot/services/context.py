"""What every service call receives: the process's context and the request's."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:  # the types only: a Request is made without the database layer loaded
    from bot.calendar import SiteCalendar
    from bot.clock import Clock
    from bot.decisions.findings import FindingsMemo
    from bot.render import Renderer
    from bot.services.calendars import CalendarMemo
    from bot.services.histories import HistoryCache
    from bot.services.rules import TrialRules
    from bot.settings import Settings
    from bot.storage.database import Database


def _findings_memo() -> FindingsMemo:
    from bot.decisions.findings import FindingsMemo

    return FindingsMemo()


def _history_cache() -> HistoryCache:
    from bot.services.histories import HistoryCache

    return HistoryCache()


def _calendar_memo() -> CalendarMemo:
    from bot.services.calendars import CalendarMemo

    return CalendarMemo()


# The system principal's user: who records what the engine derives (proposals,
# withdrawals), and who the scheduler acts as. It is no Slack user (a Slack id is U…/W…),
# so no member row — hence no role — can ever name it.
SYSTEM_USER = "trialbot"


@dataclass(frozen=True)
class ServiceContext:
    """Built once per process by the entry point; no module-level state anywhere."""

    db: Database
    rules: TrialRules
    clock: Clock
    settings: Settings
    renderer: Renderer
    # Both caches are shared by every thread of the process (Bolt's listener threads, the
    # scheduler's thread) and are thread-safe: see derive.site_calendar_of, SiteCalendar
    # and FindingsMemo. Site calendars keep a per-year cache of treatment days; building
    # one per call would ask the holidays package again for every day of a ten-year
    # follow-up.
    site_calendars: dict[str, SiteCalendar] = field(default_factory=dict, compare=False)
    # Past entries' graded findings, keyed by content: grading a year of lab panels again
    # for every new entry was the decision engine's main cost. Answers never depend on it.
    findings_memo: FindingsMemo = field(default_factory=_findings_memo, compare=False)
    # Each patient's parsed log, kept between writes and checked against the database's
    # newest row id and count on every read (thread-safe: bot/services/histories.py).
    histories: HistoryCache = field(default_factory=_history_cache, compare=False)
    # Each patient's calendar and treatment state, kept while the history they were built
    # from is the same one (by identity; thread-safe: bot/services/calendars.py).
    calendars: CalendarMemo = field(default_factory=_calendar_memo, compare=False)

    @property
    def default_site(self) -> str:
        """The site a request naming none is for: `TRIALBOT_DEFAULT_SITE` when set, else
        the trial's own `default_site` (its sites.yaml)."""
        return self.settings.default_site or self.rules.sites.default_site

    def now(self) -> datetime:
        return self.clock.now()

    def today_at(self, timezone: str) -> date:
        return self.now().astimezone(ZoneInfo(timezone)).date()


@dataclass(frozen=True)
class Request:
    """Who asks, from where, and the request's idempotency key (the same key twice
    records once and returns the first answer)."""

    user: str
    source: str = "console"  # "console", "slack:command:<id>", "slack:action:<id>", "scheduler"
    key: str | None = None
    console: bool = False  # the embedded console (see access.effective_role)
    system: bool = False  # the system principal (see `Request.scheduler`, access.SYSTEM_RIGHTS)
    # SHA-256 of what the request asks (the dispatcher's `fingerprint`): with `key`, the
    # same key and different content is refused rather than answered with the first.
    content: str | None = None
    # The site the request is made for, when the place says it (a site's study channel in
    # Slack); otherwise the command's site= or the member's own site decides.
    site: str | None = None

    @classmethod
    def scheduler(cls, key: str | None = None) -> Request:
        """The scheduler's request: the system principal, with exactly
        `access.SYSTEM_RIGHTS` (read what is due, record derived and time-based
        proposals, enqueue posts) — never confirm, override or set roles."""
        return cls(user=SYSTEM_USER, source="scheduler", key=key, system=True)
