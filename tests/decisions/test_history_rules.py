"""Rules that depend on what happened before: attribution, recovery, recurrence, 12 weeks."""

from __future__ import annotations

from bot.decisions import Review
from bot.events import Attribution, ResponseAssessment


def test_unknown_attribution_says_what_would_follow_and_asks(io_story):
    event = io_story.ae(100, "Pneumonitis", 2)
    decision = io_story.decide(event)["toripalimab"]
    assert decision.action == "refer"
    assert decision.if_immune_related.action == "hold"
    assert "Pneumonitis, grade II" in decision.if_immune_related.rule
    # it asks about this very event, as a question: how to answer is each interface's own
    assert decision.ask == f"Is {event.id} immune-related?" and decision.trigger == event.id
    assert decision.needs_confirmation


def test_attribution_yes_then_applies_table3(io_story):
    event = io_story.ae(100, "Pneumonitis", 3)
    io_story.record(event)
    answer = Attribution(id="E9", date=io_story.day(101), target=event.id, irae=True, seq=5)
    decision = io_story.decide(answer)["toripalimab"]
    assert decision.action == "discontinue"
    assert decision.trigger == event.id


def test_not_immune_related_gets_no_table3_action(io_story):
    low = io_story.decide(io_story.ae(100, "Colitis", 2, irae=False))["toripalimab"]
    assert low.action == "continue" and "not immune-related" in low.reason
    high = io_story.decide(io_story.ae(100, "Colitis", 4, irae=False))["toripalimab"]
    assert high.action == "refer"


def test_pneumonitis_hold_recover_resume_recur_discontinue(io_story):
    assert (
        io_story.record(io_story.ae(100, "Pneumonitis", 2, irae=True))["toripalimab"].action
        == "hold"
    )
    still = io_story.record(io_story.ae(107, "Pneumonitis", 2, irae=True))["toripalimab"]
    assert still.action == "hold" and not still.needs_confirmation
    resumed = io_story.record(io_story.ae(120, "Pneumonitis", 1, irae=True))["toripalimab"]
    assert resumed.action == "resume" and resumed.needs_confirmation
    io_story.record(io_story.dose(126, "toripalimab"))
    again = io_story.record(io_story.ae(150, "Pneumonitis", 2, irae=True))["toripalimab"]
    assert again.action == "discontinue"
    assert "recurrent grade II" in again.rule


def test_recurrent_grade_3_colitis_discontinues_first_grade_3_holds(io_story):
    assert (
        io_story.record(io_story.ae(100, "Colitis", 3, irae=True))["toripalimab"].action == "hold"
    )
    assert (
        io_story.record(io_story.ae(110, "Colitis", 0, irae=True))["toripalimab"].action == "resume"
    )
    recur = io_story.record(io_story.ae(140, "Diarrhea", 3, irae=True))["toripalimab"]
    assert recur.action == "discontinue"
    assert "Recurrent" in recur.rule


def test_recurrent_grade_2_colitis_holds_again(io_story):
    io_story.record(io_story.ae(100, "Colitis", 2, irae=True))
    io_story.record(io_story.ae(110, "Colitis", 1, irae=True))
    assert (
        io_story.record(io_story.ae(140, "Colitis", 2, irae=True))["toripalimab"].action == "hold"
    )


def test_endocrine_recurrence_is_exempt(io_story):
    io_story.record(io_story.ae(100, "Hypophysitis", 3, irae=True))
    io_story.record(io_story.ae(110, "Hypophysitis", 1, irae=True))
    again = io_story.record(io_story.ae(140, "Hypophysitis", 3, irae=True))["toripalimab"]
    assert again.action == "refer" and "Recurrent" not in again.rule


def test_recurrent_grade_2_other_irae_is_referred(io_story):
    io_story.record(io_story.ae(100, "Arthritis", 2, irae=True))
    io_story.record(io_story.ae(110, "Arthritis", 1, irae=True))
    decision = io_story.record(io_story.ae(140, "Arthritis", 2, irae=True))["toripalimab"]
    assert decision.action == "refer"
    assert "for the first time" in decision.reason


