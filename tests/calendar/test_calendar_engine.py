"""The calendar engine on real starts: every date a study nurse would book, pinned.

Dates were checked by hand against the 2026 State Council holiday notice (as encoded in the
holidays package): Mid-Autumn Festival Fri 25 Sep, National Day 1–7 Oct, make-up workdays
Sun 20 Sep and Sat 10 Oct.
"""

from __future__ import annotations

from datetime import date

import pytest
import yaml

from bot.calendar import STATUSES, Schedule, SiteCalendar, build_calendar
from bot.calendar.sites import SiteConfig
from bot.errors import UserError
from bot.events import DoseRecord, LabPanel, LabValue, ResponseAssessment
from bot.treatment import DrugCourse, Hold, Level

D = date


def on(calendar, item=None, *, series=None, status=None) -> list[date]:
    return [e.date for e in calendar.of(item, series=series, status=status)]


def weekdays_from(start: date, count: int, skip=()) -> list[date]:
    out, day = [], start
    while len(out) < count:
        if day.weekday() < 5 and day not in skip:
            out.append(day)
        day = D.fromordinal(day.toordinal() + 1)
    return out


def dose(day: date, drug: str, status: str = "given", **extra) -> DoseRecord:
    return DoseRecord(date=day, drug=drug, status=status, **extra)


# --- a holiday-free plan: every date pinned -----------------------------------------------
def test_holiday_free_start_pins_the_whole_protocol(calendar_for, weekdays):
    cal = calendar_for(D(2026, 3, 2), site=weekdays)
    assert on(cal, "eligibility_visit") == [D(2026, 2, 2)]
    assert on(cal, "inclusion_visit") == [D(2026, 2, 9)]
    assert on(cal, "planning_ct") == [D(2026, 2, 16)]  # day 1 − 14 (week −2)
    assert on(cal, "ebrt") == weekdays_from(D(2026, 3, 2), 25)
    assert on(cal, "ebrt")[-1] == D(2026, 4, 3)
    assert on(cal, series="ccrt_cisplatin") == [
        D(2026, 3, 2),
        D(2026, 3, 9),
        D(2026, 3, 16),
        D(2026, 3, 23),
        D(2026, 3, 30),
    ]
    assert on(cal, series="ccrt_toripalimab") == [D(2026, 3, 2), D(2026, 3, 23)]  # day 1, 22
    assert on(cal, "end_of_ebrt_evaluation") == [D(2026, 4, 6)]
    assert on(cal, "brachytherapy") == [
        D(2026, 4, 7),
        D(2026, 4, 10),
        D(2026, 4, 13),
        D(2026, 4, 16),
    ]
    cycle_day1 = [
        D(2026, 4, 23),
        D(2026, 5, 14),
        D(2026, 6, 4),
        D(2026, 6, 25),
        D(2026, 7, 16),
        D(2026, 8, 6),
    ]  # last brachytherapy + 7, then every 21 days
    assert on(cal, "paclitaxel") == cycle_day1
    assert on(cal, "toripalimab", series="consolidation") == cycle_day1
    # days 2–4 on consecutive treatment days: Friday, (Saturday →) Monday, Tuesday
    assert on(cal, "cisplatin", series="consolidation")[:3] == [
        D(2026, 4, 24),
        D(2026, 4, 27),
        D(2026, 4, 28),
    ]
    assert len(on(cal, "cisplatin", series="consolidation")) == 18
    # every 6 weeks from the last consolidation dose, before the anniversary (2027-03-02)
    assert on(cal, series="maintenance_toripalimab") == [
        D(2026, 9, 17),
        D(2026, 10, 29),
        D(2026, 12, 10),
        D(2027, 1, 21),
    ]
    summary = cal.summary
    assert (summary.ott_days, summary.planned_ott_days, summary.prolongation_days) == (33, 33, 0)
    assert summary.consolidation_start == D(2026, 4, 23)
    assert summary.maintenance_end == D(2027, 1, 21)
    assert summary.last_brachytherapy == D(2026, 4, 16)
    assert not summary.provisional  # a Monday–Friday site has nothing to publish


