"""Schema of `rules/ctcae/v5.0/lab_criteria.yaml`: CTCAE v5.0 lab grading as data.

Each graded analyte names its CTCAE term and a list of *arms*. An arm is one clause of the
CTCAE grade text, encoded as a comparison: "grade 3 when value < 1.0 ×10^9/L", "grade 2
when value > 3.0 × ULN if the baseline was normal", "grade 3 when value > 3.0 × baseline".
Grading walks the grades from 4 down to 1 and stops at the first arm that holds — which is
how CTCAE's ranges read ("<1000 - 500/mm3" is grade 3: below 1000 and not below 500), and
for creatinine gives the higher of the baseline and ULN arms.

Every arm quotes the CTCAE text it encodes; loading checks the quote against the term's
grade text in terms.json, so the criteria cannot drift from the NCI wording.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.grading.analytes import ANALYTES
from bot.grading.validation import Problem, raise_problems


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Reference = Literal["absolute", "lln", "uln", "baseline"]


class Arm(_Strict):
    grade: int = Field(ge=1, le=4)
    ref: Reference
    op: Literal["<", ">", ">="]
    # an absolute threshold (ref absolute, in `unit`) or a multiple of LLN/ULN/baseline
    value: Decimal = Field(gt=0)
    unit: str | None = None
    # which baseline variant the arm belongs to (CTCAE's "if baseline was normal/abnormal")
    baseline: Literal["any", "normal", "abnormal"] = "any"
    # amylase/lipase: the arm needs signs or symptoms (true), their absence (false), or neither
    symptomatic: bool | None = None
    text: str = Field(min_length=1)  # the CTCAE grade text this arm encodes, verbatim
    variant: str | None = None  # shown with the criterion, e.g. "ULN arm"


class LabCriterion(_Strict):
    term: str
    meddra_code: int
    direction: Literal["low", "high"]
    baseline_variants: bool = False  # v5.0 has "baseline normal" and "baseline abnormal" texts
    lab_grades: list[int] = Field(min_length=1)  # grades a lab value alone can reach
    arms: list[Arm] = Field(min_length=1)
    note: str | None = None  # said with every grade, e.g. what the lab value cannot show


class LabCriteriaFile(_Strict):
    ctcae_version: Literal["5.0"]
    source: str = Field(min_length=1)
    criteria: dict[str, LabCriterion]
    not_graded: dict[str, str] = Field(default_factory=dict)  # analyte -> why there is no grade

    @model_validator(mode="after")
    def _check(self) -> LabCriteriaFile:
        problems: list[Problem] = []
        for code in [*self.criteria, *self.not_graded]:
            if code not in ANALYTES:
                where = "criteria" if code in self.criteria else "not_graded"
                problems.append(
                    ((where, code), f"unknown analyte (allowed: {', '.join(ANALYTES)})", code)
                )
        for code in set(self.criteria) & set(self.not_graded):
            problems.append((("not_graded", code), "is also in criteria", code))
        for code, criterion in self.criteria.items():
            if code in ANALYTES:
                problems.extend(_criterion_problems(code, criterion))
        raise_problems(type(self).__name__, problems)
        return self


def _criterion_problems(code: str, criterion: LabCriterion) -> list[Problem]:
    analyte = ANALYTES[code]
    problems: list[Problem] = []
    low = criterion.direction == "low"
    for i, arm in enumerate(criterion.arms):
        loc = ("criteria", code, "arms", i)
        if arm.ref == "absolute":
            if arm.unit not in analyte.units:
                reason = (
                    f"an absolute arm needs a unit of {analyte.label} ({', '.join(analyte.units)})"
                )
                problems.append(((*loc, "unit"), reason, arm.unit))
        elif arm.unit is not None:
            problems.append(
                ((*loc, "unit"), f"only absolute arms have a unit (ref is {arm.ref})", arm.unit)
            )
        if low != (arm.op == "<"):
            reason = f"a {criterion.direction}-direction criterion cannot use {arm.op!r}"
            problems.append(((*loc, "op"), reason, arm.op))
        if arm.grade not in criterion.lab_grades:
            problems.append(((*loc, "grade"), f"grade {arm.grade} is not in lab_grades", arm.grade))
        if arm.baseline != "any" and not criterion.baseline_variants:
            reason = "baseline normal/abnormal arms need baseline_variants: true"
            problems.append(((*loc, "baseline"), reason, arm.baseline))
    for grade in criterion.lab_grades:
        if not any(a.grade == grade for a in criterion.arms):
            problems.append((("criteria", code, "lab_grades"), f"grade {grade} has no arm", grade))
    return problems
