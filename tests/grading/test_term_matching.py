"""Matching what a clinician types to a CTCAE v5.0 term: forgiving, but never a silent guess."""

from __future__ import annotations

import pytest

from bot.errors import UserError
from bot.grading import UnknownTerm, match_term


@pytest.mark.parametrize(
    ("typed", "term"),
    [
        ("Pneumonitis", "Pneumonitis"),
        ("pneumonitis", "Pneumonitis"),
        ("  PNEUMONITIS ", "Pneumonitis"),
        ("rash maculo papular", "Rash maculo-papular"),
        ("Rash   maculo-papular", "Rash maculo-papular"),
        ("stevens johnson syndrome", "Stevens-Johnson syndrome"),
        ("anaemia", "Anemia"),
        ("diarrhoea", "Diarrhea"),
        ("oesophagitis", "Esophagitis"),
        ("gastro-oesophageal reflux disease", "Gastroesophageal reflux disease"),
        ("hypokalaemia", "Hypokalemia"),
        ("leucocytosis", "Leukocytosis"),
        ("infusion-related reaction", "Infusion related reaction"),
        ("Febrile Neutropenia", "Febrile neutropenia"),
    ],
)
def test_case_spacing_hyphens_and_british_spelling_match_exactly(ctcae, typed, term):
    match = match_term(ctcae, typed)
    assert (match.term.term, match.how) == (term, "exact")
    assert match.entered == typed.strip()


@pytest.mark.parametrize(
    ("typed", "term"),
    [
        ("hepatitis", "Alanine aminotransferase increased"),
        ("immune-related hepatitis", "Alanine aminotransferase increased"),
        ("nephritis", "Creatinine increased"),
        ("SJS", "Stevens-Johnson syndrome"),
        ("sjs", "Stevens-Johnson syndrome"),
        ("TEN", "Toxic epidermal necrolysis"),
        ("encephalitis", "Encephalopathy"),
        ("type 1 diabetes", "Hyperglycemia"),
        ("T1DM", "Hyperglycemia"),
        ("rash", "Rash maculo-papular"),
        ("infusion reaction", "Infusion related reaction"),
        ("neutropenia", "Neutrophil count decreased"),
        ("FN", "Febrile neutropenia"),
        ("thrombocytopenia", "Platelet count decreased"),
        ("leukopenia", "White blood cell decreased"),
        ("leucopenia", "White blood cell decreased"),
        ("lymphopenia", "Lymphocyte count decreased"),
        ("colitis immune", "Colitis"),
        ("hypothyroid", "Hypothyroidism"),
        ("AKI", "Acute kidney injury"),
        ("hyperamylasemia", "Serum amylase increased"),
    ],
)
def test_common_synonyms(ctcae, typed, term):
    match = match_term(ctcae, typed)
    assert match.term.term == term
    assert match.how in ("synonym", "fuzzy")


def test_readings_carry_a_note(ctcae):
    encephalitis = match_term(ctcae, "encephalitis")
    assert "no non-infectious encephalitis term" in encephalitis.note
    assert "ALT/AST" in match_term(ctcae, "hepatitis").note
    assert "creatinine" in match_term(ctcae, "nephritis").note
    assert "Hyperglycemia" in match_term(ctcae, "type 1 diabetes").note
    assert match_term(ctcae, "SJS").note is None


@pytest.mark.parametrize(
    ("typed", "term"),
    [
        ("radiation dermatitis", "Dermatitis radiation"),
        ("decreased neutrophil count", "Neutrophil count decreased"),
        ("neutrophil counts decreased", "Neutrophil count decreased"),
        ("elevated ALT", "Alanine aminotransferase increased"),
        ("raised creatinine", "Creatinine increased"),
        ("increased creatinine", "Creatinine increased"),
        ("oral mucositis", "Mucositis oral"),
    ],
)
def test_same_words_in_another_order_match_as_fuzzy(ctcae, typed, term):
    match = match_term(ctcae, typed)
    assert match.term.term == term
    assert match.how in ("fuzzy", "synonym")


@pytest.mark.parametrize(
    ("typed", "suggestion"),
    [
        ("pneumonitiz", "'Pneumonitis'"),
        ("pnemonitis", "'Pneumonitis'"),
        ("myocardtis", "'Myocarditis'"),
        ("hepatits", "'hepatitis' (Alanine aminotransferase increased)"),
        ("colitiss", "'Colitis'"),
    ],
)
def test_a_typo_is_refused_with_the_closest_term_suggested(ctcae, typed, suggestion):
    with pytest.raises(UnknownTerm) as caught:
        match_term(ctcae, typed)
    error = caught.value
    assert isinstance(error, UserError)
    assert error.field == "term"
    assert str(error) == f"unknown term '{typed}'"
    assert error.suggestion == suggestion
    assert f"did you mean {suggestion}?" in error.message


def test_the_brief_example_message(ctcae):
    with pytest.raises(UserError) as caught:
        match_term(ctcae, "pneumonitiz")
    assert caught.value.message == "term: unknown term 'pneumonitiz' — did you mean 'Pneumonitis'?"


@pytest.mark.parametrize("typed", ["xyzzy", "broken leg", "", "   "])
def test_nonsense_is_refused_saying_what_is_accepted(ctcae, typed):
    with pytest.raises(UnknownTerm) as caught:
        match_term(ctcae, typed)
    assert caught.value.allowed


def test_match_json_shape(ctcae):
    data = match_term(ctcae, "SJS").to_json()
    assert data == {
        "entered": "SJS",
        "term": "Stevens-Johnson syndrome",
        "meddra_code": 10042033,
        "soc": "Skin and subcutaneous tissue disorders",
        "how": "synonym",
        "note": None,
        "ctcae": "5.0",
    }


def test_every_clinical_term_of_table_3_is_reachable(ctcae):
    for name in [
        "Pneumonitis",
        "Colitis",
        "Diarrhea",
        "Rash maculo-papular",
        "Infusion related reaction",
        "Hypothyroidism",
        "Hyperthyroidism",
        "Hypophysitis",
        "Adrenal insufficiency",
        "Hyperglycemia",
        "Myocarditis",
        "Pancreatitis",
        "Encephalopathy",
        "Stevens-Johnson syndrome",
        "Toxic epidermal necrolysis",
        "Febrile neutropenia",
    ]:
        assert match_term(ctcae, name).term.term == name


@pytest.mark.parametrize(
    ("typed", "listed"),
    [
        ("neuropathy", "Peripheral motor neuropathy, Peripheral sensory neuropathy"),
        ("peripheral neuropathy", "Peripheral motor neuropathy, Peripheral sensory neuropathy"),
        ("mucositis", "Anal mucositis, Mucositis oral, Rectal mucositis"),
        ("hemorrhage", "… (36 terms)"),
    ],
)
def test_a_word_shared_by_several_terms_is_asked_back_listing_them(ctcae, typed, listed):
    with pytest.raises(UnknownTerm) as caught:
        match_term(ctcae, typed)
    assert "not a CTCAE term on its own" in caught.value.message
    assert listed in caught.value.allowed


def test_a_word_of_exactly_one_term_is_suggested_not_taken(ctcae):
    with pytest.raises(UnknownTerm) as caught:
        match_term(ctcae, "bilirubin")
    assert caught.value.suggestion == "'Blood bilirubin increased'"
