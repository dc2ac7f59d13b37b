"""Table 3's "Others" rows catch every immune-related toxicity without a row of its own —
lab values included, whether the attribution came with the entry or later."""

from __future__ import annotations

import pytest

from bot.decisions import Review
from bot.decisions.model import Question
from bot.events import Attribution

FIRST_GRADE_4 = "other grade IV irAEs that occur for the first time"
FIRST_GRADE_2_3 = "other grade II–III irAEs that occur for the first time"


@pytest.mark.parametrize(
    ("panel", "action", "cited"),
    [
        ("ANC 0.3", "discontinue", FIRST_GRADE_4),  # neutropenia grade 4
        ("WBC 0.8", "discontinue", FIRST_GRADE_4),  # leucopenia grade 4
        ("LYM 0.1", "discontinue", FIRST_GRADE_4),  # lymphopenia grade 4
        ("Hb 7.5", "hold", FIRST_GRADE_2_3),  # anaemia grade 3
        ("ANC 0.8", "hold", FIRST_GRADE_2_3),  # neutropenia grade 3
        ("ANC 1.2", "hold", FIRST_GRADE_2_3),  # neutropenia grade 2
        ("ALP 400 U/L (35-100)", "hold", FIRST_GRADE_2_3),  # alkaline phosphatase grade 2
    ],
)
def test_an_immune_related_lab_value_without_a_row_falls_to_the_others_rows(
    io_story, panel, action, cited
):
    decision = io_story.decide(io_story.lab(100, panel, irae=True))["toripalimab"]
    assert decision.action == action
    assert cited in decision.rule
    assert decision.needs_confirmation
    assert decision.criterion  # the CTCAE criterion it read


def test_a_later_attribution_sends_the_lab_value_to_the_others_rows(io_story, console_text):
    panel = io_story.lab(100, "ANC 0.3")
    first = io_story.record(panel)["toripalimab"]
    assert first.action == "continue"
    assert first.if_immune_related.action == "discontinue"
    assert first.ask == f"Is {panel.id} immune-related?"
    assert first.questions == [Question(kind="immune_related", entry=panel.id)]
    # answered, on the console, by typing the attribution
    assert f"Is {panel.id} immune-related? `attribute {panel.id} irae=yes|no`" in console_text(
        first
    )
    answer = Attribution(id="E9", date=io_story.day(101), target=panel.id, irae=True, seq=9)
    decision = io_story.decide(answer)["toripalimab"]
    assert decision.action == "discontinue"
    assert FIRST_GRADE_4 in decision.rule


def test_a_lab_value_attributed_not_immune_related_stays_out_of_table3(io_story):
    decision = io_story.decide(io_story.lab(100, "ANC 0.3", irae=False))["toripalimab"]
    assert decision.action == "continue"
    assert "not immune-related" in decision.reason


def test_the_others_rows_and_a_named_row_in_one_panel_take_the_stricter(io_story):
    decision = io_story.decide(io_story.lab(100, "ALT 150 U/L (7-40) ANC 0.3", irae=True))
    assert decision["toripalimab"].action == "discontinue"
    assert "Hepatitis, grade II" in decision["toripalimab"].rule


def test_an_immune_related_lab_episode_recovers_and_resumes_on_an_unattributed_panel(io_story):
    assert io_story.record(io_story.lab(100, "Hb 7.5", irae=True))["toripalimab"].action == "hold"
    still = io_story.record(io_story.lab(107, "Hb 7.8"))["toripalimab"]
    assert still.action == "hold"
    resumed = io_story.record(io_story.lab(114, "Hb 10.5"))["toripalimab"]
    assert resumed.action == "resume"


def test_a_recurrent_grade_3_immune_related_lab_value_discontinues(io_story):
    io_story.record(io_story.lab(100, "ANC 0.8", irae=True))
    io_story.record(io_story.lab(110, "ANC 1.8"))
    io_story.record(io_story.dose(112, "toripalimab"))
    again = io_story.record(io_story.lab(140, "ANC 0.7", irae=True))["toripalimab"]
    assert again.action == "discontinue"
    assert "Recurrent" in again.rule


def test_an_immune_related_lab_value_not_recovered_in_12_weeks_discontinues(io_story):
    io_story.record(io_story.dose(90, "toripalimab"))
    io_story.record(io_story.lab(100, "Hb 7.5", irae=True))
    late = io_story.decide(Review(date=io_story.day(90 + 85)))["toripalimab"]
    assert late.action == "discontinue"
    assert "12 weeks" in late.rule


def test_an_immune_related_grade_4_adverse_event_without_a_row_discontinues(io_story):
    decision = io_story.decide(io_story.ae(100, "Hemolysis", 4, irae=True))["toripalimab"]
    assert decision.action == "discontinue"
    assert FIRST_GRADE_4 in decision.rule


def test_a_grade_below_a_named_row_continues_and_says_it_is_a_reading(io_story):
    decision = io_story.decide(io_story.lab(100, "PLT 60", irae=True))["toripalimab"]
    assert decision.action == "continue"
    assert "Thrombocytopenia (grade 3)" in decision.reason and "READING" in decision.reason


def test_grade_3_lymphopenia_continues_chemotherapy_and_says_it_is_a_reading(story):
    decision = story.decide(story.lab(5, "LYM 0.3"))["cisplatin"]
    assert decision.action == "continue"
    assert "READING" in decision.reason and "referred from grade 4" in decision.reason