def test_efficacy_assessments_month_3_to_120(calendar_for, weekdays):
    cal = calendar_for(D(2026, 3, 2), site=weekdays)
    events = cal.of("efficacy_assessment")
    assert [e.month for e in events] == [
        3,
        6,
        9,
        12,
        15,
        18,
        21,
        24,
        30,
        36,
        42,
        48,
        54,
        60,
        72,
        84,
        96,
        108,
        120,
    ]
    assert [e.number for e in events] == list(range(1, 20))
    assert events[0].date == D(2026, 6, 2)
    assert events[8].date == D(2028, 9, 4)  # month 30 = Sat 2 Sep 2028 → Monday
    assert (events[0].window_from, events[0].window_to) == (D(2026, 5, 26), D(2026, 6, 9))
    assert (events[8].window_from, events[8].window_to) == (D(2028, 8, 19), D(2028, 9, 16))
    assert (events[-1].window_from, events[-1].window_to) == (D(2036, 2, 1), D(2036, 4, 1))
    assert {e.phase for e in events} == {"follow_up"}
    assert events[0].items == (
        "medical_history",
        "physical_examination",
        "staging_imaging",
        "blood_samples",
        "toxicity_assessment",
    )


def test_month_arithmetic_clamps_to_the_end_of_the_month(calendar_for, cn):
    cal = calendar_for(D(2026, 8, 31))
    events = cal.of("efficacy_assessment")
    assert events[0].nominal_date == D(2026, 11, 30)  # 31 Aug + 3 months
    assert events[1].nominal_date == D(2027, 2, 28)  # + 6 months, a Sunday
    assert events[1].date == D(2027, 3, 1)


# --- China: Mid-Autumn and National Day -------------------------------------------------
def test_start_spanning_mid_autumn_and_national_day(calendar_for):
    cal = calendar_for(D(2026, 9, 21))
    fractions = on(cal, "ebrt")
    assert len(fractions) == 25
    assert D(2026, 9, 25) not in fractions
    assert not any(D(2026, 10, 1) <= d <= D(2026, 10, 7) for d in fractions)
    assert D(2026, 10, 10) in fractions  # the Saturday worked in lieu
    assert fractions[:8] == [
        D(2026, 9, 21),
        D(2026, 9, 22),
        D(2026, 9, 23),
        D(2026, 9, 24),
        D(2026, 9, 28),
        D(2026, 9, 29),
        D(2026, 9, 30),
        D(2026, 10, 8),
    ]
    assert fractions[-1] == D(2026, 10, 30)
    summary = cal.summary
    assert (summary.ott_days, summary.planned_ott_days, summary.prolongation_days) == (40, 33, 7)
    assert on(cal, series="ccrt_cisplatin") == [
        D(2026, 9, 21),
        D(2026, 9, 28),
        D(2026, 10, 8),
        D(2026, 10, 13),  # Monday 12th is only 5 days… 8 → 13 keeps the 5-day minimum
        D(2026, 10, 19),
    ]
    assert on(cal, series="ccrt_toripalimab") == [D(2026, 9, 21), D(2026, 10, 12)]
    assert on(cal, "end_of_ebrt_evaluation") == [D(2026, 11, 2)]
    assert on(cal, "brachytherapy") == [
        D(2026, 11, 3),
        D(2026, 11, 6),
        D(2026, 11, 9),
        D(2026, 11, 12),
    ]
    assert summary.consolidation_start == D(2026, 11, 19)
    assert on(cal, "efficacy_assessment")[0] == D(2026, 12, 21)


def test_pre_dose_labs_use_a_sunday_worked_in_lieu(calendar_for):
    cal = calendar_for(D(2026, 9, 21))
    first = cal.of("pre_dose_labs")[0]
    assert first.date == D(2026, 9, 20)  # Sunday, a make-up workday in 2026
    assert (first.window_from, first.window_to) == (D(2026, 9, 18), D(2026, 9, 21))
    # the dose on Thu 8 Oct: no treatment day in 5–7 Oct, so the labs are early, and said so
    golden_week = next(e for e in cal.of("pre_dose_labs") if e.window_to == D(2026, 10, 8))
    assert golden_week.date == D(2026, 9, 30)
    assert "outside" in golden_week.note or "early" in golden_week.note


@pytest.mark.parametrize(
    ("makeup", "last", "ott"),
    [(True, D(2026, 11, 5), 39), (False, D(2026, 11, 6), 40)],
)
def test_make_up_saturday_setting_changes_the_last_fraction(schedule, plan_for, makeup, last, ott):
    # the worked example of the scheduling notes: 25 fractions from Mon 28 Sep 2026
    site = SiteCalendar(SiteConfig(id="x", makeup_workdays_are_treatment_days=makeup))
    cal = build_calendar(schedule, plan_for(D(2026, 9, 28)), [], site)
    assert on(cal, "ebrt")[-1] == last
    assert (cal.summary.ott_days, cal.summary.planned_ott_days) == (ott, 33)
    assert (D(2026, 10, 10) in on(cal, "ebrt")) is makeup


