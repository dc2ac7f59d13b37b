"""Properties every calendar keeps, whatever the start, site settings and closures."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.calendar import PatientPlan, SiteCalendar, build_calendar
from bot.calendar.dates import add_months, week_start
from bot.calendar.sites import SiteConfig

DAY = timedelta(days=1)


@st.composite
def scenarios(draw):
    country = draw(st.sampled_from(["CN", None]))
    makeup = draw(st.booleans())
    first = date(2026, 1, 5)
    offset = draw(st.integers(min_value=0, max_value=600))
    closures = draw(st.lists(st.integers(min_value=0, max_value=700), max_size=6, unique=True))
    config = SiteConfig(
        id="p",
        country=country,
        makeup_workdays_are_treatment_days=makeup,
        closures=[first + timedelta(days=offset + c) for c in closures if c != 0],
        brachytherapy_fractions_per_week=draw(st.integers(min_value=1, max_value=3)),
    )
    site = SiteCalendar(config)
    day1 = site.next_treatment_day(first + timedelta(days=offset))
    plan = PatientPlan(
        day1=day1,
        fractions=draw(st.integers(min_value=25, max_value=28)),
        boost=draw(st.booleans()),
        bsa_m2=1.7,
        counts={"ccrt_cisplatin_doses": draw(st.integers(4, 6))},
    )
    return site, plan


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios())
def test_calendar_invariants(schedule, scenario):
    site, plan = scenario
    cal = build_calendar(schedule, plan, [], site)
    events = cal.events
    assert [e.date for e in events] == sorted(e.date for e in events)
    for event in events:  # every unrecorded event lands on a treatment day
        assert site.is_treatment_day(event.date), event.label

    fractions = [e.date for e in cal.of("ebrt")]
    assert len(fractions) == plan.fractions
    assert fractions[0] == plan.day1
    assert all(a < b for a, b in itertools.pairwise(fractions))
    assert cal.summary.ott_days == (fractions[-1] - fractions[0]).days + 1
    if not site.config.openings and (
        site.config.country is None or not site.config.makeup_workdays_are_treatment_days
    ):
        assert cal.summary.prolongation_days >= 0

    weekly = [e.date for e in cal.of(series="ccrt_cisplatin")]
    ebrt_weeks = {week_start(d) for d in fractions}
    assert len(weekly) <= plan.counts["ccrt_cisplatin_doses"]
    assert len({week_start(d) for d in weekly}) == len(weekly)  # one per calendar week
    for day in weekly:
        assert plan.day1 <= day <= fractions[-1]
        assert week_start(day) in ebrt_weeks
    assert all((b - a).days >= 5 for a, b in itertools.pairwise(weekly))

    evaluation = cal.of("end_of_ebrt_evaluation")[0].date
    assert evaluation > fractions[-1]
    brachy = [e.date for e in cal.of("brachytherapy")]
    per_week = site.brachytherapy_fractions_per_week
    assert len(brachy) == 4 and brachy[0] > evaluation
    assert all((b - a).days >= 7 // per_week for a, b in itertools.pairwise(brachy))
    assert (
        max(sum(1 for d in brachy if week_start(d) == w) for w in map(week_start, brachy))
        <= per_week
    )

    paclitaxel = [e.date for e in cal.of("paclitaxel")]
    assert len(paclitaxel) == 6
    assert paclitaxel[0] >= brachy[-1] + 7 * DAY
    assert all((b - a).days >= 21 for a, b in itertools.pairwise(paclitaxel))
    for cycle, day1 in enumerate(paclitaxel, start=1):
        days = [e.date for e in cal.of("cisplatin", series="consolidation") if e.cycle == cycle]
        assert len(days) == 3 and day1 < days[0] < days[1] < days[2]

    anniversary = add_months(plan.day1, 12)
    maintenance = [e.date for e in cal.of(series="maintenance_toripalimab")]
    last_consolidation = cal.of("toripalimab", series="consolidation")[-1].date
    assert all(day < anniversary for day in maintenance)
    if maintenance:
        assert maintenance[0] >= last_consolidation + 42 * DAY
        assert all((b - a).days >= 42 for a, b in itertools.pairwise(maintenance))
    assert len(cal.of("efficacy_assessment")) == 19
