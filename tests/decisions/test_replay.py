"""Replaying a patient's entries through the engine, the way the service records them."""

from __future__ import annotations

from datetime import date

import pytest

from bot.calendar import SiteCalendar, schedule_of, sites_of
from bot.decisions import decide
from bot.decisions.engine import Review
from bot.decisions.planning import decision_context
from bot.decisions.replay import PatientRules, record, replay, start, treatment_json
from bot.errors import UserError
from bot.events import AdverseEvent, Enrolment, LabPanel, Proposal, Verdict
from bot.history_file import Vocabulary, read_history

DRUGS = ["cisplatin", "paclitaxel", "toripalimab"]
PLAN = {"start": "2027-03-01", "bsa": 1.62, "baseline": "ALT 30 U/L (7-40) CR 70"}


@pytest.fixture(scope="module")
def vocabulary(trial, ctcae) -> Vocabulary:
    return Vocabulary(
        schedule=schedule_of(trial),
        sites=sites_of(trial),
        ranges=trial.get("reference_ranges.yaml"),
        ctcae_loader=lambda: ctcae,
    )


@pytest.fixture
def run(trial, ctcae, vocabulary):
    """`run(events, plan=…)` → (HistoryFile, PatientRules, Replay)."""

    def go(events: list[dict], plan: dict | None = None):
        history = read_history({"plan": plan or PLAN, "events": events}, vocabulary)
        patient = PatientRules(
            schedule=schedule_of(trial),
            rules=trial.get("dose_modifications.yaml"),
            ctcae=ctcae,
            plan=history.plan,
            site=SiteCalendar(sites_of(trial).config(history.plan.site)),
        )
        return history, patient, replay(patient, history.entries, [history.enrolment()])

    return go


def actions(step) -> dict[str, tuple[str, str | None]]:
    return {d.drug: (d.action, i) for d, i in zip(step.decisions, step.ids, strict=True)}


NEUTROPENIA = [
    {"date": "2027-03-01", "dose": "cisplatin", "mg": 65},
    {"date": "2027-03-05", "lab": "ANC 0.4 PLT 162"},
    {"date": "2027-03-07", "lab": "ANC 1.2"},
    {"date": "2027-03-12", "lab": "ANC 1.4"},
    {"date": "2027-03-14", "lab": "ANC 1.9 PLT 160"},
]


def test_labs_alone_reduce_then_suspend_then_resume_at_the_dose_before_suspension(run):
    _, _, replayed = run(NEUTROPENIA)
    steps = replayed.steps
    assert actions(steps[1])["cisplatin"] == ("reduce", "D1")
    assert steps[1].decisions[0].dose_percent == 80
    assert actions(steps[2])["cisplatin"] == ("hold", "D2")
    assert "not recovered to grade 0–I" in steps[2].decisions[0].reason
    assert actions(steps[3])["cisplatin"] == ("hold", None)  # still suspended, nothing new
    resumed = steps[4].decisions[0]
    assert (resumed.drug, resumed.action, resumed.dose_percent) == ("cisplatin", "resume", 80)
    assert steps[4].ids[0] == "D3"
    course = replayed.state["cisplatin"]
    assert course.open_hold is None and course.percent_on(date(2027, 3, 15)) == 80


def test_each_proposal_follows_its_entry_with_ids_in_order(run):
    _, _, replayed = run(NEUTROPENIA)
    kinds = [(e.kind, e.id) for e in replayed.history]
    assert kinds[0] == ("enrolment", None)
    assert kinds[1:] == [
        ("dose", "E1"),
        ("lab", "E2"),
        ("proposal", "D1"),
        ("lab", "E3"),
        ("proposal", "D2"),
        ("lab", "E4"),
        ("lab", "E5"),
        ("proposal", "D3"),
    ]
    proposals = replayed.proposals
    assert [(p.decision_id, p.trigger, p.action) for p in proposals] == [
        ("D1", "E2", "reduce"),
        ("D2", "E3", "hold"),
        ("D3", "E5", "resume"),
    ]
    assert [e.seq for e in replayed.history] == list(range(len(replayed.history)))