def test_without_make_up_days_the_sunday_labs_move_to_friday(schedule, plan_for):
    site = SiteCalendar(SiteConfig(id="x", makeup_workdays_are_treatment_days=False))
    cal = build_calendar(schedule, plan_for(D(2026, 9, 21)), [], site)
    assert cal.of("pre_dose_labs")[0].date == D(2026, 9, 18)
    assert on(cal, "ebrt")[-1] == D(2026, 11, 2)


def test_closures_push_fractions_and_openings_take_them(schedule, plan_for):
    site = SiteCalendar(SiteConfig(
        id="x", country=None, openings=["2026-03-07"],
        closures=[{"date": "2026-03-04", "reason": "linac service"}, "2026-03-09"]))  # fmt: skip
    cal = build_calendar(schedule, plan_for(D(2026, 3, 2)), [], site)
    fractions = on(cal, "ebrt")
    assert D(2026, 3, 4) not in fractions and D(2026, 3, 9) not in fractions
    assert D(2026, 3, 7) in fractions  # an opened Saturday
    assert fractions[-1] == D(2026, 4, 6)  # one closure net: one treatment day later
    assert cal.summary.prolongation_days == 3  # Friday 3 → Monday 6 April
    # weekly cisplatin of the week of Mon 9 Mar (closed) is on Tuesday
    assert on(cal, series="ccrt_cisplatin")[1] == D(2026, 3, 10)


def test_a_closure_pushing_a_visit_out_of_its_window_is_flagged(schedule, plan_for):
    site = SiteCalendar(
        SiteConfig(id="x", closures=[{"from": "2026-06-01", "to": "2026-06-12", "reason": "move"}])
    )
    cal = build_calendar(schedule, plan_for(D(2026, 3, 2)), [], site)
    month3 = cal.of("efficacy_assessment")[0]
    assert month3.date == D(2026, 6, 15)
    assert month3.window_to == D(2026, 6, 9)
    assert "move" in month3.note and "outside its window" in month3.note


def test_28_fractions_with_nodal_boost(calendar_for, weekdays):
    cal = calendar_for(D(2026, 3, 2), site=weekdays, fractions=28, boost=True)
    fractions = cal.of("ebrt")
    assert len(fractions) == 28
    assert fractions[-1].date == D(2026, 4, 8)
    assert fractions[0].label == "EBRT fraction 1/28"
    assert fractions[0].dose.to_json()["amount"] == 1.8
    assert fractions[0].dose.to_json()["boost"] == 2.14
    assert cal.summary.planned_ott_days == 38
    assert calendar_for(D(2026, 3, 2), site=weekdays).of("ebrt")[0].dose.boost is None


@pytest.mark.parametrize("fractions", [24, 29])
def test_fractions_outside_25_to_28_are_refused(calendar_for, fractions):
    with pytest.raises(UserError) as caught:
        calendar_for(D(2026, 3, 2), fractions=fractions)
    assert caught.value.field == "fractions"
    assert caught.value.allowed == "25–28"


def test_day1_must_be_a_treatment_day(calendar_for):
    with pytest.raises(UserError) as caught:
        calendar_for(D(2026, 10, 1))
    assert caught.value.field == "day1"
    assert "National Day" in caught.value.message
    assert "2026-10-08" in caught.value.message


def test_weekly_cisplatin_count_is_a_plan_setting(calendar_for, weekdays):
    cal = calendar_for(D(2026, 3, 5), site=weekdays, counts={"ccrt_cisplatin_doses": 6})
    # Thursday start: 6 EBRT weeks, 5-day minimum between doses
    assert on(cal, series="ccrt_cisplatin") == [
        D(2026, 3, 5),
        D(2026, 3, 10),
        D(2026, 3, 16),
        D(2026, 3, 23),
        D(2026, 3, 30),
        D(2026, 4, 6),
    ]
    with pytest.raises(UserError) as caught:
        calendar_for(D(2026, 3, 5), counts={"ccrt_cisplatin_doses": 7})
    assert (caught.value.field, caught.value.allowed) == ("ccrt_cisplatin_doses", "4–6")


