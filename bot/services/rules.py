"""Everything a running trialbot reads from `rules/`: loaded and validated once at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.calendar import Schedule, SitesFile
from bot.decisions.schema import DoseModifications
from bot.eligibility.rules import EligibilityRules
from bot.grading import Ctcae
from bot.grading.ranges import ReferenceRangesFile
from bot.inputs import STUDY_ID_EXAMPLE
from bot.protocol.cache import load_cached
from bot.protocol.loader import Trial, load_trial


@dataclass(frozen=True)
class TrialRules:
    trial: Trial
    schedule: Schedule
    sites: SitesFile
    ranges: ReferenceRangesFile
    eligibility: EligibilityRules
    dose_modifications: DoseModifications
    ctcae: Ctcae

    @classmethod
    def load(cls, directory: Path | str) -> TrialRules:
        """The trial in `directory`; its CTCAE version from the same rules root (the
        folder beside it, `<root>/ctcae/`), never from anywhere else."""
        return cls.of(load_trial(directory))

    @classmethod
    def cached(cls, directory: Path | str, cache_dir: Path | None) -> TrialRules:
        """`load`, through the validated-rules cache in `cache_dir` (`Settings.cache_dir`;
        None: no cache) — see `bot.protocol.cache`."""
        return cls.of(load_cached(directory, cache_dir, load_trial))

    @classmethod
    def of(cls, trial: Trial) -> TrialRules:
        """The rules of a loaded trial (its CTCAE is the one the loader read beside it)."""
        dose_modifications: DoseModifications = trial.get("dose_modifications.yaml")
        assert trial.ctcae is not None
        return cls(
            trial=trial,
            schedule=trial.get("schedule.yaml"),
            sites=trial.get("sites.yaml"),
            ranges=trial.get("reference_ranges.yaml"),
            eligibility=trial.get("eligibility.yaml"),
            dose_modifications=dose_modifications,
            ctcae=trial.ctcae,
        )

    @property
    def name(self) -> str:
        return self.trial.name

    @property
    def study_id_example(self) -> str:
        """The trial's example study ID (sites.yaml `study_ids.example`), as help, usage
        lines, refusals and forms show it; a placeholder when the rules give none."""
        ids = self.sites.study_ids
        return ids.example if ids is not None else STUDY_ID_EXAMPLE

    def _stage_criterion(self):
        criterion = next((c for c in self.eligibility.criteria if c.key == "stage"), None)
        return criterion if criterion is not None and criterion.type == "figo_stage" else None

    @property
    def stage_example(self) -> str:
        """The stage usage lines and examples show (the stage criterion's `example`)."""
        criterion = self._stage_criterion()
        return criterion.shown_example if criterion is not None else "<stage>"

    @property
    def stage_system_name(self) -> str:
        """The staging system's name without its edition ("XYZ 2014" → "XYZ"), as a
        patient's stage is shown beside the stage; "stage" without a stage criterion."""
        criterion = self._stage_criterion()
        return criterion.system.split()[0] if criterion is not None else "stage"

    @property
    def stage_allowed(self) -> str:
        """What a refusal of `stage=` says is allowed, in the trial's staging system."""
        criterion = self._stage_criterion()
        if criterion is None:
            return "a stage"
        return f"a {criterion.system} stage, e.g. {criterion.shown_example}"
