"""One test per row of Table 3 (toripalimab), for events attributed as immune-related."""

from __future__ import annotations

import pytest

from bot.decisions.model import Question

# (term, grade, expected action, words the citation must contain)
ROWS = [
    ("Pneumonitis", 1, "continue", "Table 3"),
    ("Pneumonitis", 2, "hold", "Pneumonitis, grade II"),
    ("Pneumonitis", 3, "discontinue", "Pneumonitis, grade III–IV"),
    ("Pneumonitis", 4, "discontinue", "Pneumonitis, grade III–IV"),
    ("Diarrhea", 1, "continue", "Table 3"),
    ("Diarrhea", 2, "hold", "Diarrhea and colitis, grade II–III"),
    ("Diarrhea", 3, "hold", "Diarrhea and colitis, grade II–III"),
    ("Diarrhea", 4, "discontinue", "Diarrhea and colitis, grade IV"),
    ("Colitis", 2, "hold", "Diarrhea and colitis, grade II–III"),
    ("Colitis", 3, "hold", "Diarrhea and colitis, grade II–III"),
    ("Colitis", 4, "discontinue", "Diarrhea and colitis, grade IV"),
    ("Alanine aminotransferase increased", 2, "hold", "Hepatitis, grade II"),
    ("Alanine aminotransferase increased", 3, "discontinue", "Hepatitis, grade III–IV"),
    ("Aspartate aminotransferase increased", 4, "discontinue", "Hepatitis, grade III–IV"),
    ("Blood bilirubin increased", 2, "hold", "Hepatitis, grade II"),
    ("Blood bilirubin increased", 3, "discontinue", "Hepatitis, grade III–IV"),
    ("Creatinine increased", 1, "continue", "Table 3"),
    ("Creatinine increased", 2, "hold", "Nephritis, grade II–III"),
    ("Creatinine increased", 3, "hold", "Nephritis, grade II–III"),
    ("Creatinine increased", 4, "discontinue", "Nephritis, grade IV"),
    ("Hypothyroidism", 2, "refer", "symptomatic grade II–III hypothyroidism"),
    ("Hypothyroidism", 3, "refer", "symptomatic grade II–III hypothyroidism"),
    ("Hypothyroidism", 4, "refer", "grade IV hypothyroidism"),
    ("Hyperthyroidism", 2, "refer", "grade II–III hyperthyroidism"),
    ("Hyperthyroidism", 4, "refer", "grade IV hyperthyroidism"),
    ("Hypophysitis", 3, "refer", "grade II–III hypophysitis"),
    ("Hypophysitis", 4, "refer", "grade IV hypophysitis"),
    ("Adrenal insufficiency", 2, "refer", "grade II adrenal insufficiency"),
    ("Adrenal insufficiency", 3, "refer", "grade III–IV adrenal insufficiency"),
    ("Adrenal insufficiency", 4, "refer", "grade III–IV adrenal insufficiency"),
    ("Hyperglycemia", 2, "continue", "Table 3"),
    ("Hyperglycemia", 3, "refer", "grade III hyperglycemia or type 1 diabetes"),
    ("Hyperglycemia", 4, "refer", "grade IV hyperglycemia or type 1 diabetes"),
    ("Rash maculo-papular", 2, "continue", "Table 3"),
    ("Rash maculo-papular", 3, "hold", "Skin reactions, grade III skin rash"),
    ("Rash acneiform", 4, "discontinue", "Skin reactions, grade IV skin rash"),
    (
        "Stevens-Johnson syndrome",
        3,
        "discontinue",
        "Stevens-Johnson syndrome or toxic epidermal necrolysis",
    ),
    (
        "Toxic epidermal necrolysis",
        4,
        "discontinue",
        "Stevens-Johnson syndrome or toxic epidermal necrolysis",
    ),
    ("Platelet count decreased", 2, "continue", "Table 3"),
    ("Platelet count decreased", 3, "hold", "Thrombocytopenia, grade III"),
    ("Platelet count decreased", 4, "discontinue", "Thrombocytopenia, grade IV"),
    ("Serum amylase increased", 2, "hold", "grade II–III elevated blood amylase or lipase"),
    ("Lipase increased", 3, "hold", "grade II–III elevated blood amylase or lipase"),
    ("Lipase increased", 4, "discontinue", "grade IV elevated blood amylase or lipase"),
    ("Pancreatitis", 2, "hold", "grade II pancreatitis"),
    ("Pancreatitis", 3, "discontinue", "grade III–IV pancreatitis"),
    ("Myocarditis", 2, "hold", "grade II myocarditis"),
    ("Myocarditis", 3, "discontinue", "grade III–IV myocarditis"),
    ("Myocarditis", 4, "discontinue", "grade III–IV myocarditis"),
    ("Encephalopathy", 2, "hold", "other grade II–III irAEs"),
    ("Encephalopathy", 3, "discontinue", "grade III–IV encephalitis"),
    ("Arthritis", 1, "continue", "Table 3"),
    ("Arthritis", 2, "hold", "other grade II–III irAEs that occur for the first time"),
    ("Arthritis", 3, "hold", "other grade II–III irAEs that occur for the first time"),
    ("Nephrotic syndrome", 4, "discontinue", "other grade IV irAEs that occur for the first time"),
    ("Infusion related reaction", 1, "continue", "Table 3"),
    ("Infusion related reaction", 2, "hold", "Infusion reaction, grade II"),
    ("Infusion related reaction", 3, "discontinue", "Infusion reaction, grade III–IV"),
    ("Infusion related reaction", 4, "discontinue", "Infusion reaction, grade III–IV"),
]


