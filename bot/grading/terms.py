"""NCI CTCAE as data: the term list, the lab criteria and the synonyms of one version.

`load_ctcae("5.0")` reads `rules/ctcae/v5.0/` (terms.json, lab_criteria.yaml,
synonyms.yaml), checks the three against each other and returns a `Ctcae`, or raises
`RulesError` listing every problem. It is pure given the files; the caller keeps the
result (there is no module-level cache).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.errors import RulesError, RulesProblem, UserError, closest
from bot.grading.criteria import LabCriteriaFile, LabCriterion
from bot.grading.synonyms import Spelling, SynonymsFile, normalise, word_bag
from bot.paths import ctcae_dir
from bot.rulefile import problems_from_validation, read_yaml

TERMS_FILE = "terms.json"
CRITERIA_FILE = "lab_criteria.yaml"
SYNONYMS_FILE = "synonyms.yaml"


class CtcaeTerm(BaseModel):
    """One CTCAE term: grades 1–5 hold the NCI text, or None where the grade does not exist."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    meddra_code: int
    soc: str
    term: str
    grades: dict[int, str | None]
    definition: str | None = None
    navigational_note: str | None = None
    v5_change: str | None = None

    @property
    def defined_grades(self) -> tuple[int, ...]:
        return tuple(g for g in sorted(self.grades) if self.grades[g] is not None)

    def grade_text(self, grade: int) -> str:
        return grade_text(self, grade)


class GradeNotDefined(UserError):
    """A grade CTCAE does not define for this term (e.g. Myocarditis grade 1)."""


def allowed_grades(term: CtcaeTerm) -> str:
    grades = ", ".join(str(g) for g in term.defined_grades)
    return f"{grades}, or 0 to record resolution"


def grade_text(term: CtcaeTerm, grade: int) -> str:
    """What `grade` of `term` means, to show the clinician; refuses a grade CTCAE lacks."""
    if isinstance(grade, bool) or not isinstance(grade, int):
        raise GradeNotDefined(
            f"grade must be a whole number, got {grade!r}",
            field="grade",
            allowed=allowed_grades(term),
        )
    if grade == 0:
        return "Grade 0: none — records that an earlier episode has resolved"
    text = term.grades.get(grade)
    if text is None:
        raise GradeNotDefined(
            f"{term.term} has no grade {grade} in CTCAE v5.0",
            field="grade",
            allowed=allowed_grades(term),
        )
    return f"Grade {grade}: {text}"


class _TermsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    ctcae_version: str
    source: dict[str, str]
    term_count: int
    terms: list[CtcaeTerm] = Field(min_length=1)


@dataclass(frozen=True)
class Synonym:
    text: str
    term: CtcaeTerm
    note: str | None


@dataclass(frozen=True)
class Ctcae:
    """One CTCAE version: terms, lab criteria by analyte, synonyms, and lookup indexes."""

    version: str
    terms: tuple[CtcaeTerm, ...]
    lab: Mapping[str, LabCriterion]
    not_graded: Mapping[str, str]
    spellings: tuple[Spelling, ...]
    words: Mapping[str, str]
    synonyms: Mapping[str, Synonym]  # normalised text -> synonym
    _by_name: Mapping[str, CtcaeTerm] = field(repr=False)
    _by_normal: Mapping[str, CtcaeTerm] = field(repr=False)
    _by_bag: Mapping[tuple[str, ...], tuple[CtcaeTerm | Synonym, ...]] = field(repr=False)

    def term(self, name: str) -> CtcaeTerm | None:
        """The term spelled `name` (any case), or None. `match_term` is the forgiving lookup."""
        return self._by_name.get(name.strip().lower())

    def grade_text(self, term: CtcaeTerm | str, grade: int) -> str:
        """`grade_text` for a term given by its exact name (any case) or as a CtcaeTerm."""
        if isinstance(term, str):
            found = self.term(term)
            if found is None:
                raise UserError(
                    f"unknown term '{term}'",
                    field="term",
                    suggestion=closest(term, (t.term for t in self.terms)),
                )
            term = found
        return grade_text(term, grade)

    def by_meddra(self, code: int) -> CtcaeTerm | None:
        return next((t for t in self.terms if t.meddra_code == code), None)

    def normal(self, text: str) -> str:
        return normalise(text, self.spellings)

    def exact(self, text: str) -> CtcaeTerm | None:
        return self._by_normal.get(self.normal(text))

    def word_bag(self, text: str) -> tuple[str, ...]:
        return word_bag(self.normal(text), dict(self.words))

    def bag(self, text: str) -> tuple[CtcaeTerm | Synonym, ...]:
        return self._by_bag.get(self.word_bag(text), ())


