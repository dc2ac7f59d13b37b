"""Load and validate a trial's rules directory, all or nothing.

A rules directory holds one YAML file per concern (schedule, dose modifications,
eligibility, reference ranges, sites). Each file is validated against its typed schema
(a pydantic model owned by the module that uses it); then cross-file checks run (e.g. a
dose-modification rule names a drug the schedule defines, every CTCAE term the rules name
is in the CTCAE data beside the trial). Every problem is collected and reported with
file, field and reason; if there is any, nothing is returned.

The loader sits above the schemas it validates with: it imports them, they never import
it (they read their files through `bot.rulefile`), so there is no import cycle to hide.
The CTCAE data comes from the same rules root as the trial (`<root>/ctcae/v<version>/`,
the root being the trial folder's parent, i.e. `Settings.rules_dir`), never from the
shipped copy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from bot.calendar.schema import Schedule
from bot.calendar.sites import SitesFile
from bot.decisions.checks import (
    check_drug_name_typos,
    check_drugs,
    check_rules_can_fire,
    check_shared_texts,
)
from bot.decisions.schema import DoseModifications, check_terms_exist
from bot.eligibility.rules import (
    EligibilityRules,
    check_against_ranges,
    check_enrolment_criteria,
)
from bot.errors import RulesError, RulesProblem
from bot.grading.ranges import ReferenceRangesFile, check_sites_exist
from bot.grading.terms import Ctcae, load_ctcae
from bot.paths import ctcae_dir
from bot.rulefile import problems_from_validation, read_yaml

# file name -> (the model that validates the whole file, required).
RULE_FILES: dict[str, tuple[type[BaseModel], bool]] = {
    "schedule.yaml": (Schedule, True),
    "sites.yaml": (SitesFile, True),
    "reference_ranges.yaml": (ReferenceRangesFile, True),
    "eligibility.yaml": (EligibilityRules, True),
    "dose_modifications.yaml": (DoseModifications, True),
}

# Functions (trial -> list[RulesProblem]) run once every file has validated.
CROSS_CHECKS: list[Callable[[Trial], list[RulesProblem]]] = [
    check_against_ranges,
    check_enrolment_criteria,
    check_terms_exist,
    check_drugs,
    check_rules_can_fire,
    check_shared_texts,
    check_drug_name_typos,
    check_sites_exist,
]


@dataclass(frozen=True)
class Trial:
    """A loaded rules directory: `files` maps each file name to its validated model;
    `ctcae` is the CTCAE version its dose modifications name, read from the same root."""

    directory: Path
    files: dict[str, BaseModel] = field(default_factory=dict)
    ctcae: Ctcae | None = None

    def get(self, name: str) -> Any:
        return self.files[name]

    @property
    def name(self) -> str:
        return self.directory.name

    @property
    def root(self) -> Path:
        """The rules root the trial folder sits in (where `ctcae/` is)."""
        return self.directory.parent


def load_trial(directory: Path | str) -> Trial:
    """Validate every rules file of `directory` and the CTCAE data beside it; raise
    `RulesError` listing all problems."""
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
    for name, (model, required) in RULE_FILES.items():
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
            files[name] = model.model_validate(data if data is not None else {})
        except ValidationError as exc:
            problems.extend(problems_from_validation(display, exc))
    if problems:
        raise RulesError(problems)
    version = files["dose_modifications.yaml"].ctcae_version  # type: ignore[attr-defined]
    folder = ctcae_dir(version, directory.parent)
    if not folder.is_dir():
        # a team's own rules folder without the CTCAE data: say where it was looked for
        raise RulesError(
            [
                RulesProblem(
                    f"ctcae/v{version}",
                    "",
                    f"no such folder beside the trial (in {directory.parent}): the rules folder "
                    f"holds the CTCAE data next to its trials — copy the shipped "
                    f"rules/ctcae/v{version} there",
                )
            ]
        )
    ctcae = load_ctcae(version, folder)
    trial = Trial(directory=directory, files=files, ctcae=ctcae)
    for check in CROSS_CHECKS:
        problems.extend(check(trial))
    if problems:
        raise RulesError(problems)
    return trial
