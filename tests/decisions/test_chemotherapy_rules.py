"""The protocol's chemotherapy rules: reduce, suspend, resume, discontinue — and refer."""

from __future__ import annotations

import pytest

from bot.decisions import NextDose


@pytest.mark.parametrize("panel", ["ANC 0.49", "PLT 24.9", "WBC 0.9"])
def test_grade_4_neutropenia_thrombocytopenia_or_leucopenia_reduces_the_next_cycle(story, panel):
    decision = story.decide(story.lab(5, panel))["cisplatin"]
    assert decision.action == "reduce"
    assert decision.dose_percent == 80
    assert "reduced by 20%" in decision.rule
    assert decision.needs_confirmation
    assert "grade 4" in decision.reason


@pytest.mark.parametrize("panel", ["ANC 0.5", "PLT 25", "WBC 1.0"])
def test_grade_3_without_an_earlier_reduction_is_referred(story, panel):
    decision = story.decide(story.lab(5, panel))["cisplatin"]
    assert decision.action == "refer"
    assert decision.needs_confirmation
    assert "no protocol rule" in decision.reason


def test_grade_3_febrile_neutropenia_reduces(story):
    decision = story.decide(story.ae(5, "Febrile neutropenia", 3))["cisplatin"]
    assert decision.action == "reduce" and decision.dose_percent == 80


def test_grade_2_toxicity_continues_and_says_why(story):
    decision = story.decide(story.lab(5, "ANC 1.2 PLT 70 WBC 2.5"))["cisplatin"]
    assert decision.action == "continue"
    assert decision.dose_percent == 100
    assert not decision.needs_confirmation
    assert "below the protocol's modification thresholds" in decision.reason


def test_reduction_applies_to_the_next_cycle_only_weekly_cisplatin_during_ccrt(story):
    decisions = story.decide(story.lab(5, "ANC 0.4"))
    assert decisions["cisplatin"].action == "reduce"
    assert "paclitaxel" not in decisions  # consolidation is not the next cycle


def test_in_consolidation_both_drugs_of_the_next_cycle_are_reduced(new_story):
    story = new_story("consolidation")
    decisions = story.decide(story.lab(58, "PLT 20"))
    assert decisions["paclitaxel"].action == "reduce"
    assert decisions["cisplatin"].action == "reduce"


def test_grade_4_non_haematological_toxicity_discontinues_chemotherapy(story):
    decision = story.decide(story.ae(5, "Diarrhea", 4))["cisplatin"]
    assert decision.action == "discontinue"
    assert "non-haematological" in decision.rule


def test_grade_4_lab_non_haematological_toxicity_discontinues_chemotherapy(story):
    decision = story.decide(story.lab(5, "ALT 900 U/L (7-40)"))["cisplatin"]
    assert decision.action == "discontinue"


def test_grade_3_non_haematological_toxicity_is_referred(story):
    assert story.decide(story.ae(5, "Vomiting", 3))["cisplatin"].action == "refer"


def test_reduce_then_not_recovered_before_next_cycle_suspends(story):
    assert story.record(story.lab(5, "ANC 0.4"))["cisplatin"].action == "reduce"
    decision = story.record(story.lab(11, "ANC 1.2"))["cisplatin"]
    assert decision.action == "hold"
    assert "suspended" in decision.rule
    assert decision.needs_confirmation


def test_reduce_then_recovered_before_next_cycle_gives_the_reduced_dose(story):
    story.record(story.lab(5, "ANC 0.4"))
    decision = story.record(story.lab(11, "ANC 1.6"))["cisplatin"]
    assert decision.action == "continue"
    assert decision.dose_percent == 80
    assert not decision.needs_confirmation


def test_suspended_then_recovered_resumes_at_the_dose_before_suspension(story):
    story.record(story.lab(5, "ANC 0.4"))
    story.record(story.lab(11, "ANC 1.2"))
    still = story.record(story.lab(14, "ANC 1.4"))["cisplatin"]
    assert still.action == "hold" and not still.needs_confirmation
    decision = story.record(story.lab(18, "ANC 1.9"))["cisplatin"]
    assert decision.action == "resume"
    assert decision.dose_percent == 80
    assert decision.needs_confirmation


def test_resume_dose_follows_the_rules_setting(new_story):
    story = new_story(plan={"cisplatin": NextDose(date=new_story().day(7))})
    chemo = story.rules.chemotherapy
    story.rules = story.rules.model_copy(
        update={
            "chemotherapy": chemo.model_copy(
                update={"resume": chemo.resume.model_copy(update={"dose": "protocol_dose"})}
            )
        }
    )
    story.record(story.lab(5, "ANC 0.4"))
    story.record(story.lab(11, "ANC 1.2"))
    assert story.record(story.lab(18, "ANC 1.9"))["cisplatin"].dose_percent == 100


def test_a_second_grade_4_after_a_reduction_is_referred(story):
    story.record(story.lab(5, "ANC 0.4"))
    story.record(story.dose(7, "cisplatin"))
    decision = story.record(story.lab(12, "PLT 20"))["cisplatin"]
    assert decision.action == "refer"
    assert "after a 20% dose reduction" in decision.reason


def test_suspension_check_ends_once_the_reduced_dose_is_given(story):
    story.record(story.lab(5, "ANC 0.4"))
    story.record(story.dose(7, "cisplatin"))
    decision = story.record(story.lab(12, "ANC 1.2"))["cisplatin"]
    assert decision.action == "continue" and decision.dose_percent == 80


def test_an_overridden_reduction_is_not_in_effect(story):
    from bot.events import Verdict

    story.record(story.lab(5, "ANC 0.4"))
    story.history.append(
        Verdict(
            id="E9",
            date=story.day(5),
            seq=9,
            decision_id="D1",
            status="overridden",
            reason="counts recovered on repeat",
        )
    )
    decision = story.record(story.lab(11, "ANC 1.2"))["cisplatin"]
    assert decision.action == "continue" and decision.dose_percent == 100


def test_decision_names_the_next_dose_and_its_mg(story):
    decision = story.decide(story.lab(5, "ANC 0.4"))["cisplatin"]
    payload = decision.to_json()
    assert payload["next_dose"]["date"] == story.day(7).isoformat()
    assert payload["next_dose"]["mg"] == pytest.approx(52.0)


def test_no_chemotherapy_decision_once_chemotherapy_is_over(io_story):
    decisions = io_story.decide(io_story.lab(150, "ANC 0.4"))
    assert set(decisions) == {"toripalimab"}


def test_anaemia_grade_3_is_referred_not_suspended(story):
    assert story.decide(story.lab(5, "Hb 7.9"))["cisplatin"].action == "refer"


def test_lymphopenia_grade_3_continues_grade_4_is_referred(story):
    assert story.decide(story.lab(5, "LYM 0.3"))["cisplatin"].action == "continue"
    assert story.decide(story.lab(5, "LYM 0.1"))["cisplatin"].action == "refer"


def test_grade_4_non_haematological_toxicity_stops_all_chemotherapy_still_planned(story):
    """During CCRT the next cycle is weekly cisplatin, but discontinuation also ends the
    consolidation paclitaxel: 'chemotherapy will be discontinued'."""
    decisions = story.decide(story.ae(5, "Colitis", 4))
    assert decisions["cisplatin"].action == "discontinue"
    assert decisions["paclitaxel"].action == "discontinue"


def test_a_reduction_during_ccrt_is_for_the_next_weekly_dose_only(story):
    decisions = story.decide(story.lab(5, "PLT 20"))
    assert decisions["cisplatin"].action == "reduce"
    assert "paclitaxel" not in decisions
