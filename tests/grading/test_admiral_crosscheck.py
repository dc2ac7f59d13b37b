"""An independent check of our lab grading against pharmaverse/admiral's CTCAE v5.0 metadata.

admiral (Apache-2.0, copy and licence in tests/grading/data/) writes each grade as R
`dplyr::case_when` clauses such as `signif(AVAL, signif_dig) < 1 ~ "3"`. The small
evaluator below runs those R conditions as admiral does (NA grade first, then grade 4
down to 1, else "0"; `signif` to 15 digits; a condition on a missing value is false), takes
each term's cut points from the same expressions, and compares admiral's grade with ours
just below, at and just above every cut point, through our real parser and grader.

Deliberate differences (docs/grading.md): amylase/lipase — admiral assumes signs or
symptoms (worst case), so it is compared with `symptomatic=True`; with no LLN, admiral
leaves a low count ungraded where we grade 0 (not compared here: an LLN is always given).
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest

from bot.grading import grade_value, parse_panel

DATA = Path(__file__).resolve().parent / "data"
REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "reference"

# How each admiral term is entered here: analyte label, unit text for the panel, LLN, ULN
# (a typical range in that unit). Multiples-of-ULN terms have no unit check in admiral.
SI = {
    "Anemia": ("Hb", "g/L", "115", "150"),
    "Neutrophil count decreased": ("ANC", "10^9/L", "1.8", "6.3"),
    "Platelet count decreased": ("PLT", "10^9/L", "125", "350"),
    "White blood cell decreased": ("WBC", "10^9/L", "3.5", "9.5"),
    "Lymphocyte count decreased": ("LYM", "10^9/L", "1.1", "3.2"),
    "Alanine aminotransferase increased": ("ALT", "U/L", "7", "40"),
    "Aspartate aminotransferase increased": ("AST", "U/L", "13", "35"),
    "Blood bilirubin increased": ("TBIL", "µmol/L", "3.4", "20.5"),
    "Alkaline phosphatase increased": ("ALP", "U/L", "35", "100"),
    "Creatinine increased": ("CR", "µmol/L", "41", "73"),
    "Serum amylase increased": ("AMY", "U/L", "35", "135"),
    "Lipase increased": ("LIP", "U/L", "13", "60"),
}
US_UNITS = {
    "g/dL": ("g/dL", "11.5", "15"),
    "10^3/uL": ("10^3/uL", None, None),  # = 10^9/L; ranges taken from SI
    "10^3/mL": (
        "/mm3",
        None,
        None,
    ),  # admiral's "10^3/mL" thresholds are cells per µL (1500, 1000, 500)
}
US = {
    "Blood bilirubin increased": ("TBIL", "mg/dL", "0.2", "1.2"),
    "Creatinine increased": ("CR", "mg/dL", "0.5", "1.1"),
}


def _load(name: str) -> list[dict]:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


# ---- a tiny evaluator for admiral's R conditions ----------------------------------------

_COMPARISON = re.compile(r"signif\(AVAL, signif_dig\)\s*(<=|>=|<|>)\s*(.+)$")


class _NA(Exception):
    """An R NA reached a comparison: case_when treats the condition as false."""


def _signif(x, digits):
    if x is None:
        raise _NA
    return float(f"{x:.{digits}g}")


def _isna(x) -> bool:
    return x is None


def _split_top_level(code: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in code:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def _python(condition: str) -> str:
    text = condition.replace("signif_dig", "15")
    text = re.sub(r"!\s*is\.na\(", " not isna(", text)
    text = text.replace("is.na(", "isna(")
    text = re.sub(r"!\s*\(", " not (", text)
    text = text.replace("%in%", " in ").replace("&", " and ").replace("|", " or ")
    return text


def clauses(term: dict) -> list[tuple[str, str | None]]:
    """(condition, grade) in admiral's evaluation order."""
    out = []
    for key in ("GRADE_NA_CODE", "GRADE_4_CODE", "GRADE_3_CODE", "GRADE_2_CODE", "GRADE_1_CODE"):
        for clause in _split_top_level(term.get(key) or ""):
            condition, _, value = clause.rpartition("~")
            value = value.strip()
            out.append((condition.strip(), None if value == "NA_character_" else value.strip('"')))
    return out


