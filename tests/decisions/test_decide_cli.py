"""`trialbot decide`: whole stories from history files, the JSON contract, and refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from textwrap import dedent

import pytest

from bot.cli import main

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "docs" / "examples" / "history-neutropenia.yaml"

PLAN = "plan: {start: 2027-03-01, bsa: 1.62}\n"


def write(tmp_path: Path, body: str, name: str = "history.yaml") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def story(events: str) -> str:
    """The plan and `events:` (an indented YAML block, dedented)."""
    return PLAN + dedent(events)


def decide_json(capsys, *argv: str) -> tuple[int, dict]:
    code = main(["decide", *argv, "--json"])
    out, err = capsys.readouterr()
    assert err == ""
    return code, json.loads(out)


def by_drug(data: dict) -> dict[str, dict]:
    return {d["drug"]: d for d in data["decisions"]}


def refusal(capsys, *argv: str) -> str:
    """The one-line message of a refused run (exit 2, nothing on stdout, no traceback)."""
    code = main(["decide", *argv])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0].removeprefix("error: ")


# --- whole stories ------------------------------------------------------------------------
NEUTROPENIA = (
    PLAN
    + """\
events:
  - {date: 2027-03-01, dose: cisplatin, status: given, mg: 65}
  - {date: 2027-03-05, lab: "ANC 0.4 PLT 162", irae: no}
  - {date: 2027-03-07, lab: "ANC 1.2"}
  - {date: 2027-03-12, lab: "ANC 1.4"}
"""
)


def test_weekly_cisplatin_neutropenia_reduce_suspend_recover_resume(tmp_path, capsys):
    history = write(tmp_path, NEUTROPENIA)
    code, replayed = decide_json(capsys, str(history))
    assert code == 0
    steps = replayed["entries"]
    assert [s["event"]["id"] for s in steps] == ["E1", "E2", "E3", "E4"]
    reduce = by_drug(steps[1])["cisplatin"]
    assert (reduce["id"], reduce["action"], reduce["dose_percent"]) == ("D1", "reduce", 80)
    assert reduce["next_dose"] == {
        "date": "2027-03-08",
        "mg": 52.0,
        "label": "Cisplatin weekly dose 2",
    }
    suspend = by_drug(steps[2])["cisplatin"]
    assert (suspend["id"], suspend["action"]) == ("D2", "hold")
    waiting = by_drug(steps[3])["cisplatin"]
    assert (waiting["id"], waiting["action"], waiting["status"]) == (None, "hold", "info")
    assert replayed["state"]["cisplatin"]["status"] == "held"
    assert replayed["state"]["cisplatin"]["held_since"] == "2027-03-07"

    code, data = decide_json(capsys, str(history), "lab ANC 1.9 PLT 160 WBC 3.4")
    assert code == 0
    resume = by_drug(data)["cisplatin"]
    assert (resume["id"], resume["action"], resume["dose_percent"]) == ("D3", "resume", 80)
    assert resume["needs_confirmation"] is True
    assert "original dosage" in resume["rule"]
    assert data["event"]["date"] == "2027-03-13"  # the day after the last entry
    assert data["state"]["cisplatin"] == {
        "status": "active",
        "dose_percent": 80,
        "held_since": None,
        "discontinued_on": None,
        "awaiting_confirmation": True,
    }


def test_pneumonitis_hold_resume_recur_discontinue(tmp_path, capsys):
    history = write(
        tmp_path,
        story(
            """\
        events:
          - {date: 2027-03-01, dose: toripalimab}
          - {date: 2027-03-10, ae: pneumonitis, grade: 2, irae: yes, steroid_mg: 40}
          - {date: 2027-03-17, ae: Pneumonitis, grade: 1, irae: yes, steroid_mg: 10}
          - {date: 2027-03-22, dose: toripalimab, mg: 240}
        """
        ),
    )
    _, replayed = decide_json(capsys, str(history))
    hold = by_drug(replayed["entries"][1])["toripalimab"]
    assert (hold["id"], hold["action"]) == ("D1", "hold")
    assert hold["rule"] == "Table 3, Pneumonitis, grade II"
    resume = by_drug(replayed["entries"][2])["toripalimab"]
    assert (resume["id"], resume["action"], resume["dose_percent"]) == ("D2", "resume", 100)

    code, data = decide_json(
        capsys, str(history), "ae", "pneumonitis", "grade=2", "irae=yes", "--date", "2027-04-05"
    )
    assert code == 0
    stop = by_drug(data)["toripalimab"]
    assert (stop["id"], stop["action"]) == ("D3", "discontinue")
    assert stop["rule"] == "Table 3, Pneumonitis, recurrent grade II"
    assert "recurrence after an earlier grade 2 episode from 2027-03-10" in stop["reason"]
    assert data["state"]["toripalimab"]["status"] == "discontinued"
    assert data["state"]["toripalimab"]["discontinued_on"] == "2027-04-05"
    assert data["grades"] == [
        {
            "term": "Pneumonitis",
            "grade": 2,
            "ctcae": "5.0",
            "criterion": "Grade 2: Symptomatic; medical intervention indicated; limiting "
            "instrumental ADL",
            "meddra_code": 10035742,
            "entered": "pneumonitis",
        }
    ]


ATTRIBUTION = (
    PLAN
    + """\
