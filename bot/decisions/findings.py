"""Turn lab panels and adverse events into graded findings the rules can read uniformly.

A lab value is graded with CTCAE v5.0 (against the patient's baseline where v5.0 has a
baseline variant); a clinician-graded adverse event is taken as entered. Each finding
carries the event's immune-related attribution as of now (later `Attribution` events win).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

from bot.events import AdverseEvent, Event, LabPanel, LabValue, attribution_of
from bot.grading.grader import display_unit, grade_value


@dataclass(frozen=True, slots=True)
class Finding:
    term: str
    grade: int | None
    date: date
    origin: str  # "lab" or "ae"
    event_id: str | None
    irae: bool | None
    criterion: str
    described: str  # how the value or event reads to a clinician
    uln_grade: int | None = (
        None  # grade by multiples of the ULN alone (a table grading hepatitis by ULN)
    )
    uln_criterion: str = ""  # the CTCAE text of `uln_grade`
    note: str = ""
    steroid_mg: float | None = None

    def grade_for(self, by_uln_multiple: bool) -> int | None:
        if by_uln_multiple and self.uln_grade is not None:
            return self.uln_grade
        return self.grade

    def as_immune_rules_read_it(self, by_uln_multiple: bool) -> Finding:
        """The finding with the grade (and its CTCAE text) an immune-related row reads: for
        hepatitis the ULN-multiple grade, whatever the baseline."""
        if not by_uln_multiple or self.uln_grade is None or self.uln_criterion == self.criterion:
            return self
        criterion = (
            f"{self.uln_criterion} — read against the ULN, as the immune-related table does (against this "
            f"patient's baseline CTCAE gives {self.criterion})"
        )
        return replace(self, grade=self.uln_grade, criterion=criterion)


def reaches_immune_rules(finding: Finding, category: str) -> bool:
    """Whether a finding can start an immune-related episode. An adverse event always can, and so
    can a lab value of the table's lab-based rows (hepatitis, nephritis, thrombocytopenia,
    amylase/lipase) whatever its attribution. Any other abnormal lab value reaches the table
    — its "Others" rows — once the investigator has attributed it as immune-related (on
    the panel, or later with `attribute`); unattributed, it is left to the chemotherapy
    rules, and the immunotherapy answer says what the table would do if it were an irAE."""
    return not (finding.origin == "lab" and category == "other" and finding.irae is not True)


def _fmt(number: float) -> str:
    return f"{number:g}"


def lab_findings(
    ctcae, panel: LabPanel, baseline: Mapping[str, LabValue], irae: bool | None
) -> list[Finding]:
    found = []
    for value in panel.results:
        graded = grade_value(
            ctcae, value, baseline=baseline.get(value.analyte), symptomatic=panel.symptomatic
        )
        if graded.term is None or graded.grade is None:
            continue
        uln_grade, uln_criterion = None, ""
        if value.analyte in baseline and value.uln is not None:
            by_uln = grade_value(ctcae, value, baseline=None, symptomatic=panel.symptomatic)
            uln_grade, uln_criterion = by_uln.grade, by_uln.criterion or ""
        described = f"{value.analyte.upper()} {_fmt(value.value)} {display_unit(value.unit)}"
        if value.uln is not None and value.analyte not in ("anc", "plt", "wbc", "lym", "hb"):
            described += f" ({_fmt(round(value.value / value.uln, 2))}×ULN)"
        found.append(
            Finding(
                term=graded.term,
                grade=graded.grade,
                date=panel.date,
                origin="lab",
                event_id=panel.id,
                irae=irae,
                criterion=graded.criterion or "",
                described=described,
                uln_grade=uln_grade,
                uln_criterion=uln_criterion,
                note=graded.note or "",
            )
        )
    return found


def ae_finding(ctcae, event: AdverseEvent, irae: bool | None) -> Finding:
    text = ""
    if event.grade > 0:
        term = ctcae.term(event.term)
        text = (term.grades.get(event.grade) or "") if term else ""
    return Finding(
        term=event.term,
        grade=event.grade,
        date=event.date,
        origin="ae",
        event_id=event.id,
        irae=irae,
        criterion=f"{event.term} grade {event.grade}: {text}" if text else "",
        described=f"{event.term} grade {event.grade}",
        steroid_mg=event.steroid_mg,
    )


def findings_of(
    ctcae, event: Event, history: Sequence[Event], baseline: Mapping[str, LabValue]
) -> list[Finding]:
    irae = attribution_of(event, history)
    return findings_with(ctcae, event, baseline, irae)


def findings_with(
    ctcae, event: Event, baseline: Mapping[str, LabValue], irae: bool | None
) -> list[Finding]:
    """The findings of `event` with its attribution `irae` already worked out."""
    if isinstance(event, LabPanel):
        return lab_findings(ctcae, event, baseline, irae)
    if isinstance(event, AdverseEvent):
        return [ae_finding(ctcae, event, irae)]
    return []


class FindingsMemo:
    """Findings of past entries, kept by the caller from one decision to the next.

    The engine reads every earlier lab panel and adverse event to know a patient's
    episodes; grading a year of lab panels again for each new entry is its main cost. A
    memo passed in `DecisionContext.memo` remembers them. It is keyed by content — the
    event as written, its attribution, the baseline and the CTCAE version — so a corrected
    entry or a new baseline is graded afresh, and an answer never depends on the memo.
    Past `max_events` it starts again empty.

    Thread-safe: one memo is shared by Bolt's listener threads and the scheduler's thread.
    Creating a table and remembering (which may empty every table) hold `_lock`; reading a
    table (`dict.get`, atomic) does not, and a finding missed because of a concurrent
    reset is simply graded again — an answer never depends on the memo.
    """

    def __init__(self, max_events: int = 50_000) -> None:
        self.max_events = max_events
        self._settings: dict[tuple, dict[tuple[Event, bool | None], tuple[Finding, ...]]] = {}
        self._ctcae: dict[int, object] = {}  # keeps each CTCAE keyed by id() alive
        self._size = 0
        self._lock = threading.Lock()

    def table(self, ctcae, baseline: Mapping[str, LabValue]) -> dict:
        """The memo of one (CTCAE version, baseline): a dict (event, irae) -> findings."""
        key = (ctcae.version, id(ctcae), tuple(sorted(baseline.items())))
        with self._lock:
            self._ctcae.setdefault(id(ctcae), ctcae)
            return self._settings.setdefault(key, {})

    def remember(self, table: dict, key: tuple[Event, bool | None], found) -> None:
        with self._lock:
            if self._size >= self.max_events:
                for kept in self._settings.values():
                    kept.clear()
                self._size = 0
            table[key] = tuple(found)
            self._size += 1
