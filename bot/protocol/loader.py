"""Load and validate a trial's rules directory, all or nothing.

A rules directory holds one YAML file per concern (schedule, dose modifications,
eligibility, reference ranges, sites). Each file is validated against its typed schema
(a pydantic model owned by the module that uses it); then cross-file checks run (e.g. a
dose-modification rule names a drug the schedule defines). Every problem is collected and
reported with file, field and reason; if there is any, nothing is returned.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from bot.errors import RulesError, RulesProblem

# file name -> ("module:Model", required). The model validates the whole file.
RULE_FILES: dict[str, tuple[str, bool]] = {
    "schedule.yaml": ("bot.calendar.schema:Schedule", True),
    "sites.yaml": ("bot.calendar.sites:SitesFile", True),
    "reference_ranges.yaml": ("bot.grading.ranges:ReferenceRangesFile", True),
    "eligibility.yaml": ("bot.eligibility.rules:EligibilityRules", True),
    "dose_modifications.yaml": ("bot.decisions.schema:DoseModifications", True),
}

# Functions (trial -> list[RulesProblem]) run once every file has validated.
CROSS_CHECKS: list[str] = [
    "bot.eligibility.rules:check_against_ranges",
    "bot.decisions.schema:check_terms_exist",
]


@dataclass(frozen=True)
class Trial:
    """A loaded rules directory: `files` maps each file name to its validated model."""

    directory: Path
    files: dict[str, BaseModel] = field(default_factory=dict)

    def get(self, name: str) -> Any:
        return self.files[name]

    @property
    def name(self) -> str:
        return self.directory.name


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _describe(error: dict[str, Any]) -> str:
    reason = error["msg"]
    if error["type"] not in ("missing",) and "input" in error:
        given = error["input"]
        if isinstance(given, str | int | float | bool) or given is None:
            reason += f" (got {given!r})"
    return reason


def problems_from_validation(file: str, exc: ValidationError) -> list[RulesProblem]:
    return [RulesProblem(file, _dotted(err["loc"]), _describe(err)) for err in exc.errors()]


def read_yaml(path: Path, display: str) -> tuple[Any, list[RulesProblem]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return None, [RulesProblem(display, "", f"cannot be read: {exc.strerror}")]
    try:
        return yaml.safe_load(text), []
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        return None, [RulesProblem(display, where, f"is not valid YAML: {problem}")]
    except ValueError as exc:  # PyYAML builds dates itself: `2026-13-01` raises here
        return None, [RulesProblem(display, "", f"holds an impossible value: {exc}")]


def _model(spec: str) -> type[BaseModel]:
    module_name, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def _callable(spec: str):
    module_name, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def load_trial(directory: Path | str) -> Trial:
    """Validate every rules file of `directory`; raise `RulesError` listing all problems."""
    directory = Path(directory)
    if not directory.is_dir():
        raise RulesError([RulesProblem(str(directory), "", "is not a directory")])
    problems: list[RulesProblem] = []
    files: dict[str, BaseModel] = {}
    known = set(RULE_FILES)
    for path in sorted(directory.glob("*.y*ml")):
        if path.name not in known:
            problems.append(
                RulesProblem(
                    f"{directory.name}/{path.name}",
                    "",
                    f"unknown rules file; expected one of: {', '.join(sorted(known))}",
                )
            )
    for name, (spec, required) in RULE_FILES.items():
        path = directory / name
        display = f"{directory.name}/{name}"
        if not path.exists():
            if required:
                problems.append(RulesProblem(display, "", "is missing"))
            continue
        data, read_problems = read_yaml(path, display)
        problems.extend(read_problems)
        if read_problems:
            continue
        try:
            files[name] = _model(spec).model_validate(data if data is not None else {})
        except ValidationError as exc:
            problems.extend(problems_from_validation(display, exc))
    if problems:
        raise RulesError(problems)
    trial = Trial(directory=directory, files=files)
    for spec in CROSS_CHECKS:
        problems.extend(_callable(spec)(trial))
    if problems:
        raise RulesError(problems)
    return trial