def test_every_step_is_the_engine_on_the_history_before_it(run):
    """The replay is the service's loop: context and decision from the history so far."""
    _, patient, replayed = run(NEUTROPENIA)
    history = list(replayed.history)
    for step in replayed.steps:
        position = history.index(step.entry)
        before = history[:position]
        context = decision_context(
            patient.schedule,
            patient.rules,
            patient.ctcae,
            patient.plan,
            patient.site,
            before,
            step.entry.date,
        )
        assert list(step.decisions) == decide(context, before, step.entry)


def test_next_dose_follows_the_calendar_and_the_reduced_level(run):
    _, _, replayed = run(NEUTROPENIA)
    reduce = replayed.steps[1].decisions[0]
    assert reduce.next_dose.date == date(2027, 3, 8)
    assert reduce.next_dose_mg == 52  # 80 % of 40 mg/m² × 1.62 m²


def test_an_override_undoes_the_proposal_so_the_next_grade_4_reduces_again(run):
    events = [
        *NEUTROPENIA[:2],
        {"date": "2027-03-06", "verdict": "D1", "status": "overridden", "reason": "lab error"},
        {"date": "2027-03-07", "lab": "ANC 0.3"},
    ]
    _, _, replayed = run(events)
    assert replayed.steps[2].decisions == ()
    again = replayed.steps[3]
    assert actions(again)["cisplatin"] == ("reduce", "D2")
    verdict = next(e for e in replayed.history if isinstance(e, Verdict))
    assert (verdict.decision_id, verdict.status, verdict.id) == ("D1", "overridden", "E3")


def test_a_confirmation_marks_the_state_confirmed(run):
    _, _, unconfirmed = run(NEUTROPENIA[:2])
    assert treatment_json(unconfirmed.state, DRUGS)["cisplatin"]["awaiting_confirmation"]
    _, _, confirmed = run(
        [*NEUTROPENIA[:2], {"date": "2027-03-05", "verdict": "D1", "status": "confirmed"}]
    )
    state = treatment_json(confirmed.state, DRUGS)
    assert state["cisplatin"] == {
        "status": "active",
        "dose_percent": 80,
        "held_since": None,
        "discontinued_on": None,
        "awaiting_confirmation": False,
    }
    assert state["toripalimab"]["dose_percent"] == 100


def test_the_baseline_of_the_plan_reaches_the_engine(run):
    """ALT 130 with ULN 40 is 3.25×ULN; against a baseline of 60 (abnormal) it is only
    grade 1 in CTCAE, but Table 3 grades hepatitis by ULN multiples: grade 2 → hold."""
    plan = {**PLAN, "baseline": "ALT 60 U/L (7-40)"}
    events = [
        {"date": "2027-03-01", "dose": "toripalimab"},
        {"date": "2027-03-10", "lab": "ALT 130 U/L (7-40)", "irae": True},
    ]
    history, _, replayed = run(events, plan=plan)
    assert history.enrolment().baseline[0].value == 60
    decision = {d.drug: d for d in replayed.steps[1].decisions}["toripalimab"]
    assert decision.action == "hold"
    assert "Hepatitis" in decision.rule
    # Table 3 reads the ULN multiple (3.25×: grade II); CTCAE against the abnormal
    # baseline (2.2×) would say grade 1 — the criterion shows both.
    assert "read against the ULN" in decision.criterion
    assert "baseline abnormal" in decision.criterion


def test_a_review_runs_the_12_week_rule_without_adding_an_event(run):
    events = [
        {"date": "2027-03-01", "dose": "toripalimab"},
        {"date": "2027-03-10", "ae": "colitis", "grade": 2, "irae": True},
        {"date": "2027-05-24", "review": True},  # day 84 after the last dose: not yet
        {"date": "2027-05-25", "review": True},  # day 85
    ]
    _, _, replayed = run(events)
    assert replayed.steps[2].decisions == ()
    late = replayed.steps[3]
    assert actions(late)["toripalimab"] == ("discontinue", "D2")
    assert "12 weeks" in late.decisions[0].rule
    assert not any(e.kind == "review" for e in replayed.history)
    assert replayed.state["toripalimab"].discontinued_on == date(2027, 5, 25)


def test_record_extends_a_replay_without_changing_it(run, vocabulary):
    _, patient, replayed = run(NEUTROPENIA[:2])
    before = replayed.history
    after = record(patient, replayed, Review(date=date(2027, 3, 6), id="E3"))
    assert replayed.history == before and len(replayed.steps) == 2
    assert len(after.steps) == 3


