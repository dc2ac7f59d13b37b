"""Table 1 screening: pass, fail and unanswered for every criterion, at the exact boundaries."""

from __future__ import annotations

import pytest

from bot.eligibility import ScreeningError, screen
from bot.errors import UserError


def _status(rules, ranges, answers, key):
    result = screen(answers, rules, ranges)
    (item,) = [c for c in result.criteria if c.key == key]
    return item.status, item.reason


def _with(eligible_answers, **changes):
    answers = dict(eligible_answers)
    answers.update(changes)
    return answers


def test_a_candidate_meeting_every_criterion_is_eligible(rules, ranges, eligible_answers):
    result = screen(eligible_answers, rules, ranges)
    assert result.eligible is True
    assert result.failed == [] and result.unanswered == []
    assert {c.status for c in result.criteria} == {"pass"}
    assert len(result.criteria) == len(rules.criteria)


def test_every_criterion_has_a_label_and_a_table_1_citation(rules, ranges, eligible_answers):
    for item in screen(eligible_answers, rules, ranges).criteria:
        assert item.label and item.reason
        assert item.citation.startswith("Table 1")


def test_the_issue_example_lists_failed_and_unanswered_keys(rules, ranges):
    answers = {
        "age": "52",
        "stage": "IIIC1",
        "ecog": "1",
        "hb": "10.2",
        "anc": "3.1",
        "wbc": "5.2",
        "plt": "210",
        "alt": "35 U/L (7-40)",
        "ast": "1.1xULN",
    }
    result = screen(answers, rules, ranges)
    assert result.eligible is False
    assert result.failed == []
    assert result.unanswered[:3] == ["untreated", "pathology_proven", "bilirubin"]
    assert {"bun", "creatinine", "consent", "hiv"} <= set(result.unanswered)


def test_one_failure_makes_the_candidate_ineligible(rules, ranges, eligible_answers):
    result = screen(_with(eligible_answers, plt="100", hiv="yes"), rules, ranges)
    assert result.eligible is False
    assert result.failed == ["plt", "hiv"]
    assert result.unanswered == []


@pytest.mark.parametrize(
    ("age", "status"),
    [
        ("17", "fail"),
        ("18", "pass"),
        ("52", "pass"),
        ("75", "pass"),
        ("76", "fail"),
        ("0", "fail"),
        ("52 years", "pass"),
    ],
)
def test_age_18_to_75_inclusive(rules, ranges, eligible_answers, age, status):
    assert _status(rules, ranges, _with(eligible_answers, age=age), "age")[0] == status


@pytest.mark.parametrize("age", ["52.5", "-3", "abc", "121", "fifty"])
def test_an_age_that_is_not_a_whole_number_of_years_is_refused(rules, ranges, age):
    with pytest.raises(ScreeningError) as caught:
        screen({"age": age}, rules, ranges)
    assert caught.value.field == "age"


@pytest.mark.parametrize(
    ("stage", "status"),
    [
        ("IIIA", "pass"),
        ("IIIB", "pass"),
        ("IIIC1", "pass"),
        ("IIIC2", "pass"),
        ("IVA", "pass"),
        ("iiic1", "pass"),
        ("3C1", "pass"),
        ("4A", "pass"),
        ("Stage IIIB", "pass"),
        ("FIGO IIIC2", "pass"),
        ("IIIC1r", "pass"),
        ("IIIC2p", "pass"),
        ("III-C1", "pass"),
        ("IA1", "fail"),
        ("IB3", "fail"),
        ("IIA2", "fail"),
        ("IIB", "fail"),
        ("IVB", "fail"),
        ("2B", "fail"),
    ],
)
def test_figo_2018_stage_iiia_to_iva(rules, ranges, stage, status):
    assert _status(rules, ranges, {"stage": stage}, "stage")[0] == status


@pytest.mark.parametrize(
    ("stage", "choices"),
    [
        ("IIIC", "IIIC1 or IIIC2"),
        ("3C", "IIIC1 or IIIC2"),
        ("IB", "IB1 or IB2 or IB3"),
        ("IV", "IVA or IVB"),
    ],
)
def test_an_incomplete_stage_is_asked_back(rules, ranges, stage, choices):
    with pytest.raises(ScreeningError) as caught:
        screen({"stage": stage}, rules, ranges)
    assert caught.value.field == "stage"
    assert f"ambiguous in FIGO 2018: {choices}?" in caught.value.message


@pytest.mark.parametrize("stage", ["V", "IIID", "IIIC3", "stage five", "IIIIA"])
def test_a_malformed_stage_is_refused_with_the_allowed_list(rules, ranges, stage):
    with pytest.raises(ScreeningError) as caught:
        screen({"stage": stage}, rules, ranges)
    assert "IIIA, IIIB, IIIC1, IIIC2, IVA" in caught.value.allowed


@pytest.mark.parametrize(
    ("ecog", "status"), [("0", "pass"), ("1", "pass"), ("2", "fail"), ("5", "fail")]
)
def test_ecog_0_to_1(rules, ranges, ecog, status):
    assert _status(rules, ranges, {"ecog": ecog}, "ecog")[0] == status


