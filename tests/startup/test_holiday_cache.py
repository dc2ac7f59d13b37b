"""What the holidays package said, kept between processes (`bot.protocol.holiday_cache`):
a calendar given the kept facts answers every day exactly as one asking the package —
treatment day or not, why not, provisional or not; a year the facts lack is asked of the
package; facts of another country, a corrupt or a foreign file are not used."""

from __future__ import annotations

import json
from datetime import date, timedelta

from bot.calendar.sites import SiteCalendar, SiteConfig
from bot.protocol import holiday_cache


def _days(first: date, last: date):
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def _answers(site: SiteCalendar, first: date, last: date):
    return [
        (d, site.is_treatment_day(d), site.closure_reason(d), site.is_provisional(d))
        for d in _days(first, last)
    ]


def test_kept_facts_answer_every_day_as_the_package_does(tmp_path):
    config = SiteConfig(id="main", country="CN", makeup_workdays_are_treatment_days=False)
    fresh = SiteCalendar(config)
    expected = _answers(fresh, date(2025, 1, 1), date(2027, 12, 31))
    holiday_cache.keep_facts(tmp_path, fresh, None)
    facts = holiday_cache.load_facts(tmp_path, "CN", None)
    assert facts is not None and sorted(facts.years) == [2025, 2026, 2027]
    assert any("Spring Festival" in name for name in facts.names.values())
    kept = SiteCalendar(config, facts=facts)
    assert kept._facts is facts
    assert _answers(kept, date(2025, 1, 1), date(2027, 12, 31)) == expected
    assert kept.published_through == fresh.published_through
    # a year the facts lack comes from the package, and is kept the next time
    later = _answers(SiteCalendar(config), date(2028, 1, 1), date(2028, 12, 31))
    assert _answers(kept, date(2028, 1, 1), date(2028, 12, 31)) == later
    holiday_cache.keep_facts(tmp_path, kept, facts)
    assert 2028 in holiday_cache.load_facts(tmp_path, "CN", None).years


def test_facts_of_another_country_a_corrupt_or_foreign_file_are_not_used(tmp_path):
    site = SiteCalendar(SiteConfig(id="main", country="CN"))
    site.is_treatment_day(date(2027, 3, 1))
    holiday_cache.keep_facts(tmp_path, site, None)
    facts = holiday_cache.load_facts(tmp_path, "CN", None)
    assert SiteCalendar(SiteConfig(id="fr", country="FR"), facts=facts)._facts is None
    assert holiday_cache.load_facts(tmp_path, "FR", None) is None
    [path] = tmp_path.glob("holidays-*.json")
    stored = json.loads(path.read_text())
    path.write_text(json.dumps({**stored, "key": "someone else's"}))
    assert holiday_cache.load_facts(tmp_path, "CN", None) is None
    path.write_text("{torn")
    assert holiday_cache.load_facts(tmp_path, "CN", None) is None
    assert holiday_cache.load_facts(None, "CN", None) is None  # TRIALBOT_CACHE_DIR=off