def admiral_grade(term: dict, **variables) -> int | None:
    env = {"signif": _signif, "isna": _isna, "high_indicator": ["HIGH"], "__builtins__": {}}
    env.update(variables)
    for condition, grade in clauses(term):
        try:
            holds = eval(_python(condition), env)  # test-only evaluator of admiral's data
        except (_NA, TypeError):  # arithmetic on NA is NA
            holds = False
        if holds:
            return None if grade is None else int(grade)
    return 0


def cut_points(term: dict, **variables) -> set[Decimal]:
    env = {"signif": _signif, "isna": _isna, "high_indicator": ["HIGH"], "__builtins__": {}}
    env.update(variables)
    cuts = set()
    for condition, _ in clauses(term):
        for part in re.split(r"\s&\s", condition):
            match = _COMPARISON.search(part.strip())
            if match:
                try:
                    cut = eval(_python(match.group(2)), env)
                except (_NA, TypeError):  # arithmetic on NA is NA
                    continue
                cuts.add(Decimal(repr(float(cut))).normalize())
    return cuts


def around(cut: Decimal) -> list[str]:
    """Just below, at and just above a cut point, as a report prints numbers."""
    step = Decimal(1).scaleb(cut.adjusted() - 2)
    return [format(v, "f") for v in (cut - step, cut, cut + step) if v >= 0]


def _f(number) -> float | None:
    return None if number is None else float(number)


# ---- the comparisons --------------------------------------------------------------------


def _ours(ctcae, analyte, unit, value, lln, uln, baseline=None, symptomatic=None):
    text = f"{analyte} {value} {unit} ({lln}-{uln})"
    (lab,) = parse_panel(text)
    base = None
    if baseline is not None:
        (base,) = parse_panel(f"{analyte} {baseline} {unit} ({lln}-{uln})")
    return grade_value(ctcae, lab, base, symptomatic).grade


def _baselines(term: dict, uln: str) -> list[str | None]:
    if "BASE" not in (term.get("VAR_CHECK") or ""):
        return [None]
    high = Decimal(uln)
    return [None, format(high * Decimal("0.5"), "f"), format(high * Decimal("1.6"), "f")]


def _compare_term(ctcae, term: dict, analyte: str, unit: str, lln: str, uln: str) -> int:
    symptomatic = True if term["TERM"] in ("Serum amylase increased", "Lipase increased") else None
    compared = 0
    for baseline in _baselines(term, uln):
        bnrind = (
            None if baseline is None else ("HIGH" if Decimal(baseline) > Decimal(uln) else "NORMAL")
        )
        variables = {
            "ANRLO": float(lln),
            "ANRHI": float(uln),
            "BASE": _f(baseline),
            "BNRIND": bnrind,
        }
        cuts = cut_points(term, AVAL=0.0, **variables)
        assert cuts, f"no cut points found for {term['TERM']}"
        for cut in sorted(cuts):
            for value in around(cut):
                theirs = admiral_grade(term, AVAL=float(value), **variables)
                ours = _ours(ctcae, analyte, unit, value, lln, uln, baseline, symptomatic)
                assert ours == theirs, (
                    f"{term['TERM']}: {analyte} {value} {unit} ({lln}-{uln}) baseline {baseline}: "
                    f"admiral {theirs}, trialbot {ours}"
                )
                compared += 1
    return compared


def test_the_vendored_admiral_data_is_the_shared_reference_copy():
    for name in ("admiral-ncictcaev5.json", "admiral-ncictcaev5_uscv.json"):
        shared = SHARED / name
        if not shared.is_file():
            pytest.skip("shared reference folder not beside the repository")
        assert (DATA / name).read_bytes() == shared.read_bytes()


def test_every_admiral_term_we_grade_is_cross_checked(ctcae):
    ours = {criterion.term for criterion in ctcae.lab.values()}
    admiral = {t["TERM"] for t in _load("admiral-ncictcaev5.json")}
    assert ours <= admiral
    assert set(SI) == ours & admiral


