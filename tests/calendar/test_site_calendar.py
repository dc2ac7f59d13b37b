"""Treatment days of a site: China's holidays and make-up workdays (holidays package),
site closures and openings, and which years are still provisional."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from bot.calendar import SiteCalendar, SiteConfig, SitesFile
from bot.errors import UserError

D = date


def test_china_2026_golden_week_and_mid_autumn(cn):
    assert not cn.is_treatment_day(D(2026, 9, 25))  # Mid-Autumn Festival (Friday)
    for day in range(1, 8):  # National Day + days off in lieu, 1–7 October
        assert not cn.is_treatment_day(D(2026, 10, day)), day
    assert cn.is_treatment_day(D(2026, 10, 8))
    assert cn.is_treatment_day(D(2026, 10, 10))  # Saturday worked in lieu (调休)
    assert cn.is_treatment_day(D(2026, 9, 20))  # Sunday worked in lieu
    assert not cn.is_treatment_day(D(2026, 9, 26))  # an ordinary Saturday
    assert cn.closure_reason(D(2026, 9, 25)) == "Mid-Autumn Festival"
    assert cn.closure_reason(D(2026, 10, 1)) == "National Day"
    assert cn.closure_reason(D(2026, 9, 26)) == "weekend"
    assert cn.closure_reason(D(2026, 10, 10)) is None


def test_make_up_workdays_can_be_excluded():
    site = SiteCalendar(SiteConfig(id="x", makeup_workdays_are_treatment_days=False))
    assert not site.is_treatment_day(D(2026, 10, 10))
    assert not site.is_treatment_day(D(2026, 9, 20))
    assert "make-up workday" in site.closure_reason(D(2026, 10, 10))
    assert not site.is_treatment_day(D(2026, 10, 1))  # holidays stay closed


def test_next_and_previous_treatment_day(cn):
    assert cn.next_treatment_day(D(2026, 10, 1)) == D(2026, 10, 8)
    assert cn.next_treatment_day(D(2026, 10, 8)) == D(2026, 10, 8)
    assert cn.next_treatment_day(D(2026, 10, 8), inclusive=False) == D(2026, 10, 9)
    assert cn.previous_treatment_day(D(2026, 10, 7)) == D(2026, 9, 30)
    assert cn.previous_treatment_day(D(2026, 9, 21), inclusive=False) == D(2026, 9, 20)
    assert cn.treatment_days(D(2026, 9, 28), D(2026, 10, 11)) == [
        D(2026, 9, 28), D(2026, 9, 29), D(2026, 9, 30),
        D(2026, 10, 8), D(2026, 10, 9), D(2026, 10, 10),
    ]  # fmt: skip


def test_closures_and_openings_override_the_country_calendar():
    site = SiteCalendar(SiteConfig(
        id="x",
        closures=["2026-03-04", {"from": "2026-03-10", "to": "2026-03-11",
                                 "reason": "linac service"}],
        openings=[{"date": "2026-03-07", "reason": "catch-up Saturday"}, "2026-10-02"],
    ))  # fmt: skip
    assert not site.is_treatment_day(D(2026, 3, 4))
    assert site.closure_reason(D(2026, 3, 4)) == "site closure"
    assert not site.is_treatment_day(D(2026, 3, 10))
    assert site.closure_reason(D(2026, 3, 11)) == "linac service"
    assert site.is_treatment_day(D(2026, 3, 7))  # a Saturday
    assert site.is_treatment_day(D(2026, 10, 2))  # a National Day holiday, opened
    assert site.is_treatment_day(D(2026, 3, 5))


def test_a_weekdays_only_site_ignores_holidays(weekdays):
    assert weekdays.is_treatment_day(D(2026, 10, 1))
    assert not weekdays.is_treatment_day(D(2026, 10, 10))  # Saturday
    assert weekdays.closure_reason(D(2026, 10, 10)) == "weekend"
    assert not weekdays.is_provisional(D(2030, 1, 7))


def test_years_without_published_make_up_days_are_provisional(cn):
    assert cn.published_through == 2026  # holidays 0.109 carries the 2026 notice
    assert not cn.is_provisional(D(2026, 12, 31))
    assert cn.is_provisional(D(2027, 1, 4))
    fixed = SiteCalendar(SiteConfig(id="x", makeup_days_published_through=2027))
    assert not fixed.is_provisional(D(2027, 6, 1))
    assert fixed.is_provisional(D(2028, 1, 3))


def test_a_country_without_make_up_notices_is_never_provisional():
    site = SiteCalendar(SiteConfig(id="us", country="US", timezone="America/New_York"))
    assert site.published_through is None
    assert not site.is_treatment_day(D(2026, 7, 3))  # Independence Day (observed)
    assert not site.is_provisional(D(2035, 1, 2))


def test_the_site_date_follows_its_time_zone(cn):
    instant = datetime(2026, 9, 20, 17, 0, tzinfo=UTC)  # 01:00 on 21 September in Shanghai
    assert cn.local_date(instant) == D(2026, 9, 21)
    with pytest.raises(ValueError, match="aware"):
        cn.local_date(datetime(2026, 9, 20, 17, 0))


def test_the_holidays_table_is_read_once_per_year(monkeypatch):
    site = SiteCalendar(SiteConfig(id="x"))
    table = site._holidays
    calls = []
    original = type(table).is_working_day
    monkeypatch.setattr(
        type(table), "is_working_day", lambda self, day: calls.append(day) or original(self, day)
    )
    for _ in range(3):
        for day in range(1, 29):
            site.is_treatment_day(D(2026, 2, day))
    assert len(calls) == 365  # one pass over 2026, then cached


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"id": "x", "timezone": "Asia/Shangai"}, "did you mean 'Asia/Shanghai'"),
        ({"id": "x", "country": "XX"}, "unknown country 'XX'"),
        ({"id": "x", "country": "CN", "subdivision": "ZZ"}, "unknown subdivision 'ZZ'"),
        ({"id": "x", "closures": ["2026-03-04"], "openings": ["2026-03-04"]},
         "both a closure and an opening"),
        ({"id": "x", "closures": [{"from": "2026-03-10", "to": "2026-03-01"}]}, "is before"),
        ({"id": "x", "brachytherapy_fractions_per_week": 0}, "greater than or equal to 1"),
        ({"id": "x", "treat_on_makeup_days": True}, r"unknown key \(allowed: id, label"),
        ({"id": "x", "timezon": "UTC"}, "did you mean .timezone."),
    ],
)  # fmt: skip
def test_bad_site_settings_are_refused(config, message):
    with pytest.raises(ValidationError, match=message):
        SiteConfig.model_validate(config)


def test_unknown_site_names_the_known_ones(sites):
    with pytest.raises(UserError) as caught:
        sites.config("mian")
    assert caught.value.field == "site"
    assert caught.value.suggestion == "main"
    assert "main, cn, none" in caught.value.message


def test_built_in_sites_exist_whatever_the_file_says():
    sites = SitesFile(default_site="a", sites=[SiteConfig(id="a", country=None)])
    assert sites.config("cn").country == "CN"
    assert sites.config("none").country is None
    assert sites.config().id == "a"
    with pytest.raises(ValidationError, match="unknown site 'b'"):
        SitesFile(default_site="b", sites=[SiteConfig(id="a")])
