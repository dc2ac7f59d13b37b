"""Every cut point of every graded analyte, on both sides, in every accepted unit.

The expected grades are written here from the NCI CTCAE v5.0 text, independently of
rules/ctcae/v5.0/lab_criteria.yaml: "<1000 - 500/mm3" is grade 3, so 500/mm3 is grade 3
and 499/mm3 grade 4; ">3.0 - 5.0 x ULN" is grade 2, so exactly 3.0 x ULN is grade 1.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st


def _cases(rows):
    return [pytest.param(text, grade, id=f"{text}->{grade}") for text, grade in rows]


# Neutrophils: <LLN-1500 (1), <1500-1000 (2), <1000-500 (3), <500 (4). LLN 1.8 from the report.
ANC = [
    ("ANC 0.49 (1.8-6.3)", 4),
    ("ANC 0.5 (1.8-6.3)", 3),
    ("ANC 0.99 (1.8-6.3)", 3),
    ("ANC 1.0 (1.8-6.3)", 2),
    ("ANC 1.49 (1.8-6.3)", 2),
    ("ANC 1.5 (1.8-6.3)", 1),
    ("ANC 1.79 (1.8-6.3)", 1),
    ("ANC 1.8 (1.8-6.3)", 0),
    ("ANC 0 (1.8-6.3)", 4),
    ("ANC 0.4", 4),
    ("ANC 499/mm3 (1800-6300)", 4),
    ("ANC 500/mm3 (1800-6300)", 3),
    ("ANC 999/mm3 (1800-6300)", 3),
    ("ANC 1000/mm3 (1800-6300)", 2),
    ("ANC 1499/mm3 (1800-6300)", 2),
    ("ANC 1500/mm3 (1800-6300)", 1),
    ("ANC 1799/mm3 (1800-6300)", 1),
    ("ANC 1800/mm3 (1800-6300)", 0),
    ("NEUT 499 /µL", 4),
    ("NEUT 500 cells/uL", 3),
    ("NEUT 0.49 x10^9/L", 4),
    ("NEUT 0.5 ×10⁹/L", 3),
    ("NEUT 0.5 10^9/L", 3),
    ("NEUT 0.5 G/L", 3),
    ("NEUT 0.5 10^3/uL", 3),
    ("NEUT 1,000/mm3", 2),
]
PLT = [
    ("PLT 24.9 (125-350)", 4),
    ("PLT 25 (125-350)", 3),
    ("PLT 49.9 (125-350)", 3),
    ("PLT 50 (125-350)", 2),
    ("PLT 74.9 (125-350)", 2),
    ("PLT 75 (125-350)", 1),
    ("PLT 124 (125-350)", 1),
    ("PLT 125 (125-350)", 0),
    ("PLT 24999/mm3 (125000-350000)", 4),
    ("PLT 25000/mm3 (125000-350000)", 3),
    ("PLT 49999/mm3 (125000-350000)", 3),
    ("PLT 50,000/mm3 (125000-350000)", 2),
    ("PLT 74,999/mm3 (125000-350000)", 2),
    ("PLT 75,000/mm3 (125000-350000)", 1),
    ("PLT 124999/mm3 (125000-350000)", 1),
    ("PLT 125000/mm3 (125000-350000)", 0),
]
WBC = [
    ("WBC 0.99 (3.5-9.5)", 4),
    ("WBC 1.0 (3.5-9.5)", 3),
    ("WBC 1.99 (3.5-9.5)", 3),
    ("WBC 2.0 (3.5-9.5)", 2),
    ("WBC 2.99 (3.5-9.5)", 2),
    ("WBC 3.0 (3.5-9.5)", 1),
    ("WBC 3.49 (3.5-9.5)", 1),
    ("WBC 3.5 (3.5-9.5)", 0),
    ("WBC 999/mm3 (3500-9500)", 4),
    ("WBC 1000/mm3 (3500-9500)", 3),
    ("WBC 1999/mm3 (3500-9500)", 3),
    ("WBC 2000/mm3 (3500-9500)", 2),
    ("WBC 2999/mm3 (3500-9500)", 2),
    ("WBC 3000/mm3 (3500-9500)", 1),
    ("WBC 3499/mm3 (3500-9500)", 1),
    ("WBC 3500/mm3 (3500-9500)", 0),
]
LYM = [
    ("LYM 0.19 (1.1-3.2)", 4),
    ("LYM 0.2 (1.1-3.2)", 3),
    ("LYM 0.49 (1.1-3.2)", 3),
    ("LYM 0.5 (1.1-3.2)", 2),
    ("LYM 0.79 (1.1-3.2)", 2),
    ("LYM 0.8 (1.1-3.2)", 1),
    ("LYM 1.09 (1.1-3.2)", 1),
    ("LYM 1.1 (1.1-3.2)", 0),
    ("LYM 199/mm3 (1100-3200)", 4),
    ("LYM 200/mm3 (1100-3200)", 3),
    ("LYM 499/mm3 (1100-3200)", 3),
    ("LYM 500/mm3 (1100-3200)", 2),
    ("LYM 799/mm3 (1100-3200)", 2),
    ("LYM 800/mm3 (1100-3200)", 1),
    ("LYM 1099/mm3 (1100-3200)", 1),
    ("LYM 1100/mm3 (1100-3200)", 0),
]
# Anemia: <LLN-10.0 g/dL / 6.2 mmol/L / 100 g/L (1); <10.0-8.0 / <6.2-4.9 / <100-80 (2);
# <8.0 / <4.9 / <80 (3)
HB = [
    ("Hb 7.99 (11.5-15.0)", 3),
    ("Hb 8.0 (11.5-15.0)", 2),
    ("Hb 9.99 (11.5-15.0)", 2),
    ("Hb 10.0 (11.5-15.0)", 1),
    ("Hb 11.49 (11.5-15.0)", 1),
    ("Hb 11.5 (11.5-15.0)", 0),
    ("Hb 7.99 g/dL", 3),
    ("Hb 8.0 g/dL", 2),
    ("Hb 79 g/L (115-150)", 3),
    ("Hb 80 g/L (115-150)", 2),
    ("Hb 99 g/L (115-150)", 2),
    ("Hb 100 g/L (115-150)", 1),
    ("Hb 114 g/L (115-150)", 1),
    ("Hb 115 g/L (115-150)", 0),
    ("Hb 4.89 mmol/L (7.1-9.3)", 3),
    ("Hb 4.9 mmol/L (7.1-9.3)", 2),
    ("Hb 6.19 mmol/L (7.1-9.3)", 2),
    ("Hb 6.2 mmol/L (7.1-9.3)", 1),
    ("Hb 7.09 mmol/L (7.1-9.3)", 1),
    ("Hb 7.1 mmol/L (7.1-9.3)", 0),
    # the boundary holds in the unit entered: 4.9 mmol/L is 7.9 g/dL, still grade 2
    ("Hb 4.9 mmol/L", 2),
    ("Hb 6.19 mmol/L", 2),
]
# ALT/AST, baseline normal (no baseline given):
# >ULN-3.0 (1), >3.0-5.0 (2), >5.0-20.0 (3), >20.0 x ULN (4)
TRANSAMINASES = [
    (f"{name} {value} (7-40)", grade)
    for name in ("ALT", "AST", "GPT", "SGOT")
    for value, grade in (
        (40, 0),
        (40.1, 1),
        (120, 1),
        (120.1, 2),
        (200, 2),
        (200.1, 3),
        (800, 3),
        (800.1, 4),
    )
]
# Bilirubin baseline normal: >ULN-1.5 (1), >1.5-3.0 (2), >3.0-10.0 (3), >10.0 x ULN (4)
TBIL = [
    ("TBIL 21 (3-21)", 0),
    ("TBIL 21.1 (3-21)", 1),
    ("TBIL 31.5 (3-21)", 1),
    ("TBIL 31.6 (3-21)", 2),
    ("TBIL 63 (3-21)", 2),
    ("TBIL 63.1 (3-21)", 3),
    ("TBIL 210 (3-21)", 3),
    ("TBIL 210.1 (3-21)", 4),
    ("TBIL 21 µmol/L (3-21)", 0),
    ("TBIL 21.1 umol/L (3-21)", 1),
    ("TBIL 1.2 mg/dL (0.2-1.2)", 0),
    ("TBIL 1.21 mg/dL (0.2-1.2)", 1),
    ("TBIL 1.8 mg/dL (0.2-1.2)", 1),
    ("TBIL 1.81 mg/dL (0.2-1.2)", 2),
    ("TBIL 3.6 mg/dL (0.2-1.2)", 2),
    ("TBIL 3.61 mg/dL (0.2-1.2)", 3),
    ("TBIL 12 mg/dL (0.2-1.2)", 3),
    ("TBIL 12.1 mg/dL (0.2-1.2)", 4),
]
# ALP baseline normal: >ULN-2.5 (1), >2.5-5.0 (2), >5.0-20.0 (3), >20.0 x ULN (4)
ALP = [
    ("ALP 100 (35-100)", 0),
    ("ALP 101 (35-100)", 1),
    ("ALP 250 (35-100)", 1),
    ("ALP 251 (35-100)", 2),
    ("ALP 500 (35-100)", 2),
    ("ALP 501 (35-100)", 3),
    ("ALP 2000 (35-100)", 3),
    ("ALP 2001 (35-100)", 4),
    ("AKP 101 U/L (35-100)", 1),
    ("ALP 101 IU/L (35-100)", 1),
]
# Creatinine (no baseline): >ULN-1.5 (1), >1.5-3.0 (2), >3.0-6.0 (3), >6.0 x ULN (4)
CR = [
    ("CR 73 (41-73)", 0),
    ("CR 73.1 (41-73)", 1),
    ("CR 109.5 (41-73)", 1),
    ("CR 109.6 (41-73)", 2),
    ("CR 219 (41-73)", 2),
    ("CR 219.1 (41-73)", 3),
    ("CR 438 (41-73)", 3),
    ("CR 438.1 (41-73)", 4),
    ("CREA 1.1 mg/dL (0.5-1.1)", 0),
    ("CREA 1.11 mg/dL (0.5-1.1)", 1),
    ("CREA 1.65 mg/dL (0.5-1.1)", 1),
    ("CREA 1.66 mg/dL (0.5-1.1)", 2),
    ("CREA 3.3 mg/dL (0.5-1.1)", 2),
    ("CREA 3.31 mg/dL (0.5-1.1)", 3),
    ("CREA 6.6 mg/dL (0.5-1.1)", 3),
    ("CREA 6.61 mg/dL (0.5-1.1)", 4),
]
# Amylase / lipase with no symptoms stated (graded as asymptomatic):
# >ULN-1.5 (1), >1.5-2.0 (2), >2.0-5.0 and asymptomatic (2), >5.0 and asymptomatic (3)
PANCREAS = [
    (f"{name} {value} (0-100)", grade)
    for name in ("AMY", "LIP")
    for value, grade in (
        (100, 0),
        (101, 1),
        (150, 1),
        (151, 2),
        (200, 2),
        (201, 2),
        (500, 2),
        (501, 3),
    )
]


@pytest.mark.parametrize(("text", "grade"), _cases(ANC + PLT + WBC + LYM + HB))
def test_lower_bound_counts_and_haemoglobin(lab, text, grade):
    result = lab(text)
    assert result.grade == grade
    assert result.ctcae == "5.0"


@pytest.mark.parametrize(("text", "grade"), _cases(TRANSAMINASES + TBIL + ALP + CR + PANCREAS))
def test_upper_bound_values_against_uln(lab, text, grade):
    assert lab(text).grade == grade


def test_neutrophil_example_of_the_issue(lab):
    assert lab("ANC 0.5").grade == 3
    assert lab("ANC 0.49").grade == 4
    assert lab("ANC 0.5").criterion == "Grade 3: <1000 - 500/mm3; <1.0 - 0.5 x 10e9 /L"


def test_absolute_cut_offs_come_before_the_lln(lab):
    # an LLN below the grade 2 cut-off does not make 1.45 grade 1
    assert lab("ANC 1.45 (1.4-6.3)").grade == 2
    assert lab("ANC 1.5 (1.4-6.3)").grade == 0
    assert lab("Hb 9.5 (9.0-15.0)").grade == 2


def test_without_an_lln_a_value_above_the_grade_2_cut_off_is_grade_0_and_says_why(lab):
    result = lab("ANC 1.6")
    assert result.grade == 0
    assert "no LLN known" in result.note and "grade 1" in result.note
    assert lab("ANC 1.49").grade == 2


def test_site_ranges_apply_when_the_report_gives_none(lab, site_ranges):
    result = lab("ANC 1.7", ranges=site_ranges)  # site LLN 1.8
    assert (result.grade, result.range_source, result.lln) == (1, "site", 1.8)
    assert lab("ALT 130", ranges=site_ranges).grade == 2  # site ULN 40: 3.25 x ULN


def test_without_a_uln_an_upper_bound_value_is_not_graded_and_says_why(lab):
    result = lab("ALT 130")
    assert result.grade is None
    assert result.term == "Alanine aminotransferase increased"
    assert "no ULN known" in result.note
    assert result.criterion.startswith("Not graded")


@pytest.mark.parametrize(
    ("text", "grade"),
    [
        # 3 x 40 = 120 exactly: grade 1 (">ULN - 3.0 x ULN"), not 2
        ("ALT 120 (7-40)", 1),
        # 2.1 mg/dL is exactly 3.0 x 0.7 (float 3 * 0.7 = 2.0999999999999996)
        ("CR 2.1 mg/dL (0.4-0.7)", 2),
        ("CR 4.2 mg/dL (0.4-0.7)", 3),
        # 1.5 x 17.1 = 25.65 exactly
        ("TBIL 25.65 (3.4-17.1)", 1),
        ("TBIL 0.3 mg/dL (0.1-0.6)", 0),
        # float 1.5 * 60.3 = 90.44999999999999 would make 90.45 grade 2
        ("AMY 90.45 (0-60.3)", 1),
        ("LIP 85.95 (0-57.3)", 1),
        ("ALT 210.3 (7-70.1)", 1),
    ],
)
def test_multiples_of_uln_have_no_float_artefacts(lab, text, grade):
    assert lab(text).grade == grade


# ---- baseline variants ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "grade"),
    [
        (30, 0),
        (40, 0),
        (41, 0),
        (89, 0),
        (89.9, 0),
        (90, 1),
        (180, 1),
        (180.1, 2),
        (300, 2),
        (300.1, 3),
        (1200, 3),
        (1200.1, 4),
    ],
)
@pytest.mark.parametrize("name", ["ALT", "AST"])
def test_transaminases_with_an_abnormal_baseline_grade_by_multiples_of_baseline(
    lab, name, value, grade
):
    # baseline 60 > ULN 40: abnormal; grade 1 starts at 1.5 x baseline = 90, inclusive
    result = lab(f"{name} {value} (7-40)", baseline=f"{name} 60 (7-40)")
    assert result.grade == grade
    assert result.variant == "baseline abnormal"


def test_abnormal_baseline_grade_0_between_uln_and_one_and_a_half_baseline_says_so(lab):
    result = lab("ALT 80 (7-40)", baseline="ALT 60 (7-40)")
    assert result.grade == 0
    assert "below 1.5 x the abnormal baseline" in result.criterion


def test_a_normal_baseline_grades_by_uln(lab):
    result = lab("ALT 130 (7-40)", baseline="ALT 30 (7-40)")
    assert (result.grade, result.variant) == (2, "baseline normal")
    assert result.criterion == "Grade 2: >3.0 - 5.0 x ULN if baseline was normal (baseline normal)"
    assert result.note is None
    # baseline exactly at the ULN is normal
    assert lab("ALT 130 (7-40)", baseline="ALT 40 (7-40)").variant == "baseline normal"


def test_no_baseline_is_read_as_normal_and_said(lab):
    result = lab("ALT 130 (7-40)")
    assert result.grade == 2
    assert "no baseline given" in result.note


@pytest.mark.parametrize(
    ("value", "grade"),
    [(25, 0), (30, 0), (30.1, 1), (45, 1), (45.1, 2), (90, 2), (90.1, 3), (300, 3), (300.1, 4)],
)
def test_bilirubin_with_an_abnormal_baseline_any_rise_is_grade_1(lab, value, grade):
    assert lab(f"TBIL {value} (3-21)", baseline="TBIL 30 (3-21)").grade == grade


@pytest.mark.parametrize(
    ("value", "grade"),
    [(150, 0), (299, 0), (300, 1), (375, 1), (376, 2), (750, 2), (751, 3), (3000, 3), (3001, 4)],
)
def test_alkaline_phosphatase_with_an_abnormal_baseline(lab, value, grade):
    # baseline 150 > ULN 100; grade 1 is "2.0 - 2.5 x baseline", inclusive at 2.0
    assert lab(f"ALP {value} (35-100)", baseline="ALP 150 (35-100)").grade == grade


@pytest.mark.parametrize(
    ("value", "baseline", "grade", "variant"),
    [
        (75, 50, 1, None),  # 1.03 x ULN; 1.5 x baseline
        (75.1, 50, 2, "baseline arm"),  # > 1.5 x baseline: baseline arm grade 2
        (150, 50, 2, "baseline arm"),  # 3.0 x baseline exactly: still grade 2
        (150.1, 50, 3, "baseline arm"),  # > 3.0 x baseline
        (110, 100, 2, "ULN arm"),  # 1.1 x baseline; 1.51 x ULN: the higher grade is the ULN arm's
        (440, 140, 4, None),  # > 6.0 x ULN wins over 3.14 x baseline
        (
            60,
            30,
            2,
            "baseline arm",
        ),  # below the ULN but 2 x baseline: grade 2 from the baseline arm
    ],
)
def test_creatinine_takes_the_higher_of_the_baseline_and_uln_arms(
    lab, value, baseline, grade, variant
):
    result = lab(f"CR {value} (41-73)", baseline=f"CR {baseline} (41-73)")
    assert (result.grade, result.variant) == (grade, variant)


def test_creatinine_grade_1_has_no_baseline_arm(lab):
    # 1.4 x baseline but below the ULN: grade 0 (v4.03 had a baseline arm for grade 1)
    assert lab("CR 70 (41-73)", baseline="CR 50 (41-73)").grade == 0


@pytest.mark.parametrize(
    ("value", "symptomatic", "grade"),
    [
        (151, True, 2),
        (151, False, 2),
        (200, True, 2),
        (201, False, 2),
        (201, True, 3),
        (500, False, 2),
        (500, True, 3),
        (501, False, 3),
        (501, True, 4),
    ],
)
@pytest.mark.parametrize("name", ["AMY", "LIP"])
def test_amylase_and_lipase_depend_on_signs_or_symptoms(lab, name, value, symptomatic, grade):
    result = lab(f"{name} {value} (0-100)", symptomatic=symptomatic)
    assert result.grade == grade
    assert result.grade_if_symptomatic is None


def test_unknown_symptoms_grade_as_asymptomatic_and_name_the_symptomatic_grade(lab):
    result = lab("AMY 600 (0-100)")
    assert (result.grade, result.grade_if_symptomatic) == (3, 4)
    assert "with signs or symptoms this is grade 4" in result.note
    assert result.criterion == "Grade 3: >5.0 x ULN and asymptomatic"
    low = lab("LIP 160 (0-100)")  # 1.6 x ULN: the same either way
    assert (low.grade, low.grade_if_symptomatic, low.note) == (2, None, None)


def test_haemoglobin_grade_3_says_grade_4_is_clinical(lab):
    result = lab("Hb 7.5")
    assert result.grade == 3
    assert "life-threatening" in result.note


def test_bun_is_parsed_but_has_no_ctcae_term(lab):
    result = lab("BUN 12 (2.6-7.5)")
    assert (result.term, result.grade, result.meddra_code) == (None, None, None)
    assert "no CTCAE v5.0 term" in result.note
    assert result.value == 12.0


def test_a_baseline_for_a_term_without_a_baseline_variant_is_said_unused(lab):
    result = lab("ANC 0.4 (1.8-6.3)", baseline="ANC 3.0 (1.8-6.3)")
    assert result.grade == 4
    assert "uses no baseline" in result.note


def test_json_shape(lab):
    data = lab("ALT 130 U/L (7-40)").to_json()
    assert {"analyte", "value", "unit", "term", "grade", "ctcae", "criterion"} <= set(data)
    assert data["analyte"] == "alt"
    assert data["value"] == 130.0
    assert data["unit"] == "U/L"
    assert data["term"] == "Alanine aminotransferase increased"
    assert data["grade"] == 2
    assert data["ctcae"] == "5.0"
    assert data["meddra_code"] == 10001551
    assert data["x_uln"] == 3.25
    assert (data["lln"], data["uln"]) == (7.0, 40.0)


def test_grade_panel_matches_baselines_by_analyte(ctcae, site_ranges):
    from bot.grading import grade_panel, parse_panel

    values = parse_panel("ANC 0.4 ALT 95 (7-40) CR 120", site_ranges)
    baseline = parse_panel("ALT 60 (7-40) CR 50", site_ranges)
    grades = {g.analyte: g for g in grade_panel(ctcae, values, baseline)}
    assert grades["anc"].grade == 4
    assert (grades["alt"].grade, grades["alt"].variant) == (1, "baseline abnormal")
    assert (grades["cr"].grade, grades["cr"].variant) == (2, "baseline arm")
    by_mapping = grade_panel(ctcae, values, {b.analyte: b for b in baseline})
    assert [g.grade for g in by_mapping] == [g.grade for g in grades.values()]


# ---- properties ---------------------------------------------------------------------------

_LOW = {
    "ANC": ("1.8-6.3", 0, 20),
    "PLT": ("125-350", 0, 1000),
    "WBC": ("3.5-9.5", 0, 50),
    "LYM": ("1.1-3.2", 0, 20),
    "Hb": ("11.5-15.0", 1, 25),
}
_HIGH = {
    "ALT": ("7-40", 0, 5000),
    "AST": ("13-35", 0, 5000),
    "ALP": ("35-100", 0, 5000),
    "TBIL": ("3-21", 0, 1000),
    "CR": ("41-73", 10, 2000),
    "AMY": ("35-135", 0, 5000),
    "LIP": ("13-60", 0, 5000),
}


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(sorted(_LOW) + sorted(_HIGH)),
    st.decimals(min_value=0, max_value=5000, places=2),
    st.decimals(min_value=0, max_value=5000, places=2),
    st.sampled_from([None, True, False]),
)
def test_grades_move_one_way_with_the_value(lab, name, first, second, symptomatic):
    low = name in _LOW
    limits, lowest, highest = (_LOW if low else _HIGH)[name]
    a, b = sorted(min(max(v, lowest), highest) for v in (first, second))
    grade_a = lab(f"{name} {a} ({limits})", symptomatic=symptomatic).grade
    grade_b = lab(f"{name} {b} ({limits})", symptomatic=symptomatic).grade
    assert grade_a in range(5) and grade_b in range(5)
    assert grade_a >= grade_b if low else grade_a <= grade_b
