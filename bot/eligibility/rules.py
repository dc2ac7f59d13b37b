"""Schema of `rules/<trial>/eligibility.yaml`: the trial's eligibility criteria as data.

Each criterion has a key (what `screen` answers are keyed by), a label, its section
(inclusion or exclusion), a citation of the protocol table, and a type saying how an
answer is judged: a whole number in a range (age, ECOG), a stage of the trial's staging
system (type `figo_stage`; the system is named by the criterion), a lab value against
a threshold, a lab value as a multiple of the ULN, or a yes/no checklist question.

A criterion may apply only when another criterion's answer holds: `when: {field: stage,
in: [IB2, IIA1]}` or `when: {field: child_bearing_potential, equals: "yes"}`. `field` names
another criterion (a yes/no, stage or whole-number one without a `when` of its own); the
values are checked against what that criterion can be answered. When the condition does not
hold the criterion passes as not applicable; when its field is unanswered, so is the
criterion (never a guess).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, model_validator

from bot.errors import RulesProblem, closest
from bot.grading.analytes import ANALYTES
from bot.grading.validation import Problem, raise_problems
from bot.strict import StrictModel

KEY_PATTERN = r"^[a-z][a-z0-9_]*$"


class _Strict(StrictModel):
    """No unknown keys: a typo is named with the closest valid key (bot.strict)."""


class When(_Strict):
    """The condition under which a criterion applies: another criterion's answer equals a
    value, or is one of a list (exactly one of `equals` and `in`)."""

    field: str = Field(pattern=KEY_PATTERN)
    # YAML reads an unquoted yes/no as a boolean: it means the yes/no answer
    equals: bool | int | str | None = None
    in_: list[bool | int | str] | None = Field(default=None, alias="in", min_length=1)

    @model_validator(mode="after")
    def _one(self) -> When:
        if (self.equals is None) == (self.in_ is None):
            raise ValueError("give exactly one of equals: VALUE or in: [VALUES]")
        return self

    def values(self) -> list[str]:
        given = [self.equals] if self.in_ is None else self.in_
        return [("yes" if v else "no") if isinstance(v, bool) else str(v) for v in given]

    def text(self) -> str:
        values = self.values()
        if len(values) == 1:
            return f"{self.field} is {values[0]}"
        return f"{self.field} is one of {', '.join(values)}"


class _Criterion(_Strict):
    key: str = Field(pattern=KEY_PATTERN)
    aliases: list[Annotated[str, Field(pattern=KEY_PATTERN)]] = Field(default_factory=list)
    label: str = Field(min_length=1)
    section: Literal["inclusion", "exclusion"]
    citation: str = Field(min_length=1)
    reading: str | None = None  # how an ambiguous protocol text is read (protocol-readings.md)
    when: When | None = None  # applies only when another criterion's answer holds


class IntegerRange(_Criterion):
    type: Literal["integer_range"]
    min: int
    max: int
    valid: tuple[int, int]  # what can be answered at all
    unit: str | None = None


class FigoStage(_Criterion):
    type: Literal["figo_stage"]
    system: str  # the staging system's name, as replies and refusals say it
    stages: list[str] = Field(min_length=1)  # every stage of the staging system
    eligible: list[str] = Field(min_length=1)
    example: str | None = None  # the stage help and usage lines show (default: eligible[0])
    # letters a stage may carry that do not change it (e.g. imaging/pathology), and the
    # stages that may carry them
    suffixes: list[Annotated[str, Field(pattern=r"^[A-Za-z]$")]] = Field(default_factory=list)
    suffixed: list[str] = Field(default_factory=list)

    @property
    def shown_example(self) -> str:
        return self.example or self.eligible[0]


class LabThreshold(_Criterion):
    type: Literal["lab_threshold"]
    analyte: str
    op: Literal[">", ">=", "<", "<="]
    threshold: Decimal
    unit: str


class LabUlnMultiple(_Criterion):
    type: Literal["lab_uln_multiple"]
    analyte: str
    op: Literal["<=", "<"]
    multiple: Decimal = Field(gt=0)


class YesNo(_Criterion):
    type: Literal["yes_no"]
    question: str = Field(min_length=1)
    pass_when: Literal["yes", "no"]
    not_applicable: str | None = None  # when "na" is a valid (passing) answer, and what it means
    # other words this question accepts and what they mean, e.g. pregnancy test negative -> yes
    answers: dict[Annotated[str, Field(pattern=r"^[a-z]+$")], Literal["yes", "no"]] = Field(
        default_factory=dict
    )


Criterion = Annotated[
    IntegerRange | FigoStage | LabThreshold | LabUlnMultiple | YesNo,
    Field(discriminator="type"),
]


class EligibilityRules(_Strict):
    citation: str = Field(min_length=1)
    criteria: list[Criterion] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> EligibilityRules:
        problems: list[Problem] = []
        names: dict[str, int] = {}
        for i, criterion in enumerate(self.criteria):
            for name in (criterion.key, *criterion.aliases):
                if name in names and names[name] != i:
                    reason = f"{name!r} is already used by criteria[{names[name]}]"
                    problems.append((("criteria", i, "key"), reason, name))
                names.setdefault(name, i)
            for loc, reason, value in _problems(criterion):
                problems.append((("criteria", i, *loc), reason, value))
        keys = {c.key: c for c in self.criteria}
        for i, criterion in enumerate(self.criteria):
            if criterion.when is not None:
                for loc, reason, value in _when_problems(criterion, keys):
                    problems.append((("criteria", i, "when", *loc), reason, value))
        raise_problems(type(self).__name__, problems)
        return self

    def by_name(self) -> dict[str, _Criterion]:
        """Every key and alias -> its criterion."""
        out: dict[str, _Criterion] = {}
        for criterion in self.criteria:
            for name in (criterion.key, *criterion.aliases):
                out[name] = criterion
        return out


def _problems(criterion: _Criterion) -> list[Problem]:
    problems: list[Problem] = []
    if isinstance(criterion, IntegerRange):
        low, high = criterion.valid
        if not (low <= criterion.min <= criterion.max <= high):
            reason = f"need valid[0] <= min <= max <= valid[1] (valid is {low}-{high})"
            problems.append((("min",), reason, criterion.min))
    elif isinstance(criterion, FigoStage):
        for name, named in (
            ("eligible", criterion.eligible),
            ("suffixed", criterion.suffixed),
            ("example", [criterion.example] if criterion.example else []),
        ):
            unknown = [s for s in named if s not in criterion.stages]
            if unknown:
                problems.append(((name,), f"{', '.join(unknown)} not in stages", unknown))
    elif isinstance(criterion, LabThreshold | LabUlnMultiple):
        analyte = ANALYTES.get(criterion.analyte)
        if analyte is None:
            hint = closest(criterion.analyte, ANALYTES)
            guess = f" — did you mean {hint!r}?" if hint else ""
            reason = f"unknown analyte{guess} (allowed: {', '.join(ANALYTES)})"
            problems.append((("analyte",), reason, criterion.analyte))
        elif isinstance(criterion, LabThreshold) and analyte.unit_for(criterion.unit) is None:
            reason = f"unit does not fit {analyte.label} (allowed: {', '.join(analyte.units)})"
            problems.append((("unit",), reason, criterion.unit))
    return problems


_CONDITION_TYPES = ("yes_no", "figo_stage", "integer_range")


def _when_problems(criterion: _Criterion, keys: dict[str, _Criterion]) -> list[Problem]:
    when = criterion.when
    target = keys.get(when.field)
    if target is None or target is criterion:
        others = [k for k in keys if k != criterion.key]
        hint = closest(when.field, others)
        guess = f" — did you mean {hint!r}?" if hint else ""
        what = "a criterion cannot depend on itself" if target is criterion else "unknown field"
        return [(("field",), f"{what}{guess} (allowed: {', '.join(others)})", when.field)]
    if target.type not in _CONDITION_TYPES:
        reason = f"{when.field} is {target.type}; a condition reads {', '.join(_CONDITION_TYPES)}"
        return [(("field",), reason, when.field)]
    if target.when is not None:
        return [(("field",), f"{when.field} has a when of its own (one level only)", when.field)]
    loc = ("equals",) if when.in_ is None else ("in",)
    problems: list[Problem] = []
    for value in when.values():
        if isinstance(target, YesNo):
            allowed = ["yes", "no", *(["na"] if target.not_applicable else [])]
        elif isinstance(target, FigoStage):
            allowed = target.stages
        else:
            low, high = target.valid
            if not (value.isdigit() and low <= int(value) <= high):
                reason = f"{when.field} is a whole number {low}-{high}"
                problems.append((loc, reason, value))
            continue
        if value not in allowed:
            hint = closest(value, allowed)
            guess = f" — did you mean {hint!r}?" if hint else ""
            reason = f"not an answer of {when.field}{guess} (allowed: {', '.join(allowed)})"
            problems.append((loc, reason, value))
    return problems


# The criteria `enroll` checks its stage=, ecog= and age= against, with the type each
# must have. A trial may leave any out (enrolment then refuses that field by name); one
# that has the key must give it this type, or enrolment could not read it.
ENROLMENT_CRITERIA: dict[str, str] = {
    "stage": "figo_stage",
    "ecog": "integer_range",
    "age": "integer_range",
}


def check_enrolment_criteria(trial) -> list[RulesProblem]:
    """A criterion keyed `stage`, `ecog` or `age` has the type enrolment reads."""
    rules: EligibilityRules = trial.get("eligibility.yaml")
    problems = []
    for i, criterion in enumerate(rules.criteria):
        wanted = ENROLMENT_CRITERIA.get(criterion.key)
        if wanted is not None and criterion.type != wanted:
            problems.append(
                RulesProblem(
                    f"{trial.name}/eligibility.yaml",
                    f"criteria[{i}].type",
                    f"'{criterion.key}' is read by enrolment ({criterion.key}=) and must be "
                    f"type {wanted}, not {criterion.type}",
                )
            )
    return problems


def check_against_ranges(trial) -> list[RulesProblem]:
    """Every "x ULN" criterion needs a ULN in the default site's reference ranges."""
    rules: EligibilityRules = trial.get("eligibility.yaml")
    ranges = trial.get("reference_ranges.yaml").for_site(None)
    problems = []
    for i, criterion in enumerate(rules.criteria):
        if isinstance(criterion, LabUlnMultiple):
            limit = ranges.get(criterion.analyte)
            if limit is None or limit.uln is None:
                problems.append(
                    RulesProblem(
                        f"{trial.name}/eligibility.yaml",
                        f"criteria[{i}].analyte",
                        f"{criterion.analyte} has no ULN in reference_ranges.yaml (default site)",
                    )
                )
    return problems
