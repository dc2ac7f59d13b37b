"""The history-file reader shared by `trialbot decide` and `trialbot calendar --history`."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.calendar import schedule_of, sites_of
from bot.cli import main
from bot.decisions.engine import Review
from bot.errors import UserError
from bot.events import AdverseEvent, Attribution, DoseRecord, LabPanel, Verdict
from bot.history_file import (
    FRIENDLY_KEYS,
    Vocabulary,
    load_document,
    read_entry,
    read_event_text,
    read_history,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def vocabulary(trial, ctcae) -> Vocabulary:
    return Vocabulary(
        schedule=schedule_of(trial),
        sites=sites_of(trial),
        ranges=trial.get("reference_ranges.yaml"),
        ctcae_loader=lambda: ctcae,
    )


def test_friendly_entries_become_events_with_ids_in_file_order(vocabulary):
    history = read_history(
        {
            "plan": {"start": "2027-03-01", "height": 160, "weight": 55, "boost": "yes"},
            "events": [
                {"date": "2027-03-01", "dose": "Cisplatin", "mg": 62},
                {"date": "2027-03-05", "lab": "ANC 400/mm3 Hb 91 g/L", "symptomatic": "no"},
                {"date": "2027-03-06", "ae": "SJS", "grade": "3", "irae": "unknown"},
                {"date": "2027-03-07", "attribute": "e3", "irae": "yes"},
                {"date": "2027-03-08", "verdict": "d1", "status": "Confirmed"},
                {"date": "2027-03-09", "review": "yes"},
            ],
        },
        vocabulary,
    )
    dose, lab, ae, attribution, verdict, review = history.entries
    assert isinstance(dose, DoseRecord) and (dose.id, dose.drug, dose.mg) == ("E1", "cisplatin", 62)
    assert isinstance(lab, LabPanel) and [(v.analyte, v.value) for v in lab.results] == [
        ("anc", 0.4),
        ("hb", 9.1),
    ]
    assert lab.symptomatic is False and lab.irae is None
    assert isinstance(ae, AdverseEvent)
    assert (ae.term, ae.grade, ae.entered_term, ae.irae) == (
        "Stevens-Johnson syndrome",
        3,
        "SJS",
        None,
    )
    assert isinstance(attribution, Attribution) and attribution.target == "E3"
    assert isinstance(verdict, Verdict) and (verdict.decision_id, verdict.status) == (
        "D1",
        "confirmed",
    )
    assert isinstance(review, Review) and review.id == "E6"
    assert history.plan.boost and history.plan.height_cm == 160
    assert history.plan.site == "main"  # the sites file's default
    assert history.default_date() == date(2027, 3, 10)
    assert history.enrolment().date == date(2027, 3, 1)


def test_a_bare_list_is_the_calendars_format(vocabulary):
    history = read_history(
        [{"kind": "dose", "date": "2026-09-22", "drug": "ebrt", "status": "held"}],
        vocabulary,
        replayable=False,
    )
    assert history.plan is None
    assert history.events[0].drug == "ebrt" and history.events[0].id == "E1"


def test_the_calendar_keeps_order_and_store_written_kinds(vocabulary):
    events = [
        {"kind": "dose", "date": "2026-09-22", "drug": "ebrt", "status": "held"},
        {"kind": "dose", "date": "2026-09-21", "drug": "cisplatin"},
        {
            "kind": "proposal",
            "date": "2026-09-21",
            "decision_id": "D1",
            "drug": "cisplatin",
            "action": "hold",
        },
    ]
    assert len(read_history(events, vocabulary, replayable=False).events) == 3
    with pytest.raises(UserError, match="chronological order"):
        read_history(events, vocabulary)


def test_yaml_dates_are_read_as_written(tmp_path):
    path = tmp_path / "h.yaml"
    path.write_text("events:\n  - {date: 2027-03-05, lab: ANC 0.4, irae: yes}\n")
    data = load_document(path)
    assert data["events"][0] == {"date": "2027-03-05", "lab": "ANC 0.4", "irae": True}
    json_path = tmp_path / "h.json"
    json_path.write_text(json.dumps(data))
    assert load_document(json_path) == data


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("lab ANC 0.4 PLT 62 irae=yes symptomatic=no", LabPanel, {"irae": True}),
        ("ae 'rash maculo-papular' grade=2 steroid_mg=20", AdverseEvent, {"steroid_mg": 20.0}),
        ("ae hepatitis irae=unknown grade=2", AdverseEvent, {"irae": None}),
        ("dose cisplatin held", DoseRecord, {"status": "held"}),
        ('dose toripalimab mg=240 reason="given at the satellite clinic"', DoseRecord, {"mg": 240}),
        ("attribute E1 irae=no", Attribution, {"target": "E1", "irae": False}),
        ("review", Review, {}),
    ],
)
def test_the_command_form_of_an_event(vocabulary, text, kind, expected):
    entry = read_event_text(
        text, day=date(2027, 3, 9), entry_id="E4", vocabulary=vocabulary, known={"E1": "ae"}
    )
    assert isinstance(entry, kind)
    assert entry.date == date(2027, 3, 9) and entry.id == "E4"
    for key, value in expected.items():
        assert getattr(entry, key) == value


_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 3000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["2027-03-05", "yes", "no", "E1", "D1", "given", "ANC 0.4", "colitis", "2"]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
_keys = st.one_of(
    st.text(max_size=8),
    st.integers(0, 3),
    st.sampled_from(
        [
            "date",
            "id",
            "kind",
            "results",
            "term",
            "drug",
            *sorted({k for v in FRIENDLY_KEYS.values() for k in v}),
        ]
    ),
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(item=st.one_of(st.dictionaries(_keys, _values, max_size=5), _values))
def test_any_entry_is_read_or_refused_by_name(vocabulary, item):
    try:
        entry = read_entry(
            item, where="entry 1", number=1, vocabulary=vocabulary, known={"E1": "lab"}
        )
    except UserError as exc:
        assert exc.message.startswith("entry 1")
    else:
        assert entry.id == "E1"


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    text=st.one_of(
        st.text(max_size=40),
        st.lists(
            st.sampled_from(
                [
                    "lab",
                    "ae",
                    "dose",
                    "review",
                    "attribute",
                    "ANC",
                    "0.4",
                    "grade=2",
                    "irae=yes",
                    "mg=5",
                    "E1",
                    "'",
                    '"',
                    "x=",
                    "=",
                    "pneumonitis",
                    "cisplatin",
                    "given",
                ]
            ),
            max_size=6,
        ).map(" ".join),
    )
)
def test_any_event_text_is_read_or_refused_by_name(vocabulary, text):
    try:
        read_event_text(
            text, day=date(2027, 3, 9), entry_id="E2", vocabulary=vocabulary, known={"E1": "lab"}
        )
    except UserError as exc:
        assert exc.message.startswith("event")


# --- the calendar reads the same files ------------------------------------------------------
PLAN_FILE = """\
plan: {start: 2026-09-21, bsa: 1.62}
events:
  - {date: 2026-09-21, dose: cisplatin, mg: 65}
  - {date: 2026-09-22, dose: ebrt, status: held}
  - {date: 2026-09-25, lab: ANC 0.4}
