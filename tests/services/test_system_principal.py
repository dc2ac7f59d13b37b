"""The system principal (the scheduler): exactly its rights — read what is due, record
derived and time-based proposals, enqueue posts — and nothing a person must do."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.services import Request, enrolment, entries, members, queries, verdicts
from bot.services.access import (
    DERIVE,
    POST,
    SYSTEM,
    AccessRefused,
    require_right,
)
from bot.services.context import SYSTEM_USER
from bot.storage.models import AuditEntry

from .conftest import ADMIN, DAY1, DOCTOR, NURSE, VIEWER, as_user


def _refusals(ctx) -> list[AuditEntry]:
    with ctx.db.transaction(readonly=True) as session:
        return list(session.exec(select(AuditEntry).where(AuditEntry.action == "refused")))


def test_the_scheduler_reads_what_is_due_without_a_refusal(ctx):
    enrolment.enrol(ctx, as_user(NURSE), "LACC-007", start=DAY1, height=160, weight=55)
    system = Request.scheduler()
    assert (system.user, system.source, system.system) == (SYSTEM_USER, "scheduler", True)
    due = queries.due(ctx, system, days=7, site="main")
    assert due.events and {e["study_id"] for e in due.events} == {"LACC-007"}
    assert due.events == queries.due(ctx, as_user(VIEWER), days=7, site="main").events
    assert _refusals(ctx) == []
    assert require_right(ctx, system, DERIVE, "running the review checks") == SYSTEM
    assert require_right(ctx, system, POST, "queueing a reminder") == SYSTEM


def test_the_scheduler_cannot_decide_enter_or_set_roles(ctx):
    enrolment.enrol(ctx, as_user(NURSE), "LACC-007", start=DAY1, height=160, weight=55)
    lab = entries.record_lab(ctx, as_user(NURSE), "LACC-007", "ANC 0.4")
    proposed = next(d["id"] for d in lab.decisions if d["status"] == "proposed")
    system = Request.scheduler()
    attempts = [
        lambda: verdicts.confirm(ctx, system, proposed),
        lambda: verdicts.override(ctx, system, proposed, "no"),
        lambda: members.set_role(ctx, system, "U0SOMEONE", "admin"),
        lambda: entries.record_lab(ctx, system, "LACC-007", "ANC 0.4"),
    ]
    for attempt in attempts:
        with pytest.raises(AccessRefused, match="system principal"):
            attempt()
    refusals = _refusals(ctx)
    assert len(refusals) == len(attempts)
    assert {r.actor for r in refusals} == {SYSTEM_USER}
    assert all(r.details["role"] == SYSTEM and r.details["source"] == "scheduler" for r in refusals)


def test_only_admins_among_people_have_the_systems_rights_and_nobody_can_pose_as_it(ctx):
    for user in (NURSE, DOCTOR):
        with pytest.raises(AccessRefused, match="needs the admin role"):
            require_right(ctx, as_user(user), DERIVE, "running the review checks")
    assert require_right(ctx, as_user(ADMIN), DERIVE, "running the review checks") == "admin"
    # the system's user name without the system principal is nobody
    impostor = Request(user=SYSTEM_USER, source="console")
    with pytest.raises(AccessRefused):
        queries.due(ctx, impostor, days=7, site="main")
    with pytest.raises(AccessRefused):
        require_right(ctx, impostor, POST, "queueing a reminder")


def test_the_role_is_checked_again_inside_the_writes_own_transaction(ctx, counts):
    """A demotion that lands after the up-front check stops the write: the unit of work
    itself refuses (here run without the up-front check, as if the demotion came between),
    writes nothing, and the refusal is audited."""
    from bot.events import ResponseAssessment
    from bot.services.entries import record_entry
    from bot.services.unit import run_patient_write

    enrolment.enrol(ctx, as_user(NURSE), "LACC-007", start=DAY1, height=160, weight=55)
    members.set_role(ctx, as_user(ADMIN), NURSE, "viewer")
    before = counts(ctx)

    def work(unit):
        return record_entry(unit, ResponseAssessment(date=unit.today, category="SD"), "response")

    with pytest.raises(AccessRefused, match="needs the coordinator role"):
        run_patient_write(ctx, as_user(NURSE), "response", "LACC-007", work)
    after = counts(ctx)
    assert after["audit"] == before["audit"] + 1  # only the refusal
    assert {k: v for k, v in after.items() if k != "audit"} == {
        k: v for k, v in before.items() if k != "audit"
    }
    [refusal] = _refusals(ctx)
    assert refusal.actor == NURSE and refusal.details["role"] == "viewer"
