"""Typed schema of `dose_modifications.yaml`: the protocol's dose-modification rules."""

from __future__ import annotations

from itertools import pairwise
from typing import Literal

from pydantic import Field, model_validator

from bot.errors import RulesProblem, closest
from bot.strict import StrictModel

# The closed set of actions a rule can name. `continue_with_management` (e.g. hormone
# replacement for an endocrinopathy) and `slow_infusion` (an infusion reaction) leave the
# drug's schedule as it is and say what to do; `reduce` lowers the dose by `percent`.
RowAction = Literal[
    "hold", "discontinue", "refer", "reduce", "continue_with_management", "slow_infusion"
]


class _Strict(StrictModel):
    """No unknown keys: a typo is named with the closest valid key (bot.strict)."""


class TermGrade(_Strict):
    term: str
    min_grade: int = Field(ge=1, le=5)


class Reduce(_Strict):
    percent_of_protocol_dose: int = Field(gt=0, lt=100)
    triggers: list[TermGrade] = Field(min_length=1)
    source: str = Field(min_length=1)


class FebrileNeutropenia(_Strict):
    """A fever and a grade >= III neutropenia entered separately, within a window."""

    fever_terms: list[str] = Field(min_length=1)
    neutropenia_term: str
    neutropenia_min_grade: int = Field(ge=1, le=5)
    window_days: int = Field(ge=0, le=7)
    counts_as: str
    source: str = Field(min_length=1)


class Suspend(_Strict):
    recovered_max_grade: int = Field(ge=0, le=2)
    terms: list[str] = Field(min_length=1)
    source: str = Field(min_length=1)
    # cited when a hold outlasts TRIALBOT_CHEMO_HOLD_LIMIT_DAYS (the rules give no longest one)
    hold_limit_source: str = Field(min_length=1)


class HoldOn(_Strict):
    """Hold (not reduce) chemotherapy when a blood count reaches a trigger grade, until it
    recovers to `recovered_max_grade`; then the same dose is resumed."""

    triggers: list[TermGrade] = Field(min_length=1)
    recovered_max_grade: int = Field(ge=0, le=2)
    source: str = Field(min_length=1)


class Resume(_Strict):
    # before_suspension: the dose level in effect when chemotherapy was suspended;
    # protocol_dose: back to 100 % of the protocol dose.
    dose: Literal["before_suspension", "protocol_dose"]
    source: str = Field(min_length=1)


class Discontinue(_Strict):
    non_haematological_min_grade: int = Field(ge=1, le=5)
    source: str = Field(min_length=1)


class Refer(_Strict):
    haematological_min_grade: int = Field(ge=1, le=5)
    non_haematological_min_grade: int = Field(ge=1, le=5)
    after_reduction: str = Field(min_length=1)
    # what a reply to a toxicity no rule covers says in brackets (what the rules modify
    # chemotherapy for)
    no_rule_note: str = Field(min_length=1)
    per_term_min_grade: dict[str, int] = Field(default_factory=dict)


class Haematological(_Strict):
    """Which CTCAE terms are haematological: whole system organ classes, and the
    laboratory investigations (of the "Investigations" class) that are blood tests."""

    socs: list[str] = Field(min_length=1)
    investigations: list[str] = Field(default_factory=list)

    def terms(self, ctcae) -> frozenset[str]:
        """The haematological terms of `ctcae` (computed once per CTCAE and setting)."""
        key = (id(ctcae), tuple(self.socs), tuple(self.investigations))
        found = _HAEM_CACHE.get(key)
        if found is None or found[0] is not ctcae:
            socs = set(self.socs)
            names = {t.term for t in ctcae.terms if t.soc in socs} | set(self.investigations)
            found = _HAEM_CACHE[key] = (ctcae, frozenset(names))
        return found[1]


_HAEM_CACHE: dict[tuple, tuple[object, frozenset[str]]] = {}


class Chemotherapy(_Strict):
    """The chemotherapy rules, for every drug of `drugs`. Each rule block is optional: a
    trial whose sources give no reduction (or suspension, …) rule leaves it out, and
    what no rule covers is referred at the `refer` thresholds."""

    drugs: list[str] = Field(min_length=1)
    source: str = Field(min_length=1)
    reduce: Reduce | None = None
    hold_on: HoldOn | None = None
    febrile_neutropenia: FebrileNeutropenia | None = None
    suspend: Suspend | None = None
    resume: Resume | None = None
    discontinue: Discontinue | None = None
    haematological: Haematological
    refer: Refer


