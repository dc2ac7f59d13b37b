"""`trialbot rules check` refuses what would load and then silently never fire: a drug,
item, analyte, site or CTCAE term named where it does not exist, a rule the engine can
never reach, an unknown key — each with the file, the field and the closest valid name."""

from __future__ import annotations

import pytest

from bot.cli import main
from tests.trials.conftest import OTHER, _edit

DOSE = "dose_modifications.yaml"


def check(capsys, root, file: str, old: str, new: str, count: int = 1) -> list[str]:
    path = root / OTHER / file
    text = path.read_text(encoding="utf-8")
    assert text.count(old) >= count, old
    path.write_text(text.replace(old, new, count), encoding="utf-8")
    code = main(["rules", "check", str(root / OTHER)])
    err = capsys.readouterr().err
    assert code == 2, err
    return [line.strip() for line in err.splitlines()[1:]]


def check_data(capsys, root, file: str, change) -> list[str]:
    _edit(root / OTHER / file, change)
    code = main(["rules", "check", str(root / OTHER)])
    err = capsys.readouterr().err
    assert code == 2, err
    return [line.strip() for line in err.splitlines()[1:]]


def _set(*path, value):
    def change(data):
        for key in path[:-1]:
            data = data[key]
        data[path[-1]] = value

    return change


def test_the_untouched_copy_passes(other_rules, capsys):
    assert main(["rules", "check", str(other_rules / OTHER)]) == 0


def test_a_misspelt_immunotherapy_drug_in_the_rules(other_rules, capsys):
    problems = check(
        capsys, other_rules, DOSE, "  drugs: [toripalimab]\n", "  drugs: [toripalimabb]\n"
    )
    assert problems == [
        f"{OTHER}/{DOSE}: immunotherapy.drugs[0]: 'toripalimabb' is not an immunotherapy drug of "
        "schedule.yaml (did you mean 'toripalimab'?); allowed: toripalimab",
        f"{OTHER}/schedule.yaml: drugs[2].id: immunotherapy drug 'toripalimab' has no rules in "
        "dose_modifications.yaml: no toxicity would ever change its dose",
    ]


def test_a_misspelt_chemotherapy_drug_in_the_rules(other_rules, capsys):
    problems = check(
        capsys,
        other_rules,
        DOSE,
        "drugs: [cisplatin, paclitaxel]",
        "drugs: [cisplatin, paclitaxol]",
    )
    assert problems[0] == (
        f"{OTHER}/{DOSE}: chemotherapy.drugs[1]: 'paclitaxol' is not a chemotherapy drug of "
        "schedule.yaml (did you mean 'paclitaxel'?); allowed: cisplatin, paclitaxel"
    )
    assert "drugs[1].id: chemotherapy drug 'paclitaxel' has no rules" in problems[1]


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("series", 4, "drug"), "cisplatinn", "series[4].drug"),
        (
            ("series", 8, "administrations", 0, "drug"),
            "paclitaxell",
            "series[8].administrations[0].drug",
        ),
    ],
    ids=["a series", "a cycle's administration"],
)
def test_a_misspelt_drug_in_the_schedule(other_rules, capsys, path, value, field):
    problems = check_data(capsys, other_rules, "schedule.yaml", _set(*path, value=value))
    assert any(
        p.startswith(f"{OTHER}/schedule.yaml: {field}: unknown drug") and "did you mean" in p
        for p in problems
    ), problems


def test_a_misspelt_visit_item(other_rules, capsys):
    problems = check_data(
        capsys, other_rules, "schedule.yaml", _set("visits", 2, "items", value=["planing_ct"])
    )
    assert problems[0].startswith(
        f"{OTHER}/schedule.yaml: visits[2].items[0]: unknown visit item 'planing_ct' — "
        "did you mean 'planning_ct'?"
    )


def test_a_misspelt_ctcae_term(other_rules, capsys):
    problems = check(capsys, other_rules, DOSE, "terms: [Pneumonitis]", "terms: [Pneumonitits]")
    assert problems == [
        f"{OTHER}/{DOSE}: immunotherapy.categories[0].terms[0]: 'Pneumonitits' is not a CTCAE "
        "v5.0 term (did you mean 'Pneumonitis'?)"
    ]


@pytest.mark.parametrize(
    ("file", "old", "new", "expected"),
    [
        (
            DOSE,
            '- {grades: [2], action: hold, management: "Interrupt toripalimab until restored to grade 0–I", source: "Table 3, Pneumonitis, grade II"}',
            '- {grade: [2], action: hold, management: "Interrupt toripalimab until restored to grade 0–I", source: "Table 3, Pneumonitis, grade II"}',
            f"{OTHER}/{DOSE}: immunotherapy.categories[0].rows[0].grade: unknown key — did you mean 'grades'?",
        ),
        (
            DOSE,
            "\n  recovered_max_grade: 1\n",
            "\n  recovered_max_grades: 1\n",
            f"{OTHER}/{DOSE}: immunotherapy.recovered_max_grades: unknown key — did you mean 'recovered_max_grade'?",
        ),
    ],
    ids=["a row", "a drug's block"],
)
def test_an_unknown_key_names_the_closest_valid_one(other_rules, capsys, file, old, new, expected):
    problems = check(capsys, other_rules, file, old, new)
    assert any(p.startswith(expected) for p in problems), problems


