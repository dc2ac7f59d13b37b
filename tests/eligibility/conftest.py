"""Fixtures for the eligibility tests: the shipped Table 1 rules and the site's ranges."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.eligibility import EligibilityRules
from bot.grading import load_reference_ranges

TRIAL = Path(__file__).resolve().parents[2] / "rules" / "nct05084677"


@pytest.fixture(scope="session")
def rules() -> EligibilityRules:
    data = yaml.safe_load((TRIAL / "eligibility.yaml").read_text(encoding="utf-8"))
    return EligibilityRules.model_validate(data)


@pytest.fixture(scope="session")
def ranges():
    return load_reference_ranges(TRIAL / "reference_ranges.yaml").for_site(None)


@pytest.fixture(scope="session")
def eligible_answers() -> dict[str, str]:
    """A candidate who meets every criterion."""
    return {
        "age": "52",
        "stage": "IIIC1",
        "ecog": "1",
        "hb": "10.2",
        "anc": "3.1",
        "wbc": "5.2",
        "plt": "210",
        "alt": "35 U/L (7-40)",
        "ast": "1.1xULN",
        "bilirubin": "12",
        "bun": "5.1",
        "creatinine": "60",
        "untreated": "yes",
        "pathology_proven": "yes",
        "life_expectancy": "yes",
        "ccrt_eligible": "yes",
        "active_bleeding": "no",
        "pregnancy_test": "negative",
        "contraception": "yes",
        "consent": "yes",
        "active_infection": "no",
        "prior_malignancy": "no",
        "comorbidity": "no",
        "steroids": "no",
        "live_vaccine": "no",
        "therapeutic_hpv_vaccine": "no",
        "organ_transplant": "no",
        "hiv": "no",
        "mental_illness": "no",
        "viral_hepatitis": "no",
        "recurrent_or_metastatic": "no",
        "antibody_allergy": "no",
        "autoimmune_disease": "no",
    }