class Row(_Strict):
    grades: list[int] = Field(min_length=1)
    action: RowAction
    management: str = Field(min_length=1)
    source: str = Field(min_length=1)
    # the choices a `refer` row puts to the investigator, each named
    options: list[str] = Field(default_factory=list)
    # `reduce` only, one of: the dose after the reduction in % of the protocol dose, or
    # how many of the block's `dose_levels` to step down from the dose in effect
    percent: int | None = Field(default=None, gt=0, lt=100)
    levels_down: int | None = Field(default=None, ge=1, le=5)

    @model_validator(mode="after")
    def _grades_in_range(self) -> Row:
        bad = [g for g in self.grades if not 1 <= g <= 5]
        if bad:
            raise ValueError(f"grades must be 1–5, got {bad}")
        stated = (self.percent is not None) + (self.levels_down is not None)
        if (self.action == "reduce") != (stated == 1) or stated > 1:
            raise ValueError(
                "action reduce needs exactly one of percent or levels_down; other actions neither"
            )
        return self


class Category(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    group: str = Field(min_length=1)
    terms: list[str] = Field(min_length=1)
    rows: list[Row] = Field(min_length=1)
    recurrence: list[Row] = Field(default_factory=list)
    endocrine: bool = False
    # Some tables grade hepatitis by multiples of the ULN whatever the baseline.
    grade_by: Literal["ctcae", "uln_multiple"] = "ctcae"
    # Per-category overrides of the block's recovery grade and recurrence thresholds.
    recovered_max_grade: int | None = Field(default=None, ge=0, le=2)
    recurrence_min_grade: int | None = Field(default=None, ge=1, le=5)
    recurrence_prior_min_grade: int | None = Field(default=None, ge=1, le=5)

    def row_for(self, grade: int, rows: list[Row] | None = None) -> Row | None:
        return next(
            (r for r in (rows if rows is not None else self.rows) if grade in r.grades), None
        )

    @property
    def lowest_listed_grade(self) -> int:
        return min(g for r in self.rows for g in r.grades)


class Other(_Strict):
    first_time: list[Row] = Field(min_length=1)


class Recurrence(_Strict):
    min_grade: int = Field(ge=1, le=5)
    prior_min_grade: int = Field(ge=1, le=5)
    action: RowAction
    management: str
    source: str = Field(min_length=1)


class Persistent(_Strict):
    weeks: int = Field(gt=0)
    grades: list[int] = Field(min_length=1)
    action: RowAction
    management: str
    source: str = Field(min_length=1)


class Steroids(_Strict):
    weeks: int = Field(gt=0)
    max_prednisone_mg_per_day: float = Field(gt=0)
    action: RowAction
    management: str
    source: str = Field(min_length=1)


class Duration(_Strict):
    """The immunotherapy ends this many months after day 1 (checked daily)."""

    months: int = Field(gt=0)
    source: str = Field(min_length=1)


class Immunotherapy(_Strict):
    """The immune-related AE rules, applied to each drug in `drugs`. `table` is the name
    the replies give these rules (e.g. the protocol's table or the label's section)."""

    drugs: list[str] = Field(min_length=1)
    table: str = Field(min_length=1)
    source: str = Field(min_length=1)
    requires_immune_attribution: bool
    attribution_source: str = Field(min_length=1)
    recovered_max_grade: int = Field(ge=0, le=2)
    categories: list[Category] = Field(min_length=1)
    other: Other
    recurrence: Recurrence
    persistent: Persistent
    steroids: Steroids
    duration: Duration | None = None
    # the dose levels a `levels_down` reduction steps through, in % of the protocol dose
    dose_levels: list[int] = Field(default_factory=list)

    @model_validator(mode="after")
    def _levels(self) -> Immunotherapy:
        levels = self.dose_levels
        if levels and (levels[0] != 100 or any(b >= a for a, b in pairwise(levels))):
            raise ValueError("dose_levels must start at 100 and fall, e.g. [100, 80, 60]")
        stepping = [
            c.id
            for c in self.categories
            for r in [*c.rows, *c.recurrence]
            if r.levels_down is not None
        ]
        if stepping and len(levels) < 2:
            raise ValueError(
                f"levels_down needs dose_levels (used in {', '.join(dict.fromkeys(stepping))})"
            )
        return self

    @model_validator(mode="after")
    def _unique(self) -> Immunotherapy:
        ids = [c.id for c in self.categories]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"category ids must be unique; repeated: {', '.join(dupes)}")
        terms = [t for c in self.categories for t in c.terms]
        twice = sorted({t for t in terms if terms.count(t) > 1})
        if twice:
            raise ValueError(
                f"a term may belong to one category only; repeated: {', '.join(twice)}"
            )
        return self

    def category_of(self, term: str) -> Category | None:
        return next((c for c in self.categories if term in c.terms), None)

    def recovered_max_grade_of(self, category: Category | None) -> int:
        """The recovery grade of a category (its own, else the block's)."""
        if category is not None and category.recovered_max_grade is not None:
            return category.recovered_max_grade
        return self.recovered_max_grade