@pytest.mark.parametrize("term_name", sorted(SI))
def test_si_units_agree_with_admiral_around_every_cut_point(ctcae, term_name):
    (term,) = [t for t in _load("admiral-ncictcaev5.json") if t["TERM"] == term_name]
    analyte, unit, lln, uln = SI[term_name]
    if term.get("UNIT_CHECK"):
        assert term["UNIT_CHECK"] == unit
    assert _compare_term(ctcae, term, analyte, unit, lln, uln) >= 9


def _us_cases():
    cases = []
    for term in _load("admiral-ncictcaev5_uscv.json"):
        name = term["TERM"]
        if name not in SI:
            continue
        check = term.get("UNIT_CHECK")
        if check in US_UNITS:
            unit, lln, uln = US_UNITS[check]
            si_lln, si_uln = SI[name][2], SI[name][3]
            if unit == "/mm3":
                lln = format(Decimal(si_lln) * 1000, "f")
                uln = format(Decimal(si_uln) * 1000, "f")
            cases.append(
                pytest.param(
                    term, SI[name][0], unit, lln or si_lln, uln or si_uln, id=f"{name} {check}"
                )
            )
        elif name in US:
            cases.append(pytest.param(term, *US[name], id=f"{name} US units"))
    return cases


@pytest.mark.parametrize(("term", "analyte", "unit", "lln", "uln"), _us_cases())
def test_us_conventional_units_agree_with_admiral(ctcae, term, analyte, unit, lln, uln):
    assert _compare_term(ctcae, term, analyte, unit, lln, uln) >= 9


def test_us_cases_cover_every_unit_admiral_lists():
    ids = [p.id for p in _us_cases()]
    assert "Anemia g/dL" in ids
    for name in (
        "Neutrophil count decreased",
        "Platelet count decreased",
        "White blood cell decreased",
        "Lymphocyte count decreased",
    ):
        assert f"{name} 10^3/uL" in ids and f"{name} 10^3/mL" in ids


# ---- the documented differences ---------------------------------------------------------


def test_amylase_without_symptoms_differs_from_admirals_worst_case(ctcae):
    (term,) = [
        t for t in _load("admiral-ncictcaev5.json") if t["TERM"] == "Serum amylase increased"
    ]
    theirs = admiral_grade(term, AVAL=600.0, ANRHI=100.0, ANRLO=0.0, BASE=None, BNRIND=None)
    assert theirs == 4
    assert _ours(ctcae, "AMY", "U/L", "600", "0", "100", symptomatic=False) == 3
    assert _ours(ctcae, "AMY", "U/L", "300", "0", "100", symptomatic=False) == 2


def test_no_lln_admiral_leaves_ungraded_where_we_say_grade_0(ctcae):
    (term,) = [
        t for t in _load("admiral-ncictcaev5.json") if t["TERM"] == "Neutrophil count decreased"
    ]
    assert admiral_grade(term, AVAL=1.6, ANRLO=None) is None
    assert admiral_grade(term, AVAL=1.4, ANRLO=None) == 2
    (value,) = parse_panel("ANC 1.6")
    assert grade_value(ctcae, value).grade == 0


def test_the_evaluator_reads_admiral_as_admiral_does():
    (alt,) = [
        t
        for t in _load("admiral-ncictcaev5.json")
        if t["TERM"] == "Alanine aminotransferase increased"
    ]
    normal = {"ANRHI": 40.0, "BASE": None, "BNRIND": None}
    assert [admiral_grade(alt, AVAL=v, **normal) for v in (40.0, 41.0, 120.0, 121.0, 801.0)] == [
        0,
        1,
        1,
        2,
        4,
    ]
    abnormal = {"ANRHI": 40.0, "BASE": 60.0, "BNRIND": "HIGH"}
    assert [admiral_grade(alt, AVAL=v, **abnormal) for v in (89.0, 90.0, 181.0)] == [0, 1, 2]
    assert admiral_grade(alt, AVAL=100.0, ANRHI=None, BASE=None, BNRIND=None) is None
