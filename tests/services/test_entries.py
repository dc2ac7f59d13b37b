"""Services end to end on both databases: what a user's action leaves behind."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import select

from bot.errors import UserError
from bot.services import amend, enrolment, entries, queries, verdicts
from bot.services.access import AccessRefused
from bot.services.context import Request
from bot.storage.audit import verify_chain
from bot.storage.models import AuditEntry, CalendarRow, DecisionRecord, EventRecord, OutboxMessage

DAY1 = date(2027, 3, 1)  # the fixture clock is Friday 2027-03-05, 09:00 in Shanghai
NURSE, DOCTOR, VIEWER = "U0NURSE", "U0DOCTOR", "U0VIEWER"  # roles set by the ctx fixture


def as_user(user: str, key: str | None = None) -> Request:
    return Request(user=user, source="test", key=key)


def enrol(ctx, study_id="LACC-007", **extra):
    values = dict(start=DAY1, height=160, weight=55, stage="IIIC1", ecog=1, age=52)
    values.update(extra)
    return enrolment.enrol(ctx, as_user(NURSE), study_id, **values)


def test_enrolment_stores_the_plan_and_its_calendar(ctx):
    outcome = enrol(ctx)
    assert outcome.study_id == "LACC-007"
    assert outcome.data["summary"]["last_fraction"] == "2027-04-02"
    with ctx.db.transaction(readonly=True) as session:
        rows = session.exec(select(CalendarRow)).all()
        log = session.exec(select(EventRecord)).all()
    assert len(rows) == len(outcome.events) > 100
    assert [r.kind for r in log] == ["enrolment"]
    [post] = outcome.posts
    assert (post.kind, post.audience.kind, post.address) == (
        "enrolled",
        "site_channel",
        "#trial-main",
    )
    assert post.study_id == "LACC-007" and post.facts["summary"]["last_fraction"] == "2027-04-02"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"start": date(2027, 3, 6)}, "start"),  # a Saturday
        ({"fractions": 30}, "fractions"),
        ({"stage": "IIB"}, "stage"),
        ({"age": 80}, "age"),
        ({"site": "elsewhere"}, "site"),
        ({"height": 160, "weight": 2}, "weight"),
    ],
)
def test_bad_enrolments_are_refused_and_write_nothing(ctx, counts, extra, field):
    before = counts(ctx)
    with pytest.raises(UserError) as refused:
        enrol(ctx, **extra)
    assert field in refused.value.message
    assert counts(ctx) == before


def test_a_duplicate_enrolment_is_refused(ctx, counts):
    enrol(ctx)
    before = counts(ctx)
    with pytest.raises(UserError, match="already enrolled"):
        enrol(ctx, study_id="lacc-007")
    assert counts(ctx) == before


def test_a_lab_panel_is_graded_decided_proposed_posted_and_audited(ctx):
    enrol(ctx)
    outcome = entries.record_lab(ctx, as_user(NURSE), "LACC-007", "ANC 0.4 PLT 62")
    grades = {g["analyte"]: g["grade"] for g in outcome.grades}
    assert grades == {"anc": 4, "plt": 2}
    decisions = {d["drug"]: d for d in outcome.decisions}
    assert decisions["cisplatin"]["action"] == "reduce"
    assert decisions["cisplatin"]["status"] == "proposed"
    assert decisions["cisplatin"]["id"].startswith("D")
    assert decisions["toripalimab"]["status"] == "info"
    with ctx.db.transaction(readonly=True) as session:
        open_rows = session.exec(
            select(DecisionRecord).where(DecisionRecord.status == "proposed")
        ).all()
        kinds = [e.kind for e in session.exec(select(EventRecord).order_by(EventRecord.id))]
        alerts = session.exec(
            select(OutboxMessage).where(OutboxMessage.kind == "decision_alert")
        ).all()
        actions = [a.action for a in session.exec(select(AuditEntry).order_by(AuditEntry.id))]
        assert verify_chain(session) is None
    assert [r.drug for r in open_rows] == ["cisplatin"]
    assert kinds == ["enrolment", "lab", "proposal"]
    # one alert, two copies: the site channel and the on-call investigator's DM
    assert sorted(a.target for a in alerts) == ["#trial-main", DOCTOR]
    assert {tuple(a.payload["decision_ids"]) for a in alerts} == {(open_rows[0].label,)}
    assert actions[-1] == "lab"


def test_the_calendar_rows_follow_a_confirmed_reduction(ctx):
    enrol(ctx)
    outcome = entries.record_lab(ctx, as_user(NURSE), "LACC-007", "ANC 0.4")
    decision = next(d for d in outcome.decisions if d["drug"] == "cisplatin")
    verdicts.confirm(ctx, as_user(DOCTOR), decision["id"])
    with ctx.db.transaction(readonly=True) as session:
        week2 = session.exec(
            select(CalendarRow).where(
                CalendarRow.item == "cisplatin", CalendarRow.date == DAY1 + timedelta(days=7)
            )
        ).one()
    assert week2.payload["dose"]["percent"] == 80
    assert week2.payload["dose"]["mg"] == 50  # 40 mg/m² × 1.56 m² × 80 %


def test_the_same_request_twice_records_once(ctx, counts):
    enrol(ctx)
    first = entries.record_lab(ctx, as_user(NURSE, key="slack:cmd:1"), "LACC-007", "ANC 0.4")
    after_first = counts(ctx)
    again = entries.record_lab(ctx, as_user(NURSE, key="slack:cmd:1"), "LACC-007", "ANC 0.4")
    assert counts(ctx) == after_first
    assert again.replayed and again.event == first.event and again.decisions == first.decisions


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda c: entries.record_lab(c, as_user(NURSE), "LACC-999", "ANC 1.0"),
            "no patient LACC-999",
        ),
        (
            lambda c: entries.record_lab(
                c, as_user(NURSE), "LACC-007", "ANC 1.0", on=date(2027, 3, 6)
            ),
            "in the future",
        ),
        (
            lambda c: entries.record_lab(
                c, as_user(NURSE), "LACC-007", "ANC 1.0", on=date(2027, 1, 1)
            ),
            "before LACC-007 was enrolled",
        ),
        (lambda c: entries.record_lab(c, as_user(NURSE), "LACC-007", "ANC 0.4 NEUT 0.5"), "twice"),
        (
            lambda c: entries.record_ae(c, as_user(NURSE), "LACC-007", "pneumonitiz", 2),
            "Pneumonitis",
        ),
        (lambda c: entries.record_ae(c, as_user(NURSE), "LACC-007", "myocarditis", 1), "grade"),
        (lambda c: entries.record_dose(c, as_user(NURSE), "LACC-007", "cisplatinn"), "cisplatin"),
        (lambda c: entries.record_response(c, as_user(NURSE), "LACC-007", "XR"), "RECIST"),
        (lambda c: amend.void(c, as_user(NURSE), "E99", "typo"), "no entry E99"),
        (lambda c: amend.void(c, as_user(NURSE), "E1", ""), "reason"),
        (lambda c: verdicts.confirm(c, as_user(DOCTOR), "D42"), "no decision D42"),
    ],
)
def test_bad_entries_are_refused_with_a_clear_message_and_no_write(ctx, counts, call, message):
    enrol(ctx)
    before = counts(ctx)
    with pytest.raises(UserError) as refused:
        call(ctx)
    assert message in refused.value.message
    assert counts(ctx) == before


def test_roles_are_enforced_and_refusals_audited(ctx):
    enrol(ctx)
    outcome = entries.record_lab(ctx, as_user(NURSE), "LACC-007", "ANC 0.4")
    decision = outcome.decisions[0]["id"]
    with pytest.raises(AccessRefused, match="investigator"):
        verdicts.confirm(ctx, as_user(NURSE), decision)
    with pytest.raises(AccessRefused, match="coordinator"):
        entries.record_lab(ctx, as_user(VIEWER), "LACC-007", "ANC 1.0")
    with pytest.raises(AccessRefused, match="no role"):
        queries.patient(ctx, as_user("U0STRANGER"), "LACC-007")
    with ctx.db.transaction(readonly=True) as session:
        refused = session.exec(select(AuditEntry).where(AuditEntry.action == "refused")).all()
    assert [r.actor for r in refused] == [NURSE, VIEWER, "U0STRANGER"]


def test_confirm_once_and_override_needs_a_reason(ctx):
    enrol(ctx)
    decision = entries.record_lab(ctx, as_user(NURSE), "LACC-007", "ANC 0.4").decisions[0]["id"]
    with pytest.raises(UserError, match="reason"):
        verdicts.override(ctx, as_user(DOCTOR), decision, "  ")
    verdicts.override(ctx, as_user(DOCTOR), decision, "repeat count 1.6 the same day")
    with pytest.raises(UserError, match="already overridden"):
        verdicts.confirm(ctx, as_user(DOCTOR), decision)
    state = {s["drug"]: s for s in queries.patient(ctx, as_user(VIEWER), "LACC-007").data["state"]}
    assert state["cisplatin"]["dose_percent"] == 100


def test_correcting_a_lab_withdraws_its_open_proposals_and_decides_again(ctx, service_clock):
    enrol(ctx)
    recorded = entries.record_lab(ctx, as_user(NURSE), "LACC-007", "ANC 0.4")
    label = recorded.event["id"]
    fixed = amend.correct(
        ctx,
        as_user(NURSE),
        label,
        amend.Changes(lab_text="ANC 1.4"),
        reason="transcription error: 1.4, not 0.4",
    )
    assert fixed.data["withdrawn"] == [recorded.decisions[0]["id"]]
    assert {d["drug"]: d["action"] for d in fixed.decisions}["cisplatin"] == "continue"
    view = queries.patient(ctx, as_user(VIEWER), "LACC-007")
    assert view.decisions == []  # nothing left awaiting confirmation
    lab = next(e for e in view.data["recent"] if e["id"] == label)
    assert lab["amended_by"] is not None


def test_voiding_an_entry_removes_it_from_the_derived_state(ctx):
    enrol(ctx)
    entries.record_ae(ctx, as_user(NURSE), "LACC-007", "pneumonitis", 2, irae=True)
    ae_id = queries.patient(ctx, as_user(VIEWER), "LACC-007").data["recent"][0]["id"]
    state = {s["drug"]: s for s in queries.patient(ctx, as_user(VIEWER), "LACC-007").data["state"]}
    assert state["toripalimab"]["status"] == "held"
    amend.void(ctx, as_user(NURSE), ae_id, "entered for the wrong patient")
    state = {s["drug"]: s for s in queries.patient(ctx, as_user(VIEWER), "LACC-007").data["state"]}
    assert state["toripalimab"]["status"] != "held"


def test_attribution_turns_a_referral_into_the_table3_action(ctx):
    enrol(ctx)
    outcome = entries.record_ae(ctx, as_user(NURSE), "LACC-007", "colitis", 3)
    decision = outcome.decisions[-1]
    assert decision["action"] == "refer" and decision["if_immune_related"]["action"] == "hold"
    attributed = entries.attribute(ctx, as_user(DOCTOR), outcome.event["id"], irae=True)
    assert {d["drug"]: d["action"] for d in attributed.decisions}["toripalimab"] == "hold"


def test_due_this_week_at_the_site(ctx):
    enrol(ctx)
    week = queries.due(ctx, as_user(VIEWER), days=7)
    items = {(e["item"], e["date"]) for e in week.events}
    assert ("cisplatin", "2027-03-08") in items
    assert all(e["study_id"] == "LACC-007" for e in week.events)


def test_the_attribution_closes_the_referral_that_asked_for_it(ctx):
    enrol(ctx)
    outcome = entries.record_ae(ctx, as_user(NURSE), "LACC-007", "colitis", 3)
    refer = next(d for d in outcome.decisions if d["drug"] == "toripalimab")
    attributed = entries.attribute(ctx, as_user(DOCTOR), outcome.event["id"], irae=False)
    assert attributed.data["answered"] == [refer["id"]]
    open_ids = [d["id"] for d in queries.open_decisions(ctx, as_user(VIEWER)).decisions]
    assert refer["id"] not in open_ids


def test_on_the_console_without_admins_only_the_console_user_is_admin(ctx):
    settings = ctx.settings.model_copy(update={"admins": ()})
    local = type(ctx)(
        db=ctx.db, rules=ctx.rules, clock=ctx.clock, settings=settings, renderer=ctx.renderer
    )
    console = Request(user=settings.user, console=True)
    stranger = Request(user="U0SOMEONE", console=True)
    assert queries.whoami(local, console)["role"] == "admin"
    assert queries.whoami(local, stranger)["role"] is None


def test_entries_start_at_enrolment_or_for_a_late_registration_at_screening(ctx, service_clock):
    # Enrolled today (Fri 5 Mar) ahead of day 1 (Mon 15 Mar): nothing before today.
    enrol(ctx, study_id="LACC-010", start=date(2027, 3, 15))
    with pytest.raises(UserError, match="before LACC-010 was enrolled"):
        entries.record_lab(ctx, as_user(NURSE), "LACC-010", "ANC 2.0", on=date(2027, 3, 4))
    assert (
        entries.record_lab(ctx, as_user(NURSE), "LACC-010", "ANC 2.0").event["date"] == "2027-03-05"
    )
    # Registered after day 1 (1 Mar): the screening window bounds the entries instead.
    enrol(ctx)
    screening = entries.record_lab(ctx, as_user(NURSE), "LACC-007", "ANC 2.1", on=date(2027, 2, 15))
    assert screening.event["date"] == "2027-02-15"