# --- re-flow from what happened --------------------------------------------------------
def test_held_and_skipped_fractions_move_later_and_are_never_dropped(calendar_for, weekdays):
    history = [
        dose(D(2026, 3, 3), "ebrt", "held", reason="diarrhoea"),
        dose(D(2026, 3, 10), "ebrt", "skipped"),
        dose(D(2026, 3, 14), "ebrt"),
    ]  # an extra Saturday fraction, recorded
    cal = calendar_for(D(2026, 3, 2), site=weekdays, history=history, today=D(2026, 3, 20))
    fractions = cal.of("ebrt", status=None)
    delivered = [e for e in fractions if e.status in ("given", "presumed_given", "due", "planned")]
    assert len(delivered) == 25
    held = cal.of("ebrt", status="held")[0]
    assert (held.date, held.number, held.note) == (D(2026, 3, 3), 2, "diarrhoea")
    assert cal.of("ebrt", status="skipped")[0].date == D(2026, 3, 10)
    assert D(2026, 3, 14) in on(cal, "ebrt", status="given")
    # two lost days, one extra Saturday: one day later than planned
    assert delivered[-1].date == D(2026, 4, 6)
    assert cal.summary.prolongation_days == 3  # 4 Apr–6 Apr counted in calendar days
    assert on(cal, "ebrt", status="presumed_given")[0] == D(2026, 3, 2)


def test_a_held_weekly_cisplatin_moves_to_the_next_ebrt_week(calendar_for, weekdays):
    history = [
        dose(D(2026, 3, 2), "cisplatin"),
        dose(D(2026, 3, 9), "cisplatin", "held"),
        dose(D(2026, 3, 16), "cisplatin", "held"),
    ]
    cal = calendar_for(D(2026, 3, 2), site=weekdays, history=history)
    weekly = cal.of(series="ccrt_cisplatin")
    assert [(e.date, e.number, e.status) for e in weekly] == [
        (D(2026, 3, 2), 1, "given"),
        (D(2026, 3, 9), 2, "held"),
        (D(2026, 3, 16), 2, "held"),
        (D(2026, 3, 23), 2, "planned"),
        (D(2026, 3, 30), 3, "planned"),
    ]
    # EBRT ends in the week of 30 March: doses 4 and 5 are dropped, and the summary says so
    assert any("dose 4 of 5" in note for note in cal.summary.notes)


def test_weekly_cisplatin_keeps_five_days_after_a_late_dose(calendar_for, weekdays):
    history = [dose(D(2026, 3, 2), "cisplatin"), dose(D(2026, 3, 12), "cisplatin")]
    cal = calendar_for(D(2026, 3, 2), site=weekdays, history=history)
    assert on(cal, series="ccrt_cisplatin")[:3] == [D(2026, 3, 2), D(2026, 3, 12), D(2026, 3, 17)]


def test_toripalimab_dose_2_is_21_days_after_dose_1_as_given(calendar_for, weekdays):
    cal = calendar_for(D(2026, 3, 2), site=weekdays, history=[dose(D(2026, 3, 4), "toripalimab")])
    assert on(cal, series="ccrt_toripalimab") == [D(2026, 3, 4), D(2026, 3, 25)]


def test_a_held_q3w_dose_is_retried_a_week_later(calendar_for, weekdays):
    history = [dose(D(2026, 3, 2), "toripalimab"), dose(D(2026, 3, 23), "toripalimab", "held")]
    cal = calendar_for(D(2026, 3, 2), site=weekdays, history=history)
    assert [(e.date, e.status) for e in cal.of(series="ccrt_toripalimab")] == [
        (D(2026, 3, 2), "given"),
        (D(2026, 3, 23), "held"),
        (D(2026, 3, 30), "planned"),
    ]


def test_one_brachytherapy_fraction_a_week(schedule, plan_for):
    site = SiteCalendar(SiteConfig(id="x", country=None, brachytherapy_fractions_per_week=1))
    cal = build_calendar(schedule, plan_for(D(2026, 3, 2)), [], site)
    assert on(cal, "brachytherapy") == [
        D(2026, 4, 7),
        D(2026, 4, 14),
        D(2026, 4, 21),
        D(2026, 4, 28),
    ]
    assert cal.summary.consolidation_start == D(2026, 5, 5)


def test_a_held_brachytherapy_fraction_keeps_the_gap(calendar_for, weekdays):
    history = [dose(D(2026, 4, 7), "brachytherapy"), dose(D(2026, 4, 10), "brachytherapy", "held")]
    cal = calendar_for(D(2026, 3, 2), site=weekdays, history=history)
    assert on(cal, "brachytherapy", status="held") == [D(2026, 4, 10)]
    # next try Mon 13th; then 3 days later; at most two in a week
    assert [e.date for e in cal.of("brachytherapy") if e.status != "held"] == [
        D(2026, 4, 7),
        D(2026, 4, 13),
        D(2026, 4, 16),
        D(2026, 4, 20),
    ]