"""


def test_the_calendar_takes_the_plan_and_events_from_a_history_file(tmp_path, capsys):
    path = tmp_path / "history.yaml"
    path.write_text(PLAN_FILE)
    code = main(["calendar", "--history", str(path), "--today", "2026-09-24", "--json"])
    events = json.loads(capsys.readouterr().out)
    assert code == 0
    ebrt = [e for e in events if e["item"] == "ebrt"]
    assert [(e["date"], e["status"]) for e in ebrt[:2]] == [
        ("2026-09-21", "presumed_given"),
        ("2026-09-22", "held"),
    ]
    cisplatin = next(e for e in events if e["item"] == "cisplatin")
    assert (cisplatin["status"], cisplatin["dose"]["recorded_mg"]) == ("given", 65)


def test_the_calendar_refuses_plan_options_besides_a_plan_in_the_file(tmp_path, capsys):
    path = tmp_path / "history.yaml"
    path.write_text(PLAN_FILE)
    code = main(["calendar", "--history", str(path), "--bsa", "1.7"])
    err = capsys.readouterr().err
    assert code == 2
    assert "bsa: history.yaml gives the plan; --bsa would give it twice" in err


def test_the_calendar_names_the_entry_of_a_bad_history_file(tmp_path, capsys):
    path = tmp_path / "history.json"
    path.write_text(json.dumps([{"kind": "dose", "date": "2026-09-21", "drug": "cisplatn"}]))
    code = main(["calendar", "--start", "2026-09-21", "--history", str(path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "history.json: entry 1 (2026-09-21): drug: unknown drug or treatment 'cisplatn'" in err
