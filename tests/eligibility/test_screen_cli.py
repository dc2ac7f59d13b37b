"""`trialbot screen`: JSON contract, human output, refusals with exit code 2."""

from __future__ import annotations

import json

import pytest

from bot.cli import main


def test_the_issue_example_as_json(capsys):
    code = main(
        [
            "screen",
            "age=52",
            "stage=IIIC1",
            "ecog=1",
            "hb=10.2",
            "anc=3.1",
            "wbc=5.2",
            "plt=210",
            "alt=35 U/L (7-40)",
            "ast=1.1xULN",
            "--json",
        ]
    )
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert list(data) == ["eligible", "failed", "unanswered", "criteria"]
    assert data["eligible"] is False
    assert data["failed"] == []
    assert "bilirubin" in data["unanswered"] and "consent" in data["unanswered"]
    alt = next(c for c in data["criteria"] if c["key"] == "alt")
    assert (alt["status"], alt["answer"]) == ("pass", "35 U/L (7-40)")


def test_an_eligible_candidate(capsys, eligible_answers):
    argv = ["screen", *(f"{k}={v}" for k, v in eligible_answers.items())]
    assert main([*argv, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["eligible"], data["failed"], data["unanswered"]) == (True, [], [])
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("ELIGIBLE\n")
    assert "  pass       age                      52 years is within 18-75 years" in out


def test_human_output_puts_failures_first(capsys, eligible_answers):
    answers = dict(eligible_answers, hb="8.0", consent="unknown")
    assert main(["screen", *(f"{k}={v}" for k, v in answers.items())]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "NOT ELIGIBLE"
    assert lines[1] == "  fail       hb                       Hb 8 g/dL is not > 8.0 g/dL"
    assert lines[2].startswith("  unanswered consent")


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["stage=IIIC"], "IIIC1 or IIIC2?"),
        (["stage=V"], "is not a FIGO 2018 stage"),
        (["agee=52"], "did you mean age?"),
        (["age"], "is not KEY=VALUE"),
        (["age=52", "AGE=53"], "answered twice"),
        (["hb=91"], "did you mean 91 g/L?"),
        (["hb=1.1xULN"], "not a multiple of ULN"),
        (["consent=maybe"], "not a yes/no answer"),
        (["alt=35", "--site", "nowhere"], "unknown site 'nowhere'"),
    ],
)
def test_refusals_exit_2_with_one_json_error(capsys, argv, says):
    code = main(["screen", *argv, "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 2
    assert list(data) == ["error"]
    assert says in data["error"]


def test_keys_lists_every_criterion(capsys, rules):
    assert main(["screen", "--keys", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["criteria"]
    assert [r["key"] for r in rows] == [c.key for c in rules.criteria]
    assert main(["screen", "--keys"]) == 0
    out = capsys.readouterr().out
    assert "pregnancy_test" in out and "yes/no/negative/positive/na, passes yes" in out


def test_help_lists_the_keys(capsys):
    with pytest.raises(SystemExit):
        main(["screen", "--help"])
    out = capsys.readouterr().out
    assert "age, stage, ecog, hb, anc, wbc, plt, alt, ast, bilirubin, bun, creatinine" in out
    assert "active_bleeding" in out and "autoimmune_disease" in out