def test_a_delayed_consolidation_cycle_pushes_the_rest(calendar_for, weekdays):
    history = [
        dose(D(2026, 4, 23), "paclitaxel", "held"),
        dose(D(2026, 4, 23), "toripalimab", "held"),
        dose(D(2026, 4, 30), "paclitaxel"),
        dose(D(2026, 4, 30), "toripalimab"),
        dose(D(2026, 5, 1), "cisplatin"),
    ]
    cal = calendar_for(D(2026, 3, 2), site=weekdays, history=history)
    paclitaxel = [e for e in cal.of("paclitaxel") if e.status != "held"]
    assert [e.date for e in paclitaxel] == [
        D(2026, 4, 30),
        D(2026, 5, 21),
        D(2026, 6, 11),
        D(2026, 7, 2),
        D(2026, 7, 23),
        D(2026, 8, 13),
    ]
    cisplatin = cal.of("cisplatin", series="consolidation")
    # days 2–4 from the actual day 1 (Thu 30 Apr): Fri 1 May, then Mon 4, Tue 5
    assert [(e.date, e.cycle, e.day, e.status) for e in cisplatin[:3]] == [
        (D(2026, 5, 1), 1, 2, "given"),
        (D(2026, 5, 4), 1, 3, "planned"),
        (D(2026, 5, 5), 1, 4, "planned"),
    ]
    assert cal.summary.consolidation_start == D(2026, 4, 30)
    # maintenance follows the pushed last consolidation dose
    assert on(cal, series="maintenance_toripalimab")[0] == D(2026, 9, 24)


def test_assessments_stay_anchored_on_day1(calendar_for, weekdays):
    planned = calendar_for(D(2026, 3, 2), site=weekdays)
    delayed = calendar_for(
        D(2026, 3, 2),
        site=weekdays,
        history=[dose(D(2026, 3, day), "ebrt", "held") for day in (3, 4, 5, 6, 9, 10)],
    )
    assert on(delayed, "ebrt")[-1] > on(planned, "ebrt")[-1]
    assert on(delayed, "efficacy_assessment") == on(planned, "efficacy_assessment")
    assert on(delayed, "paclitaxel")[0] > on(planned, "paclitaxel")[0]


def _maintenance_history():
    # consolidation toripalimab given on cycle days 1–5, the sixth two days early:
    # Tue 4 Aug 2026 + 5 × 42 days = Tue 2 Mar 2027, the first anniversary of day 1
    days = [
        D(2026, 4, 23),
        D(2026, 5, 14),
        D(2026, 6, 4),
        D(2026, 6, 25),
        D(2026, 7, 16),
        D(2026, 8, 4),
    ]
    return [dose(day, "toripalimab") for day in days]


def test_maintenance_stops_before_the_first_anniversary(calendar_for, weekdays):
    cal = calendar_for(D(2026, 3, 2), site=weekdays, history=_maintenance_history())
    assert on(cal, series="maintenance_toripalimab") == [
        D(2026, 9, 15),
        D(2026, 10, 27),
        D(2026, 12, 8),
        D(2027, 1, 19),
    ]


def test_maintenance_anniversary_can_be_included(schedule, plan_for, weekdays):
    data = yaml.safe_load(schedule.model_dump_json(by_alias=True, exclude_none=True))
    for entry in data["series"]:
        if entry["id"] == "maintenance_toripalimab":
            entry["until"]["inclusive"] = True
    inclusive = Schedule.model_validate(data)
    cal = build_calendar(inclusive, plan_for(D(2026, 3, 2)), _maintenance_history(), weekdays)
    assert on(cal, series="maintenance_toripalimab")[-1] == D(2027, 3, 2)


def test_recorded_doses_fill_slots_in_order_across_series(calendar_for, weekdays):
    # two CCRT toripalimab doses, then consolidation ones: each goes to its own series
    history = [
        dose(D(2026, 3, 2), "toripalimab"),
        dose(D(2026, 3, 24), "toripalimab"),
        dose(D(2026, 4, 24), "toripalimab"),
    ]
    cal = calendar_for(D(2026, 3, 2), site=weekdays, history=history)
    assert on(cal, series="ccrt_toripalimab", status="given") == [D(2026, 3, 2), D(2026, 3, 24)]
    assert on(cal, "toripalimab", series="consolidation")[:2] == [D(2026, 4, 24), D(2026, 5, 15)]