def _validate(model, data, display: str) -> tuple[object | None, list[RulesProblem]]:
    try:
        return model.model_validate(data if data is not None else {}), []
    except ValidationError as exc:
        return None, problems_from_validation(display, exc)


def load_ctcae(version: str = "5.0", directory: Path | str | None = None) -> Ctcae:
    """Read and cross-check `<directory>` (default: the shipped `rules/ctcae/v<version>/`;
    a running trialbot passes the one beside its trial, see `bot.protocol.loader`); raise
    RulesError listing all problems."""
    folder = Path(directory) if directory is not None else ctcae_dir(version)
    prefix = f"ctcae/v{version}"
    problems: list[RulesProblem] = []

    terms_display = f"{prefix}/{TERMS_FILE}"
    terms_file = None
    try:
        raw = json.loads((folder / TERMS_FILE).read_text(encoding="utf-8"))
    except OSError as exc:
        problems.append(RulesProblem(terms_display, "", f"cannot be read: {exc.strerror}"))
    except json.JSONDecodeError as exc:
        problems.append(
            RulesProblem(terms_display, f"line {exc.lineno}", f"is not valid JSON: {exc.msg}")
        )
    else:
        terms_file, found = _validate(_TermsFile, raw, terms_display)
        problems += found

    loaded = {}
    for name, model in ((CRITERIA_FILE, LabCriteriaFile), (SYNONYMS_FILE, SynonymsFile)):
        display = f"{prefix}/{name}"
        data, found = read_yaml(folder / name, display)
        problems += found
        if not found:
            loaded[name], found = _validate(model, data, display)
            problems += found
    if problems:
        raise RulesError(problems)
    criteria: LabCriteriaFile = loaded[CRITERIA_FILE]
    synonyms_file: SynonymsFile = loaded[SYNONYMS_FILE]
    assert isinstance(terms_file, _TermsFile)
    problems += _check_terms(terms_file, version, terms_display)
    if problems:
        raise RulesError(problems)
    by_name = {t.term.lower(): t for t in terms_file.terms}
    problems += _check_criteria(criteria, by_name, version, f"{prefix}/{CRITERIA_FILE}")
    ctcae, found = _build(
        terms_file, criteria, synonyms_file, by_name, version, f"{prefix}/{SYNONYMS_FILE}"
    )
    problems += found
    if problems:
        raise RulesError(problems)
    return ctcae


def _check_terms(terms_file: _TermsFile, version: str, display: str) -> list[RulesProblem]:
    problems = []
    if terms_file.ctcae_version != version:
        problems.append(
            RulesProblem(
                display, "ctcae_version", f"is {terms_file.ctcae_version}, expected {version}"
            )
        )
    if len(terms_file.terms) != terms_file.term_count:
        problems.append(
            RulesProblem(
                display,
                "terms",
                f"has {len(terms_file.terms)} terms, term_count says {terms_file.term_count}",
            )
        )
    seen_names: dict[str, int] = {}
    seen_codes: dict[int, int] = {}
    for i, t in enumerate(terms_file.terms):
        if t.term.lower() in seen_names:
            problems.append(
                RulesProblem(
                    display,
                    f"terms[{i}].term",
                    f"{t.term!r} repeats terms[{seen_names[t.term.lower()]}]",
                )
            )
        if t.meddra_code in seen_codes:
            problems.append(
                RulesProblem(
                    display,
                    f"terms[{i}].meddra_code",
                    f"{t.meddra_code} repeats terms[{seen_codes[t.meddra_code]}]",
                )
            )
        if sorted(t.grades) != [1, 2, 3, 4, 5]:
            problems.append(RulesProblem(display, f"terms[{i}].grades", "must have keys 1 to 5"))
        seen_names.setdefault(t.term.lower(), i)
        seen_codes.setdefault(t.meddra_code, i)
    return problems


