"""A chemotherapy suspension, reduction or resumption concerns the NEXT CYCLE's
chemotherapy, whichever drugs it contains: weekly cisplatin suspended, the first
consolidation cycle (paclitaxel day 1, cisplatin days 2–4) is suspended as a whole."""

from __future__ import annotations

from bot.decisions import NextDose
from tests.decisions.conftest import consolidation_plan


def _suspended_weekly_cisplatin(story):
    assert story.record(story.lab(5, "ANC 0.4"))["cisplatin"].action == "reduce"
    assert story.record(story.lab(11, "ANC 1.2"))["cisplatin"].action == "hold"
    story.plan = consolidation_plan()  # weekly doses over: C1 is the next cycle


def test_a_count_still_grade_2_before_consolidation_holds_paclitaxel_and_cisplatin(story):
    _suspended_weekly_cisplatin(story)
    decisions = story.record(story.lab(57, "ANC 1.2"))
    assert decisions["cisplatin"].action == "hold"
    paclitaxel = decisions["paclitaxel"]
    assert paclitaxel.action == "hold"
    assert paclitaxel.needs_confirmation
    assert "suspended" in paclitaxel.rule
    assert "which includes paclitaxel" in paclitaxel.reason


def test_a_held_paclitaxel_stays_held_until_recovery_then_both_resume(story):
    _suspended_weekly_cisplatin(story)
    story.record(story.lab(57, "ANC 1.2"))
    still = story.record(story.lab(58, "ANC 1.3"))
    assert still["paclitaxel"].action == "hold" and not still["paclitaxel"].needs_confirmation
    resumed = story.record(story.lab(59, "ANC 1.9"))
    assert resumed["cisplatin"].action == "resume" and resumed["cisplatin"].dose_percent == 80
    assert resumed["paclitaxel"].action == "resume" and resumed["paclitaxel"].dose_percent == 80
    assert "original dosage" in resumed["paclitaxel"].reason  # the reading is shown


def test_recovery_before_the_first_consolidation_cycle_resumes_both_drugs(story):
    _suspended_weekly_cisplatin(story)
    decisions = story.decide(story.lab(57, "ANC 1.8"))
    assert decisions["cisplatin"].action == "resume"
    assert decisions["paclitaxel"].action == "resume"
    assert decisions["paclitaxel"].dose_percent == 80


def test_a_pending_reduction_reaches_the_next_cycles_other_drug(story):
    """Reduced after the last weekly dose: the reduced cycle is consolidation C1."""
    story.record(story.dose(35, "cisplatin"))
    assert story.record(story.lab(40, "PLT 20"))["cisplatin"].action == "reduce"
    story.plan = consolidation_plan()
    decisions = story.decide(story.lab(57, "PLT 160 ANC 1.8"))
    assert decisions["cisplatin"].action == "continue" and decisions["cisplatin"].dose_percent == 80
    assert decisions["paclitaxel"].action == "reduce" and decisions["paclitaxel"].dose_percent == 80


def test_a_pending_reduction_not_recovered_suspends_the_whole_cycle(story):
    story.record(story.dose(35, "cisplatin"))
    story.record(story.lab(40, "PLT 20"))
    story.plan = consolidation_plan()
    decisions = story.decide(story.lab(57, "PLT 60"))
    assert decisions["cisplatin"].action == "hold"
    assert decisions["paclitaxel"].action == "hold"


def test_a_second_reduction_level_toxicity_refers_every_drug_of_the_cycle(story):
    story.record(story.lab(5, "ANC 0.4"))
    story.record(story.dose(7, "cisplatin"))  # the reduced weekly dose
    story.plan = consolidation_plan()
    decisions = story.decide(story.lab(57, "ANC 0.3"))
    assert decisions["cisplatin"].action == "refer"
    assert decisions["paclitaxel"].action == "refer"


def test_the_suspension_does_not_reach_a_drug_outside_the_next_cycle(story):
    assert story.record(story.lab(5, "ANC 0.4"))["cisplatin"].action == "reduce"
    assert story.record(story.lab(11, "ANC 1.2"))["cisplatin"].action == "hold"
    # still during CCRT: paclitaxel is weeks away
    decisions = story.decide(story.lab(12, "ANC 1.3"))
    assert "paclitaxel" not in decisions


def test_a_plan_with_paclitaxel_alone_next_is_held_by_a_cisplatin_suspension(new_story):
    story = new_story(plan={"cisplatin": NextDose(date=new_story().day(7))})
    story.record(story.lab(5, "ANC 0.4"))
    story.record(story.lab(6, "ANC 1.2"))
    story.plan = {
        "cisplatin": None,
        "paclitaxel": NextDose(date=story.day(60)),
        "toripalimab": None,
    }
    assert story.decide(story.lab(58, "ANC 1.1"))["paclitaxel"].action == "hold"