def test_a_consolidation_started_early_is_cycle_1(calendar_for, weekdays):
    # planned C1D1 is Thu 23 April; the team started on Monday 20th
    history = [
        dose(D(2026, 4, 20), "paclitaxel"),
        dose(D(2026, 4, 20), "toripalimab"),
        dose(D(2026, 4, 21), "cisplatin"),
    ]
    cal = calendar_for(D(2026, 3, 2), site=weekdays, history=history)
    assert cal.summary.consolidation_start == D(2026, 4, 20)
    assert on(cal, "paclitaxel")[:2] == [D(2026, 4, 20), D(2026, 5, 11)]
    cisplatin = cal.of("cisplatin", series="consolidation")[:3]
    assert [(e.date, e.status) for e in cisplatin] == [
        (D(2026, 4, 21), "given"),
        (D(2026, 4, 22), "planned"),
        (D(2026, 4, 23), "planned"),
    ]
    assert not [e for e in cal.events if e.number == 0]


def test_a_record_outside_every_series_is_shown_for_checking(calendar_for, weekdays):
    history = [dose(D(2026, 4, 10), "cisplatin", id="E9")]  # during brachytherapy
    cal = calendar_for(D(2026, 3, 2), site=weekdays, history=history)
    odd = next(e for e in cal.events if e.record_id == "E9")
    assert odd.status == "given" and odd.number == 0
    assert "outside the planned schedule" in odd.note


# --- holds and discontinuation from the treatment state -------------------------------
def test_an_open_hold_removes_due_dates_until_resumed(calendar_for, weekdays):
    treatment = {
        "toripalimab": DrugCourse(
            drug="toripalimab", holds=(Hold(start=D(2026, 5, 1), reason="colitis"),)
        )
    }
    cal = calendar_for(D(2026, 3, 2), site=weekdays, treatment=treatment)
    toripalimab = on(cal, "toripalimab")
    assert toripalimab == [D(2026, 3, 2), D(2026, 3, 23), D(2026, 4, 23)]
    assert [h.drug for h in cal.summary.on_hold] == ["toripalimab"]
    assert on(cal, "paclitaxel") == on(calendar_for(D(2026, 3, 2), site=weekdays), "paclitaxel")


def test_after_a_hold_the_next_dose_is_max_of_resume_and_interval(calendar_for, weekdays):
    treatment = {
        "toripalimab": DrugCourse(
            drug="toripalimab", holds=(Hold(start=D(2026, 5, 1), until=D(2026, 6, 10)),)
        )
    }
    cal = calendar_for(D(2026, 3, 2), site=weekdays, treatment=treatment)
    consolidation = cal.of("toripalimab", series="consolidation")
    # C2 was due 14 May, inside the hold: given on the resume date; then every 21 days
    assert [e.date for e in consolidation] == [
        D(2026, 4, 23),
        D(2026, 6, 10),
        D(2026, 7, 1),
        D(2026, 7, 22),
        D(2026, 8, 12),
        D(2026, 9, 2),
    ]
    assert "hold" in consolidation[1].note
    short = {
        "toripalimab": DrugCourse(
            drug="toripalimab", holds=(Hold(start=D(2026, 5, 1), until=D(2026, 5, 5)),)
        )
    }
    cal = calendar_for(D(2026, 3, 2), site=weekdays, treatment=short)
    assert on(cal, "toripalimab", series="consolidation")[1] == D(2026, 5, 14)  # 23 Apr + 21


def test_a_discontinued_drug_has_no_dates_after_discontinuation(calendar_for, weekdays):
    treatment = {
        "paclitaxel": DrugCourse(drug="paclitaxel", discontinued_on=D(2026, 6, 1)),
        "cisplatin": DrugCourse(drug="cisplatin", discontinued_on=D(2026, 6, 1)),
    }
    cal = calendar_for(D(2026, 3, 2), site=weekdays, treatment=treatment)
    assert on(cal, "paclitaxel") == [D(2026, 4, 23), D(2026, 5, 14)]
    assert max(on(cal, "cisplatin")) < D(2026, 6, 1)
    assert len(on(cal, "toripalimab", series="consolidation")) == 6  # immunotherapy goes on
    assert [d.drug for d in cal.summary.discontinued] == ["cisplatin", "paclitaxel"]