def _check_criteria(
    criteria: LabCriteriaFile, by_name: Mapping[str, CtcaeTerm], version: str, display: str
) -> list[RulesProblem]:
    problems = []
    if criteria.ctcae_version != version:
        problems.append(
            RulesProblem(
                display, "ctcae_version", f"is {criteria.ctcae_version}, expected {version}"
            )
        )
    for code, criterion in criteria.criteria.items():
        term = by_name.get(criterion.term.lower())
        where = f"criteria.{code}"
        if term is None or term.term != criterion.term:
            problems.append(
                RulesProblem(
                    display, f"{where}.term", f"{criterion.term!r} is not a CTCAE v{version} term"
                )
            )
            continue
        if term.meddra_code != criterion.meddra_code:
            problems.append(
                RulesProblem(
                    display,
                    f"{where}.meddra_code",
                    f"is {criterion.meddra_code}; {term.term} is {term.meddra_code}",
                )
            )
        for i, arm in enumerate(criterion.arms):
            grade_text_ = term.grades.get(arm.grade) or ""
            if arm.text not in grade_text_:
                problems.append(
                    RulesProblem(
                        display,
                        f"{where}.arms[{i}].text",
                        f"{arm.text!r} is not in the grade {arm.grade} text of "
                        f"{term.term} ({grade_text_!r})",
                    )
                )
    return problems


def _build(
    terms_file: _TermsFile,
    criteria: LabCriteriaFile,
    synonyms_file: SynonymsFile,
    by_name: Mapping[str, CtcaeTerm],
    version: str,
    display: str,
) -> tuple[Ctcae, list[RulesProblem]]:
    problems: list[RulesProblem] = []
    spellings = tuple(synonyms_file.spellings)
    words = dict(synonyms_file.words)
    if synonyms_file.ctcae_version != version:
        problems.append(
            RulesProblem(
                display, "ctcae_version", f"is {synonyms_file.ctcae_version}, expected {version}"
            )
        )
    by_normal: dict[str, CtcaeTerm] = {}
    for t in terms_file.terms:
        plain_form = normalise(t.term)
        # A spelling rule must never change an American CTCAE term (it would stop matching).
        if normalise(t.term, spellings) != plain_form:
            problems.append(
                RulesProblem(display, "spellings", f"rewrites the CTCAE term {t.term!r}")
            )
        by_normal[plain_form] = t
    synonyms: dict[str, Synonym] = {}
    for gi, group in enumerate(synonyms_file.synonyms):
        term = by_name.get(group.term.lower())
        if term is None or term.term != group.term:
            problems.append(
                RulesProblem(
                    display,
                    f"synonyms[{gi}].term",
                    f"{group.term!r} is not a CTCAE v{version} term",
                )
            )
            continue
        for ti, text in enumerate(group.texts):
            key = normalise(text, spellings)
            where = f"synonyms[{gi}].texts[{ti}]"
            if not key:
                problems.append(RulesProblem(display, where, "is empty after normalisation"))
            elif key in by_normal and by_normal[key] is not term:
                problems.append(
                    RulesProblem(
                        display, where, f"{text!r} is the CTCAE term {by_normal[key].term!r}"
                    )
                )
            elif key in synonyms and synonyms[key].term is not term:
                problems.append(
                    RulesProblem(
                        display, where, f"{text!r} already means {synonyms[key].term.term!r}"
                    )
                )
            else:
                synonyms[key] = Synonym(text=text, term=term, note=group.note)
    by_bag: dict[tuple[str, ...], list[CtcaeTerm | Synonym]] = {}
    for key, t in by_normal.items():
        by_bag.setdefault(word_bag(key, words), []).append(t)
    for key, s in synonyms.items():
        by_bag.setdefault(word_bag(key, words), []).append(s)
    ctcae = Ctcae(
        version=version,
        terms=tuple(terms_file.terms),
        lab=dict(criteria.criteria),
        not_graded=dict(criteria.not_graded),
        spellings=spellings,
        words=words,
        synonyms=synonyms,
        _by_name=dict(by_name),
        _by_normal=by_normal,
        _by_bag={k: tuple(v) for k, v in by_bag.items()},
    )
    return ctcae, problems
