"""What a study team takes out of trialbot: tables of the log for a spreadsheet or a
statistician, and the calendar as iCalendar events for Outlook or Google Calendar.

Every export reads the event log (the truth) and the tables derived from it, in one
read-only transaction, and returns plain rows — the command line writes them as CSV, Slack
uploads the same bytes. Study IDs only: the log holds no other identifier, and nothing
here adds one.

- `events`: the log as written, amendments included (who, when, why), one row per entry.
- `labs`: one row per analyte of every lab panel in force, with its reference range and
  CTCAE grade (graded now, with the rules in force, exactly as `trialbot grade` would).
- `aes`: one row per adverse-event entry in force: CTCAE term, MedDRA code, grade, CTCAE
  version, attribution as the log says now, onset, and the resolution (the first later
  entry of the same term at grade 0).
- `doses`: every administration, hold and skip of a drug or radiotherapy fraction.
- `decisions`: every proposal with its rule and criterion, and who confirmed or overrode
  it, when and why.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import Session, select

from bot.decisions.planning import baseline_of
from bot.errors import UserError
from bot.events import AdverseEvent, DoseRecord, Event, LabPanel, attribution_of, chronological
from bot.grading import grade_panel
from bot.services import derive
from bot.services.context import ServiceContext
from bot.storage.eventlog import patient_events
from bot.storage.models import DecisionRecord, Patient, Site

TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "events": (
        "study_id",
        "site",
        "entry",
        "kind",
        "clinical_date",
        "recorded_at",
        "recorded_by",
        "source",
        "corrects",
        "voids",
        "reason",
        "payload",
    ),
    "labs": (
        "study_id",
        "site",
        "entry",
        "date",
        "analyte",
        "ctcae_term",
        "meddra_code",
        "value",
        "unit",
        "lln",
        "uln",
        "range_source",
        "grade",
        "ctcae_version",
        "criterion",
        "immune_related",
    ),
    "aes": (
        "study_id",
        "site",
        "entry",
        "ctcae_term",
        "meddra_code",
        "grade",
        "ctcae_version",
        "immune_related",
        "onset",
        "resolved_on",
        "steroid_mg_per_day",
        "entered_term",
    ),
    "doses": ("study_id", "site", "entry", "date", "drug", "status", "mg", "reason"),
    "decisions": (
        "study_id",
        "site",
        "decision",
        "trigger",
        "drug",
        "action",
        "dose_percent",
        "rule",
        "criterion",
        "reason",
        "needs_confirmation",
        "status",
        "proposed_at",
        "decided_by",
        "decided_at",
        "override_reason",
    ),
}
TABLES = tuple(TABLE_COLUMNS)


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]
    rows: list[dict[str, Any]]


def patients_of(session: Session, site: str | None, study_id: str | None = None) -> list[Patient]:
    """The patients of `site` (or every site), or the one with `study_id`, by study ID."""
    if site is not None and session.get(Site, site) is None:
        known = ", ".join(s.id for s in session.exec(select(Site).order_by(Site.id)))
        raise UserError(f"unknown site {site!r}", field="site", allowed=known or "no site yet")
    query = select(Patient).order_by(Patient.study_id)
    if site is not None:
        query = query.where(Patient.site_id == site)
    if study_id is not None:
        query = query.where(Patient.study_id == study_id)
    return list(session.exec(query))


def _yes_no(value: bool | None) -> str:
    return "unknown" if value is None else "yes" if value else "no"


def _event_rows(session: Session, patient: Patient) -> Iterable[dict[str, Any]]:
    for row in patient_events(session, patient.id or 0):
        yield {
            "study_id": patient.study_id,
            "site": patient.site_id,
            "entry": row.label,
            "kind": row.kind,
            "clinical_date": row.clinical_date.isoformat(),
            "recorded_at": row.recorded_at.isoformat(),
            "recorded_by": row.recorded_by,
            "source": row.source,
            "corrects": f"E{row.corrects}" if row.corrects else "",
            "voids": f"E{row.voids}" if row.voids else "",
            "reason": row.reason or "",
            "payload": row.payload,
        }


def lab_rows(ctx: ServiceContext, patient: Patient, history: Sequence[Event]):
    baseline = baseline_of(history, patient.day1)
    version = ctx.rules.ctcae.version
    for event in chronological(history):
        if not isinstance(event, LabPanel):
            continue
        grades = grade_panel(ctx.rules.ctcae, event.results, baseline, event.symptomatic)
        for grade in grades:
            yield {
                "study_id": patient.study_id,
                "site": patient.site_id,
                "entry": event.id,
                "date": event.date.isoformat(),
                "analyte": grade.analyte,
                "ctcae_term": grade.term or "",
                "meddra_code": grade.meddra_code or "",
                "value": grade.value,
                "unit": grade.unit,
                "lln": grade.lln if grade.lln is not None else "",
                "uln": grade.uln if grade.uln is not None else "",
                "range_source": grade.range_source,
                "grade": grade.grade if grade.grade is not None else "",
                "ctcae_version": version,
                "criterion": grade.criterion,
                "immune_related": _yes_no(attribution_of(event, history)),
            }


def _resolution(event: AdverseEvent, later: Sequence[Event]) -> date | None:
    for other in later:
        if isinstance(other, AdverseEvent) and other.term == event.term and other.grade == 0:
            return other.date
    return None


def _ae_rows(ctx: ServiceContext, patient: Patient, history: Sequence[Event]):
    ordered = chronological(history)
    version = ctx.rules.ctcae.version
    for index, event in enumerate(ordered):
        if not isinstance(event, AdverseEvent) or event.grade == 0:
            continue
        resolved = _resolution(event, ordered[index + 1 :])
        yield {
            "study_id": patient.study_id,
            "site": patient.site_id,
            "entry": event.id,
            "ctcae_term": event.term,
            "meddra_code": event.meddra_code or "",
            "grade": event.grade,
            "ctcae_version": version,
            "immune_related": _yes_no(attribution_of(event, history)),
            "onset": event.date.isoformat(),
            "resolved_on": resolved.isoformat() if resolved else "",
            "steroid_mg_per_day": event.steroid_mg if event.steroid_mg is not None else "",
            "entered_term": event.entered_term,
        }


def _dose_rows(patient: Patient, history: Sequence[Event]):
    for event in chronological(history):
        if isinstance(event, DoseRecord):
            yield {
                "study_id": patient.study_id,
                "site": patient.site_id,
                "entry": event.id,
                "date": event.date.isoformat(),
                "drug": event.drug,
                "status": event.status,
                "mg": event.mg if event.mg is not None else "",
                "reason": event.reason or "",
            }


def _decision_rows(session: Session, patients: Sequence[Patient]):
    by_id = {p.id: p for p in patients}
    if not by_id:
        return
    query = (
        select(DecisionRecord)
        .where(DecisionRecord.patient_id.in_(list(by_id)))  # type: ignore[union-attr]
        .order_by(DecisionRecord.id)
    )
    for row in session.exec(query):
        patient = by_id[row.patient_id]
        yield {
            "study_id": patient.study_id,
            "site": patient.site_id,
            "decision": row.label,
            "trigger": f"E{row.event_id}" if row.event_id else "",
            "drug": row.drug,
            "action": row.action,
            "dose_percent": row.dose_percent if row.dose_percent is not None else "",
            "rule": row.rule,
            "criterion": row.criterion or "",
            "reason": row.reason,
            "needs_confirmation": "yes" if row.needs_confirmation else "no",
            "status": row.status,
            "proposed_at": row.proposed_at.isoformat(),
            "decided_by": row.decided_by or "",
            "decided_at": row.decided_at.isoformat() if row.decided_at else "",
            "override_reason": row.override_reason or "",
        }


def export_table(ctx: ServiceContext, name: str, *, site: str | None = None) -> Table:
    """One of `TABLES` for every patient (or the patients of `site`)."""
    if name not in TABLE_COLUMNS:
        raise UserError(f"unknown export {name!r}", field="table", allowed=", ".join(TABLES))
    rows: list[dict[str, Any]] = []
    with ctx.db.transaction(readonly=True) as session:
        patients = patients_of(session, site)
        if name == "decisions":
            rows.extend(_decision_rows(session, patients))
        for patient in patients if name != "decisions" else ():
            if name == "events":
                rows.extend(_event_rows(session, patient))
                continue
            history = derive.history_of(patient_events(session, patient.id or 0))
            if name == "labs":
                rows.extend(lab_rows(ctx, patient, history))
            elif name == "aes":
                rows.extend(_ae_rows(ctx, patient, history))
            else:
                rows.extend(_dose_rows(patient, history))
    return Table(name, TABLE_COLUMNS[name], rows)
