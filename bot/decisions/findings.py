"""Turn lab panels and adverse events into graded findings the rules can read uniformly.

A lab value is graded with CTCAE v5.0 (against the patient's baseline where v5.0 has a
baseline variant); a clinician-graded adverse event is taken as entered. Each finding
carries the event's immune-related attribution as of now (later `Attribution` events win).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from bot.events import AdverseEvent, Event, LabPanel, LabValue, attribution_of


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
    uln_grade: int | None = None  # grade by multiples of the ULN alone (Table 3 hepatitis)
    note: str = ""
    steroid_mg: float | None = None

    def grade_for(self, by_uln_multiple: bool) -> int | None:
        if by_uln_multiple and self.uln_grade is not None:
            return self.uln_grade
        return self.grade


def _fmt(number: float) -> str:
    return f"{number:g}"


def lab_findings(
    ctcae, panel: LabPanel, baseline: Mapping[str, LabValue], irae: bool | None
) -> list[Finding]:
    from bot.grading import grade_value
    from bot.grading.grader import display_unit

    found = []
    for value in panel.results:
        graded = grade_value(
            ctcae, value, baseline=baseline.get(value.analyte), symptomatic=panel.symptomatic
        )
        if graded.term is None or graded.grade is None:
            continue
        uln_grade = None
        if value.analyte in baseline and value.uln is not None:
            uln_grade = grade_value(
                ctcae, value, baseline=None, symptomatic=panel.symptomatic
            ).grade
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
    """

    def __init__(self, max_events: int = 50_000) -> None:
        self.max_events = max_events
        self._settings: dict[tuple, dict[tuple[Event, bool | None], tuple[Finding, ...]]] = {}
        self._ctcae: dict[int, object] = {}  # keeps each CTCAE keyed by id() alive
        self._size = 0

    def table(self, ctcae, baseline: Mapping[str, LabValue]) -> dict:
        """The memo of one (CTCAE version, baseline): a dict (event, irae) -> findings."""
        self._ctcae.setdefault(id(ctcae), ctcae)
        key = (ctcae.version, id(ctcae), tuple(sorted(baseline.items())))
        table = self._settings.get(key)
        if table is None:
            table = self._settings[key] = {}
        return table

    def remember(self, table: dict, key: tuple[Event, bool | None], found) -> None:
        if self._size >= self.max_events:
            for kept in self._settings.values():
                kept.clear()
            self._size = 0
        table[key] = tuple(found)
        self._size += 1
