"""The engine's texts say what was found, what the rule gives and what is asked, in
words: never how to answer it in one interface's syntax (`attribute E4 irae=yes|no`,
`confirm D12`, a button). That is each transport's template (`posts/_decision.j2` for
the console, the Slack blocks for the buttons); the engine gives the questions as data.

A broad sample: every term of every Table 3 category at every grade, attributed as
immune-related, not, or not yet, on toripalimab alone and with chemotherapy; the lab
values without a row of their own; the steroid rule's referral; the daily review.
(tests/services/test_replay_equivalence.py checks every decision of every test story.)
"""

from __future__ import annotations

import pytest

from bot.decisions import Review
from bot.decisions.model import Decision


def test_the_check_finds_what_the_engine_used_to_write(command_syntax):
    decision = Decision(
        drug="toripalimab", action="refer", reason="x", rule="r", needs_confirmation=True
    )
    for old in (
        "Is E4 immune-related? attribute E4 irae=yes|no",
        'To interrupt: `hold <study ID> toripalimab reason="…"`',
        "then confirm D12",
    ):
        assert command_syntax(decision.model_copy(update={"ask": old})) == [old]
    for words in ("Is E4 immune-related?", "Interrupt toripalimab until restored to grade 0–I"):
        assert command_syntax(decision.model_copy(update={"ask": words})) == []


def _terms(trial) -> list[str]:
    rules = trial.get("dose_modifications.yaml")
    return sorted({t for c in rules.immunotherapy.categories for t in c.terms})


@pytest.mark.parametrize("plan", ["maintenance", "ccrt"])
def test_no_decision_text_carries_command_syntax(new_story, trial, command_syntax, plan):
    made = []
    for term in _terms(trial):
        for grade in (1, 2, 3, 4):
            for irae in (True, False, None):
                story = new_story(plan)
                made.extend(story.decide(story.ae(100, term, grade, irae=irae)).values())
    for panel in ("ANC 0.3", "ANC 0.8 PLT 40", "Hb 7.5", "ALT 150 U/L (7-40)", "LYM 0.1"):
        for irae in (True, None):
            story = new_story(plan)
            made.extend(story.decide(story.lab(100, panel, irae=irae)).values())
    # the steroid rule, attribution unknown, and an attributed hold reviewed later
    story = new_story(plan)
    story.record(story.dose(90, "toripalimab"))
    story.record(story.ae(100, "Colitis", 1, steroid_mg=40))
    story.record(story.ae(101, "Pneumonitis", 2, irae=True))
    made.extend(story.decide(Review(date=story.day(200))).values())
    assert {d.ask for d in made if d.ask}  # the sample does ask things
    assert any(d.questions for d in made)
    offending = {text for d in made for text in command_syntax(d)}
    assert not offending, sorted(offending)[:5]
