"""The dose-modification engine: treatment state folded from history, and decisions."""

from bot.decisions.engine import DecisionContext, Review, decide
from bot.decisions.findings import FindingsMemo
from bot.decisions.model import Decision, NextDose
from bot.decisions.state import fold_treatment

__all__ = [
    "Decision",
    "DecisionContext",
    "FindingsMemo",
    "NextDose",
    "Review",
    "decide",
    "fold_treatment",
]
