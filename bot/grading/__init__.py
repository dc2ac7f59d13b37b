"""CTCAE grading: the term list, term matching, lab panel parsing and lab grading.

Public API (pure: data in, answers out; the caller loads and keeps the `Ctcae`):

- `load_ctcae(version="5.0") -> Ctcae` — terms, lab criteria, synonyms of one version
- `match_term(ctcae, text) -> TermMatch` — forgiving term lookup, `UnknownTerm` otherwise
- `grade_text(term, grade) -> str` — what a grade means; refuses a grade CTCAE lacks
- `parse_panel(text, ranges) -> list[LabValue]` — `LabEntryError` on any bad token
- `grade_value(ctcae, value, baseline=None, symptomatic=None) -> LabGrade`
- `grade_panel(ctcae, values, baseline=None, symptomatic=None) -> list[LabGrade]`
- `ReferenceRangesFile.for_site(site) -> ReferenceRanges` — a site's LLN/ULN and default units
"""

from bot.grading.grader import LabGrade, grade_panel, grade_value
from bot.grading.matching import TermMatch, UnknownTerm, match_term
from bot.grading.parsing import LabEntryError, parse_panel
from bot.grading.ranges import (
    NO_RANGES,
    ReferenceRanges,
    ReferenceRangesFile,
    load_reference_ranges,
)
from bot.grading.terms import Ctcae, CtcaeTerm, GradeNotDefined, grade_text, load_ctcae

__all__ = [
    "NO_RANGES",
    "Ctcae",
    "CtcaeTerm",
    "GradeNotDefined",
    "LabEntryError",
    "LabGrade",
    "ReferenceRanges",
    "ReferenceRangesFile",
    "TermMatch",
    "UnknownTerm",
    "grade_panel",
    "grade_text",
    "grade_value",
    "load_ctcae",
    "load_reference_ranges",
    "match_term",
    "parse_panel",
]
