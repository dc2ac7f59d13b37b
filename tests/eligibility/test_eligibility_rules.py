"""eligibility.yaml and reference_ranges.yaml: validated whole, every problem named."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from bot.eligibility import EligibilityRules
from bot.errors import RulesError
from bot.grading import load_reference_ranges
from bot.grading.ranges import ReferenceRangesFile

TRIAL = Path(__file__).resolve().parents[2] / "rules" / "nct05084677"


def _eligibility() -> dict:
    return yaml.safe_load((TRIAL / "eligibility.yaml").read_text(encoding="utf-8"))


def _errors(model, data) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return [".".join(str(p) for p in e["loc"]) + ": " + e["msg"] for e in caught.value.errors()]


def test_the_shipped_rules_hold_the_required_keys(rules):
    keys = [c.key for c in rules.criteria]
    for key in (
        "age",
        "stage",
        "ecog",
        "hb",
        "anc",
        "wbc",
        "plt",
        "alt",
        "ast",
        "bilirubin",
        "bun",
        "creatinine",
        "consent",
        "life_expectancy",
        "ccrt_eligible",
        "active_bleeding",
        "pregnancy_test",
        "active_infection",
        "prior_malignancy",
    ):
        assert key in keys
    assert len(keys) == len(set(keys))
    assert {c.section for c in rules.criteria} == {"inclusion", "exclusion"}


def test_the_cli_help_lists_exactly_the_rules_keys(rules):
    from bot.cli.screen import CHECKLIST_KEYS, LAB_AND_CORE_KEYS

    assert sorted(LAB_AND_CORE_KEYS + CHECKLIST_KEYS) == sorted(c.key for c in rules.criteria)


def test_every_problem_is_reported_with_its_field():
    data = _eligibility()
    data["criteria"][0]["min"] = 80  # age min above max
    data["criteria"][1]["eligible"].append("IIIC")  # not a stage
    data["criteria"][5]["analyte"] = "hemo"  # unknown analyte
    data["criteria"][6]["unit"] = "g/dL"  # not a unit of ANC
    data["criteria"][2]["key"] = "age"  # duplicate key
    data["criteria"][7]["type"] = "lab_thing"
    errors = _errors(EligibilityRules, data)
    joined = "\n".join(errors)
    assert "criteria.7" in joined  # the unknown type
    data["criteria"][7]["type"] = "lab_threshold"
    joined = "\n".join(_errors(EligibilityRules, data))
    assert "criteria.0.min" in joined
    assert "criteria.1.eligible: IIIC not in stages" in joined
    assert "criteria.5.analyte: unknown analyte" in joined
    assert "criteria.6.unit: unit does not fit ANC" in joined
    assert "criteria.2.key: 'age' is already used by criteria[0]" in joined


def test_a_yes_no_item_needs_pass_when():
    data = _eligibility()
    del data["criteria"][-1]["pass_when"]
    assert any("pass_when" in e for e in _errors(EligibilityRules, data))


def _ranges() -> dict:
    return yaml.safe_load((TRIAL / "reference_ranges.yaml").read_text(encoding="utf-8"))


def test_reference_ranges_are_checked_for_units_order_and_plausibility():
    data = _ranges()
    analytes = data["sites"]["main"]["analytes"]
    analytes["alt"]["lln"] = 50  # above its uln 40
    analytes["hb"]["unit"] = "U/L"
    analytes["cr"]["uln"] = 1.1  # mg/dL written as µmol/L
    del analytes["plt"]
    analytes["xyz"] = {"unit": "U/L", "uln": 5}
    joined = "\n".join(_errors(ReferenceRangesFile, data))
    assert "sites.main.analytes.alt: lln 50 must be below uln 40" in joined
    assert "sites.main.analytes.hb: unit 'U/L' does not fit Hb" in joined
    assert "sites.main.analytes.cr: uln 1.1 µmol/L is not a plausible CR reference limit" in joined
    assert "sites.main.analytes: the default site must give every analyte; missing plt" in joined
    assert "sites.main.analytes.xyz: unknown analyte 'xyz'" in joined


def test_a_second_site_overrides_only_what_it_lists(tmp_path):
    data = _ranges()
    data["sites"]["satellite"] = {
        "label": "Other lab",
        "analytes": {"alt": {"unit": "U/L", "lln": 5, "uln": 50}},
    }
    path = tmp_path / "reference_ranges.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    ranges = load_reference_ranges(path)
    satellite = ranges.for_site("satellite")
    assert satellite.get("alt").uln == 50
    assert satellite.get("ast").uln == 35
    assert ranges.for_site(None).get("alt").uln == 40


def test_an_unknown_site_is_refused_listing_the_sites():
    from bot.errors import UserError

    ranges = ReferenceRangesFile.model_validate(_ranges())
    with pytest.raises(UserError) as caught:
        ranges.for_site("mian")
    assert caught.value.field == "site"
    assert caught.value.allowed == "main"
    assert caught.value.suggestion == "main"


def test_a_broken_ranges_file_never_loads(tmp_path):
    path = tmp_path / "reference_ranges.yaml"
    path.write_text("citation: x\ndefault_site: main\nsites: [")
    with pytest.raises(RulesError) as caught:
        load_reference_ranges(path)
    assert "is not valid YAML" in str(caught.value)


def test_the_trial_loader_validates_both_files_and_their_cross_check(tmp_path):
    from bot.eligibility.rules import check_against_ranges
    from bot.protocol.loader import CROSS_CHECKS, RULE_FILES

    assert RULE_FILES["eligibility.yaml"] == (EligibilityRules, True)
    assert RULE_FILES["reference_ranges.yaml"] == (ReferenceRangesFile, True)
    assert check_against_ranges in CROSS_CHECKS

    class _Trial:
        name = "t"

        def __init__(self, eligibility, ranges):
            self.files = {"eligibility.yaml": eligibility, "reference_ranges.yaml": ranges}

        def get(self, name):
            return self.files[name]

    data = _ranges()
    del data["sites"]["main"]["analytes"]["bun"]["uln"]
    trial = _Trial(
        EligibilityRules.model_validate(_eligibility()), ReferenceRangesFile.model_validate(data)
    )
    problems = [str(p) for p in check_against_ranges(trial)]
    assert problems == [
        "t/eligibility.yaml: criteria[12].analyte: "
        "bun has no ULN in reference_ranges.yaml (default site)"
    ]