def test_a_verdict_for_a_decision_never_proposed_is_refused(run):
    events = [*NEUTROPENIA[:2], {"date": "2027-03-06", "verdict": "D7", "status": "confirmed"}]
    with pytest.raises(UserError) as refused:
        run(events)
    message = refused.value.message
    assert message.startswith("entry E3 (2027-03-06): verdict: D7 was not proposed")
    assert "the decisions proposed so far: D1" in message


def test_a_second_verdict_on_one_decision_is_refused(run):
    events = [
        *NEUTROPENIA[:2],
        {"date": "2027-03-06", "verdict": "D1", "status": "confirmed"},
        {"date": "2027-03-07", "verdict": "D1", "status": "overridden", "reason": "changed mind"},
    ]
    with pytest.raises(UserError) as refused:
        run(events)
    assert "entry E4 (2027-03-07): verdict: D1 (cisplatin reduce) was already confirmed" in (
        refused.value.message
    )


def test_start_sequences_the_initial_events(vocabulary):
    history = read_history({"plan": PLAN}, vocabulary)
    empty = start([history.enrolment()])
    assert isinstance(empty.history[0], Enrolment) and empty.steps == ()
    assert empty.state == {}


def test_proposals_are_not_made_for_information_only_decisions(run):
    _, _, replayed = run([{"date": "2027-03-05", "lab": "ANC 1.2"}])
    (step,) = replayed.steps
    assert all(i is None for i in step.ids)
    assert all(not d.needs_confirmation for d in step.decisions)
    assert not [e for e in replayed.history if isinstance(e, Proposal)]
    assert isinstance(replayed.history[-1], LabPanel)


# --- the findings memo: a speed-up that never changes an answer --------------------------
def _with_memo(story, memo):
    from dataclasses import replace

    return replace(story.context(), memo=memo)


def test_a_warm_memo_gives_the_same_decisions(io_story):
    from bot.decisions import FindingsMemo

    io_story.record(io_story.lab(100, "ALT 150 U/L (7-40)", irae=True))
    io_story.record(io_story.ae(103, "Colitis", 2, irae=True))
    memo = FindingsMemo()
    new = io_story.lab(110, "ALT 60 U/L (7-40)")
    cold = decide(io_story.context(), io_story.history, new)
    first = decide(_with_memo(io_story, memo), io_story.history, new)
    again = decide(_with_memo(io_story, memo), io_story.history, new)
    assert cold == first == again
    assert cold[0].action == "hold" and "Colitis" in cold[0].reason  # colitis still open


def test_a_corrected_entry_is_graded_again_not_taken_from_the_memo(io_story):
    from bot.decisions import FindingsMemo

    memo = FindingsMemo()

    def pneumonitis(number: int, day: int, grade: int) -> AdverseEvent:
        return AdverseEvent(
            id=f"E{number}",
            seq=number,
            date=io_story.day(day),
            term="Pneumonitis",
            grade=grade,
            irae=True,
        )

    first, healed, again = pneumonitis(1, 100, 2), pneumonitis(2, 110, 1), pneumonitis(3, 140, 2)
    recurrent = decide(_with_memo(io_story, memo), [first, healed], again)
    assert recurrent[0].action == "discontinue"  # a recurrent grade II pneumonitis
    # The store corrects E1 (same id, new content): it was grade 1, so grade 2 is new.
    corrected = first.model_copy(update={"grade": 1})
    answer = decide(_with_memo(io_story, memo), [corrected, healed], again)
    assert answer == decide(io_story.context(), [corrected, healed], again)
    assert answer[0].action == "hold"


def test_a_full_memo_starts_again_and_answers_the_same(io_story):
    from bot.decisions import FindingsMemo

    memo = FindingsMemo(max_events=1)
    io_story.record(io_story.lab(100, "ALT 150 U/L (7-40)", irae=True))
    io_story.record(io_story.lab(104, "ALT 160 U/L (7-40)", irae=True))
    new = io_story.lab(110, "ALT 60 U/L (7-40)")
    for _ in range(3):
        assert decide(_with_memo(io_story, memo), io_story.history, new) == decide(
            io_story.context(), io_story.history, new
        )
