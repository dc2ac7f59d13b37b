"""Reading lab panels as typed off a report: aliases, units, ranges — and every refusal."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.errors import UserError
from bot.events import LabValue
from bot.grading import LabEntryError, parse_panel


def _one(text, ranges=None):
    (value,) = parse_panel(text, ranges)
    return value


def test_the_issue_example(site_ranges):
    values = parse_panel("ANC 0.4 PLT 62 Hb 9.1 ALT 130 U/L (7-40)", site_ranges)
    assert [(v.analyte, v.value, v.unit) for v in values] == [
        ("anc", 0.4, "10^9/L"),
        ("plt", 62.0, "10^9/L"),
        ("hb", 9.1, "g/dL"),
        ("alt", 130.0, "U/L"),
    ]
    alt = values[3]
    assert (alt.lln, alt.uln, alt.range_source, alt.entered) == (
        7.0,
        40.0,
        "report",
        "ALT 130 U/L (7-40)",
    )
    anc = values[0]
    assert (anc.lln, anc.uln, anc.range_source, anc.entered) == (1.8, 6.3, "site", "ANC 0.4")
    assert all(isinstance(v, LabValue) for v in values)


@pytest.mark.parametrize(
    ("alias", "code"),
    [
        ("ANC", "anc"),
        ("NEUT", "anc"),
        ("neut", "anc"),
        ("Neutrophils", "anc"),
        ("PLT", "plt"),
        ("plt", "plt"),
        ("Hb", "hb"),
        ("HGB", "hb"),
        ("hgb", "hb"),
        ("WBC", "wbc"),
        ("LYM", "lym"),
        ("ALT", "alt"),
        ("GPT", "alt"),
        ("SGPT", "alt"),
        ("AST", "ast"),
        ("GOT", "ast"),
        ("SGOT", "ast"),
        ("TBIL", "tbil"),
        ("T-BIL", "tbil"),
        ("ALP", "alp"),
        ("AKP", "alp"),
        ("CR", "cr"),
        ("CREA", "cr"),
        ("Cr", "cr"),
        ("AMY", "amy"),
        ("LIP", "lip"),
        ("BUN", "bun"),
        ("bun", "bun"),
        ("UREA", "bun"),
    ],
)
def test_aliases_are_case_insensitive(site_ranges, alias, code):
    number = {
        "anc": "2.5",
        "plt": "200",
        "hb": "12",
        "wbc": "5",
        "lym": "1.5",
        "tbil": "10",
        "cr": "60",
        "bun": "5",
    }.get(code, "30")
    assert _one(f"{alias} {number}", site_ranges).analyte == code


@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [
        ("Hb 9.1", 9.1, "g/dL"),
        ("Hb 9.1 g/dL", 9.1, "g/dL"),
        ("Hb 91 g/L", 9.1, "g/dL"),
        ("Hb 4.9 mmol/L", 7.89558491782, "g/dL"),
        ("ANC 0.4 x10^9/L", 0.4, "10^9/L"),
        ("ANC 0.4 ×10^9/L", 0.4, "10^9/L"),
        ("ANC 0.4 x 10^9/L", 0.4, "10^9/L"),
        ("ANC 0.4 10^9/L", 0.4, "10^9/L"),
        ("ANC 0.4 G/L", 0.4, "10^9/L"),
        ("ANC 0.4 10e9/L", 0.4, "10^9/L"),
        ("ANC 0.4x10⁹/L", 0.4, "10^9/L"),
        ("ANC 400/mm3", 0.4, "10^9/L"),
        ("ANC 400 /mm³", 0.4, "10^9/L"),
        ("ANC 400/µL", 0.4, "10^9/L"),
        ("ANC 400/uL", 0.4, "10^9/L"),
        ("ANC 400 cells/µL", 0.4, "10^9/L"),
        ("PLT 62,000/mm3", 62.0, "10^9/L"),
        ("ALT 130 U/L", 130.0, "U/L"),
        ("ALT 130 IU/L", 130.0, "U/L"),
        ("TBIL 30 µmol/L", 30.0, "µmol/L"),
        ("TBIL 30 umol/L", 30.0, "µmol/L"),
        ("TBIL 1.8 mg/dL", 30.78, "µmol/L"),
        ("CR 88 µmol/L", 88.0, "µmol/L"),
        ("CR 1.0 mg/dL", 88.42, "µmol/L"),
        ("BUN 5.0 mmol/L", 5.0, "mmol/L"),
        ("BUN 14 mg/dL", 4.998, "mmol/L"),
        ("UREA 5.0 mmol/L", 5.0, "mmol/L"),
    ],
)
def test_units_are_converted_to_the_canonical_unit(text, value, unit):
    parsed = _one(text)
    assert (parsed.value, parsed.unit) == (value, unit)
    assert parsed.entered == text


@pytest.mark.parametrize(
    "text",
    [
        "ANC 0.4, PLT 62",
        "ANC 0.4; PLT 62",
        "ANC: 0.4 PLT: 62",
        "ANC=0.4 PLT=62",
        "ANC0.4 PLT62",
        "  ANC 0.4\nPLT 62  ",
    ],
)
def test_separators(text):
    assert [(v.analyte, v.value) for v in parse_panel(text)] == [("anc", 0.4), ("plt", 62.0)]


@pytest.mark.parametrize(
    ("text", "lln", "uln"),
    [
        ("ALT 130 (7-40)", 7.0, 40.0),
        ("ALT 130 U/L (7 - 40)", 7.0, 40.0),
        ("ALT 130 (7–40)", 7.0, 40.0),
        ("ALT 130 (7~40)", 7.0, 40.0),
        ("ALT 130 (7 to 40)", 7.0, 40.0),
        ("ALT 130 (<40)", None, 40.0),
        ("ALT 130 (≤40)", None, 40.0),
        ("ANC 1.2 (>1.8)", 1.8, None),
        ("ALT 130 (7-40) U/L", 7.0, 40.0),
        ("ALT 130 (7-40 U/L)", 7.0, 40.0),
        ("Hb 9.1 (11.5-15.0)", 11.5, 15.0),
        ("Hb 91 g/L (115-150)", 11.5, 15.0),
        ("Hb 91 (115-150 g/L)", 11.5, 15.0),
        ("ANC 900/mm3 (1800-6300)", 1.8, 6.3),
        ("CR 1.2 mg/dL (0.5-1.1)", 44.21, 97.262),
    ],
)
def test_a_report_range_gives_lln_and_uln_in_the_value_unit(text, lln, uln):
    parsed = _one(text)
    assert (parsed.lln, parsed.uln, parsed.range_source) == (lln, uln, "report")


def test_without_site_ranges_and_report_range_there_is_no_range():
    parsed = _one("ALT 130")
    assert (parsed.lln, parsed.uln, parsed.range_source) == (None, None, "none")


def test_bare_numbers_are_read_in_the_site_default_unit(tmp_path):
    from bot.grading import load_reference_ranges

    text = "citation: test\ndefault_site: a\nsites:\n  a:\n    label: A\n    analytes:\n" + "".join(
        f"      {code}: {{unit: {unit}, lln: {lln}, uln: {uln}}}\n"
        for code, unit, lln, uln in [
            ("hb", "g/L", 115, 150),
            ("anc", "/mm3", 1800, 6300),
            ("wbc", "10^9/L", 3.5, 9.5),
            ("lym", "10^9/L", 1.1, 3.2),
            ("plt", "10^9/L", 125, 350),
            ("alt", "U/L", 7, 40),
            ("ast", "U/L", 13, 35),
            ("alp", "U/L", 35, 100),
            ("tbil", "mg/dL", 0.2, 1.2),
            ("cr", "mg/dL", 0.5, 1.1),
            ("bun", "mg/dL", 7, 20),
            ("amy", "U/L", 35, 135),
            ("lip", "U/L", 13, 60),
        ]
    )
    path = tmp_path / "reference_ranges.yaml"
    path.write_text(text)
    ranges = load_reference_ranges(path).for_site("a")
    hb, anc, tbil = parse_panel("Hb 91 ANC 900 TBIL 1.8", ranges)
    assert (hb.value, hb.lln, hb.uln) == (9.1, 11.5, 15.0)
    assert (anc.value, anc.lln) == (0.9, 1.8)
    assert (tbil.value, tbil.uln) == (30.78, 20.52)


# ---- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "field", "says", "suggestion"),
    [
        ("Hb 91", "Hb 91", "far outside human physiology", "91 g/L"),
        ("Hb 91 g/dL", "Hb 91 g/dL", "far outside human physiology", "91 g/L"),
        ("ANC 1500", "ANC 1500", "far outside human physiology", "1500 /mm3"),
        ("PLT 150000", "PLT 150000", "far outside human physiology", "150000 /mm3"),
        ("CR 0.8", "CR 0.8", "far outside human physiology", "0.8 mg/dL"),
        ("PTL 62", "PTL", "unknown analyte", "PLT"),
        ("ALTT 130", "ALTT", "unknown analyte", "ALT"),
        ("ALT 130 (40-7)", "(40-7)", "low end 40 is not below its high end 7", "(7-40)"),
        (
            "Hb 91 g/L (11.5-15.0)",
            "Hb 91 g/L (11.5-15.0)",
            "not a plausible Hb reference range",
            "(11.5-15 g/dL)",
        ),
        (
            "CR 80 (0.5-1.1)",
            "CR 80 (0.5-1.1)",
            "not a plausible CR reference range",
            "(0.5-1.1 mg/dL)",
        ),
    ],
)
def test_refusals_name_the_token_and_suggest_what_was_meant(text, field, says, suggestion):
    with pytest.raises(LabEntryError) as caught:
        parse_panel(text)
    error = caught.value
    assert isinstance(error, UserError)
    assert error.field == field
    assert says in str(error)
    assert error.suggestion == suggestion
    assert f"did you mean {suggestion}?" in error.message


@pytest.mark.parametrize(
    ("text", "field", "says"),
    [
        ("", "panel", "empty"),
        ("   ", "panel", "empty"),
        ("ANC", "ANC", "a number is missing after 'ANC'"),
        ("ANC PLT 62", "ANC", "a number is missing after 'ANC' (found 'PLT')"),
        ("ANC 0.4 NEUT 0.5", "NEUT", "ANC appears twice ('ANC 0.4' and 'NEUT 0.5')"),
        ("ALT 130 mg/dL", "ALT 130 mg/dL", "the unit 'mg/dL' does not fit ALT"),
        ("PLT 62 g/dL", "PLT 62 g/dL", "the unit 'g/dL' does not fit PLT"),
        ("Hb 9.1 U/L", "Hb 9.1 U/L", "does not fit Hb"),
        ("Hb 9.1 gm/dl", "Hb 9.1 gm/dl", "not a unit trialbot knows"),
        ("ALT 130 (7-40", "(7-40", "no closing ')'"),
        ("ALT 130 (7-)", "(7-)", "is not a reference range"),
        ("ALT 130 (a-b)", "(a-b)", "is not a reference range"),
        ("ALT 130 (40-40)", "(40-40)", "is not below its high end"),
        ("ALT 130 (7-40 mg/dL)", "(7-40 mg/dL)", "does not fit ALT"),
        ("Hb 9.1 g/dL (115-150 g/L)", "Hb 9.1 g/dL (115-150 g/L)", "give both in one unit"),
        ("Hb 9,1", "Hb 9,1", "comma inside a number is ambiguous"),
        ("PLT 62,000", "PLT 62,000", "write 62000 or 62"),
        ("ALT 1.2.3", "ALT 1.2.3", "is not a number"),
        ("Hb 9. PLT 100", "Hb 9.", "is not a number"),
        ("ANC -0.4", "ANC -0.4", "cannot be negative"),
        ("ANC 1e400", "ANC 1e400", "without an exponent"),
        ("ANC 4E-1 PLT 62", "ANC 4E-1", "without an exponent"),
        ("ALT <5", "ALT <5", "is a bound, not a value"),
        ("NEUT 45%", "NEUT 45%", "as a percentage cannot be graded"),
        ("62", "62", "has no analyte before it"),
        ("(7-40)", "(7-40)", "must follow a value"),
        ("ALT 130 ! AST 20", "!", "unexpected '!'"),
        ("U/L 130", "U", "unknown analyte"),
        ("GLU 12", "GLU", "Hyperglycemia"),
        ("UREA 20 mg/dL", "UREA 20 mg/dL", "urea in mg/dL is ambiguous"),
    ],
)
def test_refusals(text, field, says):
    with pytest.raises(LabEntryError) as caught:
        parse_panel(text)
    assert caught.value.field == field
    assert says in caught.value.message


def test_nothing_is_half_parsed():
    with pytest.raises(LabEntryError):
        parse_panel("ANC 0.4 PLT 62 Hb 91")


def test_unknown_analyte_lists_the_accepted_ones():
    with pytest.raises(LabEntryError) as caught:
        parse_panel("XYZ 3")
    assert caught.value.allowed == "ANC, PLT, WBC, LYM, Hb, ALT, AST, ALP, AMY, LIP, TBIL, CR, BUN"


# ---- properties --------------------------------------------------------------------------

_TOKENS = st.sampled_from(
    [
        "ANC",
        "PLT",
        "Hb",
        "HGB",
        "ALT",
        "AST",
        "TBIL",
        "CR",
        "BUN",
        "LIP",
        "AMY",
        "NEUT",
        "foo",
        "GLU",
        "0",
        "0.4",
        "62",
        "9.1",
        "91",
        "130",
        "1,500",
        "62,000",
        "-1",
        "<5",
        ".5",
        "9.",
        "1e3",
        "g/dL",
        "g/L",
        "mmol/L",
        "U/L",
        "/mm3",
        "x10^9/L",
        "µmol/L",
        "mg/dL",
        "%",
        "(7-40)",
        "(40-7)",
        "(11.5-15.0)",
        "(",
        ")",
        "(<40)",
        ",",
        ";",
        ":",
        "=",
        "x",
        "×",
        "10^9/L",
        " ",
        "\n",
        "–",
    ]
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_TOKENS, max_size=12).map(" ".join))
def test_panels_made_of_lab_like_tokens_parse_or_explain(text):
    _parse_or_explain(text)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=60))
def test_any_text_parses_or_is_explained(text):
    _parse_or_explain(text)


def _parse_or_explain(text):
    try:
        values = parse_panel(text)
    except UserError as error:
        assert error.message.strip()
        assert error.field
        return
    assert values
    assert len({v.analyte for v in values}) == len(values)
    for value in values:
        assert value.value >= 0
        assert value.entered and value.entered in text


def test_the_whole_ranges_file_means_its_default_site(site_ranges):
    from pathlib import Path

    from bot.grading import load_reference_ranges

    path = Path(__file__).resolve().parents[2] / "rules" / "nct05084677" / "reference_ranges.yaml"
    (value,) = parse_panel("ALT 130", load_reference_ranges(path))
    assert value == _one("ALT 130", site_ranges)
    assert (value.uln, value.range_source) == (40.0, "site")