def test_ecog_outside_0_to_5_is_refused(rules, ranges):
    with pytest.raises(ScreeningError):
        screen({"ecog": "6"}, rules, ranges)


@pytest.mark.parametrize(
    ("key", "value", "status"),
    [
        ("hb", "8.0", "fail"),
        ("hb", "8.1", "pass"),
        ("hb", "8.01", "pass"),
        ("hb", "7.9", "fail"),
        ("hb", "80 g/L", "fail"),
        ("hb", "81 g/L", "pass"),
        ("hb", "8.0 g/dL (11.5-15.0)", "fail"),
        ("hb", "4.96 mmol/L", "fail"),
        ("hb", "4.97 mmol/L", "pass"),
        ("anc", "2", "fail"),
        ("anc", "2.0", "fail"),
        ("anc", "2.01", "pass"),
        ("anc", "2000/mm3", "fail"),
        ("anc", "2001/mm3", "pass"),
        ("wbc", "4", "fail"),
        ("wbc", "4.0", "fail"),
        ("wbc", "4.01", "pass"),
        ("wbc", "4000/µL", "fail"),
        ("plt", "100", "fail"),
        ("plt", "101", "pass"),
        ("plt", "100,000/mm3", "fail"),
        ("plt", "100001/mm3", "pass"),
    ],
)
def test_blood_counts_are_strictly_above_the_threshold(rules, ranges, key, value, status):
    assert _status(rules, ranges, {key: value}, key)[0] == status


@pytest.mark.parametrize(
    ("key", "value", "status"),
    [
        ("alt", "2.5xULN", "pass"),
        ("alt", "2.51xULN", "fail"),
        ("alt", "2.5 x ULN", "pass"),
        ("alt", "2.5×ULN", "pass"),
        ("alt", "2.5*ULN", "pass"),
        ("alt", "2.5xUNL", "pass"),
        ("alt", "100 U/L (7-40)", "pass"),
        ("alt", "100.1 U/L (7-40)", "fail"),
        ("alt", "100", "pass"),
        ("alt", "101", "fail"),
        ("ast", "2.5xULN", "pass"),
        ("ast", "2.51xULN", "fail"),
        ("ast", "87.5 (13-35)", "pass"),
        ("ast", "87.6 (13-35)", "fail"),
        ("bilirubin", "1.5xULN", "pass"),
        ("bilirubin", "1.51xULN", "fail"),
        ("bilirubin", "31.5", "pass"),
        ("bilirubin", "31.6", "fail"),
        ("bilirubin", "1.8 mg/dL (0.2-1.2)", "pass"),
        ("bilirubin", "1.81 mg/dL (0.2-1.2)", "fail"),
        ("bun", "1.5xULN", "pass"),
        ("bun", "1.51xULN", "fail"),
        ("bun", "11.25", "pass"),
        ("bun", "11.26", "fail"),
        ("creatinine", "1.5xULN", "pass"),
        ("creatinine", "1.51xULN", "fail"),
        ("creatinine", "109.5", "pass"),
        ("creatinine", "109.6", "fail"),
        ("creatinine", "1.65 mg/dL (0.5-1.1)", "pass"),
        ("creatinine", "1.66 mg/dL (0.5-1.1)", "fail"),
    ],
)
def test_uln_multiples_are_inclusive(rules, ranges, key, value, status):
    # site ULNs: ALT 40, AST 35, bilirubin 21 µmol/L, BUN 7.5 mmol/L, creatinine 73 µmol/L
    assert _status(rules, ranges, {key: value}, key)[0] == status


def test_reasons_say_the_value_and_the_rule(rules, ranges):
    assert _status(rules, ranges, {"hb": "8.0"}, "hb") == ("fail", "Hb 8 g/dL is not > 8.0 g/dL")
    status, reason = _status(rules, ranges, {"alt": "35 U/L (7-40)"}, "alt")
    assert status == "pass"
    assert reason == "35 U/L = 0.875 x ULN (ULN 40 U/L, report range) is <= 2.5 x ULN"
    assert _status(rules, ranges, {"ast": "2.51xULN"}, "ast") == (
        "fail",
        "2.51 x ULN is not <= 2.5 x ULN",
    )


def test_a_multiple_of_uln_is_refused_for_an_absolute_criterion(rules, ranges):
    with pytest.raises(ScreeningError) as caught:
        screen({"hb": "1.1xULN"}, rules, ranges)
    assert caught.value.field == "hb"
    assert "not a multiple of ULN" in caught.value.message


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("hb", "91", "did you mean 91 g/L?"),
        ("alt", "35 mg/dL", "does not fit ALT"),
        ("plt", "abc", "unknown analyte"),
        ("alt", "AST 30", "is not one ALT value"),
    ],
)
def test_a_bad_lab_value_is_refused_naming_the_key(rules, ranges, key, value, says):
    with pytest.raises(UserError) as caught:
        screen({key: value}, rules, ranges)
    assert caught.value.field == key
    assert says in caught.value.message