def test_dose_level_from_the_treatment_state_scales_the_mg(calendar_for, weekdays):
    treatment = {
        "cisplatin": DrugCourse(drug="cisplatin", levels=(Level(start=D(2026, 3, 9), percent=80),))
    }
    cal = calendar_for(D(2026, 3, 2), site=weekdays, treatment=treatment)
    weekly = cal.of(series="ccrt_cisplatin")
    assert [(e.dose.percent, e.dose.mg) for e in weekly[:2]] == [(100, 65), (80, 52)]
    assert weekly[0].dose.to_json() == {
        "amount": 40,
        "unit": "mg/m2",
        "mg": 65,
        "basis": "per_m2",
        "percent": 100,
        "boost": None,
        "recorded_mg": None,
    }


def test_height_and_weight_give_the_mg(calendar_for, weekdays):
    cal = calendar_for(D(2026, 3, 2), site=weekdays, bsa_m2=None, height_cm=170, weight_kg=70)
    assert cal.summary.bsa_m2 == 1.82
    assert cal.of("paclitaxel")[0].dose.mg == 246  # 135 × 1.82 = 245.7
    assert cal.of("cisplatin", series="consolidation")[0].dose.mg == 46  # 25 × 1.82 = 45.5
    no_size = calendar_for(D(2026, 3, 2), site=weekdays, bsa_m2=None)
    assert no_size.of("paclitaxel")[0].dose.mg is None
    assert no_size.of("toripalimab")[0].dose.mg == 240


# --- statuses -------------------------------------------------------------------------
def test_without_today_everything_unrecorded_is_planned(calendar_for):
    cal = calendar_for(D(2026, 9, 21))
    assert {e.status for e in cal.events} == {"planned"}


def test_statuses_as_of_today(calendar_for, weekdays):
    history = [
        dose(D(2026, 3, 2), "cisplatin"),
        dose(D(2026, 3, 2), "toripalimab"),
        LabPanel(
            date=D(2026, 2, 27),
            id="E1",
            results=(LabValue(analyte="anc", value=3.1, unit="10^9/L"),),
        ),
    ]
    cal = calendar_for(D(2026, 3, 2), site=weekdays, history=history, today=D(2026, 3, 10))
    assert cal.of("eligibility_visit")[0].status == "presumed_done"  # EBRT has begun
    assert cal.of("ebrt")[0].status == "presumed_given"
    assert [e.status for e in cal.of("ebrt")[5:8]] == ["presumed_given", "due", "planned"]
    labs = cal.of("pre_dose_labs")
    assert (labs[0].status, labs[0].record_id) == ("done", "E1")
    assert labs[1].status == "overdue"  # window 6–9 March, nothing recorded
    weekly = cal.of(series="ccrt_cisplatin")
    assert [e.status for e in weekly[:3]] == ["given", "due", "planned"]  # 9 Mar: window to 15th
    assert cal.of("end_of_ebrt_evaluation")[0].status == "planned"
    assert set(e.status for e in cal.events) <= set(STATUSES)


def test_a_response_assessment_in_the_window_marks_the_assessment_done(calendar_for, weekdays):
    history = [ResponseAssessment(date=D(2026, 6, 5), category="CR", id="E7")]
    cal = calendar_for(D(2026, 3, 2), site=weekdays, history=history, today=D(2026, 6, 20))
    month3, month6 = cal.of("efficacy_assessment")[:2]
    assert (month3.status, month3.record_id) == ("done", "E7")
    assert month6.status == "planned"


def test_an_overdue_dose_caught_by_a_hold_is_not_overdue(calendar_for, weekdays):
    # 23 Mar toripalimab not given; a hold decided on the 24th (in its window) explains it
    history = [dose(D(2026, 3, 2), "toripalimab")]
    treatment = {"toripalimab": DrugCourse(drug="toripalimab", holds=(Hold(start=D(2026, 3, 24)),))}
    cal = calendar_for(
        D(2026, 3, 2), site=weekdays, history=history, treatment=treatment, today=D(2026, 3, 30)
    )
    assert [(e.date, e.status) for e in cal.of("toripalimab")] == [(D(2026, 3, 2), "given")]


