"""Eligibility screening against the trial's eligibility criteria (pure: answers in, verdict out).

- `screen(answers, rules, ranges) -> ScreenResult` — `eligible`, `failed`, `unanswered` and
  one `CriterionResult` per criterion (key, label, status pass|fail|unanswered, reason,
  citation)
- `EligibilityRules` — the schema of `rules/<trial>/eligibility.yaml`
"""

from bot.eligibility.rules import EligibilityRules
from bot.eligibility.screening import (
    CriterionResult,
    ScreeningError,
    ScreenResult,
    read_stage,
    screen,
)

__all__ = [
    "CriterionResult",
    "EligibilityRules",
    "ScreenResult",
    "ScreeningError",
    "read_stage",
    "screen",
]
