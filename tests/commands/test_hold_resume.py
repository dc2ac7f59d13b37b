"""`hold`, `resume` and `holds` through `trialbot chat --json` on SQLite and PostgreSQL:
every hold has a way to end, with a recorded reason, and a long hold is listed."""

from __future__ import annotations

import json

from sqlmodel import select

from bot.storage.models import AuditEntry


def _hypothyroid_on_replacement(chat):
    sid = chat.sid
    assert chat(f"dose {sid} toripalimab", on=0).ok
    ae = chat(f"ae {sid} hypothyroidism grade=2 irae=yes", on=11)
    refer = ae.decision("toripalimab", "refer")
    assert "interrupt toripalimab" in refer["ask"] and "hormone replacement" in refer["ask"]
    return refer


def test_the_endocrine_choice_interrupt_then_resume_with_a_reason(enrolled):
    chat, sid, doctor = enrolled, enrolled.sid, enrolled.doctor
    _hypothyroid_on_replacement(chat)
    held = chat(f'hold {sid} toripalimab reason="hypothyroidism: interrupt"', user=doctor)
    assert held.ok, held.reply
    decision = held.reply["decisions"][0]
    assert (decision["action"], decision["status"]) == ("hold", "confirmed")
    assert "Table 3" in decision["rule"]
    patient = chat(f"patient {sid}", user=chat.viewer)
    assert "HELD since" in patient.text
    # grade 2 on levothyroxine for good: the hold never lifts by itself
    still = chat(f"ae {sid} hypothyroidism grade=2 irae=yes", on=40)
    assert still.decision("toripalimab")["action"] in ("hold", "refer")
    resumed = chat(f'resume {sid} toripalimab reason="stable on levothyroxine"', user=doctor)
    assert resumed.ok, resumed.reply
    decision = resumed.reply["decisions"][0]
    assert (
        decision["action"] == "resume" and decision["override_reason"] == "stable on levothyroxine"
    )
    assert "stable on levothyroxine" in resumed.reply["posts"][0]["text"]
    after = chat(f"patient {sid}", user=chat.viewer)
    line = next(x for x in after.text.splitlines() if x.startswith("• toripalimab"))
    assert "HELD" not in line
    with chat.database.transaction(readonly=True) as session:
        audits = session.exec(select(AuditEntry).where(AuditEntry.action == "resume")).all()
    assert len(audits) == 1
    details = (
        audits[0].details if isinstance(audits[0].details, dict) else json.loads(audits[0].details)
    )
    assert details["reason"] == "stable on levothyroxine" and details["drug"] == "toripalimab"
    assert audits[0].actor == doctor


def test_resume_needs_a_reason_the_role_and_a_hold_and_writes_nothing_otherwise(enrolled):
    chat, sid, doctor = enrolled, enrolled.sid, enrolled.doctor
    _hypothyroid_on_replacement(chat)
    assert chat(f'hold {sid} toripalimab reason="interrupt"', user=doctor).ok
    before = {k: v for k, v in chat.counts().items() if k != "audit"}
    no_reason = chat(f"resume {sid} toripalimab", user=doctor)
    assert no_reason.code == 2 and "reason" in no_reason.reply["error"]
    nurse = chat(f'resume {sid} toripalimab reason="ok"', user=chat.nurse)
    assert nurse.code == 2 and "investigator" in nurse.reply["error"]
    unknown = chat(f'resume {sid} toripalimib reason="ok"', user=doctor)
    assert unknown.code == 2 and "toripalimab" in unknown.reply["error"] + unknown.text
    not_held = chat(f'resume {sid} cisplatin reason="ok"', user=doctor)
    assert not_held.code == 2 and "not on hold" in not_held.reply["error"]
    # nothing written but the audit of the refusals
    assert {k: v for k, v in chat.counts().items() if k != "audit"} == before
    admin = chat(f'resume {sid} toripalimab reason="admin closes it"', user=chat.admin)
    assert admin.ok


def test_a_resumed_drug_is_due_again_in_the_calendar(enrolled):
    chat, sid, doctor = enrolled, enrolled.sid, enrolled.doctor
    _hypothyroid_on_replacement(chat)
    assert chat(f'hold {sid} toripalimab reason="interrupt"', user=doctor).ok
    held = chat(f"calendar {sid}", user=chat.viewer)
    assert "on hold: toripalimab" in held.text
    assert chat(f'resume {sid} toripalimab reason="stable"', user=doctor, on=30).ok
    later = chat(f"calendar {sid}", user=chat.viewer)
    assert "on hold: toripalimab" not in later.text
    planned = [
        e
        for e in later.reply["events"]
        if e["item"] == "toripalimab" and e["date"] >= chat.date(30).isoformat()
    ]
    assert planned and planned[0]["status"] in ("planned", "due")


def test_holds_lists_holds_older_than_the_review_time(enrolled):
    chat, sid, doctor = enrolled, enrolled.sid, enrolled.doctor
    _hypothyroid_on_replacement(chat)
    assert chat(f'hold {sid} toripalimab reason="interrupt"', user=doctor).ok
    young = chat("holds", user=chat.viewer, on=20)
    assert young.ok and sid not in young.text
    old = chat("holds", user=chat.viewer, on=11 + 21)
    assert f"*{sid}* toripalimab — on hold since" in old.text and "(21 days)" in old.text
    assert f"resume {sid} toripalimab" in old.text
    chat.monkeypatch.setenv("TRIALBOT_HOLD_REVIEW_AFTER", "7")
    assert sid in chat("holds", user=chat.viewer, on=20).text
    assert sid in chat("holds days=0", user=chat.viewer, on=12).text


def test_holds_older_than_is_a_query_the_digest_can_call(enrolled):
    from datetime import datetime

    from bot.clock import FixedClock
    from bot.services import Request, build_context, queries
    from bot.settings import load_settings

    chat, sid, doctor = enrolled, enrolled.sid, enrolled.doctor
    _hypothyroid_on_replacement(chat)
    assert chat(f'hold {sid} toripalimab reason="interrupt"', user=doctor).ok
    clock = FixedClock(datetime.fromisoformat("2027-04-12T09:00+08:00"))
    ctx = build_context(load_settings(), clock=clock)
    try:
        outcome = queries.holds_older_than(ctx, Request(user=chat.viewer, source="test"))
    finally:
        ctx.db.dispose()
    (hold,) = outcome.data["holds"]
    assert hold["study_id"] == sid and hold["drug"] == "toripalimab"
    assert hold["since"] == chat.date(11).isoformat() and hold["days"] == 31
    assert outcome.data["older_than_days"] == 21
