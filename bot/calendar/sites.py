"""Treatment sites: the typed schema of `sites.yaml` and the site calendar built from it.

A treatment day is a working day of the site's country (the `holidays` package, which
encodes China's official make-up workdays — 调休 — for the years whose State Council notice
it carries), unless the site does not treat on make-up weekend days, plus the site's own
closures (machine service, a department holiday) and openings (an extra treatment day).

`SiteCalendar` is pure: built from a `SiteConfig`, it answers date questions and caches one
flag per day for each year it has been asked about, so a calendar needs a dictionary look-up
per date, not a holidays computation.
"""

from __future__ import annotations

import re
import threading
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import Field, field_validator, model_validator

from bot.calendar.strict import StrictModel, custom_error, raise_errors
from bot.errors import UserError, closest
from bot.inputs import STUDY_ID_PATTERN
from bot.phi import PHI_LIKE_IDS, study_id_problem

ONE_DAY = timedelta(days=1)


class DateSpan(StrictModel):
    """One date or an inclusive span of dates, with the reason (shown in notes)."""

    on: date | None = Field(default=None, alias="date")
    start: date | None = Field(default=None, alias="from")
    end: date | None = Field(default=None, alias="to")
    reason: str = ""

    @model_validator(mode="before")
    @classmethod
    def _bare_date(cls, data):
        # `- 2026-12-24` is shorthand for `- {date: 2026-12-24}`
        if isinstance(data, (date, str)):
            return {"date": data}
        return data

    @model_validator(mode="after")
    def _one_form(self) -> DateSpan:
        if self.on is not None and (self.start or self.end):
            raise ValueError("give either `date` or `from` and `to`, not both")
        if self.on is None and not (self.start and self.end):
            raise ValueError("give `date`, or both `from` and `to`")
        if self.start and self.end and self.end < self.start:
            raise ValueError(f"`to` {self.end} is before `from` {self.start}")
        return self

    def days(self) -> list[date]:
        if self.on is not None:
            return [self.on]
        out, day = [], self.start
        while day <= self.end:
            out.append(day)
            day += ONE_DAY
        return out


def _country_codes() -> list[str]:
    """The country codes the holidays package supports (aliases included), read from its
    registry: `holidays.utils.list_supported_countries` would import all ~250 country
    modules to list their subdivisions, for a check that needs one country's."""
    from holidays.registry import EntityLoader

    return list(EntityLoader.get_country_codes())


def _subdivisions(country: str) -> list[str]:
    """The subdivisions of one supported country (importing that country only)."""
    import holidays

    return list(getattr(holidays, country).subdivisions)


class SiteConfig(StrictModel):
    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$", max_length=40)]
    label: str = ""
    # ISO 3166 country code for public holidays; null = weekdays only, no holidays
    country: str | None = "CN"
    subdivision: str | None = None
    timezone: str = "Asia/Shanghai"
    # official make-up workdays (weekend days worked in lieu, 调休) are treatment days
    makeup_workdays_are_treatment_days: bool = True
    # the last year whose official make-up days the holidays package carries; dates after
    # it are provisional. "auto" asks the package; null = the country has no such notices.
    makeup_days_published_through: int | Literal["auto"] | None = "auto"
    closures: list[DateSpan] = Field(default_factory=list)
    openings: list[DateSpan] = Field(default_factory=list)
    brachytherapy_fractions_per_week: int = Field(default=2, ge=1, le=5)
    source: str = ""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            guess = closest(value, available_timezones())
            hint = f" — did you mean {guess!r}?" if guess else ""
            raise ValueError(
                f"unknown time zone {value!r}{hint} (allowed: IANA names such as Asia/Shanghai)"
            ) from None
        return value

    @model_validator(mode="after")
    def _country_and_dates(self) -> SiteConfig:
        errors = []
        if self.country is not None:
            countries = _country_codes()
            if self.country not in countries:
                guess = closest(self.country, countries)
                hint = f" — did you mean {guess!r}?" if guess else ""
                errors.append(
                    custom_error(
                        "country",
                        f"unknown country {self.country!r}{hint} (allowed: ISO 3166 "
                        "codes the holidays package supports, e.g. CN, HK, TW, US; or null)",
                        ("country",),
                        self.country,
                    )
                )
            elif self.subdivision is not None and self.subdivision not in (
                subdivisions := _subdivisions(self.country)
            ):
                allowed = ", ".join(subdivisions) or "none for this country"
                errors.append(
                    custom_error(
                        "subdivision",
                        f"unknown subdivision {self.subdivision!r} of {self.country} "
                        f"(allowed: {allowed})",
                        ("subdivision",),
                        self.subdivision,
                    )
                )
        elif self.subdivision is not None:
            errors.append(
                custom_error(
                    "subdivision",
                    "a subdivision needs a country",
                    ("subdivision",),
                    self.subdivision,
                )
            )
        closed = {day for span in self.closures for day in span.days()}
        for index, span in enumerate(self.openings):
            both = sorted(closed.intersection(span.days()))
            if both:
                errors.append(
                    custom_error(
                        "dates",
                        f"{both[0]} is both a closure and an opening",
                        ("openings", index),
                        str(both[0]),
                    )
                )
        raise_errors("SiteConfig", errors)
        return self