def test_resume_waits_for_every_open_immune_episode(io_story):
    io_story.record(io_story.ae(100, "Colitis", 2, irae=True))
    io_story.record(io_story.ae(102, "Pneumonitis", 2, irae=True))
    waiting = io_story.record(io_story.ae(110, "Colitis", 1, irae=True))["toripalimab"]
    assert waiting.action == "hold" and "Pneumonitis" in waiting.reason
    assert (
        io_story.record(io_story.ae(115, "Pneumonitis", 0, irae=True))["toripalimab"].action
        == "resume"
    )


def test_lab_recovery_resumes_after_hepatitis_hold(io_story):
    assert (
        io_story.record(io_story.lab(100, "ALT 150 U/L (7-40)", irae=True))["toripalimab"].action
        == "hold"
    )
    assert io_story.record(io_story.lab(110, "ALT 60 U/L (7-40)"))["toripalimab"].action == "resume"


def test_grade_2_not_recovered_within_12_weeks_of_the_last_dose_discontinues(io_story):
    io_story.record(io_story.dose(90, "toripalimab"))
    io_story.record(io_story.ae(100, "Colitis", 2, irae=True))
    within = io_story.record(io_story.ae(90 + 84, "Colitis", 2, irae=True))["toripalimab"]
    assert within.action == "hold"
    late = io_story.decide(io_story.ae(90 + 85, "Colitis", 2, irae=True))["toripalimab"]
    assert late.action == "discontinue"
    assert "12 weeks" in late.rule


def test_the_daily_review_finds_the_12_week_rule_without_new_entries(io_story):
    io_story.record(io_story.dose(90, "toripalimab"))
    io_story.record(io_story.ae(100, "Colitis", 2, irae=True))
    assert io_story.decide(Review(date=io_story.day(90 + 84))) == {}
    assert (
        io_story.decide(Review(date=io_story.day(90 + 85)))["toripalimab"].action == "discontinue"
    )


def test_endocrine_is_exempt_from_the_12_week_rule(io_story):
    io_story.record(io_story.dose(90, "toripalimab"))
    io_story.record(io_story.ae(100, "Hypothyroidism", 2, irae=True))
    assert io_story.decide(Review(date=io_story.day(200))) == {}


def test_steroids_above_10_mg_after_12_weeks_discontinue(io_story):
    io_story.record(io_story.dose(90, "toripalimab"))
    io_story.record(io_story.ae(100, "Colitis", 2, irae=True, steroid_mg=40))
    io_story.record(io_story.ae(120, "Colitis", 1, irae=True, steroid_mg=15))
    decision = io_story.decide(Review(date=io_story.day(90 + 85)))["toripalimab"]
    assert decision.action == "discontinue"
    assert "prednisone" in decision.rule
    io_story.record(io_story.ae(150, "Colitis", 0, irae=True, steroid_mg=10))
    assert io_story.decide(Review(date=io_story.day(90 + 85))) == {}


def test_dose_given_while_on_hold_is_referred(io_story):
    io_story.record(io_story.ae(100, "Pneumonitis", 2, irae=True))
    decision = io_story.decide(io_story.dose(105, "toripalimab"))["toripalimab"]
    assert decision.action == "refer"
    assert "on hold" in decision.reason


def test_progression_is_referred_for_every_drug_still_planned(story):
    decisions = story.decide(ResponseAssessment(id="E1", date=story.day(90), category="PD"))
    assert {d.action for d in decisions.values()} == {"refer"}
    assert set(decisions) == {"cisplatin", "paclitaxel", "toripalimab"}
    assert story.decide(ResponseAssessment(id="E1", date=story.day(90), category="PR")) == {}


def test_grade_5_ends_all_treatment(story):
    decisions = story.decide(story.ae(20, "Sepsis", 5))
    assert {d.action for d in decisions.values()} == {"discontinue"}


def test_a_discontinued_drug_gets_no_further_decisions(io_story):
    io_story.record(io_story.ae(100, "Pneumonitis", 3, irae=True))
    assert "toripalimab" not in io_story.decide(io_story.ae(110, "Colitis", 2, irae=True))


def test_hepatitis_shows_the_uln_grade_it_acted_on(io_story):
    io_story.baseline = {v.analyte: v for v in io_story.lab(0, "ALT 80 U/L (7-40)").results}
    decision = io_story.decide(io_story.lab(100, "ALT 250 U/L (7-40)", irae=True))["toripalimab"]
    assert decision.action == "discontinue"
    assert "Grade 3" in decision.criterion and ">5.0 - 20.0 x ULN" in decision.criterion
