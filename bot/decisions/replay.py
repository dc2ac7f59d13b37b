"""Replay a patient's entries through the engine, the way the service records them.

For every entry, in order: the decision context is computed from the history so far
(`planning.decision_context`: each drug's next dose from the calendar, the baseline),
the engine decides, the entry is appended, and a `Proposal` is appended for every
decision that needs an investigator's confirmation (decision ids D1, D2, … in order).
A `Verdict` entry confirms or overrides one of those proposals; a `Review` entry runs the
time-based checks (the 12-week rules) without adding an event.

This is what makes "reduce → not recovered → suspend → recovered → resume" follow from a
file of lab panels alone: the proposals are in effect until overridden, so each entry is
decided against the treatment state the earlier ones led to.

Pure: the rules, the plan, the site calendar and the entries are arguments.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.calendar import PatientPlan, Schedule, SiteCalendar
from bot.decisions.engine import Review, decide
from bot.decisions.findings import FindingsMemo
from bot.decisions.model import Decision
from bot.decisions.planning import decision_context
from bot.decisions.schema import DoseModifications
from bot.decisions.state import fold_treatment, verdicts_by_decision
from bot.errors import UserError
from bot.events import Event, Proposal, Verdict
from bot.treatment import TreatmentState

Entry = Event | Review


@dataclass(frozen=True)
class PatientRules:
    """What stays fixed while one patient's entries are replayed."""

    schedule: Schedule
    rules: DoseModifications
    ctcae: Any  # bot.grading.Ctcae
    plan: PatientPlan
    site: SiteCalendar


@dataclass(frozen=True)
class Step:
    """One entry and what the engine decided for it."""

    entry: Entry
    decisions: tuple[Decision, ...] = ()
    ids: tuple[str | None, ...] = ()  # per decision: its D id, None if it needs no confirmation

    def decisions_json(self) -> list[dict[str, Any]]:
        """`Decision.to_json()` of each, with its id (null when no confirmation is needed)
        and status: `proposed` (awaiting the investigator) or `info`."""
        out = []
        for decision, decision_id in zip(self.decisions, self.ids, strict=True):
            data = {"id": decision_id, **decision.to_json()}
            data["status"] = "proposed" if decision_id else "info"
            out.append(data)
        return out


@dataclass(frozen=True)
class Replay:
    """The history as recorded (entries, proposals, verdicts), each entry's step, and the
    treatment state folded from the history."""

    history: tuple[Event, ...]
    steps: tuple[Step, ...]
    state: TreatmentState
    # Findings of the entries graded so far, so that each is graded once per replay.
    memo: FindingsMemo = field(default_factory=FindingsMemo, compare=False, repr=False)

    @property
    def proposals(self) -> list[Proposal]:
        return [e for e in self.history if isinstance(e, Proposal)]


def start(initial: Iterable[Event] = ()) -> Replay:
    """An empty replay, or one starting from events already recorded (the enrolment)."""
    history = tuple(event.model_copy(update={"seq": seq}) for seq, event in enumerate(initial))
    return Replay(history=history, steps=(), state=fold_treatment(history), memo=FindingsMemo())


def record(patient: PatientRules, so_far: Replay, entry: Entry) -> Replay:
    """`so_far` with `entry` recorded: decided against the history before it, appended,
    and followed by a proposal for every decision needing confirmation."""
    history = list(so_far.history)
    if isinstance(entry, Verdict):
        history.append(_check_verdict(entry, history).model_copy(update={"seq": len(history)}))
        return _replay(history, (*so_far.steps, Step(entry=entry)), so_far.memo)
    context = decision_context(
        patient.schedule,
        patient.rules,
        patient.ctcae,
        patient.plan,
        patient.site,
        history,
        entry.date,
        memo=so_far.memo,
        entry=entry,
    )
    decisions = decide(context, history, entry)
    if not isinstance(entry, Review):
        entry = entry.model_copy(update={"seq": len(history)})
        history.append(entry)
    ids: list[str | None] = []
    number = sum(1 for e in history if isinstance(e, Proposal))
    for decision in decisions:
        if not decision.needs_confirmation:
            ids.append(None)
            continue
        number += 1
        decision_id = f"D{number}"
        ids.append(decision_id)
        history.append(
            decision.as_proposal(
                id=decision_id, on=entry.date, seq=len(history), decision_id=decision_id
            )
        )
    step = Step(entry=entry, decisions=tuple(decisions), ids=tuple(ids))
    return _replay(history, (*so_far.steps, step), so_far.memo)


def replay(
    patient: PatientRules, entries: Sequence[Entry], initial: Iterable[Event] = ()
) -> Replay:
    """Record `entries` one by one after `initial` (e.g. the enrolment)."""
    so_far = start(initial)
    for entry in entries:
        so_far = record(patient, so_far, entry)
    return so_far


def _replay(history: list[Event], steps: tuple[Step, ...], memo: FindingsMemo) -> Replay:
    return Replay(history=tuple(history), steps=steps, state=fold_treatment(history), memo=memo)


def _check_verdict(verdict: Verdict, history: Sequence[Event]) -> Verdict:
    """A verdict answers a proposal made before it, once."""
    where = f"entry {verdict.id} ({verdict.date.isoformat()})" if verdict.id else "verdict"
    proposals = {e.decision_id: e for e in history if isinstance(e, Proposal)}
    proposal = proposals.get(verdict.decision_id)
    if proposal is None:
        made = ", ".join(proposals) or "none yet"
        raise UserError(
            f"{verdict.decision_id} was not proposed before this entry",
            field=f"{where}: verdict",
            allowed=f"the decisions proposed so far: {made}",
        )
    earlier = verdicts_by_decision(history).get(verdict.decision_id)
    if earlier is not None:
        raise UserError(
            f"{verdict.decision_id} ({proposal.drug} {proposal.action}) was already "
            f"{earlier.status} on {earlier.date.isoformat()}",
            field=f"{where}: verdict",
            allowed="one verdict per decision",
        )
    if verdict.date < proposal.date:
        raise UserError(
            f"{verdict.decision_id} was proposed on {proposal.date.isoformat()}, after this "
            "verdict's date",
            field=f"{where}: date",
        )
    return verdict


def treatment_json(state: TreatmentState, drugs: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Each drug's treatment state: `status` (active, held, discontinued), `dose_percent`
    (the level in effect), `held_since`, `discontinued_on`, and `awaiting_confirmation`
    (whether a proposal behind that state is not confirmed yet). A drug no proposal has
    touched is active at 100 %."""
    out: dict[str, dict[str, Any]] = {}
    for drug in drugs:
        course = state.get(drug)
        hold = course.open_hold if course else None
        level = course.levels[-1] if course and course.levels else None
        stopped = course.discontinued_on if course else None
        if stopped is not None:
            status, pending = "discontinued", not course.discontinue_confirmed
        elif hold is not None:
            status, pending = "held", not hold.confirmed
        else:
            status, pending = "active", False
        if status != "discontinued" and level is not None and not level.confirmed:
            pending = True
        out[drug] = {
            "status": status,
            "dose_percent": level.percent if level else 100,
            "held_since": hold.start.isoformat() if hold and stopped is None else None,
            "discontinued_on": stopped.isoformat() if stopped else None,
            "awaiting_confirmation": pending,
        }
    return out