def test_without_any_uln_a_uln_criterion_stays_unanswered(rules):
    from bot.grading import NO_RANGES

    status, reason = _status(rules, NO_RANGES, {"alt": "35"}, "alt")
    assert status == "unanswered"
    assert "no ULN known" in reason


@pytest.mark.parametrize(
    ("key", "answer", "status"),
    [
        ("consent", "yes", "pass"),
        ("consent", "no", "fail"),
        ("consent", "Y", "pass"),
        ("consent", "true", "pass"),
        ("untreated", "no", "fail"),
        ("life_expectancy", "no", "fail"),
        ("ccrt_eligible", "no", "fail"),
        ("active_bleeding", "yes", "fail"),
        ("active_bleeding", "no", "pass"),
        ("pregnancy_test", "negative", "pass"),
        ("pregnancy_test", "positive", "fail"),
        ("pregnancy_test", "yes", "pass"),
        ("pregnancy_test", "na", "pass"),
        ("contraception", "n/a", "pass"),
        ("contraception", "no", "fail"),
        ("active_infection", "yes", "fail"),
        ("prior_malignancy", "yes", "fail"),
        ("comorbidity", "yes", "fail"),
        ("steroids", "yes", "fail"),
        ("live_vaccine", "yes", "fail"),
        ("therapeutic_hpv_vaccine", "yes", "fail"),
        ("organ_transplant", "yes", "fail"),
        ("hiv", "yes", "fail"),
        ("hiv", "positive", "fail"),
        ("hiv", "negative", "pass"),
        ("mental_illness", "yes", "fail"),
        ("viral_hepatitis", "yes", "fail"),
        ("recurrent_or_metastatic", "yes", "fail"),
        ("antibody_allergy", "yes", "fail"),
        ("autoimmune_disease", "yes", "fail"),
        ("autoimmune_disease", "no", "pass"),
        ("consent", "unknown", "unanswered"),
        ("hiv", "?", "unanswered"),
        ("steroids", "", "unanswered"),
    ],
)
def test_checklist_items(rules, ranges, key, answer, status):
    assert _status(rules, ranges, {key: answer}, key)[0] == status


@pytest.mark.parametrize(
    ("key", "answer"),
    [("consent", "maybe"), ("active_bleeding", "na"), ("hiv", "negativ"), ("consent", "negative")],
)
def test_an_answer_the_question_does_not_take_is_refused(rules, ranges, key, answer):
    with pytest.raises(ScreeningError) as caught:
        screen({key: answer}, rules, ranges)
    assert caught.value.field == key
    assert "yes, no" in caught.value.allowed


def test_an_unknown_key_is_refused_with_a_suggestion(rules, ranges):
    with pytest.raises(ScreeningError) as caught:
        screen({"agee": "52"}, rules, ranges)
    assert caught.value.field == "agee"
    assert caught.value.suggestion == "age"
    assert "creatinine" in caught.value.allowed


def test_aliases_answer_their_criterion_once(rules, ranges):
    result = screen(
        {"Hemoglobin": "10.2", "TBIL": "1.0xULN", "urea": "5", "cr": "60", "figo": "IVA"},
        rules,
        ranges,
    )
    statuses = {c.key: c.status for c in result.criteria}
    assert (
        statuses["hb"]
        == statuses["bilirubin"]
        == statuses["bun"]
        == statuses["creatinine"]
        == "pass"
    )
    assert statuses["stage"] == "pass"
    with pytest.raises(ScreeningError) as caught:
        screen({"hb": "10", "haemoglobin": "11"}, rules, ranges)
    assert "already answered" in caught.value.message


def test_json_shape(rules, ranges, eligible_answers):
    data = screen(_with(eligible_answers, ecog="2"), rules, ranges).to_json()
    assert list(data) == ["eligible", "failed", "unanswered", "criteria"]
    assert (data["eligible"], data["failed"], data["unanswered"]) == (False, ["ecog"], [])
    ecog = next(c for c in data["criteria"] if c["key"] == "ecog")
    assert ecog == {
        "key": "ecog",
        "label": "ECOG performance status 0-1",
        "section": "inclusion",
        "status": "fail",
        "reason": "2 is outside 0-1",
        "citation": "Table 1, inclusion: ECOG Performance Status of 0-1",
        "answer": "2",
    }


def test_ranges_may_be_the_whole_file_and_answers_plain_values(rules):
    from pathlib import Path

    from bot.grading import load_reference_ranges

    path = Path(__file__).resolve().parents[2] / "rules" / "nct05084677" / "reference_ranges.yaml"
    result = screen({"age": 52, "alt": "100", "consent": True}, rules, load_reference_ranges(path))
    statuses = {c.key: c.status for c in result.criteria}
    assert (statuses["age"], statuses["alt"], statuses["consent"]) == ("pass", "pass", "pass")