def built_in_sites() -> dict[str, SiteConfig]:
    """Sites every installation knows, whatever its sites.yaml says: China's calendar, and
    a plain Monday–Friday calendar without holidays (for what-if plans)."""
    return {
        "cn": SiteConfig(
            id="cn", label="China (official holidays and make-up workdays)", country="CN"
        ),
        "none": SiteConfig(
            id="none",
            label="Monday–Friday, no holidays",
            country=None,
            makeup_days_published_through=None,
        ),
    }


class StudyIdRule(StrictModel):
    """The shape of a study ID at enrolment (the site's own numbering)."""

    pattern: str  # a regular expression the whole ID must match, e.g. "AB-[0-9]{3}"
    example: str
    meaning: str = ""

    @model_validator(mode="after")
    def _sound(self) -> StudyIdRule:
        errors = []
        try:
            compiled = re.compile(self.pattern, re.ASCII)
        except re.error as exc:
            raise ValueError(
                f"pattern {self.pattern!r} is not a regular expression: {exc}"
            ) from None
        if not compiled.fullmatch(self.example):
            errors.append(f"the example {self.example!r} does not match the pattern")
        if not STUDY_ID_PATTERN.fullmatch(self.example):
            errors.append(
                f"the example {self.example!r} is not a study ID trialbot can store "
                f"({STUDY_ID_PATTERN.pattern})"
            )
        elif study_id_problem(self.example):
            errors.append(f"the example {self.example!r}: {study_id_problem(self.example)}")
        accepted = [sample for sample in PHI_LIKE_IDS if compiled.fullmatch(sample)]
        if accepted:
            errors.append(
                f"the pattern accepts {accepted[0]!r}, which looks like a name, record "
                "number or date: make it the site's own numbering (e.g. AB-[0-9]{3})"
            )
        if errors:
            raise ValueError("; ".join(errors))
        return self

    def matches(self, study_id: str) -> bool:
        import re

        return re.fullmatch(self.pattern, study_id, re.ASCII) is not None


# What a sites.yaml must say for each site, never left to a default.
REQUIRED_SITE_KEYS = {
    "timezone": "the site's IANA time zone (e.g. America/New_York); its clinical dates are dates there",
    "country": (
        "the ISO 3166 country whose public holidays close the site (e.g. GB), "
        "or null for weekdays only"
    ),
}


