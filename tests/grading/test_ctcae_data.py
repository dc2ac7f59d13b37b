"""The CTCAE v5.0 data in rules/: complete, reproducible from NCI's file, and self-checking."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.errors import RulesError, UserError
from bot.grading import GradeNotDefined, grade_text, load_ctcae

REPO = Path(__file__).resolve().parents[2]
CTCAE_DIR = REPO / "rules" / "ctcae" / "v5.0"
NCI_XLSX = REPO.parent / "shared" / "reference" / "CTCAE_v5.0_2017-11-27.xlsx"


def test_all_837_terms_with_their_meddra_codes(ctcae):
    assert ctcae.version == "5.0"
    assert len(ctcae.terms) == 837
    assert len({t.meddra_code for t in ctcae.terms}) == 837
    anemia = ctcae.term("Anemia")
    assert anemia.meddra_code == 10002272
    assert anemia.soc == "Blood and lymphatic system disorders"
    assert anemia.grades[3] == "Hgb <8.0 g/dL; <4.9 mmol/L; <80 g/L; transfusion indicated"
    assert ctcae.term("Myocarditis").grades[1] is None
    assert ctcae.term("toxic epidermal necrolysis").defined_grades == (4, 5)
    assert ctcae.term("Neutrophil count decreased").grades[5] is None


def test_term_lookup_is_exact_and_returns_none_for_unknown(ctcae):
    assert ctcae.term("PNEUMONITIS").term == "Pneumonitis"
    assert ctcae.term("pneumonitiz") is None
    assert ctcae.by_meddra(10035742).term == "Pneumonitis"


@pytest.mark.skipif(
    not NCI_XLSX.is_file(), reason="NCI CTCAE xlsx not beside the repository (../shared/reference)"
)
def test_terms_json_is_exactly_what_the_converter_makes_from_the_nci_file():
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "tools" / "convert_ctcae.py"),
            "--xlsx",
            str(NCI_XLSX),
            "--check",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_converter_writes_the_same_file(tmp_path):
    if not NCI_XLSX.is_file():
        pytest.skip("NCI CTCAE xlsx not beside the repository (../shared/reference)")
    out = tmp_path / "terms.json"
    subprocess.run(
        [
            sys.executable,
            str(REPO / "tools" / "convert_ctcae.py"),
            "--xlsx",
            str(NCI_XLSX),
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    assert out.read_bytes() == (CTCAE_DIR / "terms.json").read_bytes()
    # --check notices a changed file
    out.write_text(out.read_text().replace("Hgb <8.0 g/dL", "Hgb <8.1 g/dL"))
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "tools" / "convert_ctcae.py"),
            "--xlsx",
            str(NCI_XLSX),
            "--out",
            str(out),
            "--check",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1


def test_grade_text_shows_what_a_grade_means(ctcae):
    pneumonitis = ctcae.term("Pneumonitis")
    assert (
        grade_text(pneumonitis, 2)
        == "Grade 2: Symptomatic; medical intervention indicated; limiting instrumental ADL"
    )
    assert pneumonitis.grade_text(5) == "Grade 5: Death"


@pytest.mark.parametrize(
    "term",
    ["Pneumonitis", "Myocarditis", "Toxic epidermal necrolysis", "Neutrophil count decreased"],
)
def test_grade_zero_is_accepted_for_any_term(ctcae, term):
    assert grade_text(ctcae.term(term), 0).startswith("Grade 0")


@pytest.mark.parametrize(
    ("term", "grade", "allowed"),
    [
        ("Myocarditis", 1, "2, 3, 4, 5"),
        ("Toxic epidermal necrolysis", 3, "4, 5"),
        ("Stevens-Johnson syndrome", 2, "3, 4, 5"),
        ("Rash maculo-papular", 4, "1, 2, 3"),
        ("Neutrophil count decreased", 5, "1, 2, 3, 4"),
        ("Pneumonitis", 6, "1, 2, 3, 4, 5"),
        ("Pneumonitis", -1, "1, 2, 3, 4, 5"),
    ],
)
def test_a_grade_the_term_does_not_define_is_refused_naming_the_defined_ones(
    ctcae, term, grade, allowed
):
    with pytest.raises(GradeNotDefined) as caught:
        grade_text(ctcae.term(term), grade)
    assert isinstance(caught.value, UserError)
    assert caught.value.field == "grade"
    assert caught.value.allowed.startswith(allowed)
    assert f"no grade {grade}" in caught.value.message


def test_every_lab_criterion_names_a_term_and_quotes_its_grade_text(ctcae):
    assert set(ctcae.lab) == {
        "hb",
        "anc",
        "plt",
        "wbc",
        "lym",
        "alt",
        "ast",
        "tbil",
        "alp",
        "cr",
        "amy",
        "lip",
    }
    for criterion in ctcae.lab.values():
        term = ctcae.term(criterion.term)
        assert term.meddra_code == criterion.meddra_code
        for arm in criterion.arms:
            assert arm.text in term.grades[arm.grade]
    assert "bun" in ctcae.not_graded


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "v5.0"
    shutil.copytree(CTCAE_DIR, target)
    return target


def _problems(folder: Path) -> list[str]:
    with pytest.raises(RulesError) as caught:
        load_ctcae("5.0", folder)
    return [str(p) for p in caught.value.problems]


def test_a_criterion_quote_that_is_not_the_nci_text_is_refused(tmp_path):
    folder = _copy(tmp_path)
    path = folder / "lab_criteria.yaml"
    path.write_text(
        path.read_text().replace(
            'text: "<1000 - 500/mm3; <1.0 - 0.5 x 10e9 /L"', 'text: "<1000 - 400/mm3"'
        )
    )
    problems = _problems(folder)
    assert any(
        "criteria.anc.arms[1].text" in p and "not in the grade 3 text" in p for p in problems
    )


def test_a_criterion_that_contradicts_its_direction_is_refused(tmp_path):
    folder = _copy(tmp_path)
    criteria = folder / "lab_criteria.yaml"
    criteria.write_text(
        criteria.read_text().replace(
            '{grade: 2, ref: absolute, op: "<", value: 1.5, unit: 10^9/L',
            '{grade: 2, ref: absolute, op: ">", value: 1.5, unit: 10^9/L',
        )
    )
    problems = _problems(folder)
    assert any(
        "lab_criteria.yaml: criteria.anc.arms[2].op" in p and "low-direction" in p for p in problems
    )


def test_every_cross_file_problem_is_listed_with_file_and_field(tmp_path):
    folder = _copy(tmp_path)
    criteria = folder / "lab_criteria.yaml"
    text = criteria.read_text()
    text = text.replace("meddra_code: 10029366", "meddra_code: 10029367")
    text = text.replace("term: Lipase increased", "term: Lipase raised")
    criteria.write_text(text)
    problems = _problems(folder)
    assert (
        "ctcae/v5.0/lab_criteria.yaml: criteria.anc.meddra_code: "
        "is 10029367; Neutrophil count decreased is 10029366" in problems
    )
    assert (
        "ctcae/v5.0/lab_criteria.yaml: criteria.lip.term: 'Lipase raised' is not a CTCAE v5.0 term"
        in problems
    )


def test_synonym_targets_and_spellings_are_checked(tmp_path):
    folder = _copy(tmp_path)
    synonyms = folder / "synonyms.yaml"
    text = synonyms.read_text()
    text = text.replace("  - term: Proctitis\n", "  - term: Proctitiss\n")
    text = text.replace("spellings:\n", "spellings:\n  - {british: ia, american: ya}\n")
    text = text.replace("texts: [emesis]", "texts: [emesis, nausea]")
    synonyms.write_text(text)
    problems = _problems(folder)
    assert any("'Proctitiss' is not a CTCAE v5.0 term" in p for p in problems)
    assert any("spellings: rewrites the CTCAE term 'Anemia'" in p for p in problems)
    assert any("'nausea' is the CTCAE term 'Nausea'" in p for p in problems)


def test_a_broken_terms_file_is_refused_whole(tmp_path):
    folder = _copy(tmp_path)
    data = json.loads((folder / "terms.json").read_text())
    data["terms"].append(dict(data["terms"][0]))
    (folder / "terms.json").write_text(json.dumps(data))
    problems = _problems(folder)
    assert any("has 838 terms, term_count says 837" in p for p in problems)
    assert any("'Anemia' repeats terms[0]" in p for p in problems)
    (folder / "terms.json").write_text("{not json")
    assert any("is not valid JSON" in p for p in _problems(folder))


def test_grade_text_by_term_name(ctcae):
    assert ctcae.grade_text("stevens-johnson syndrome", 4).startswith(
        "Grade 4: Skin sloughing covering 10 - 30%"
    )
    with pytest.raises(GradeNotDefined):
        ctcae.grade_text("Myocarditis", 1)
    with pytest.raises(UserError) as caught:
        ctcae.grade_text("Myocarditiss", 2)
    assert caught.value.suggestion == "Myocarditis"
