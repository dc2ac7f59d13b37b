"""`trialbot grade`: the JSON contract, the human lines, and refusals with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bot.cli import main


def _json(capsys, *argv):
    code = main(["grade", *argv, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_the_issue_example_as_json(capsys):
    code, data = _json(capsys, "ANC 0.4 PLT 62 ALT 130 U/L (7-40)")
    assert code == 0
    assert list(data) == ["results"]
    anc, plt, alt = data["results"]
    for result in data["results"]:
        assert {"analyte", "value", "unit", "term", "grade", "ctcae", "criterion"} <= set(result)
        assert result["ctcae"] == "5.0"
    assert (anc["analyte"], anc["value"], anc["unit"], anc["term"], anc["grade"]) == (
        "anc",
        0.4,
        "10^9/L",
        "Neutrophil count decreased",
        4,
    )
    assert anc["criterion"] == "Grade 4: <500/mm3; <0.5 x 10e9 /L"
    assert (plt["term"], plt["grade"]) == ("Platelet count decreased", 2)
    assert (alt["term"], alt["grade"], alt["x_uln"], alt["uln"]) == (
        "Alanine aminotransferase increased",
        2,
        3.25,
        40.0,
    )
    assert alt["meddra_code"] == 10001551


def test_values_are_reported_in_the_canonical_unit(capsys):
    _, data = _json(capsys, "Hb 91 g/L ANC 400/mm3 CR 1.0 mg/dL")
    assert [(r["value"], r["unit"]) for r in data["results"]] == [
        (9.1, "g/dL"),
        (0.4, "10^9/L"),
        (88.42, "µmol/L"),
    ]


def test_site_ranges_apply_without_a_report_range(capsys):
    _, data = _json(capsys, "ALT 130 ANC 1.7")
    alt, anc = data["results"]
    assert (alt["uln"], alt["range_source"], alt["grade"]) == (40.0, "site", 2)
    assert (anc["lln"], anc["grade"]) == (1.8, 1)


def test_baseline_and_symptoms(capsys):
    _, data = _json(
        capsys,
        "ALT 95 (7-40) AMY 300 (0-100)",
        "--baseline",
        "ALT 60 (7-40)",
        "--symptomatic",
        "yes",
    )
    alt, amy = data["results"]
    assert (alt["grade"], alt["variant"]) == (1, "baseline abnormal")
    assert amy["grade"] == 3
    _, data = _json(capsys, "AMY 300 (0-100)")
    (amy,) = data["results"]
    assert (amy["grade"], amy["grade_if_symptomatic"]) == (2, 3)


def test_bun_has_no_term(capsys):
    _, data = _json(capsys, "BUN 5")
    (bun,) = data["results"]
    assert (bun["term"], bun["grade"]) == (None, None)
    assert "no CTCAE v5.0 term" in bun["note"]


def test_human_output_is_one_line_per_analyte_with_term_grade_and_criterion(capsys):
    assert main(["grade", "ANC 0.4 ALT 130 U/L (7-40)"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert (
        lines[0] == "ANC 0.4 ×10^9/L — Neutrophil count decreased, grade 4 (CTCAE v5.0): "
        "<500/mm3; <0.5 x 10e9 /L"
    )
    assert lines[1].startswith(
        "ALT 130 U/L (3.25 x ULN) — Alanine aminotransferase increased, grade 2 (CTCAE v5.0): "
        ">3.0 - 5.0 x ULN if baseline was normal"
    )
    assert lines[2] == "    note: no baseline given: graded as if the baseline was normal"


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["Hb 91"], "did you mean 91 g/L?"),
        (["PTL 62"], "did you mean PLT?"),
        (["ANC 0.4 ANC 0.5"], "appears twice"),
        (["ALT 130 (40-7)"], "did you mean (7-40)?"),
        (["ANC 0.4", "--site", "elsewhere"], "unknown site 'elsewhere'"),
        (["ANC 0.4", "--baseline", "ALT 60"], "the baseline has ALT, which the panel does not"),
        ([], "no lab panel given"),
        (["--term", "pneumonitiz"], "did you mean 'Pneumonitis'?"),
        (["--term", "Myocarditis", "--ae-grade", "1"], "Myocarditis has no grade 1"),
    ],
)
def test_refusals_print_one_json_error_and_exit_2(capsys, argv, says):
    code = main(["grade", *argv, "--json"])
    out = capsys.readouterr().out
    assert code == 2
    data = json.loads(out)
    assert list(data) == ["error"]
    assert says in data["error"]


def test_a_refusal_without_json_goes_to_stderr(capsys):
    assert main(["grade", "Hb 91"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: Hb 91: 91 g/dL")


def test_term_lookup_shows_the_grade_text(capsys):
    assert main(["grade", "--term", "SJS"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("SJS → Stevens-Johnson syndrome (synonym) — MedDRA 10042033")
    assert "Grade 3: Skin sloughing covering <10% BSA" in out
    assert "Grade 1" not in out
    code, data = _json(capsys, "--term", "encephalitis", "--ae-grade", "3")
    assert code == 0
    assert data["match"]["term"] == "Encephalopathy"
    assert "no non-infectious encephalitis" in data["match"]["note"]
    assert data["grades"] == {"3": "Grade 3: Severe symptoms; limiting self care ADL"}
    _, data = _json(capsys, "--term", "TEN", "--ae-grade", "0")
    assert data["grades"]["0"].startswith("Grade 0")


def test_the_installed_command_exits_2_without_a_traceback():
    entry = (
        "import sys; from bot.cli import main; sys.exit(main())"  # what the trialbot script runs
    )
    result = subprocess.run(
        [sys.executable, "-c", entry, "grade", "Hb 91", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert json.loads(result.stdout)["error"].endswith("did you mean 91 g/L?")


def test_rules_check_validates_the_ctcae_folder_too(capsys):
    assert main(["rules", "check"]) == 0
    out = capsys.readouterr().out
    assert "OK (CTCAE v5.0: 837 terms, 12 lab criteria" in out
