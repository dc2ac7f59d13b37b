"""What happened to a patient: the clinical events the pure core reads.

These are the payloads of the event log (the source of truth). The calendar, the treatment
state and the decisions are all computed from a list of them. Amendments (corrections and
voids) are resolved before the core sees the list, by `effective_history`.

Every event has a clinical `date` (in the site's timezone) and an `id` such as "E45"
(assigned by the store; history files may set their own). Within one date, `seq` orders
events in the order they were recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date as Date
from operator import attrgetter
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

# Drugs and radiotherapy share the `dose` event: "given", "held" (postponed; the slot
# re-flows later) or "skipped" (not given and not made up).
DoseStatus = Literal["given", "held", "skipped"]
Action = Literal["continue", "hold", "reduce", "resume", "discontinue", "refer"]
RecistCategory = Literal["CR", "PR", "SD", "PD", "NE"]


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str | None = None
    date: Date
    seq: int = 0


class LabValue(BaseModel):
    """One analyte of a lab panel, already converted to the analyte's canonical unit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    analyte: str  # canonical code: anc, plt, hb, wbc, lym, alt, ast, tbil, alp, cr, amy, lip, bun
    value: float
    unit: str  # the canonical unit the value is expressed in
    lln: float | None = None  # in the same unit
    uln: float | None = None
    range_source: Literal["report", "site", "none"] = "site"
    entered: str = ""  # the tokens as the user typed them, for the audit trail


class LabPanel(_Event):
    kind: Literal["lab"] = "lab"
    results: tuple[LabValue, ...]
    irae: bool | None = None  # investigator's attribution of abnormal values to immunotherapy
    symptomatic: bool | None = None  # signs/symptoms for amylase/lipase grading; None = unknown


class AdverseEvent(_Event):
    """A clinician-graded adverse event, matched to a CTCAE term."""

    kind: Literal["ae"] = "ae"
    term: str  # the CTCAE term, as spelled in the term list
    grade: int = Field(ge=0, le=5)  # 0 records resolution of an earlier episode
    meddra_code: int | None = None
    entered_term: str = ""
    irae: bool | None = None  # None: attribution not yet made by the investigator
    steroid_mg: float | None = Field(default=None, ge=0)  # prednisone-equivalent mg/day


class DoseRecord(_Event):
    """An administration (or its absence) of a drug or a radiotherapy fraction."""

    kind: Literal["dose"] = "dose"
    drug: str  # a drug or radiotherapy course id of the schedule
    status: DoseStatus = "given"
    mg: float | None = Field(default=None, gt=0)
    reason: str | None = None


class ResponseAssessment(_Event):
    kind: Literal["response"] = "response"
    category: RecistCategory


class Attribution(_Event):
    """The investigator's call: is event `target` immune-related (irAE) or not."""

    kind: Literal["attribution"] = "attribution"
    target: str
    irae: bool


class Enrolment(_Event):
    """The patient's plan as enrolled (the `patient` row is its projection); a correction of
    this entry changes the plan. Study IDs only: no name, record number or birth date."""

    kind: Literal["enrolment"] = "enrolment"
    study_id: str
    site: str
    day1: Date
    fractions: int
    boost: bool = False
    height_cm: float | None = None
    weight_kg: float | None = None
    bsa_m2: float | None = None
    figo_stage: str | None = None
    ecog: int | None = None
    age: int | None = None
    diagnosed_on: Date | None = None
    baseline: tuple[LabValue, ...] = ()


class Proposal(_Event):
    """A decision the engine proposed for one drug; in effect unless overridden or withdrawn."""

    kind: Literal["proposal"] = "proposal"
    decision_id: str
    drug: str
    action: Action
    dose_percent: int | None = None
    trigger: str | None = None  # id of the event that led to it
    category: str | None = None  # immune-related category, or "chemotherapy"
    rule: str = ""
    reason: str = ""


class Verdict(_Event):
    """An investigator's confirmation or override of a proposal, or its withdrawal.

    `withdrawn` is written by the system when the event behind a proposal is corrected or
    voided: the proposal no longer stands and a new one is derived from the corrected data.
    """

    kind: Literal["verdict"] = "verdict"
    decision_id: str
    status: Literal["confirmed", "overridden", "withdrawn"]
    reason: str | None = None
    by: str | None = None


Event = Annotated[
    Enrolment
    | LabPanel
    | AdverseEvent
    | DoseRecord
    | ResponseAssessment
    | Attribution
    | Proposal
    | Verdict,
    Field(discriminator="kind"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
HISTORY_ADAPTER: TypeAdapter[list[Event]] = TypeAdapter(list[Event])

CLINICAL_KINDS = ("lab", "ae", "dose", "response", "attribution")
# Entries a user may correct or void (proposals and verdicts are amended by new verdicts).
AMENDABLE_KINDS = ("enrolment", *CLINICAL_KINDS)


def parse_event(data: dict) -> Event:
    return EVENT_ADAPTER.validate_python(data)


_CHRONOLOGICAL = attrgetter("date", "seq")


def chronological(events: Iterable[Event]) -> list[Event]:
    """Events by clinical date, then in the order they were recorded."""
    return sorted(events, key=_CHRONOLOGICAL)  # attrgetter: the key in C, not a lambda


def attribution_of(event: Event, history: Sequence[Event]) -> bool | None:
    """The immune-related attribution of `event`, the latest `Attribution` winning."""
    verdict = getattr(event, "irae", None)
    if event.id is None:
        return verdict
    for later in chronological(history):
        if isinstance(later, Attribution) and later.target == event.id:
            verdict = later.irae
    return verdict