class ResponseRules(_Strict):
    refer_on: list[Literal["CR", "PR", "SD", "PD", "NE"]] = Field(default_factory=list)
    source: str = Field(min_length=1)


class DoseModifications(_Strict):
    ctcae_version: Literal["5.0"]
    # the section a reply cites when no rule of its own applies (a dose given while held)
    source: str = Field(min_length=1)
    chemotherapy: Chemotherapy
    immunotherapy: Immunotherapy
    response: ResponseRules

    @property
    def drugs(self) -> list[str]:
        """Every drug the rules cover: chemotherapy first, then immunotherapy."""
        return [*self.chemotherapy.drugs, *self.immunotherapy.drugs]


def check_terms_exist(trial) -> list[RulesProblem]:
    """Every CTCAE term the rules name must be in the trial's CTCAE term list: the CTCAE
    data the loader read beside the trial (`trial.ctcae`, from the Settings' rules root),
    never the shipped copy."""
    rules: DoseModifications = trial.get("dose_modifications.yaml")
    ctcae = trial.ctcae
    known = {t.term for t in ctcae.terms}
    file = f"{trial.name}/dose_modifications.yaml"
    problems: list[RulesProblem] = []
    chemo = rules.chemotherapy
    triggers = chemo.reduce.triggers if chemo.reduce else []
    named = [(f"chemotherapy.reduce.triggers[{i}].term", t.term) for i, t in enumerate(triggers)]
    holding = chemo.hold_on.triggers if chemo.hold_on else []
    named += [(f"chemotherapy.hold_on.triggers[{i}].term", t.term) for i, t in enumerate(holding)]
    suspended = chemo.suspend.terms if chemo.suspend else []
    named += [(f"chemotherapy.suspend.terms[{i}]", t) for i, t in enumerate(suspended)]
    febrile = chemo.febrile_neutropenia
    if febrile is not None:
        named += [
            (f"chemotherapy.febrile_neutropenia.fever_terms[{i}]", t)
            for i, t in enumerate(febrile.fever_terms)
        ]
        named += [
            ("chemotherapy.febrile_neutropenia.neutropenia_term", febrile.neutropenia_term),
            ("chemotherapy.febrile_neutropenia.counts_as", febrile.counts_as),
        ]
    socs = {t.soc for t in ctcae.terms}
    for i, soc in enumerate(chemo.haematological.socs):
        if soc not in socs:
            problems.append(
                RulesProblem(
                    file,
                    f"chemotherapy.haematological.socs[{i}]",
                    f"'{soc}' is not a CTCAE v{rules.ctcae_version} system organ class"
                    + (f" (did you mean '{hint}'?)" if (hint := closest(soc, socs)) else ""),
                )
            )
    for i, name in enumerate(chemo.haematological.investigations):
        term = ctcae.term(name)
        if term is not None and term.soc != "Investigations":
            problems.append(
                RulesProblem(
                    file,
                    f"chemotherapy.haematological.investigations[{i}]",
                    f"'{name}' is in '{term.soc}', not 'Investigations'; list its class in socs",
                )
            )
    named += [
        (f"chemotherapy.haematological.investigations[{i}]", t)
        for i, t in enumerate(chemo.haematological.investigations)
    ]
    named += [
        (f"chemotherapy.refer.per_term_min_grade.{t}", t) for t in chemo.refer.per_term_min_grade
    ]
    for ci, category in enumerate(rules.immunotherapy.categories):
        named += [
            (f"immunotherapy.categories[{ci}].terms[{i}]", t) for i, t in enumerate(category.terms)
        ]
    for field, term in named:
        if term not in known:
            hint = closest(term, known)
            reason = f"'{term}' is not a CTCAE v{rules.ctcae_version} term"
            problems.append(
                RulesProblem(file, field, reason + (f" (did you mean '{hint}'?)" if hint else ""))
            )
    return problems
