"""An investigator confirms or overrides a proposed decision."""

from __future__ import annotations

from typing import Any

from bot.errors import UserError
from bot.inputs import check_free_text
from bot.posts import Post
from bot.services import alerts, notify
from bot.services.access import require_write
from bot.services.context import Request, ServiceContext
from bot.services.lookup import patient_of_decision
from bot.services.outcome import Outcome
from bot.services.unit import PatientUnit, entry_json, run_patient_write
from bot.storage.models import DecisionRecord, parse_label


def _open(unit: PatientUnit, number: int) -> DecisionRecord:
    record = unit.session.get(DecisionRecord, number, populate_existing=True)
    if record is None or record.patient_id != unit.patient.id:
        raise UserError(
            f"there is no decision D{number} for {unit.patient.study_id}", field="decision"
        )
    if record.status == "info":
        raise UserError(
            f"{record.label} ({record.drug} {record.action}) needed no "
            "confirmation; nothing to confirm or override",
            field="decision",
        )
    if record.status != "proposed":
        when = record.decided_at.date().isoformat() if record.decided_at else ""
        raise UserError(
            f"{record.label} was already {record.status}"
            + (f" by {record.decided_by} on {when}" if record.decided_by else ""),
            field="decision",
        )
    return record


def announce_verdict(
    unit: PatientUnit, decision: dict[str, Any], action: str, details: dict[str, Any]
) -> None:
    """What every decided decision leaves behind, in the write's transaction: the post to
    the site channel (once per decision) and the audit row `action` naming the decision.
    A confirm, an override and an investigator's own hold or resume all end this way."""
    label = decision["id"]
    unit.post(
        Post(
            kind="verdict",
            audience=notify.channel_of(unit.site),
            study_id=unit.patient.study_id,
            decision_ids=(label,),
            facts={"decision": decision, "by": unit.request.user},
        ),
        dedupe_key=f"decision:{label}:verdict",
    )
    unit.audit(action, {"decision": label, **details})


def _decide(
    ctx: ServiceContext, request: Request, decision_ref: str, status: str, reason: str | None
) -> Outcome:
    number = parse_label(decision_ref, "D", field="decision")
    study_id = patient_of_decision(ctx, number)

    def work(unit: PatientUnit) -> Outcome:
        record = _open(unit, number)
        verdict = unit.verdict(record, status, reason)
        how = "confirm" if status == "confirmed" else "override"
        alerts.acknowledge(unit.session, [record.label], by=request.user, how=how, now=unit.now)
        unit.refresh_calendar()
        decision = {
            **record.payload,
            "id": record.label,
            "status": status,
            "decided_by": request.user,
            "override_reason": reason,
        }
        announce_verdict(
            unit,
            decision,
            status,
            {"drug": record.drug, "action": record.action, "reason": reason},
        )
        return Outcome(operation=status, event=entry_json(verdict), decisions=[decision])

    return run_patient_write(ctx, request, status, study_id, work)


def confirm(ctx: ServiceContext, request: Request, decision_ref: str) -> Outcome:
    require_write(ctx, request, "confirmed")
    return _decide(ctx, request, decision_ref, "confirmed", None)


def override(ctx: ServiceContext, request: Request, decision_ref: str, reason: str) -> Outcome:
    require_write(ctx, request, "overridden")
    if not reason or not reason.strip():
        raise UserError(
            "an override needs a reason",
            field="reason",
            allowed='reason="why the protocol action is not taken"',
        )
    return _decide(
        ctx, request, decision_ref, "overridden", check_free_text(reason.strip(), "reason")
    )