events:
  - {date: 2027-03-01, dose: toripalimab}
  - {date: 2027-03-10, ae: colitis, grade: 2}
"""
)


def test_unknown_attribution_refers_with_what_would_follow_then_attribute_holds(tmp_path, capsys):
    history = write(tmp_path, ATTRIBUTION)
    _, replayed = decide_json(capsys, str(history))
    refer = by_drug(replayed["entries"][1])["toripalimab"]
    assert refer["action"] == "refer" and refer["id"] == "D1"
    assert refer["if_immune_related"] == {
        "action": "hold",
        "rule": "Table 3, Diarrhea and colitis, grade II–III",
        "management": "Interrupt toripalimab until restored to grade 0–I",
    }
    # the engine asks the question; no command syntax (that is each interface's own)
    assert refer["ask"] == "Is E2 immune-related?"

    code, data = decide_json(capsys, str(history), "attribute E2 irae=yes")
    assert code == 0
    hold = by_drug(data)["toripalimab"]
    assert (hold["id"], hold["action"], hold["trigger"]) == ("D2", "hold", "E2")
    assert data["event"] == {
        "id": "E3",
        "date": "2027-03-11",
        "kind": "attribution",
        "target": "E2",
        "irae": True,
    }
    assert data["state"]["toripalimab"]["status"] == "held"


def test_the_files_new_entry_is_decided_when_no_event_is_given(tmp_path, capsys):
    history = write(tmp_path, ATTRIBUTION + "new: {attribute: E2, irae: no}\n")
    code, data = decide_json(capsys, str(history))
    assert code == 0
    assert data["event"]["kind"] == "attribution" and data["event"]["date"] == "2027-03-11"
    assert by_drug(data)["toripalimab"]["action"] == "continue"
    code, data = decide_json(capsys, str(history), "--date", "2027-03-20")
    assert data["event"]["date"] == "2027-03-20"


def test_the_12_week_review_from_the_command_line(tmp_path, capsys):
    history = write(
        tmp_path,
        story(
            """\
        events:
          - {date: 2027-03-01, dose: toripalimab}
          - {date: 2027-03-10, ae: colitis, grade: 2, irae: yes}
        """
        ),
    )
    _, early = decide_json(capsys, str(history), "review", "--date", "2027-05-24")
    assert early["decisions"] == []
    _, late = decide_json(capsys, str(history), "review", "--date", "2027-05-25")
    stop = by_drug(late)["toripalimab"]
    assert stop["action"] == "discontinue" and "12 weeks" in stop["rule"]
    assert late["event"] == {"id": "E3", "kind": "review", "date": "2027-05-25"}


def test_the_shipped_example_replays_as_its_comments_say(tmp_path, capsys):
    code = main(["decide", str(EXAMPLE)])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("LACC-007 — E8 on 2027-03-15: dose cisplatin given mg=52")
    assert "cisplatin active at 80 %" in out
    without_new = tmp_path / "example.yaml"
    without_new.write_text(EXAMPLE.read_text(encoding="utf-8").split("\nnew:")[0])
    _, replayed = decide_json(capsys, str(without_new))
    proposed = [
        (d["id"], d["drug"], d["action"], d["dose_percent"])
        for step in replayed["entries"]
        for d in step["decisions"]
        if d["id"]
    ]
    assert proposed == [
        ("D1", "cisplatin", "reduce", 80),
        ("D2", "cisplatin", "hold", None),
        ("D3", "cisplatin", "resume", 80),
    ]


# --- the JSON contract ------------------------------------------------------------------
def test_json_contract_of_a_lab_decision(tmp_path, capsys):
    history = write(tmp_path, PLAN + "events:\n  - {date: 2027-03-01, dose: cisplatin}\n")
    code, data = decide_json(capsys, str(history), "lab ANC 0.4 PLT 62", "--date", "2027-03-05")
    assert code == 0
    assert list(data) == ["event", "decisions", "state", "grades"]
    decision = by_drug(data)["cisplatin"]
    assert {
        "id",
        "drug",
        "action",
        "dose_percent",
        "reason",
        "rule",
        "needs_confirmation",
        "criterion",
        "ctcae",
        "if_immune_related",
        "ask",
        "next_dose",
        "status",
    } <= set(decision)
    assert decision["action"] == "reduce" and decision["ctcae"] == "5.0"
    assert decision["criterion"] == "Grade 4: <500/mm3; <0.5 x 10e9 /L"
    assert set(data["state"]) == {"cisplatin", "paclitaxel", "toripalimab"}
    assert set(data["state"]["cisplatin"]) == {
        "status",
        "dose_percent",
        "held_since",
        "discontinued_on",
        "awaiting_confirmation",
    }
    anc, plt = data["grades"]
    assert {"analyte", "value", "unit", "term", "grade", "ctcae", "criterion"} <= set(anc)
    assert (anc["analyte"], anc["value"], anc["unit"], anc["grade"]) == ("anc", 0.4, "10^9/L", 4)
    assert (plt["term"], plt["grade"]) == ("Platelet count decreased", 2)


def test_human_output_names_action_dose_next_dose_rule_criterion_and_what_to_do(tmp_path, capsys):
    history = write(tmp_path, PLAN + "events:\n  - {date: 2027-03-01, dose: cisplatin}\n")
    code = main(["decide", str(history), "lab", "ANC", "0.4", "--date", "2027-03-05"])
    out = capsys.readouterr().out
    assert code == 0
    assert "E2 on 2027-03-05: lab ANC 0.4" in out
    assert "ANC 0.4 ×10^9/L — Neutrophil count decreased, grade 4 (CTCAE v5.0)" in out
    assert "cisplatin: REDUCE to 80 % of the protocol dose" in out
    assert "next dose: 2027-03-08 (Cisplatin weekly dose 2), 52 mg (80 % of 65 mg)" in out
    assert "rule: Protocol, Toxicity & dose modifications" in out
    assert "CTCAE v5.0: Grade 4: <500/mm3" in out
    assert 'investigator: confirm D1, or override D1 reason="…"' in out
    assert "Treatment after E2: cisplatin active at 80 % (awaiting confirmation)" in out


def test_human_output_of_an_attribution_question(tmp_path, capsys):
    history = write(tmp_path, ATTRIBUTION)
    main(["decide", str(history), "ae pneumonitis grade=2"])
    out = capsys.readouterr().out
    assert "toripalimab: REFER — investigator decision" in out
    assert "if immune-related: HOLD — Interrupt toripalimab until restored to grade 0–I" in out
    assert "to answer: Is E3 immune-related? attribute E3 irae=yes|no" in out


def test_human_replay_lists_every_entry_with_its_decisions(tmp_path, capsys):
    code = main(["decide", str(write(tmp_path, NEUTROPENIA))])
    out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "WHATIF-0 — day 1 2027-03-01, 25 fractions, site main, BSA 1.62 m²"
    assert "E2 on 2027-03-05: lab ANC 0.4 PLT 162 irae=no" in lines
    assert any(
        line.startswith("    cisplatin: REDUCE to 80 % of the protocol dose [D1]") for line in lines
    )
    assert any(line.startswith("    cisplatin: HOLD [D2]") for line in lines)
    assert lines[-1].startswith("Treatment now: cisplatin on hold since 2027-03-07")


def test_json_and_yaml_files_and_the_raw_event_shape_agree(tmp_path, capsys):
    raw = {
        "plan": {"start": "2027-03-01", "bsa": 1.62},
        "events": [
            {"kind": "dose", "date": "2027-03-01", "drug": "cisplatin", "status": "given"},
            {
                "kind": "lab",
                "date": "2027-03-05",
                "results": [{"analyte": "anc", "value": 0.4, "unit": "10^9/L"}],
            },
        ],
    }
    json_file = tmp_path / "history.json"
    json_file.write_text(json.dumps(raw), encoding="utf-8")
    friendly = write(
        tmp_path,
        story(
            """\
        events:
          - {date: 2027-03-01, dose: cisplatin}
          - {date: 2027-03-05, lab: ANC 0.4}
        """
        ),
    )
    _, from_json = decide_json(capsys, str(json_file))
    _, from_yaml = decide_json(capsys, str(friendly))
    actions = [
        [(d["drug"], d["action"], d["id"]) for d in s["decisions"]] for s in from_json["entries"]
    ]
    assert actions == [
        [(d["drug"], d["action"], d["id"]) for d in s["decisions"]] for s in from_yaml["entries"]
    ]
    assert ("cisplatin", "reduce", "D1") in actions[1]


def test_own_ids_are_kept_and_can_be_attributed(tmp_path, capsys):
    history = write(
        tmp_path,
        story(
            """\
        events:
          - {date: 2027-03-01, dose: toripalimab}
          - {date: 2027-03-10, id: AE-17, ae: colitis, grade: 2}
          - {date: 2027-03-11, attribute: AE-17, irae: yes}
        """
        ),
    )
    _, data = decide_json(capsys, str(history))
    assert [s["event"]["id"] for s in data["entries"]] == ["E1", "AE-17", "E3"]
    assert by_drug(data["entries"][2])["toripalimab"]["action"] == "hold"


# --- refusals ------------------------------------------------------------------------------
def entries(*lines: str) -> str:
    return PLAN + "events:\n" + "".join(f"  - {line}\n" for line in lines)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            entries("{date: 2027-03-05, ae: pneumonitiss, grade: 2}"),
            "entry 1 (2027-03-05): ae: unknown term 'pneumonitiss' — did you mean 'Pneumonitis'?",
        ),
        (
            entries("{date: 2027-03-05, ae: myocarditis, grade: 1}"),
            "entry 1 (2027-03-05): grade: Myocarditis has no grade 1 in CTCAE v5.0 (allowed: 2, 3, 4, 5",
        ),
        (
            entries("{date: 2027-03-05, ae: colitis}"),
            "entry 1 (2027-03-05): grade: no grade given for Colitis",
        ),
        (
            entries("{date: 2027-03-05, ae: colitis, grade: two}"),
            "entry 1 (2027-03-05): grade: 'two' is not a whole number",
        ),
        (
            entries("{date: 2027-03-05, lab: ANC 0.4 PLX 62}"),
            "entry 1 (2027-03-05): lab: PLX: unknown analyte — did you mean PLT?",
        ),
        (entries("{lab: ANC 0.4}"), "entry 1: date: the entry has no date"),
        (entries("{date: 2027-13-01, lab: ANC 0.4}"), "entry 1: date: '2027-13-01' is not a date"),
        (
            entries("{date: 2027-03-05T10:00, lab: ANC 0.4}"),
            "entry 1: date: '2027-03-05T10:00' is not a date",
        ),
        (
            entries("{date: 2027-03-05, lab: ANC 0.4}", "{date: 2027-03-04, lab: ANC 1.4}"),
            "entry 2 (2027-03-04): date: the entries must be in chronological order",
        ),
        (
            entries("{date: 2027-03-05, dose: cisplatn}"),
            "entry 1 (2027-03-05): dose: unknown drug or treatment 'cisplatn' — did you mean cisplatin?",
        ),
        (
            entries("{date: 2027-03-05, dose: cisplatin, status: held, mg: 50}"),
            "entry 1 (2027-03-05): mg: mg is the amount given; this dose was held",
        ),
        (
            entries("{date: 2027-03-05, dose: cisplatin, mg: 5000}"),
            "entry 1 (2027-03-05): mg: 5000 mg is not plausible",
        ),
        (
            entries("{date: 2027-03-05, dose: cisplatin, status: gave}"),
            "entry 1 (2027-03-05): status: unknown status 'gave' — did you mean given?",
        ),
        (
            entries("{date: 2027-03-05, response: XR}"),
            "entry 1 (2027-03-05): response: 'XR' is not a RECIST 1.1 response",
        ),
        (
            entries(
                "{date: 2027-03-05, dose: cisplatin}",
                "{date: 2027-03-06, attribute: E1, irae: yes}",
            ),
            "entry 2 (2027-03-06): attribute: E1 is a dose entry",
        ),
        (
            entries("{date: 2027-03-06, attribute: E9, irae: yes}"),
            "entry 1 (2027-03-06): attribute: E9 is not an earlier entry",
        ),
        (
            entries(
                "{date: 2027-03-05, ae: colitis, grade: 2}", "{date: 2027-03-06, attribute: E1}"
            ),
            "entry 2 (2027-03-06): irae: the attribution of E1 is missing",
        ),
        (
            entries("{date: 2027-03-05, ae: colitis, grade: 2, irae: maybe}"),
            "entry 1 (2027-03-05): irae: 'maybe' is not yes or no (allowed: yes, no, unknown)",
        ),
        (
            entries("{date: 2027-03-05, ae: colitis, grade: 2, steroid_mg: -5}"),
            "entry 1 (2027-03-05): steroid_mg: -5 mg/day prednisone is not plausible",
        ),
        (
            entries("{date: 2027-03-06, verdict: D9, status: confirmed}"),
            "history.yaml: entry E1 (2027-03-06): verdict: D9 was not proposed before this entry",
        ),
        (
            entries(
                "{date: 2027-03-05, lab: ANC 0.4}",
                "{date: 2027-03-06, verdict: D1, status: overridden}",
            ),
            "entry 2 (2027-03-06): reason: an override needs a reason",
        ),
        (
            entries("{date: 2027-03-06, verdict: D1, status: withdrawn}"),
            "entry 1 (2027-03-06): status: unknown status 'withdrawn' (allowed: confirmed, overridden)",
        ),
        (
            entries("{date: 2027-03-05, lab: ANC 0.4, ae: colitis, grade: 2}"),
            "entry 1 (2027-03-05): one entry, one thing: it has lab, ae",
        ),
        (
            entries("{date: 2027-03-05, lab: ANC 0.4, grade: 2}"),
            "entry 1 (2027-03-05): grade: a lab entry has no field 'grade'",
        ),
        (
            entries("{date: 2027-03-05, labs: ANC 0.4}"),
            "entry 1 (2027-03-05): 'labs' is not a kind of entry — did you mean lab?",
        ),
        (
            entries(
                "{kind: proposal, date: 2027-03-05, decision_id: D1, drug: cisplatin, action: hold}"
            ),
            "entry 1 (2027-03-05): kind: 'proposal' is written by the store, not in a replayed history",
        ),
        (
            entries("{kind: dose, date: 2027-03-05, drug: cisplatin, status: gone}"),
            "entry 1 (2027-03-05): status: Input should be 'given', 'held' or 'skipped'",
        ),
        (
            entries(
                "{kind: lab, date: 2027-03-05, results: [{analyte: anc, value: 400, unit: /mm3}]}"
            ),
            "entry 1 (2027-03-05): results.0.unit: a raw anc value is in 10^9/L",
        ),
        (
            entries("{kind: ae, date: 2027-03-05, term: pneumonitis, grade: 2}"),
            "entry 1 (2027-03-05): term: 'pneumonitis' is not a CTCAE v5.0 term as the term list spells it",
        ),
        (
            entries("{date: 2027-03-05, lab: ANC 0.4}", "{date: 2027-03-05, id: E1, lab: ANC 1.4}"),
            "entry 2 (2027-03-05): id: E1 is the id of entry 1 already",
        ),
        (
            entries("{date: 2027-03-05, id: D4, lab: ANC 0.4}"),
            "entry 1 (2027-03-05): id: D4 looks like a decision id",
        ),
        (entries("lab ANC 0.4"), "entry 1: 'lab ANC 0.4' is not an entry"),
        ("events: []\n", "history.yaml: plan: the file has no plan"),
        (
            "plan: {start: 2027-03-06}\n",
            "plan: start: 2027-03-06 (Saturday) is not a treatment day at site 'main' (weekend); "
            "the next treatment day is 2027-03-08 (Monday)",
        ),
        ("plan: {start: 2027-03-01, bsa: 16}\n", "plan: bsa: 16 m² is outside the plausible range"),
        (
            "plan: {start: 2027-03-01, fractions: 30}\n",
            "plan: fractions: 30 is outside the protocol's range (allowed: 25–28)",
        ),
        (
            "plan: {start: 2027-03-01, bsa: 1.6, height: 160}\n",
            "plan: bsa: give bsa, or height with weight, not both",
        ),
        ("plan: {start: 2027-03-01, height: 160}\n", "plan: weight: weight is missing"),
        (
            "plan: {start: 2027-03-01, site: mian}\n",
            "plan: site: unknown site 'mian' — did you mean main?",
        ),
        ("plan: {start: 2027-03-01, sight: main}\n", "plan: sight: a plan has no field 'sight'"),
        (
            "plan: {start: 2027-03-01, baseline: ALT sixty}\n",
            "plan: baseline: ALT: a number is missing after 'ALT'",
        ),
        (
            "study_id: Jane Doe\nplan: {start: 2027-03-01}\n",
            "history.yaml: history: study_id: 'Jane Doe' is not a study ID",
        ),
        (
            "plan: {start: 2027-03-01}\nevnts: []\n",
            "history: evnts: a history file has no section 'evnts' — did you mean events?",
        ),
        ("plan: [start\n", "history.yaml is not YAML (expected"),
        ("42\n", "history.yaml: the file holds neither a list of events nor a mapping"),
        (
            entries("{date: 2027-03-01, lab: ANC 0.4}") + "new: {date: 2027-02-27, lab: ANC 1.4}\n",
            "date: 2027-02-27 is before the last entry of the history (2027-03-01)",
        ),
        (
            entries("{date: 2027-03-01, lab: ANC 0.4}") + "new: {lab: ANC 1.4, dose: cisplatin}\n",
            "history.yaml: new (2027-03-02): one entry, one thing",
        ),
    ],
)
def test_a_bad_file_is_refused_naming_the_entry_and_field(tmp_path, capsys, body, expected):
    message = refusal(capsys, str(write(tmp_path, body)))
    assert expected in message
    assert "Traceback" not in message


def test_a_missing_file_is_refused(tmp_path, capsys):
    assert "history: cannot read" in refusal(capsys, str(tmp_path / "nope.yaml"))


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (["labs ANC 0.4"], "event: unknown event 'labs' — did you mean lab?"),
        (["ae pneumonitis"], "event (2027-03-11): grade: no grade given for Pneumonitis"),
        (["ae pneumonitis grade=7"], "grade: Pneumonitis has no grade 7 in CTCAE v5.0"),
        (["ae pneumonitis grade=2 irae=perhaps"], "irae: 'perhaps' is not yes or no"),
        (["lab ANC"], "event (2027-03-11): lab: ANC: a number is missing after 'ANC'"),
        (["lab ANC 0.4 irea=yes"], "event: lab takes no option 'irea' — did you mean irae?"),
        (["attribute E99 irae=yes"], "attribute: E99 is not an earlier entry"),
        (["attribute E1 irae=yes"], "attribute: E1 is a dose entry"),
        (['dose cisplatin reason="oops'], "event: quotes: could not read the command"),
        (["dose"], "event: say which drug"),
        (["dose", "cisplatin", "given", "held"], "dose takes a drug and a status"),
        (["dose cisplatin skipped mg=40"], "mg: mg is the amount given; this dose was skipped"),
        (["response"], "event: response takes one word"),
        (["review now"], "event: review takes nothing more"),
        (["lab ANC 1", "--date", "2027-03-09"], "date: 2027-03-09 is before the last entry"),
        (["lab ANC 1", "--date", "2027-3-12"], "date: '2027-3-12' is not a date"),
        (["--date", "2027-03-12"], "date: --date dates a new event, and there is none"),
    ],
)
def test_a_bad_event_is_refused_naming_the_field(tmp_path, capsys, event, expected):
    message = refusal(capsys, str(write(tmp_path, ATTRIBUTION)), *event)
    assert expected in message


def test_a_refusal_under_json_is_one_json_object(tmp_path, capsys):
    code = main(["decide", str(write(tmp_path, ATTRIBUTION)), "labs ANC 0.4", "--json"])
    out, err = capsys.readouterr()
    assert code == 2 and err == ""
    assert json.loads(out) == {
        "error": "event: unknown event 'labs' — did you mean lab? "
        "(allowed: lab, ae, dose, response, attribute, review)"
    }


def test_options_may_sit_between_the_file_and_the_event(tmp_path, capsys):
    history = write(tmp_path, ATTRIBUTION)
    code, data = decide_json(
        capsys, str(history), "--date", "2027-03-12", "attribute", "E2", "irae=no"
    )
    assert code == 0 and data["event"]["date"] == "2027-03-12"


def test_no_traceback_from_a_real_process(tmp_path):
    history = write(tmp_path, entries("{date: 2027-03-05, ae: pneumonitiss, grade: 2}"))
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from bot.cli import main; raise SystemExit(main())",
            "decide",
            str(history),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "entry 1 (2027-03-05): ae: unknown term 'pneumonitiss'" in result.stderr
