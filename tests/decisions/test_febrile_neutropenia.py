"""'Grade III neutropenia with fever' however it is entered: the CTCAE term, or a fever
and a grade >= III neutropenia entered separately within the window (same or adjacent
day), in either order — the next cycle is reduced by 20%."""

from __future__ import annotations

import pytest


def _reduces(decision) -> None:
    assert decision.action == "reduce", decision.reason
    assert decision.dose_percent == 80
    assert "grade III neutropenia with fever" in decision.reason
    assert "reduced by 20%" in decision.rule
    assert "Febrile neutropenia grade 3" in decision.criterion


@pytest.mark.parametrize(("panel", "gap"), [("ANC 0.8", 0), ("ANC 0.8", 1), ("ANC 0.6", -1)])
def test_fever_then_a_grade_3_count_reduces(story, panel, gap):
    story.record(story.ae(5, "Fever", 1))
    _reduces(story.decide(story.lab(5 + gap, panel))["cisplatin"])


@pytest.mark.parametrize("gap", [0, 1, -1])
def test_a_grade_3_count_then_fever_reduces(story, gap):
    first = story.record(story.lab(5, "ANC 0.8"))["cisplatin"]
    assert first.action == "refer"  # grade 3 alone has no rule
    _reduces(story.decide(story.ae(5 + gap, "Fever", 2))["cisplatin"])


def test_a_neutropenia_adverse_event_and_fever_reduce(story):
    story.record(story.ae(5, "Neutrophil count decreased", 3))
    _reduces(story.decide(story.ae(6, "Fever", 1))["cisplatin"])


def test_outside_the_window_they_are_two_events(story):
    story.record(story.ae(5, "Fever", 1))
    assert story.decide(story.lab(7, "ANC 0.8"))["cisplatin"].action == "refer"


def test_a_grade_2_count_with_fever_is_not_febrile_neutropenia(story):
    story.record(story.ae(5, "Fever", 1))
    assert story.decide(story.lab(5, "ANC 1.2"))["cisplatin"].action == "continue"


def test_both_drugs_of_a_consolidation_cycle_are_reduced(new_story):
    story = new_story("consolidation")
    story.record(story.lab(57, "ANC 0.7"))
    decisions = story.decide(story.ae(57, "Fever", 1))
    assert decisions["paclitaxel"].action == "reduce"
    assert decisions["cisplatin"].action == "reduce"


def test_fever_after_the_grade_4_count_that_already_reduced_is_the_same_episode(story):
    assert story.record(story.lab(5, "ANC 0.4"))["cisplatin"].action == "reduce"
    decision = story.decide(story.ae(6, "Fever", 1))["cisplatin"]
    assert decision.action == "continue" and decision.dose_percent == 80
    assert "same episode" in decision.reason


def test_a_febrile_neutropenia_entry_the_day_after_the_reduction_is_the_same_episode(story):
    story.record(story.lab(5, "ANC 0.4"))
    decision = story.decide(story.ae(6, "Febrile neutropenia", 3))["cisplatin"]
    assert decision.action == "continue" and "same episode" in decision.reason


def test_a_fever_with_an_old_count_does_not_suspend_on_that_count(story):
    """The combined finding reduces; it is not a blood count for the suspension check."""
    story.record(story.ae(5, "Fever", 1))
    story.record(story.lab(5, "ANC 0.8"))  # reduced here
    decision = story.decide(story.ae(6, "Fever", 1))["cisplatin"]
    assert decision.action != "hold"
