"""An investigator holds or resumes a drug by decision, with the reason.

A trial's immune-related rules may leave the choice to the investigator (e.g. "interrupt
the drug or hormone replacement therapy" for an endocrinopathy), and a hold whose toxicity cannot return to grade 0–I (an
endocrinopathy on replacement stays grade II by CTCAE's definitions) would otherwise never
end. `hold` and `resume` record the investigator's own decision: a proposal written by the
investigator and confirmed by them at once, in one transaction, audited like an override
(who, when, why). The treatment fold reads it like any other decision; nothing is deleted.
"""

from __future__ import annotations

from typing import Any, Literal

from bot.decisions import Decision, fold_treatment
from bot.errors import UserError, closest
from bot.services.access import require_write
from bot.services.context import Request, ServiceContext
from bot.services.outcome import Outcome
from bot.services.unit import PatientUnit, entry_json, run_patient_write
from bot.services.verdicts import announce_verdict
from bot.storage.models import DecisionRecord

CourseAction = Literal["hold", "resume"]


def drugs_of(ctx: ServiceContext) -> list[str]:
    return [d.id for d in ctx.rules.schedule.drugs]


def _rule_for(ctx: ServiceContext, drug: str, action: CourseAction) -> str:
    rules = ctx.rules.dose_modifications
    if drug in rules.immunotherapy.drugs:
        from bot.decisions.engine import recovered_to

        target = recovered_to(rules.immunotherapy.recovered_max_grade)  # the block's own
        what = f"interrupt {drug} until restored to {target}" + (
            "" if action == "hold" else " — ended"
        )
        return f"{rules.immunotherapy.source}: {what}, by investigator decision"
    return f"{rules.chemotherapy.source}: by investigator decision"


def _check(ctx: ServiceContext, drug: str, reason: str | None, action: CourseAction) -> str:
    known = drugs_of(ctx)
    name = drug.strip().lower()
    if name not in known:
        raise UserError(
            f"unknown drug {drug!r}",
            field="drug",
            allowed=", ".join(known),
            suggestion=closest(name, known),
        )
    if reason is None or not reason.strip():
        why = "why the drug is held" if action == "hold" else "why the hold ends"
        raise UserError(f"a {action} needs a reason", field="reason", allowed=f'reason="{why}"')
    return name


def change_course(
    ctx: ServiceContext,
    request: Request,
    study_id: str,
    drug: str,
    action: CourseAction,
    reason: str | None,
) -> Outcome:
    """Hold (interrupt) or resume `drug` for the patient, as the investigator decides."""
    require_write(ctx, request, action)
    name = _check(ctx, drug, reason, action)
    why = reason.strip() if reason else ""

    def work(unit: PatientUnit) -> Outcome:
        course = fold_treatment(unit.history).get(name)
        held = course.open_hold if course is not None else None
        if course is not None and course.is_discontinued_on(unit.today):
            raise UserError(
                f"{name} is discontinued for {unit.patient.study_id} since "
                f"{course.discontinued_on.isoformat()}; a discontinuation is not lifted here "
                f"(override its decision {course.discontinue_decision} if it was wrong)",
                field="drug",
            )
        if action == "resume" and held is None:
            raise UserError(
                f"{name} is not on hold for {unit.patient.study_id}",
                field="drug",
                allowed=", ".join(_held(unit)) or "no drug is on hold",
            )
        if action == "hold" and held is not None:
            raise UserError(
                f"{name} is already on hold for {unit.patient.study_id} since "
                f"{held.start.isoformat()} ({held.reason})",
                field="drug",
            )
        if action == "resume":
            text = (
                f"resumed by investigator decision: {why} (on hold since "
                f"{held.start.isoformat()}: {held.reason})"
            )
        else:
            text = f"held by investigator decision: {why}"
        decision = Decision(
            drug=name,
            action=action,
            reason=text,
            rule=_rule_for(ctx, name, action),
            needs_confirmation=True,
            changes_state=True,
            category="investigator",
        )
        record = DecisionRecord(
            patient_id=unit.patient.id,
            event_id=None,
            drug=name,
            action=action,
            dose_percent=None,
            reason=decision.reason,
            rule=decision.rule,
            criterion=None,
            needs_confirmation=True,
            status="proposed",
            proposed_at=unit.now,
            payload=decision.to_json(),
        )
        unit.session.add(record)
        unit.session.flush()
        proposal = unit.append(decision.as_proposal(on=unit.today, decision_id=record.label))
        record.proposal_event_id = int(proposal.id[1:])
        record.payload = decision.to_json(record.label)
        unit.session.add(record)
        unit.verdict(record, "confirmed", None)
        unit.refresh_calendar()
        shown: dict[str, Any] = {
            **decision.to_json(record.label),
            "status": "confirmed",
            "decided_by": request.user,
            "override_reason": why,
        }
        announce_verdict(
            unit,
            shown,
            action,
            {
                "drug": name,
                "reason": why,
                "held_since": held.start.isoformat() if held is not None else None,
            },
        )
        return Outcome(
            operation=action,
            event=entry_json(proposal),
            decisions=[shown],
            data={"drug": name, "held_since": held.start.isoformat() if held else None},
        )

    return run_patient_write(ctx, request, action, study_id, work)


def _held(unit: PatientUnit) -> list[str]:
    return [
        drug
        for drug, course in fold_treatment(unit.history).items()
        if course.open_hold is not None and not course.is_discontinued_on(unit.today)
    ]


def hold(ctx: ServiceContext, request: Request, study_id: str, drug: str, reason: str | None):
    return change_course(ctx, request, study_id, drug, "hold", reason)


def resume(ctx: ServiceContext, request: Request, study_id: str, drug: str, reason: str | None):
    return change_course(ctx, request, study_id, drug, "resume", reason)
