"""Whole patient stories through `trialbot chat --json`, as a script replaying a trial:
each command one process, the clock moved with TRIALBOT_NOW, on SQLite and PostgreSQL."""

from __future__ import annotations


def _cisplatin(events):
    return [e for e in events if e["item"] == "cisplatin"]


def _state(chat, drug: str) -> str:
    """The drug's line of the patient view."""
    text = chat(f"patient {chat.sid}", user=chat.viewer).text
    return next(line for line in text.splitlines() if line.startswith(f"• {drug}"))


def test_grade_4_neutropenia_reduce_hold_recover_resume(enrolled):
    chat, sid, doctor = enrolled, enrolled.sid, enrolled.doctor
    # weekly cisplatin, week 0, at the full dose (40 mg/m², BSA 1.56 m² → 62 mg)
    assert chat(f"dose {sid} cisplatin mg=62", on=0).ok
    full = _cisplatin(chat(f"calendar {sid}", user=chat.viewer).reply["events"])
    assert full[1]["dose"]["mg"] == 62 and full[1]["dose"]["percent"] == 100

    # Friday's labs: grade 4 neutropenia → the next cycle is reduced by 20%
    lab = chat(f"lab {sid} ANC 0.4 PLT 62 Hb 9.1", on=4)
    reduce = lab.decision("cisplatin", "reduce")
    assert reduce["dose_percent"] == 80
    assert reduce["next_dose"] == {
        "date": chat.date(7).isoformat(),
        "mg": 50.0,
        "label": "Cisplatin weekly dose 2",
    }
    assert "reduced by 20%" in reduce["rule"] and reduce["criterion"].startswith("Grade 4")
    assert f"confirm {reduce['id']}" in lab.text
    assert "awaiting confirmation" in _state(chat, "cisplatin")
    assert chat(f"confirm {reduce['id']}", user=doctor).ok
    assert "reduced to 80%" in _state(chat, "cisplatin")
    assert "awaiting confirmation" not in _state(chat, "cisplatin")

    # Monday, before the next cycle: not recovered to grade 0–I → suspended
    not_recovered = chat(f"lab {sid} ANC 1.2", on=7)
    hold = not_recovered.decision("cisplatin", "hold")
    assert "suspended" in hold["rule"]
    assert chat(f"confirm {hold['id']}", user=doctor).ok
    assert f"HELD since {chat.date(7):%a %d %b %Y}" in _state(chat, "cisplatin")
    held = chat(f"calendar {sid}", user=chat.viewer)
    assert f"on hold: cisplatin since {chat.date(7):%a %d %b %Y}" in held.text

    # recovered to grade 0–I → resumed at the dose before the suspension (80 %)
    recovered = chat(f"lab {sid} ANC 1.9", on=11)
    resume = recovered.decision("cisplatin", "resume")
    assert resume["dose_percent"] == 80
    assert chat(f"confirm {resume['id']}", user=doctor).ok
    assert "reduced to 80%" in _state(chat, "cisplatin")

    # the reduced dose is given; the calendar doses the later weekly cycles at 80 %
    assert chat(f"dose {sid} cisplatin mg=50", on=14).ok
    later = [
        e
        for e in _cisplatin(chat(f"calendar {sid}", user=chat.viewer).reply["events"])
        if e["date"] > chat.date(14).isoformat() and e["phase"] == "ccrt"
    ]
    assert later and all(e["dose"]["percent"] == 80 and e["dose"]["mg"] == 50 for e in later)
    assert chat("decisions", user=doctor).reply["decisions"] == []


def test_pneumonitis_hold_recover_resume_recur_discontinue(enrolled):
    chat, sid, doctor = enrolled, enrolled.sid, enrolled.doctor
    assert chat(f"dose {sid} toripalimab", on=0).ok

    # pneumonitis grade 2, attribution unknown: referred, with what would follow
    ae = chat(f"ae {sid} pneumonitis grade=2", on=10)
    refer = ae.decision("toripalimab", "refer")
    assert refer["if_immune_related"]["action"] == "hold"
    assert "Pneumonitis, grade II" in refer["if_immune_related"]["rule"]
    assert refer["ask"] == f"Is {refer['trigger']} immune-related?"
    assert f"`attribute {refer['trigger']} irae=yes|no`" in ae.text
    assert "if immune-related: HOLD" in ae.text

    # immune-related → Table 3: interrupt toripalimab
    attributed = chat(f"attribute {refer['trigger']} irae=yes", user=doctor)
    hold = attributed.decision("toripalimab", "hold")
    assert hold["rule"] == "Table 3, Pneumonitis, grade II"
    assert chat(f"confirm {hold['id']}", user=doctor).ok
    # the attribution answered the referral's question: it is closed, not left open
    assert "already withdrawn" in chat(f"confirm {refer['id']}", user=doctor).reply["error"]
    assert f"HELD since {chat.date(10):%a %d %b %Y}" in _state(chat, "toripalimab")

    # restored to grade I → resume
    recovered = chat(f"ae {sid} pneumonitis grade=1 irae=yes", on=20)
    resume = recovered.decision("toripalimab", "resume")
    assert chat(f"confirm {resume['id']}", user=doctor).ok
    assert "HELD" not in _state(chat, "toripalimab")
    assert chat(f"dose {sid} toripalimab", on=21).ok

    # recurrent grade 2 → discontinue
    recurrence = chat(f"ae {sid} pneumonitis grade=2 irae=yes", on=30)
    stop = recurrence.decision("toripalimab", "discontinue")
    assert "recurrent grade II" in stop["rule"]
    assert chat(f"confirm {stop['id']}", user=doctor).ok
    assert f"DISCONTINUED on {chat.date(30):%a %d %b %Y}" in _state(chat, "toripalimab")
    calendar = chat(f"calendar {sid}", user=chat.viewer).reply["events"]
    after = [
        e
        for e in calendar
        if e["item"] == "toripalimab"
        and e["date"] > chat.date(30).isoformat()
        and e["status"] in ("planned", "due")
    ]
    assert after == []
