"""The 12-week corticosteroid rule reads the steroid dose in force — the newest recorded,
whatever entry carried it — and attribution as the log says now."""

from __future__ import annotations

from bot.decisions import Review
from bot.decisions.model import Question
from bot.events import Attribution
from bot.history import LogEntry, effective_history

LATE = 90 + 85  # more than 12 weeks after the toripalimab dose of day 90


def _review(story):
    return story.decide(Review(date=story.day(LATE)))


def test_a_newer_lower_dose_on_an_entry_not_immune_related_is_the_dose_in_force(io_story):
    io_story.record(io_story.dose(90, "toripalimab"))
    io_story.record(io_story.ae(100, "Colitis", 2, irae=True, steroid_mg=40))
    io_story.record(io_story.ae(120, "Colitis", 0, irae=True))
    assert _review(io_story)["toripalimab"].action == "discontinue"
    io_story.record(io_story.ae(150, "Hypertension", 1, irae=False, steroid_mg=5))
    assert _review(io_story) == {}


def test_a_newer_higher_dose_on_any_entry_counts_too(io_story):
    io_story.record(io_story.dose(90, "toripalimab"))
    io_story.record(io_story.ae(100, "Colitis", 2, irae=True, steroid_mg=10))
    io_story.record(io_story.ae(120, "Colitis", 0, irae=True))
    assert _review(io_story) == {}
    io_story.record(io_story.ae(150, "Arthralgia", 1, irae=False, steroid_mg=30))
    decision = _review(io_story)["toripalimab"]
    assert decision.action == "discontinue"
    assert "30 mg/day" in decision.reason and "prednisone" in decision.rule


def test_a_later_attribution_not_immune_related_removes_the_rule(io_story):
    io_story.record(io_story.dose(90, "toripalimab"))
    colitis = io_story.ae(100, "Colitis", 2, irae=True, steroid_mg=40)
    io_story.record(colitis)
    io_story.record(io_story.ae(120, "Colitis", 0, irae=True))
    io_story.history.append(
        Attribution(id="E20", date=io_story.day(121), target=colitis.id, irae=False, seq=20)
    )
    io_story.history.append(
        Attribution(id="E21", date=io_story.day(121), target="E4", irae=False, seq=21)
    )
    assert _review(io_story) == {}


def test_steroids_with_attribution_unknown_are_referred_asking(io_story, console_text):
    io_story.record(io_story.dose(90, "toripalimab"))
    event = io_story.ae(100, "Colitis", 1, steroid_mg=40)
    io_story.history.append(event)
    decision = _review(io_story)["toripalimab"]
    assert decision.action == "refer"
    assert decision.if_immune_related.action == "discontinue"
    assert f"is {event.id} immune-related?" in decision.ask
    assert decision.questions == [Question(kind="immune_related", entry=event.id)]
    assert f"immune-related? `attribute {event.id} irae=yes|no`; then `confirm D1`" in console_text(
        decision
    )


def test_an_unknown_attribution_answered_yes_later_applies_the_rule(io_story):
    io_story.record(io_story.dose(90, "toripalimab"))
    event = io_story.ae(100, "Colitis", 1, steroid_mg=40)
    io_story.history.append(event)
    io_story.history.append(
        Attribution(id="E9", date=io_story.day(101), target=event.id, irae=True, seq=9)
    )
    assert _review(io_story)["toripalimab"].action == "discontinue"


def test_a_correction_of_the_entrys_attribution_supersedes_an_earlier_attribution(io_story):
    """E1 unknown; E2 says immune-related; E3 corrects E1 to irae=no: E3 is newest."""
    ae = io_story.ae(100, "Colitis", 2, steroid_mg=40)
    rows = [
        LogEntry(number=1, event=ae.model_copy(update={"id": None})),
        LogEntry(number=2, event=Attribution(date=ae.date, target="E1", irae=True)),
        LogEntry(number=3, event=ae.model_copy(update={"id": None, "irae": False}), corrects=1),
    ]
    history = effective_history(rows)
    assert [e.kind for e in history] == ["ae"]
    # a correction that leaves irae alone keeps the attribution
    rows[2] = LogEntry(number=3, event=ae.model_copy(update={"id": None, "grade": 3}), corrects=1)
    assert [e.kind for e in effective_history(rows)] == ["ae", "attribution"]
    # an attribution recorded after the correction is in force again
    rows[2] = LogEntry(
        number=3, event=ae.model_copy(update={"id": None, "irae": False}), corrects=1
    )
    rows.append(LogEntry(number=4, event=Attribution(date=ae.date, target="E1", irae=True)))
    assert [e.kind for e in effective_history(rows)] == ["ae", "attribution"]