@pytest.mark.parametrize(
    ("file", "path", "expected"),
    [
        (
            "eligibility.yaml",
            ("criteria", 0, "lable"),
            "criteria[0].integer_range.lable: unknown key — did you mean 'label'?",
        ),
        (
            "reference_ranges.yaml",
            ("sites", "east", "analytes", "alt", "llnn"),
            "sites.east.analytes.alt.llnn: unknown key — did you mean 'lln'?",
        ),
        (
            "sites.yaml",
            ("sites", 0, "timezon"),
            "sites[0].timezon: unknown key — did you mean 'timezone'?",
        ),
        (
            "schedule.yaml",
            ("series", 0, "windw"),
            "series[0].once.windw: unknown key — did you mean 'window'?",
        ),
    ],
    ids=["a criterion", "a reference range", "a site", "a series"],
)
def test_an_unknown_key_in_any_file(other_rules, capsys, file, path, expected):
    problems = check_data(capsys, other_rules, file, _set(*path, value=1))
    assert any(p.startswith(f"{OTHER}/{file}: {expected}") for p in problems), problems


def test_a_misspelt_analyte(other_rules, capsys):
    problems = check_data(
        capsys, other_rules, "eligibility.yaml", _set("criteria", 10, "analyte", value="tbili")
    )
    assert problems[0].startswith(
        f"{OTHER}/eligibility.yaml: criteria[10].analyte: unknown analyte — did you mean 'tbil'?"
    ), problems


def test_a_reference_ranges_site_that_sites_yaml_does_not_have(other_rules, capsys):
    path = other_rules / OTHER / "reference_ranges.yaml"
    path.write_text(
        path.read_text(encoding="utf-8") + "  eest:\n    label: typo\n    analytes: {}\n",
        encoding="utf-8",
    )
    assert main(["rules", "check", str(other_rules / OTHER)]) == 2
    assert (
        f"{OTHER}/reference_ranges.yaml: sites.eest: 'eest' is not a site of sites.yaml "
        "(did you mean 'east'?); allowed: east"
    ) in capsys.readouterr().err


def test_a_reduction_trigger_the_engine_can_never_see(other_rules, capsys):
    problems = check(
        capsys,
        other_rules,
        DOSE,
        "- {term: White blood cell decreased, min_grade: 4}",
        "- {term: Diarrhea, min_grade: 4}",
    )
    assert problems == [
        f"{OTHER}/{DOSE}: chemotherapy.reduce.triggers[2].term: 'Diarrhea' is not "
        "haematological (chemotherapy.haematological), so this reduction trigger would never fire"
    ]


def test_a_trigger_grade_ctcae_does_not_have(other_rules, capsys):
    problems = check(
        capsys,
        other_rules,
        DOSE,
        "- {term: Febrile neutropenia, min_grade: 3}",
        "- {term: Febrile neutropenia, min_grade: 6}",
    )
    assert any("less than or equal to 5" in p for p in problems), problems


def test_a_row_at_grades_none_of_its_terms_has(other_rules, capsys):
    problems = check(
        capsys,
        other_rules,
        DOSE,
        "- {grades: [1, 2, 3, 4, 5], action: discontinue",
        "- {grades: [1, 2], action: discontinue",
    )
    assert problems == [
        f"{OTHER}/{DOSE}: immunotherapy.categories[10].rows[0].grades: no term of 'sjs_ten' has "
        "grade 1, 2 in CTCAE v5.0: this row would never fire"
    ]


def test_febrile_neutropenia_that_reduces_nothing(other_rules, capsys):
    problems = check(
        capsys,
        other_rules,
        DOSE,
        "    counts_as: Febrile neutropenia\n",
        "    counts_as: Anemia\n",
    )
    assert problems[0].startswith(
        f"{OTHER}/{DOSE}: chemotherapy.febrile_neutropenia.counts_as: 'Anemia' is not a reduction trigger term (the combined finding would reduce nothing)"
    )


@pytest.mark.parametrize("key", ["timezone", "country"])
def test_a_site_must_say_its_time_zone_and_holiday_country(other_rules, capsys, key):
    """Left out, the model's defaults (the first trial's site: Asia/Shanghai, China's
    holidays) would move every date and treatment day of another trial's site silently."""

    def leave_out(data):
        del data["sites"][0][key]

    problems = check_data(capsys, other_rules, "sites.yaml", leave_out)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{OTHER}/sites.yaml: sites[0].{key}: required:"), problems
