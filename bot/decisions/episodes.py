"""Adverse-event episodes over time: when a toxicity started, how bad it got, whether it
recovered. The immune-related table's recurrence and persistence rules are questions about episodes.

An episode of a (category, term) opens with a finding of grade ≥ 2 and closes with a later
finding of that term at grade ≤ the recovery grade (0–I). Named categories recur
at category level (colitis after a resolved diarrhoea episode is a recurrence); other
irAEs recur per term.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from bot.decisions.findings import Finding, reaches_immune_rules
from bot.decisions.schema import Immunotherapy


@dataclass(slots=True)
class Episode:
    category: str  # immune-related category id, or "other"
    term: str
    start: date
    last_grade: int
    max_grade: int
    endocrine: bool
    irae: bool | None
    end: date | None = None
    events: list[str] = field(default_factory=list)

    @property
    def open(self) -> bool:
        return self.end is None


def category_key(rules: Immunotherapy, term: str) -> tuple[str, bool, bool]:
    """(category id, endocrine?, graded by ULN multiple?) for a CTCAE term."""
    category = rules.category_of(term)
    if category is None:
        return "other", False, False
    return category.id, category.endocrine, category.grade_by == "uln_multiple"


def _merge_attribution(current: bool | None, new: bool | None) -> bool | None:
    if current is True or new is True:
        return True
    if current is None or new is None:
        return None
    return False


class EpisodeBook:
    """Episodes built by feeding findings in chronological order."""

    def __init__(self, rules: Immunotherapy) -> None:
        self.rules = rules
        self.episodes: list[Episode] = []
        self._keys: dict[str, tuple[str, bool, bool]] = {}  # category_key per term
        # The open episode of each term (at most one: `feed` opens one only when none is
        # open). Episodes open and close only through `feed`, which keeps this current.
        self._open: dict[str, Episode] = {}

    def _key(self, term: str) -> tuple[str, bool, bool]:
        key = self._keys.get(term)
        if key is None:
            key = self._keys[term] = category_key(self.rules, term)
        return key

    def open_episode(self, term: str) -> Episode | None:
        return self._open.get(term)

    def feed(self, finding: Finding) -> None:
        category, endocrine, by_uln = self._key(finding.term)
        grade = finding.grade_for(by_uln)
        if grade is None:
            return
        current = self.open_episode(finding.term)
        # An open episode is followed by every later value of its term, attributed or not
        # (recovery and persistence are facts about the toxicity); only opening one needs
        # the finding to reach the immune-related table.
        if current is None and not reaches_immune_rules(finding, category):
            return
        if grade <= self.rules.recovered_max_grade_of(self.rules.category_of(finding.term)):
            if current is not None:
                current.end = finding.date
                del self._open[finding.term]
                current.last_grade = grade
                if finding.event_id:
                    current.events.append(finding.event_id)
            return
        if current is None:
            opened = Episode(
                category=category,
                term=finding.term,
                start=finding.date,
                last_grade=grade,
                max_grade=grade,
                endocrine=endocrine,
                irae=finding.irae,
                events=[finding.event_id] if finding.event_id else [],
            )
            self.episodes.append(opened)
            self._open[finding.term] = opened
            return
        current.last_grade = grade
        current.max_grade = max(current.max_grade, grade)
        current.irae = _merge_attribution(current.irae, finding.irae)
        if finding.event_id:
            current.events.append(finding.event_id)

    def feed_all(self, findings: Iterable[Finding]) -> EpisodeBook:
        for finding in findings:
            self.feed(finding)
        return self

    def open_immune(self) -> list[Episode]:
        return [e for e in self.episodes if e.open and e.irae is True]

    def resolved_immune_in(self, category: str, term: str) -> list[Episode]:
        """Earlier immune-related episodes that recovered, in the same category (or the
        same term for irAEs outside the named categories)."""
        return [
            e
            for e in self.episodes
            if not e.open
            and e.irae is True
            and (e.category == category if category != "other" else e.term == term)
        ]

    def has_open_in(self, category: str, term: str) -> bool:
        return any(
            e.open and (e.category == category if category != "other" else e.term == term)
            for e in self.episodes
        )
