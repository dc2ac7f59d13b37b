"""Everything a running trialbot reads from `rules/`: loaded and validated once at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.calendar import Schedule, SitesFile
from bot.decisions.schema import DoseModifications
from bot.eligibility.rules import EligibilityRules
from bot.grading import Ctcae
from bot.grading.ranges import ReferenceRangesFile
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
