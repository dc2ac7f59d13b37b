"""A conditional eligibility criterion (`when:`), written into a copy of the shipped
KEYNOTE-A18 rules the way a trial team would: the nodal condition asked only of stage
IB2–IIB, judged through the real `trialbot screen` and refused by `rules check` when its
`when` names what does not exist."""

from __future__ import annotations

import json
import shutil

import pytest

from bot.cli import main
from bot.paths import rules_root
from tests.trials.conftest import _edit

TRIAL = "keynote_copy"
EARLY = ["IB2", "IIA1", "IIA2", "IIB"]


def _conditional(data: dict) -> None:
    (node,) = [c for c in data["criteria"] if c["key"] == "node_positive_if_ib2_iib"]
    node["question"] = "Is there node-positive disease?"
    node["when"] = {"field": "stage", "in": list(EARLY)}


@pytest.fixture
def copy(tmp_path, monkeypatch):
    root = tmp_path / "rules"
    shutil.copytree(rules_root() / "keynote_a18", root / TRIAL)
    shutil.copytree(rules_root() / "ctcae", root / "ctcae")
    _edit(root / TRIAL / "eligibility.yaml", _conditional)
    monkeypatch.setenv("TRIALBOT_RULES_DIR", str(root))
    monkeypatch.setenv("TRIALBOT_TRIAL", TRIAL)
    monkeypatch.delenv("TRIALBOT_DEFAULT_SITE", raising=False)
    return root


def _node(capsys, *answers) -> dict:
    assert main(["screen", *answers, "--json"]) == 0
    criteria = json.loads(capsys.readouterr().out)["criteria"]
    (node,) = [c for c in criteria if c["key"] == "node_positive_if_ib2_iib"]
    return node


def test_the_copy_with_a_when_passes_rules_check(copy, capsys):
    assert main(["rules", "check", str(copy / TRIAL)]) == 0, capsys.readouterr().err


def test_the_nodal_question_applies_to_stage_ib2_to_iib_only(copy, capsys):
    node = _node(capsys, "stage=IIB", "node_positive=no")
    assert (node["status"], node["answer"]) == ("fail", "no")
    assert _node(capsys, "stage=2b", "node_positive=yes")["status"] == "pass"
    late = _node(capsys, "stage=IIIB")
    assert late["status"] == "pass"
    assert late["reason"] == (
        "not applicable: applies only when stage is one of IB2, IIA1, IIA2, IIB (stage is IIIB)"
    )


def test_without_the_stage_the_condition_is_not_guessed(copy, capsys):
    node = _node(capsys, "node_positive=yes")
    assert node["status"] == "unanswered"
    assert node["reason"] == (
        "applies when stage is one of IB2, IIA1, IIA2, IIB; stage is not answered"
    )


def _rules_check(capsys, root, change) -> str:
    _edit(root / TRIAL / "eligibility.yaml", change)
    code = main(["rules", "check", str(root / TRIAL)])
    err = capsys.readouterr().err
    assert code == 2, err
    return err


def _when(**when):
    def change(data):
        (node,) = [c for c in data["criteria"] if c["key"] == "node_positive_if_ib2_iib"]
        node["when"] = when

    return change


def test_a_when_naming_an_unknown_field_fails_rules_check(copy, capsys):
    err = _rules_check(capsys, copy, _when(field="stagee", **{"in": EARLY}))
    assert "eligibility.yaml" in err
    assert "criteria[2].when.field" in err
    assert "unknown field — did you mean 'stage'?" in err


def test_a_when_value_the_field_cannot_have_fails_rules_check(copy, capsys):
    err = _rules_check(capsys, copy, _when(field="stage", **{"in": ["IB2", "IIBB"]}))
    assert "criteria[2].when.in" in err
    assert "not an answer of stage — did you mean 'IIB'?" in err


def test_a_misspelt_when_key_fails_rules_check(copy, capsys):
    err = _rules_check(capsys, copy, _when(field="stage", inn=EARLY))
    assert (
        f"{TRIAL}/eligibility.yaml: criteria[2].yes_no.when.inn: unknown key — did you mean "
        "'in'? (allowed: field, equals, in)"
    ) in err


def test_a_when_on_a_yes_no_criterion_reads_yes_as_yaml_writes_it(copy, capsys):
    def change(data):
        (histology,) = [c for c in data["criteria"] if c["key"] == "histology"]
        histology["when"] = {"field": "untreated", "equals": True}

    _edit(copy / TRIAL / "eligibility.yaml", change)
    assert main(["rules", "check", str(copy / TRIAL)]) == 0, capsys.readouterr().err
    capsys.readouterr()
    assert main(["screen", "untreated=no", "--json"]) == 0
    criteria = json.loads(capsys.readouterr().out)["criteria"]
    (histology,) = [c for c in criteria if c["key"] == "histology"]
    assert histology["status"] == "pass"
    assert histology["reason"].startswith("not applicable: applies only when untreated is yes")
