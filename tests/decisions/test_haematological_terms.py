"""Which toxicities are haematological comes from CTCAE v5.0 (the "Blood and lymphatic
system disorders" class and the blood-test investigations), not from a short list: a
haematological grade IV with no chemotherapy rule of its own is referred, never taken for
"grade IV non-haematological toxicity → chemotherapy discontinued"."""

from __future__ import annotations

import pytest

from bot.grading import load_ctcae

BLOOD_SOC = "Blood and lymphatic system disorders"


def _blood_terms() -> list[str]:
    ctcae = load_ctcae()
    return [t.term for t in ctcae.terms if t.soc == BLOOD_SOC and 4 in t.grades and t.grades[4]]


def test_the_blood_class_has_the_terms_the_review_named():
    assert {"Hemolysis", "Disseminated intravascular coagulation"} <= set(_blood_terms())


@pytest.mark.parametrize("term", [t for t in _blood_terms() if t != "Febrile neutropenia"])
def test_every_grade_4_blood_disorder_without_a_rule_is_referred_not_discontinued(story, term):
    decisions = story.decide(story.ae(5, term, 4))
    decision = decisions["cisplatin"]
    assert decision.action == "refer", (term, decision.reason)
    assert "grade 4 haematological toxicity with no protocol rule" in decision.reason
    # nor is the consolidation paclitaxel stopped
    assert "paclitaxel" not in decisions


@pytest.mark.parametrize(
    "term",
    ["INR increased", "Fibrinogen decreased", "Activated partial thromboplastin time prolonged"],
)
def test_coagulation_investigations_are_haematological(story, term):
    ctcae = load_ctcae()
    grades = [g for g, text in ctcae.term(term).grades.items() if text]
    top = max(g for g in grades if g < 5)
    decision = story.decide(story.ae(5, term, top))["cisplatin"]
    assert decision.action != "discontinue"


def test_a_grade_4_non_haematological_toxicity_still_discontinues(story):
    assert story.decide(story.ae(5, "Hepatic failure", 4))["cisplatin"].action == "discontinue"


def test_the_rules_name_only_real_classes_and_investigations(trial):
    from bot.decisions.schema import check_terms_exist

    assert check_terms_exist(trial) == []
    rules = trial.get("dose_modifications.yaml")
    ctcae = load_ctcae()
    terms = rules.chemotherapy.haematological.terms(ctcae)
    assert "Hemolysis" in terms and "Anemia" in terms and "Neutrophil count decreased" in terms
    assert "Alanine aminotransferase increased" not in terms
