"""On-call rota and escalation: at once a copy in the site channel and a DM to the on-call
investigator, then a DM to the backup, then the channel with @here; an acknowledgement (ack, confirm, override, attribute) stops it at once
and for good; nobody on call goes to the channel at once; delays are real minutes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from bot.errors import UserError
from bot.services import alerts, entries, rota, verdicts
from bot.services.members import set_role
from bot.storage.models import AlertRecord, AuditEntry, OnCallEntry
from tests.scheduler.conftest import ADMIN, BACKUP, DAY1, DOCTOR, NURSE, VIEWER, as_user, enrol

MONDAY_0800 = datetime(2027, 3, 8, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai, day 1
RAISED = MONDAY_0800 + timedelta(minutes=5)  # when the test's entries are recorded


def _lab(ctx, text="ANC 0.4", study_id="LACC-007"):
    return entries.record_lab(ctx, as_user(NURSE), study_id, text)


def _kinds(posts):
    return [(p.kind, p.channel) for p in posts]


def test_the_chain_climbs_in_real_minutes_and_stops_when_acknowledged(ctx, run):
    enrol(ctx)
    rota.set_rota(ctx, as_user(DOCTOR), DOCTOR, backup=BACKUP)
    run.at(MONDAY_0800)
    run.clock.set(RAISED)
    run.posts.clear()
    outcome = _lab(ctx)
    decision = next(d["id"] for d in outcome.decisions if d["status"] == "proposed")
    run.tick()
    copies = {(p.kind, p.channel, p.key) for p in run.posts if p.kind == "decision_alert"}
    assert copies == {
        ("decision_alert", "#trial-main", f"decision:{decision}:alert"),
        ("decision_alert", DOCTOR, f"decision:{decision}:alert:dm"),
    }
    dm = next(p for p in run.posts if p.channel == DOCTOR)
    buttons = [e["action_id"] for b in dm.blocks if b["type"] == "actions" for e in b["elements"]]
    assert buttons == ["decision_confirm", "decision_override", "alert_ack"]
    run.posts.clear()

    run.at(RAISED + timedelta(minutes=29, seconds=59))
    assert run.posts == []
    run.at(RAISED + timedelta(minutes=30))
    assert _kinds(run.posts) == [("decision_alert", BACKUP)]
    assert f"{decision} was not acknowledged by <@{DOCTOR}>" in run.posts[0].text
    run.posts.clear()

    alerts.ack(ctx, as_user(BACKUP), decision)
    run.at(RAISED + timedelta(hours=3))
    assert run.posts == []  # acknowledged: never escalates again
    with ctx.db.transaction(readonly=True) as session:
        record = session.exec(select(AlertRecord).where(AlertRecord.subject == decision)).one()
        trail = [
            (a.action, a.details.get("step"), a.details.get("to"))
            for a in session.exec(select(AuditEntry).order_by(AuditEntry.id))
            if a.subject == f"alert:{decision}"
        ]
    assert (record.acked_by, record.acked_how, record.step) == (BACKUP, "ack", "backup")
    assert trail == [
        ("alert", "oncall", "#trial-main"),
        ("alert", "oncall", DOCTOR),
        ("alert", "backup", BACKUP),
        ("alert_ack", "backup", None),
    ]


def test_unacknowledged_by_the_backup_it_goes_to_the_channel_with_here(ctx, run):
    enrol(ctx)
    rota.set_rota(ctx, as_user(DOCTOR), DOCTOR, backup=BACKUP)
    run.at(MONDAY_0800)
    run.clock.set(RAISED)
    _lab(ctx)
    run.tick()
    run.at(RAISED + timedelta(minutes=30))
    run.posts.clear()
    run.at(RAISED + timedelta(minutes=59))
    assert run.posts == []
    run.at(RAISED + timedelta(minutes=60))
    assert _kinds(run.posts) == [("decision_alert", "#trial-main")]
    assert "<!here>" in run.posts[0].text
    run.posts.clear()
    run.at(MONDAY_0800 + timedelta(days=1))
    assert [p for p in run.posts if p.kind == "decision_alert"] == []  # the last step


@pytest.mark.parametrize("how", ["confirm", "override", "attribute"])
def test_acting_on_the_decision_counts_as_acknowledging(ctx, run, how):
    enrol(ctx)
    rota.set_rota(ctx, as_user(DOCTOR), DOCTOR, backup=BACKUP)
    run.at(MONDAY_0800)
    run.clock.set(RAISED)
    outcome = _lab(ctx, "PLT 40")  # grade 3: a referral asking whether it is immune-related
    proposed = [d for d in outcome.decisions if d["status"] == "proposed"]
    assert proposed
    decision = proposed[0]["id"]
    if how == "confirm":
        verdicts.confirm(ctx, as_user(DOCTOR), decision)
    elif how == "override":
        verdicts.override(ctx, as_user(DOCTOR), decision, "discussed with the patient")
    else:
        entries.attribute(ctx, as_user(DOCTOR), outcome.event["id"], False)
    run.posts.clear()
    run.at(MONDAY_0800 + timedelta(hours=2))
    assert [p for p in run.posts if p.key == f"alert:{decision}:backup"] == []
    if how == "confirm":  # the other decision of the entry was not acted on: it escalates
        others = {d["id"] for d in proposed} - {decision}
        assert {p.key for p in run.posts if p.channel == BACKUP} == {
            f"alert:{d}:backup" for d in others
        }
    with ctx.db.transaction(readonly=True) as session:
        record = session.exec(select(AlertRecord).where(AlertRecord.subject == decision)).one()
    assert record.acked_how == how and record.acked_by == DOCTOR


def test_with_nobody_on_call_the_channel_gets_it_at_once_and_the_digest_says_so(ctx, run):
    enrol(ctx)
    run.at(MONDAY_0800)
    run.clock.set(RAISED)
    run.posts.clear()
    _lab(ctx)
    run.tick()
    assert [(p.kind, p.channel) for p in run.posts] == [("decision_alert", "#trial-main")]
    assert "nobody is on call" in run.posts[0].text
    run.at(MONDAY_0800 + timedelta(days=1))
    digest = next(p for p in run.posts if p.kind == "digest")
    assert "Nobody is on call" in digest.text


def test_a_grade_3_entry_without_a_decision_alerts_the_on_call_investigator(ctx, run):
    enrol(ctx)
    rota.set_rota(ctx, as_user(DOCTOR), DOCTOR)
    run.at(MONDAY_0800)
    run.clock.set(RAISED)
    run.posts.clear()
    outcome = entries.record_ae(ctx, as_user(NURSE), "LACC-007", "fatigue", 3, irae=False)
    run.tick()
    dm = [p for p in run.posts if p.channel == DOCTOR]
    assert dm and "grade 3" in dm[0].text
    channel = [p for p in run.posts if p.channel == "#trial-main" and p.kind == dm[0].kind]
    assert channel and channel[0].text == dm[0].text  # the same alert, two copies
    subject = outcome.event["id"]
    if not outcome.decisions:
        assert dm[0].kind == "grade_alert" and f"ack {subject}" in dm[0].text


def test_escalation_delays_are_real_minutes_across_a_dst_change(site_ctx, sched_clock):
    from tests.scheduler.conftest import NEW_YORK, Run

    ctx = site_ctx(**NEW_YORK)
    run = Run(ctx, sched_clock)
    enrol(ctx, start=datetime(2027, 3, 8).date())
    rota.set_rota(ctx, as_user(DOCTOR), DOCTOR, backup=BACKUP)
    # 01:50 EST on Sunday 14 March 2027; at 02:00 the clocks jump to 03:00 EDT
    raised = datetime(2027, 3, 14, 6, 50, tzinfo=UTC)
    run.at(raised)
    run.clock.set(raised)
    _lab(ctx)
    run.tick()
    run.posts.clear()
    run.at(raised + timedelta(minutes=29))  # 03:19 EDT local: a wall clock says 89 minutes
    assert [p for p in run.posts if p.channel == BACKUP] == []
    run.at(raised + timedelta(minutes=30))
    assert [p.kind for p in run.posts if p.channel == BACKUP] == ["decision_alert"]


def test_the_rota_now_and_next_and_who_may_set_it(ctx):
    now = ctx.now()
    rota.set_rota(ctx, as_user(DOCTOR), DOCTOR, backup=BACKUP)
    rota.set_rota(ctx, as_user(DOCTOR), BACKUP, start="2027-03-06", end="2027-03-08")
    shown = rota.show_rota(ctx, as_user(VIEWER)).data
    assert shown["now"]["user"] == DOCTOR and shown["now"]["backup"] == BACKUP
    assert shown["next"]["user"] == BACKUP
    with ctx.db.transaction(readonly=True) as session:
        weekend = rota.on_call_at(session, "main", datetime(2027, 3, 6, 12, tzinfo=UTC))
        after = rota.on_call_at(session, "main", datetime(2027, 3, 8, 12, tzinfo=UTC))
        before = rota.on_call_at(session, "main", now - timedelta(hours=1))
    assert weekend.user == BACKUP and after.user == DOCTOR and before is None
    with pytest.raises(UserError, match="needs the investigator role"):
        rota.set_rota(ctx, as_user(NURSE), DOCTOR)
    with pytest.raises(UserError, match="cannot be on call"):
        rota.set_rota(ctx, as_user(DOCTOR), NURSE)
    with pytest.raises(UserError, match="is not after"):
        rota.set_rota(ctx, as_user(DOCTOR), DOCTOR, start="2027-03-09", end="2027-03-08")
    with pytest.raises(UserError) as refused:
        rota.set_rota(ctx, as_user(DOCTOR), DOCTOR, start="next tuesday")
    assert refused.value.field == "from"


def test_the_role_flag_is_a_rota_entry_with_no_end(ctx):
    set_role(ctx, as_user(ADMIN), DOCTOR, "investigator", on_call=True)
    with ctx.db.transaction(readonly=True) as session:
        entries_ = session.exec(select(OnCallEntry)).all()
        current = rota.on_call_at(session, "main", ctx.now())
    assert [(e.user_id, e.ends_at) for e in entries_] == [(DOCTOR, None)]
    assert current.user == DOCTOR
    ctx.clock.advance(hours=1)
    set_role(ctx, as_user(ADMIN), DOCTOR, "investigator", on_call=False)
    with ctx.db.transaction(readonly=True) as session:
        assert rota.on_call_at(session, "main", ctx.now()) is None
    assert DAY1  # the site calendar of the fixture


def test_ack_needs_an_investigator_and_names_a_real_alert(ctx, run):
    enrol(ctx)
    run.at(MONDAY_0800)
    run.clock.set(RAISED)
    outcome = _lab(ctx)
    decision = next(d["id"] for d in outcome.decisions if d["status"] == "proposed")
    with pytest.raises(UserError, match="needs the investigator role"):
        alerts.ack(ctx, as_user(NURSE), decision)
    with pytest.raises(UserError, match="no alert about D99"):
        alerts.ack(ctx, as_user(DOCTOR), "D99")
    with pytest.raises(UserError, match="is not an alert"):
        alerts.ack(ctx, as_user(DOCTOR), "LACC-007")
    first = alerts.ack(ctx, as_user(DOCTOR), decision.lower())
    again = alerts.ack(ctx, as_user(DOCTOR), decision)
    assert first.data["already"] is False and again.data["already"] is True


def test_the_audit_names_who_acted_at_each_step(ctx, run):
    """The copies an entry raises are the recording member's act; each escalation step
    and a withdrawal are the scheduler's system principal's (`Request.scheduler()`)."""
    from bot.services.context import Request

    system = Request.scheduler()
    enrol(ctx)
    rota.set_rota(ctx, as_user(DOCTOR), DOCTOR, backup=BACKUP)
    run.at(MONDAY_0800)
    run.clock.set(RAISED)
    outcome = _lab(ctx)
    decision = next(d["id"] for d in outcome.decisions if d["status"] == "proposed")
    run.at(RAISED + timedelta(minutes=30))
    run.at(RAISED + timedelta(minutes=60))
    with ctx.db.transaction(readonly=True) as session:
        trail = [
            (a.action, a.details.get("step"), a.actor, a.details.get("source"))
            for a in session.exec(select(AuditEntry).order_by(AuditEntry.id))
            if a.subject == f"alert:{decision}"
        ]
    assert trail == [
        ("alert", "oncall", NURSE, "test"),
        ("alert", "oncall", NURSE, "test"),
        ("alert", "backup", system.user, "scheduler"),
        ("alert", "channel", system.user, "scheduler"),
    ]


def test_with_nobody_on_call_an_entry_with_two_decisions_pings_the_channel_once(ctx, run):
    """Two decisions from one entry and nobody on call: both alerts reach the channel,
    each with its own buttons, but only the first calls @here (one page per entry)."""
    enrol(ctx)
    run.at(MONDAY_0800)
    run.clock.set(RAISED)
    run.posts.clear()
    outcome = _lab(ctx, "ANC 0.4 ALT 400")
    proposed = [d["id"] for d in outcome.decisions if d["status"] == "proposed"]
    assert len(proposed) >= 2, proposed
    run.tick()
    alerts_sent = [p for p in run.posts if p.kind == "decision_alert"]
    assert [p.channel for p in alerts_sent] == ["#trial-main"] * len(proposed)
    assert all("nobody is on call" in p.text for p in alerts_sent)
    assert sum("<!here>" in p.text for p in alerts_sent) == 1
    assert "<!here>" in alerts_sent[0].text
