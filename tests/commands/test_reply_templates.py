"""Every decision kind renders through the reply templates (and the shared decision
template they include): drug, action, dose, next dose, why, rule, CTCAE criterion, and
what the investigator must do."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.decisions.model import Conditional, Decision, NextDose, Question
from bot.render import Renderer

NEXT = NextDose(date=date(2027, 3, 8), label="Cisplatin weekly dose 2", mg_at_full_dose=62.0)
COMMON = {
    "reason": "ANC 0.4 ×10^9/L: Neutrophil count decreased grade 4",
    "rule": "Protocol, Toxicity & dose modifications",
    "criterion": "Grade 4: <500/mm3; <0.5 x 10e9 /L",
    "trigger": "E4",
}


def decision(action: str, status: str = "proposed", **extra) -> dict:
    fields = {**COMMON, **extra}
    made = Decision(
        drug=fields.pop("drug", "cisplatin"),
        action=action,
        needs_confirmation=status == "proposed",
        **fields,
    )
    return {**made.to_json("D12"), "status": status}


KINDS = {
    "continue": decision("continue", "info", dose_percent=80, next_dose=NEXT),
    "hold": decision("hold"),
    "reduce": decision("reduce", dose_percent=80, next_dose=NEXT),
    "resume": decision("resume", dose_percent=80, next_dose=NEXT),
    "discontinue": decision("discontinue"),
    "refer": decision("refer", ask="Decide: further reduction, suspension or discontinuation"),
    "refer if immune-related": decision(
        "refer",
        drug="toripalimab",
        ask="Is E4 immune-related?",
        questions=[Question(kind="immune_related", entry="E4")],
        if_immune_related=Conditional(
            action="hold", rule="Table 3, Pneumonitis, grade II", management="Interrupt"
        ),
    ),
}


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def _outcome(decisions: list[dict], kind: str = "lab") -> dict:
    return {
        "operation": kind,
        "study_id": "LACC-007",
        "event": {"id": "E4", "kind": kind, "date": "2027-03-05", "irae": None},
        "grades": [],
        "decisions": decisions,
        "events": [],
        "posts": [],
        "data": {},
        "replayed": False,
    }


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_decision_kind_renders_in_a_lab_reply(renderer, kind):
    item = KINDS[kind]
    text = renderer.render("replies/lab.j2", outcome=_outcome([item]), grades=[])
    assert "D12" in text and item["drug"] in text
    action_word = {"refer": "REFER"}.get(item["action"], item["action"].upper())
    assert action_word in text
    if item["status"] == "proposed":
        assert "`confirm D12`" in text and 'override D12 reason="…"' in text
        assert item["reason"] in text and item["rule"] in text
        assert f"CTCAE v5.0: {COMMON['criterion']}" in text
    else:
        assert "confirm D12" not in text  # nothing for the investigator to do
    if item["action"] in ("reduce", "resume", "continue"):
        assert "80%" in text
        assert "Mon 08 Mar 2027" in text and "50 mg" in text  # 80 % of 62 mg, rounded
    if item["ask"]:
        assert item["ask"] in text
    if item["if_immune_related"]:
        assert "if immune-related: HOLD — Table 3, Pneumonitis, grade II" in text
        # the engine asks the question; the console's template says what to type
        assert "Is E4 immune-related? `attribute E4 irae=yes|no`; then `confirm D12`" in text
    else:
        assert "if immune-related" not in text


def test_the_console_template_says_what_to_type_for_each_question(renderer):
    """The engine's questions are data; the console's template renders the commands:
    an attribution per entry asked about, a hold (ended by a resume) for the study."""
    steroids = decision(
        "refer",
        drug="toripalimab",
        ask="Do the steroids treat an immune-related adverse event: is E3 or E5 immune-related?",
        questions=[
            Question(kind="immune_related", entry="E3"),
            Question(kind="immune_related", entry="E5"),
        ],
    )
    text = renderer.render("replies/lab.j2", outcome=_outcome([steroids]), grades=[])
    assert (
        "is E3 or E5 immune-related? `attribute E3 irae=yes|no` · `attribute E5 irae=yes|no`;"
        " then `confirm D12`"
    ) in text
    choice = decision(
        "refer",
        drug="toripalimab",
        ask="Investigator's choice: 1) interrupt toripalimab — or — 2) hormone replacement.",
        questions=[Question(kind="interrupt", drug="toripalimab")],
    )
    text = renderer.render("replies/lab.j2", outcome=_outcome([choice]), grades=[])
    assert (
        '2) hormone replacement. To interrupt: `hold LACC-007 toripalimab reason="…"`, ended by'
        ' `resume LACC-007 toripalimab reason="…"`; then `confirm D12`'
    ) in text


def test_a_decision_queued_before_questions_were_data_still_says_what_to_type(renderer):
    """An outbox row written before the engine's questions were data (no `questions`)
    renders as it did: Table 3 waiting on its own entry asks for that entry's attribution."""
    old = {k: v for k, v in KINDS["refer if immune-related"].items() if k != "questions"}
    text = renderer.render("replies/lab.j2", outcome=_outcome([old]), grades=[])
    assert "Is E4 immune-related? `attribute E4 irae=yes|no`; then `confirm D12`" in text


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_decision_kind_renders_in_the_other_replies_and_posts(renderer, kind):
    item = {**KINDS[kind], "study_id": "LACC-007"}
    listed = renderer.render("replies/decisions.j2", outcome=_outcome([item]), site="main")
    assert "*LACC-007*" in listed and "D12" in listed
    for name in ("replies/ae.j2", "replies/attribute.j2", "replies/dose.j2"):
        outcome = _outcome([item], kind={"replies/ae.j2": "ae"}.get(name, "dose"))
        outcome["event"].update(
            drug="cisplatin", status="given", mg=None, reason=None, entered_term="x",
            steroid_mg=None,
        )  # fmt: skip
        ae = {"term": "Pneumonitis", "grade": 2, "grade_text": "Grade 2: …", "matched": "exact",
              "note": None, "ctcae": "5.0"}  # fmt: skip
        text = renderer.render(name, outcome=outcome, ae=ae, target="E4", irae=True)
        assert "D12" in text
    confirmed = {**item, "status": "confirmed", "decided_by": "U0DOC", "override_reason": None}
    verdict = renderer.render("replies/verdict.j2", outcome=_outcome([confirmed]))
    assert "— *confirmed*" in verdict
    alert = renderer.render(
        "posts/decision_alert.j2",
        study_id="LACC-007",
        decision=item,
        entry=_outcome([])["event"],
        recorded_by="U0NURSE",
        on_call="U0DOC",
    )
    assert "D12" in alert and "<@U0DOC> on call" in alert


def test_every_reply_template_is_used_by_a_handler():
    """A template nobody renders is dead text; a handler naming a missing one would fail."""
    root = Path(__file__).resolve().parents[2]
    templates = {p.name for p in (root / "templates" / "replies").glob("*.j2")}
    sources = "".join(p.read_text() for p in (root / "bot" / "commands").rglob("*.py"))
    sources += "".join(p.read_text() for p in (root / "templates" / "replies").glob("*.j2"))
    unused = {name for name in templates if f"replies/{name}" not in sources}
    assert unused == set()
