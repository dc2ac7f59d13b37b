"""The independent review's cases (issue 8) through `trialbot chat --json`, on SQLite and
PostgreSQL: what the investigator is shown after each real entry."""

from __future__ import annotations


def _entry_of(answer, drug: str = "toripalimab") -> str:
    return answer.decision(drug)["trigger"]


def test_an_immune_related_lab_value_without_a_row_is_never_silently_continued(enrolled):
    chat, sid = enrolled, enrolled.sid
    answer = chat(f"lab {sid} ANC 0.3 irae=yes", on=4)
    decision = answer.decision("toripalimab")
    assert decision["action"] == "discontinue"
    assert "other grade IV irAEs that occur for the first time" in decision["rule"]
    assert decision["criterion"].startswith("Grade 4")


def test_a_lab_value_attributed_later_reaches_the_others_rows(enrolled):
    chat, sid = enrolled, enrolled.sid
    first = chat(f"lab {sid} Hb 7.4", on=4)
    note = first.decision("toripalimab", "continue")
    assert note["if_immune_related"]["action"] == "hold"
    attributed = chat(f"attribute {note['trigger']} irae=yes", user=chat.doctor)
    hold = attributed.decision("toripalimab", "hold")
    assert "other grade II–III irAEs" in hold["rule"]


def test_a_corrected_attribution_ends_the_steroid_and_12_week_rules(enrolled):
    chat, sid, doctor = enrolled, enrolled.sid, enrolled.doctor
    assert chat(f"dose {sid} toripalimab", on=0).ok
    ae = chat(f"ae {sid} colitis grade=2 steroid_mg=40", on=10)
    entry = _entry_of(ae)
    hold = chat(f"attribute {entry} irae=yes", user=doctor).decision("toripalimab", "hold")
    assert chat(f"confirm {hold['id']}", user=doctor).ok
    corrected = chat(f'correct {entry} irae=no reason="radiation colitis, not an irAE"', on=11)
    assert corrected.ok, corrected.reply
    late = chat(f"ae {sid} fatigue grade=1", on=90)
    assert late.decision("toripalimab")["action"] != "discontinue", late.reply["decisions"]


def test_the_newest_steroid_dose_is_the_one_in_force(enrolled):
    chat, sid = enrolled, enrolled.sid
    assert chat(f"dose {sid} toripalimab", on=0).ok
    chat(f"ae {sid} colitis grade=2 irae=yes steroid_mg=40", on=10)
    chat(f"ae {sid} colitis grade=0 irae=yes", on=30)
    chat(f"ae {sid} arthralgia grade=1 irae=no steroid_mg=5", on=60)
    late = chat(f"ae {sid} fatigue grade=1 irae=no", on=90)
    assert late.decision("toripalimab")["action"] != "discontinue", late.reply["decisions"]


def test_fever_and_a_grade_3_count_entered_apart_reduce_the_next_cycle(enrolled):
    chat, sid = enrolled, enrolled.sid
    assert chat(f"dose {sid} cisplatin mg=62", on=0).ok
    assert chat(f"ae {sid} fever grade=1", on=3).ok
    lab = chat(f"lab {sid} ANC 0.8 PLT 120", on=4)
    reduce = lab.decision("cisplatin", "reduce")
    assert reduce["dose_percent"] == 80
    assert "grade III neutropenia with fever" in reduce["reason"]


def test_a_grade_3_count_then_fever_the_same_day_reduce_the_next_cycle(enrolled):
    chat, sid = enrolled, enrolled.sid
    assert chat(f"dose {sid} cisplatin mg=62", on=0).ok
    assert chat(f"lab {sid} ANC 0.9", on=4).decision("cisplatin")["action"] == "refer"
    fever = chat(f"ae {sid} fever grade=2", on=4)
    assert fever.decision("cisplatin", "reduce")["dose_percent"] == 80


def test_weekly_cisplatin_suspended_holds_the_whole_first_consolidation_cycle(enrolled):
    chat, sid, doctor = enrolled, enrolled.sid, enrolled.doctor
    assert chat(f"dose {sid} cisplatin mg=62", on=0).ok
    reduce = chat(f"lab {sid} ANC 0.4", on=4).decision("cisplatin", "reduce")
    assert chat(f"confirm {reduce['id']}", user=doctor).ok
    hold = chat(f"lab {sid} ANC 1.2", on=7).decision("cisplatin", "hold")
    assert chat(f"confirm {hold['id']}", user=doctor).ok
    # still grade II on the Friday before consolidation C1 (Mon 26 Apr 2027)
    before_c1 = chat(f"lab {sid} ANC 1.3", on=53)
    assert before_c1.decision("cisplatin")["action"] == "hold"
    paclitaxel = before_c1.decision("paclitaxel", "hold")
    assert "suspended" in paclitaxel["rule"]
    assert chat(f"confirm {paclitaxel['id']}", user=doctor).ok
    calendar = chat(f"calendar {sid}", user=chat.viewer)
    assert "on hold: cisplatin" in calendar.text and "paclitaxel" in calendar.text
    recovered = chat(f"lab {sid} ANC 1.9", on=55)
    assert recovered.decision("cisplatin", "resume")["dose_percent"] == 80
    assert recovered.decision("paclitaxel", "resume")["dose_percent"] == 80