@pytest.mark.parametrize(("term", "grade", "action", "cited"), ROWS)
def test_table3_row_for_an_immune_related_event(io_story, term, grade, action, cited):
    decision = io_story.decide(io_story.ae(100, term, grade, irae=True))["toripalimab"]
    assert decision.action == action
    assert cited in decision.rule
    assert decision.needs_confirmation == (action != "continue")


@pytest.mark.parametrize("term", ["Hypothyroidism", "Hyperthyroidism", "Hypophysitis"])
def test_endocrine_grade_4_is_hormone_replacement_not_discontinuation(io_story, term):
    decision = io_story.decide(io_story.ae(100, term, 4, irae=True))["toripalimab"]
    assert decision.action != "discontinue"
    assert "ormone replacement" in decision.reason


def test_infusion_reaction_grade_2_says_slow_or_suspend_the_infusion(io_story):
    decision = io_story.decide(io_story.ae(100, "Infusion related reaction", 2, irae=True))
    assert "drip rate" in decision["toripalimab"].reason


HEPATITIS_LABS = [
    # ULN 40: 3×ULN = 120, 5×ULN = 200; bilirubin ULN 21: 1.5× = 31.5, 3× = 63
    ("ALT 120 U/L (7-40)", "continue"),
    ("ALT 121 U/L (7-40)", "hold"),
    ("ALT 200 U/L (7-40)", "hold"),
    ("ALT 201 U/L (7-40)", "discontinue"),
    ("AST 160 U/L (13-40)", "hold"),
    ("AST 900 U/L (13-40)", "discontinue"),
    ("TBIL 31.5 umol/L (3.4-21)", "continue"),
    ("TBIL 32 umol/L (3.4-21)", "hold"),
    ("TBIL 63 umol/L (3.4-21)", "hold"),
    ("TBIL 64 umol/L (3.4-21)", "discontinue"),
]


@pytest.mark.parametrize(("panel", "action"), HEPATITIS_LABS)
def test_hepatitis_by_multiples_of_the_uln(io_story, panel, action):
    decision = io_story.decide(io_story.lab(100, panel, irae=True))["toripalimab"]
    assert decision.action == action


def test_hepatitis_uses_uln_multiples_even_with_an_abnormal_baseline(io_story):
    # Baseline ALT 80 (abnormal): CTCAE grades 250 as grade 1 (≤ 3.0 × baseline), but
    # Table 3 reads ALT > 5×ULN (200) as grade III–IV hepatitis.
    io_story.baseline = {v.analyte: v for v in io_story.lab(0, "ALT 80 U/L (7-40)").results}
    decision = io_story.decide(io_story.lab(100, "ALT 250 U/L (7-40)", irae=True))["toripalimab"]
    assert decision.action == "discontinue"


@pytest.mark.parametrize(
    ("panel", "action"),
    [
        ("CR 126 umol/L (45-84)", "continue"),  # 1.5×ULN: grade 1
        ("CR 127 umol/L (45-84)", "hold"),  # > 1.5×ULN: grade 2
        ("CR 504 umol/L (45-84)", "hold"),  # 6.0×ULN: grade 3
        ("CR 505 umol/L (45-84)", "discontinue"),  # > 6.0×ULN: grade 4
    ],
)
def test_nephritis_by_creatinine_grade(io_story, panel, action):
    decision = io_story.decide(io_story.lab(100, panel, irae=True))["toripalimab"]
    assert decision.action == action


def test_thrombocytopenia_from_a_lab_panel(io_story):
    assert (
        io_story.decide(io_story.lab(100, "PLT 50", irae=True))["toripalimab"].action == "continue"
    )
    assert io_story.decide(io_story.lab(100, "PLT 49", irae=True))["toripalimab"].action == "hold"
    assert (
        io_story.decide(io_story.lab(100, "PLT 24", irae=True))["toripalimab"].action
        == "discontinue"
    )


def test_amylase_above_five_times_uln_unknown_symptoms_holds_and_says_grade_4_if_symptomatic(
    io_story,
):
    decision = io_story.decide(io_story.lab(100, "AMY 600 U/L (30-110)", irae=True))["toripalimab"]
    assert decision.action == "hold"
    symptomatic = io_story.decide(
        io_story.lab(100, "AMY 600 U/L (30-110)", irae=True, symptomatic=True)
    )
    assert symptomatic["toripalimab"].action == "discontinue"


ENDOCRINE_CHOICE = [
    ("Hypothyroidism", 2),
    ("Hypothyroidism", 3),
    ("Hyperthyroidism", 2),
    ("Hyperthyroidism", 3),
    ("Hypophysitis", 2),
    ("Hypophysitis", 3),
    ("Hypopituitarism", 2),
    ("Adrenal insufficiency", 2),
    ("Hyperglycemia", 3),
    ("Glucose intolerance", 3),
]


@pytest.mark.parametrize(("term", "grade"), ENDOCRINE_CHOICE)
def test_endocrine_grade_2_3_puts_both_table3_options_to_the_investigator(
    io_story, console_text, term, grade
):
    """ "Interrupt toripalimab or hormone replacement therapy": a choice, never a hold that
    the grade (which stays >= II on replacement) could not lift."""
    decision = io_story.decide(io_story.ae(100, term, grade, irae=True))["toripalimab"]
    assert decision.action == "refer"
    assert decision.needs_confirmation and not decision.changes_state
    assert "interrupt toripalimab" in decision.ask
    assert "hormone replacement therapy" in decision.ask
    # how to act on each: the engine says an interruption is one choice, the console's
    # template says what to type
    assert Question(kind="interrupt", drug="toripalimab") in decision.questions
    text = console_text(decision)
    assert 'To interrupt: `hold LACC-007 toripalimab reason="…"`' in text
    assert 'ended by `resume LACC-007 toripalimab reason="…"`; then `confirm D1`' in text
    assert "Endocrine disease" in decision.rule