# --- the JSON contract ------------------------------------------------------------------
def test_event_json_contract(calendar_for):
    cal = calendar_for(D(2026, 9, 21), today=D(2026, 10, 9))
    required = {"date", "kind", "item", "phase", "number", "window", "dose", "status", "source"}
    kinds = {"radiotherapy", "brachytherapy", "infusion", "assessment", "labs"}
    phases = {"screening", "ccrt", "consolidation", "maintenance", "follow_up"}
    seen_items = set()
    for event in cal.events_json():
        assert required <= set(event)
        assert event["kind"] in kinds and event["phase"] in phases
        assert D.fromisoformat(event["date"])
        low, high = event["window"]
        assert D.fromisoformat(low) <= D.fromisoformat(high)
        assert event["source"]
        assert event["dose"] is None or {"amount", "unit", "mg"} <= set(event["dose"])
        assert isinstance(event["provisional"], bool)
        seen_items.add(event["item"])
    assert {
        "ebrt",
        "brachytherapy",
        "cisplatin",
        "paclitaxel",
        "toripalimab",
        "planning_ct",
        "end_of_ebrt_evaluation",
        "efficacy_assessment",
        "pre_dose_labs",
    } <= seen_items
    keys = [e["key"] for e in cal.events_json()]
    assert len(keys) == len(set(keys))
    whole = cal.to_json()
    assert whole["summary"]["ott_days"] == 40 and len(whole["events"]) == len(cal.events)


def test_events_are_ordered_by_date_then_schedule_order(calendar_for):
    cal = calendar_for(D(2026, 9, 21))
    assert [e.date for e in cal.events] == sorted(e.date for e in cal.events)
    day1 = [e.item for e in cal.events if e.date == D(2026, 9, 21)]
    assert day1 == ["ebrt", "cisplatin", "toripalimab"]


def test_2027_dates_are_provisional(calendar_for):
    cal = calendar_for(D(2026, 9, 21))
    assert not any(e.provisional for e in cal.events if e.date.year == 2026)
    assert all(e.provisional for e in cal.events if e.date.year >= 2027)
    assert cal.summary.provisional and cal.summary.provisional_from.year == 2027
    assert any("provisional" in note for note in cal.summary.notes)


def test_the_calendar_never_reads_the_clock(calendar_for):
    from freezegun import freeze_time

    with freeze_time("2026-01-01"):
        early = calendar_for(D(2026, 9, 21)).to_json()
    with freeze_time("2031-06-30"):
        late = calendar_for(D(2026, 9, 21)).to_json()
    assert early == late


def test_table2_visit_items_ride_on_the_visits(calendar_for):
    cal = calendar_for(D(2026, 9, 21))
    assert cal.of("eligibility_visit")[0].items == (
        "written_informed_consent",
        "medical_history",
        "physical_examination",
        "staging_imaging",
        "pathological_results",
        "hpv_testing",
        "blood_samples",
    )
    assert cal.of("inclusion_visit")[0].items == ("demographic_information",)
    assert cal.of("planning_ct")[0].items == ("planning_ct",)
    assert cal.of("end_of_ebrt_evaluation")[0].items == (
        "physical_examination",
        "staging_imaging",
        "hpv_testing",
        "blood_samples",
        "toxicity_assessment",
    )
    ccrt_labs = [e for e in cal.of("pre_dose_labs") if e.phase == "ccrt"]
    assert all(
        e.items == ("blood_samples", "image_guidance", "toxicity_assessment") for e in ccrt_labs
    )
    later_labs = [e for e in cal.of("pre_dose_labs") if e.phase != "ccrt"]
    assert later_labs and all(e.items == ("blood_samples",) for e in later_labs)


def test_every_ccrt_week_has_labs_once(calendar_for):
    cal = calendar_for(D(2026, 9, 21))
    labs = cal.of("pre_dose_labs") + cal.of("weekly_labs")
    first, last = on(cal, "ebrt")[0], on(cal, "brachytherapy")[-1]
    monday = D.fromordinal(first.toordinal() - first.weekday())
    while monday <= last:
        sunday = D.fromordinal(monday.toordinal() + 6)
        if SiteCalendar(SiteConfig(id="cn")).treatment_days(monday, sunday):
            assert any(e.window_from <= sunday and e.window_to >= monday for e in labs), monday
        monday = D.fromordinal(monday.toordinal() + 7)
    weekly = cal.of("weekly_labs")
    assert [e.date for e in weekly] == [D(2026, 10, 26), D(2026, 11, 2), D(2026, 11, 9)]
    consolidation_labs = [e for e in cal.of("pre_dose_labs") if e.phase == "consolidation"]
    assert len(consolidation_labs) == 6  # one per cycle, covering days 2–4
    assert consolidation_labs[0].date == D(2026, 11, 18)
    assert (consolidation_labs[0].window_from, consolidation_labs[0].window_to) == (
        D(2026, 11, 16),
        D(2026, 11, 19),
    )
