"""Fold a patient's history into each drug's course: the history is the truth.

A proposal is in effect unless an investigator overrode it or the system withdrew it
(its source entry was corrected or voided). Unconfirmed proposals count — the protocol's
action stands until someone says otherwise — but carry `confirmed=False` so every view can
say "awaiting confirmation".
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.events import Event, Proposal, Verdict, chronological
from bot.treatment import DrugCourse, Hold, Level, TreatmentState


def verdicts_by_decision(history: Iterable[Event]) -> dict[str, Verdict]:
    latest: dict[str, Verdict] = {}
    # Picked out before sorting (the sort is stable, so the order among them is the same):
    # a long history is mostly lab panels and doses, and is sorted once, not twice.
    for event in chronological([e for e in history if type(e) is Verdict]):
        latest[event.decision_id] = event
    return latest


def proposals_in_effect(history: Iterable[Event]) -> list[tuple[Proposal, bool]]:
    """(proposal, confirmed) for every proposal still standing, oldest first."""
    # Only proposals and verdicts matter, picked out in one pass before any sort. The
    # events are never subclassed (bot/events.py), so `type(e) is` is `isinstance` —
    # at a fraction of its cost on pydantic's ABC-based models.
    events = [e for e in history if type(e) is Proposal or type(e) is Verdict]
    verdicts = verdicts_by_decision(events)
    standing = []
    for event in chronological(events):
        if type(event) is not Proposal:
            continue
        verdict = verdicts.get(event.decision_id)
        if verdict is not None and verdict.status in ("overridden", "withdrawn"):
            continue
        standing.append((event, verdict is not None and verdict.status == "confirmed"))
    return standing


def fold_treatment(history: Iterable[Event]) -> TreatmentState:
    holds: dict[str, list[Hold]] = {}
    levels: dict[str, list[Level]] = {}
    stopped: dict[str, tuple[Proposal, bool]] = {}
    for proposal, confirmed in proposals_in_effect(history):
        drug, day = proposal.drug, proposal.date
        if drug in stopped:
            continue
        drug_holds = holds.setdefault(drug, [])
        open_hold = drug_holds[-1] if drug_holds and drug_holds[-1].until is None else None
        if proposal.action == "hold" and open_hold is None:
            drug_holds.append(
                Hold(
                    start=day,
                    reason=proposal.reason,
                    decision_id=proposal.decision_id,
                    confirmed=confirmed,
                )
            )
        elif proposal.action in ("resume", "reduce"):
            if proposal.action == "resume" and open_hold is not None:
                drug_holds[-1] = open_hold.model_copy(update={"until": day})
            if proposal.dose_percent is not None:
                levels.setdefault(drug, []).append(
                    Level(
                        start=day,
                        percent=proposal.dose_percent,
                        decision_id=proposal.decision_id,
                        confirmed=confirmed,
                    )
                )
        elif proposal.action == "discontinue":
            stopped[drug] = (proposal, confirmed)
    state: TreatmentState = {}
    for drug in sorted(set(holds) | set(levels) | set(stopped)):
        stop = stopped.get(drug)
        state[drug] = DrugCourse(
            drug=drug,
            holds=tuple(holds.get(drug, ())),
            levels=tuple(levels.get(drug, ())),
            discontinued_on=stop[0].date if stop else None,
            discontinued_reason=stop[0].reason if stop else "",
            discontinue_decision=stop[0].decision_id if stop else None,
            discontinue_confirmed=stop[1] if stop else False,
        )
    return state