class SitesFile(StrictModel):
    default_site: str
    study_ids: StudyIdRule | None = None
    sites: list[SiteConfig] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _said_not_defaulted(cls, data: Any) -> Any:
        """A rules file says each site's time zone and holiday country: the model's
        defaults (Asia/Shanghai, CN: the first trial's site) would otherwise move a new
        trial's every date and treatment day without a word."""
        if not isinstance(data, dict) or not isinstance(data.get("sites"), list):
            return data
        errors = []
        for index, site in enumerate(data["sites"]):
            if not isinstance(site, dict):
                continue
            for key, what in REQUIRED_SITE_KEYS.items():
                if key not in site:
                    errors.append(
                        custom_error("missing", f"required: {what}", ("sites", index, key), None)
                    )
        raise_errors("SitesFile", errors)
        return data

    @model_validator(mode="after")
    def _ids(self) -> SitesFile:
        errors = []
        seen: set[str] = set()
        for index, site in enumerate(self.sites):
            if site.id in seen:
                errors.append(
                    custom_error(
                        "reference",
                        f"duplicate site id {site.id!r}",
                        ("sites", index, "id"),
                        site.id,
                    )
                )
            seen.add(site.id)
        # the default must be one of the file's own sites: a built-in calendar (what-if
        # plans) is no site the services enrol at, so it would pass here and be refused there
        known = self.own_site_ids()
        if self.default_site not in known:
            hint = closest(self.default_site, known)
            errors.append(
                custom_error(
                    "reference",
                    f"unknown site {self.default_site!r}"
                    + (f" — did you mean {hint!r}?" if hint else "")
                    + f" (allowed: {', '.join(known)})",
                    ("default_site",),
                    self.default_site,
                )
            )
        raise_errors("SitesFile", errors)
        return self

    def own_site_ids(self) -> list[str]:
        """The sites this file lists (where patients are enrolled and treated)."""
        return [s.id for s in self.sites]

    def site_ids(self) -> list[str]:
        """The file's sites and the built-in calendars (what-if plans)."""
        ids = self.own_site_ids()
        return ids + [i for i in built_in_sites() if i not in ids]

    def config(self, site_id: str | None = None) -> SiteConfig:
        """The site's configuration; an unknown id is a `UserError` naming the known ones."""
        wanted = site_id or self.default_site
        for site in self.sites:
            if site.id == wanted:
                return site
        built_in = built_in_sites()
        if wanted in built_in:
            return built_in[wanted]
        known = self.site_ids()
        raise UserError(
            f"unknown site {wanted!r}",
            field="site",
            allowed=", ".join(known),
            suggestion=closest(wanted, known),
        )


class HolidayFacts:
    """What the holidays package says of one country (and subdivision) for some years, as
    data: per year and day, working day or not and weekend or not; the holiday names; and
    the last year of published make-up workdays ("auto"). Immutable. A shell may keep it
    between processes (`bot/protocol/holiday_cache.py`) so a one-shot command need not
    import the package and compute the years again; a year it does not hold is asked of
    the package, as without it.
    """

    def __init__(
        self,
        country: str,
        subdivision: str | None,
        years: dict[int, tuple[bytes, bytes]],
        names: dict[date, str],
        published_through: int | None,
    ) -> None:
        self.country = country
        self.subdivision = subdivision
        self.years = dict(years)  # year -> (working flags, weekend flags), one byte a day
        self.names = dict(names)
        self.published_through = published_through

    def holds(self, year: int) -> bool:
        return year in self.years

    def _flag(self, day: date, which: int) -> bool:
        flags = self.years[day.year][which]
        return bool(flags[day.toordinal() - date(day.year, 1, 1).toordinal()])

    def is_working_day(self, day: date) -> bool:
        return self._flag(day, 0)

    def is_weekend(self, day: date) -> bool:
        return self._flag(day, 1)

    def get(self, day: date) -> str | None:
        return self.names.get(day)

    def to_json(self) -> dict:
        return {
            "country": self.country,
            "subdivision": self.subdivision,
            "published_through": self.published_through,
            "years": {
                str(year): [working.hex(), weekend.hex()]
                for year, (working, weekend) in sorted(self.years.items())
            },
            "names": {day.isoformat(): name for day, name in sorted(self.names.items())},
        }

    @classmethod
    def from_json(cls, data: dict) -> HolidayFacts:
        return cls(
            country=str(data["country"]),
            subdivision=data.get("subdivision"),
            years={
                int(year): (bytes.fromhex(pair[0]), bytes.fromhex(pair[1]))
                for year, pair in data["years"].items()
            },
            names={date.fromisoformat(day): str(name) for day, name in data["names"].items()},
            published_through=data.get("published_through"),
        )


class SiteCalendar:
    """A site's treatment days. Pure; per-year day flags are computed once and cached.

    Thread-safe: one calendar per site is shared by Bolt's listener threads and the
    scheduler's thread. The holidays package fills its tables lazily on lookup, so
    everything that touches it (a year's flags, `published_through`) runs under `_lock`;
    a year already computed is read without it (a dict lookup of an immutable value).
    """

    def __init__(self, config: SiteConfig, *, facts: HolidayFacts | None = None) -> None:
        self.config = config
        # what the holidays package said before (another process); only if it is about
        # this site's country and subdivision
        usable = (
            facts is not None
            and facts.country == config.country
            and facts.subdivision == config.subdivision
        )
        self._facts = facts if usable else None
        self._lock = threading.RLock()
        self._years: dict[int, tuple[int, bytes]] = {}
        self._closure_reasons: dict[date, str] = {}
        for span in config.closures:
            for day in span.days():
                self._closure_reasons[day] = span.reason or "site closure"
        self._openings = {day for span in config.openings for day in span.days()}

    @classmethod
    def from_config(cls, config: SiteConfig) -> SiteCalendar:
        return cls(config)

    @classmethod
    def for_country(cls, country: str | None = "CN", **settings) -> SiteCalendar:
        site_id = settings.pop("id", (country or "none").lower())
        return cls(SiteConfig(id=site_id, country=country, **settings))

    # --- identity -----------------------------------------------------------------
    @property
    def id(self) -> str:
        return self.config.id

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.config.timezone)

    @property
    def brachytherapy_fractions_per_week(self) -> int:
        return self.config.brachytherapy_fractions_per_week

    def local_date(self, instant: datetime) -> date:
        """The site's calendar date at `instant` (an aware datetime)."""
        if instant.tzinfo is None:
            raise ValueError("local_date needs an aware datetime")
        return instant.astimezone(self.timezone).date()

    # --- the holidays package -----------------------------------------------------
    @cached_property
    def _holidays(self):
        if self.config.country is None:
            return None
        import holidays

        return holidays.country_holidays(
            self.config.country, subdiv=self.config.subdivision, years=[]
        )

    @cached_property
    def published_through(self) -> int | None:
        """The last year whose official make-up workdays are known (None: not applicable)."""
        with self._lock:
            return self._published_through()

    def _published_through(self) -> int | None:
        setting = self.config.makeup_days_published_through
        if setting != "auto":
            return setting
        if self._facts is not None:
            return self._facts.published_through
        return self._auto_published_through()

    def _auto_published_through(self) -> int | None:
        table = self._holidays
        if table is None:
            return None
        special = getattr(table, "special_public_holidays", None) or {}
        if not special:
            return None
        last = max(special)
        _ = date(last, 1, 1) in table  # loads that year's notice into the lazy table
        if any(day.year == last for day in getattr(table, "weekend_workdays", ())):
            return last
        return None  # the country's special days are one-offs, not yearly make-up notices

    def is_provisional(self, day: date) -> bool:
        """Whether `day` is in a year whose official make-up workdays are not yet published."""
        last = self.published_through
        return last is not None and day.year > last

    def _table_for(self, year: int):
        """What answers for `year`: the facts kept from before, else the package."""
        if self._facts is not None and self._facts.holds(year):
            return self._facts
        return self._holidays

    def computed_years(self) -> list[int]:
        """The years whose treatment days this calendar has worked out so far."""
        return sorted(self._years)

    def holiday_facts(self) -> HolidayFacts | None:
        """What the holidays package says of the years this calendar has computed (and of
        those in the facts it was given), for a shell to keep; None without a country."""
        country = self.config.country
        if country is None:
            return None
        with self._lock:
            years = dict(self._facts.years) if self._facts is not None else {}
            names = dict(self._facts.names) if self._facts is not None else {}
            table = None
            for year in sorted(set(self._years) - set(years)):
                table = table or self._holidays
                first = date(year, 1, 1)
                length = (date(year + 1, 1, 1) - first).days
                working, weekend = bytearray(length), bytearray(length)
                for offset in range(length):
                    day = first + timedelta(days=offset)
                    working[offset] = table.is_working_day(day)
                    weekend[offset] = table.is_weekend(day)
                    name = table.get(day)
                    if name:
                        names[day] = str(name)
                years[year] = (bytes(working), bytes(weekend))
            published = (
                self._facts.published_through
                if self._facts is not None
                else self._auto_published_through()
            )
        return HolidayFacts(country, self.config.subdivision, years, names, published)

    # --- per-year flags -----------------------------------------------------------
    def _year(self, year: int) -> tuple[int, bytes]:
        cached = self._years.get(year)
        if cached is not None:
            return cached
        with self._lock:
            cached = self._years.get(year)
            if cached is None:
                cached = self._years[year] = self._compute_year(year)
            return cached

    def _compute_year(self, year: int) -> tuple[int, bytes]:
        first = date(year, 1, 1)
        length = (date(year + 1, 1, 1) - first).days
        flags = bytearray(length)
        table = self._table_for(year)
        makeup_ok = self.config.makeup_workdays_are_treatment_days
        day = first
        for offset in range(length):
            if table is None:
                open_ = day.weekday() < 5
            else:
                open_ = table.is_working_day(day)
                if open_ and not makeup_ok and table.is_weekend(day):
                    open_ = False
            if day in self._closure_reasons:
                open_ = False
            elif day in self._openings:
                open_ = True
            flags[offset] = open_
            day += ONE_DAY
        return (first.toordinal(), bytes(flags))

    def is_treatment_day(self, day: date) -> bool:
        start, flags = self._year(day.year)
        return bool(flags[day.toordinal() - start])

    def next_treatment_day(self, day: date, *, inclusive: bool = True) -> date:
        """The first treatment day on or after `day` (strictly after, if not inclusive)."""
        if not inclusive:
            day += ONE_DAY
        for _ in range(3700):
            if self.is_treatment_day(day):
                return day
            day += ONE_DAY
        raise ValueError(f"site {self.id!r} has no treatment day within ten years of {day}")

    def previous_treatment_day(self, day: date, *, inclusive: bool = True) -> date:
        """The last treatment day on or before `day` (strictly before, if not inclusive)."""
        if not inclusive:
            day -= ONE_DAY
        for _ in range(3700):
            if self.is_treatment_day(day):
                return day
            day -= ONE_DAY
        raise ValueError(f"site {self.id!r} has no treatment day within ten years of {day}")

    def treatment_days(self, start: date, end: date) -> list[date]:
        """Treatment days from `start` to `end`, both included."""
        out, day = [], start
        while day <= end:
            if self.is_treatment_day(day):
                out.append(day)
            day += ONE_DAY
        return out

    def closure_reason(self, day: date) -> str | None:
        """Why `day` is not a treatment day (holiday name, weekend, site closure), or None."""
        if self.is_treatment_day(day):
            return None
        if day in self._closure_reasons:
            return self._closure_reasons[day]
        table = self._table_for(day.year)
        if table is not None:
            with self._lock:  # the holidays table may fill itself on lookup
                name = table.get(day)
                makeup = table.is_weekend(day) and table.is_working_day(day)
            if name:
                return str(name)
            if makeup:
                return "make-up workday, not a treatment day at this site"
        return "weekend"
