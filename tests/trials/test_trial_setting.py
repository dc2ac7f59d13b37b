"""One trial setting, honoured everywhere: TRIALBOT_TRIAL or `--trial` picks the rules
directory of every command and of the services; its sites.yaml gives the sites and the
default site; enrolment copes with a trial that has no `stage` criterion."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
import yaml

from bot.cli import main
from bot.clock import FixedClock
from bot.errors import RulesError, UserError
from bot.protocol.loader import load_trial
from bot.services import Request, build_context
from bot.services.enrolment import enrol
from bot.settings import Settings
from tests.trials.conftest import OTHER


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "how",
    [("--trial", OTHER, "calendar"), ("calendar", "--trial", OTHER), ("env",)],
    ids=["before the command", "after the command", "TRIALBOT_TRIAL"],
)
def test_the_calendar_is_the_named_trials(other_rules, capsys, monkeypatch, how):
    if how == ("env",):
        monkeypatch.setenv("TRIALBOT_TRIAL", OTHER)
        how = ("calendar",)
    code, out, err = run(capsys, *how, "--start", "2027-03-01", "--bsa", "1.6")
    assert code == 0, err
    assert out.startswith("OTHER-1 — what-if calendar")
    # its site is Europe/Berlin's calendar: Good Friday 2027-03-26 is closed there
    assert "Fri 2027-03-26" not in out
    code, out, _ = run(capsys, "calendar", "--start", "2027-03-01", "--bsa", "1.6")
    if how == ("calendar",):  # the environment still names the other trial
        assert out.startswith("OTHER-1")
    else:  # the option lasted for its command only
        assert out.startswith("NCT05084677")


def test_grade_uses_the_named_trials_reference_ranges(other_rules, capsys):
    code, out, _ = run(capsys, "grade", "ANC 1.7", "--json")
    assert code == 0
    assert json.loads(out)["results"][0]["grade"] == 1  # shipped LLN 1.8
    code, out, _ = run(capsys, "grade", "--trial", OTHER, "ANC 1.7", "--json")
    assert code == 0
    assert json.loads(out)["results"][0]["grade"] == 0  # the other laboratory's LLN 1.5


def test_screen_and_rules_check_read_the_named_trial(other_rules, capsys, monkeypatch):
    code, out, _ = run(capsys, "screen", "--keys", "--json")
    assert "stage" in out
    monkeypatch.setenv("TRIALBOT_TRIAL", OTHER)
    code, out, _ = run(capsys, "screen", "--keys", "--json")
    assert code == 0 and '"stage"' not in out and '"ecog"' in out
    code, out, _ = run(capsys, "rules", "check")
    assert code == 0 and out.startswith(str(other_rules / OTHER))


def test_an_unknown_trial_is_refused_naming_the_trials_there(other_rules, capsys):
    code, _, err = run(capsys, "--trial", "other_trail", "calendar", "--start", "2027-03-01")
    assert code == 2
    assert "no trial 'other_trail'" in err
    assert "nct05084677, other_trial" in err and "did you mean other_trial?" in err
    code, _, err = run(capsys, "rules", "check", "--trial", "../elsewhere")
    assert code == 2 and "TRIALBOT_TRIAL" in err


def _context(db, root, **settings):
    return build_context(
        Settings(database_url="sqlite://", rules_dir=root, admins=("U0ADMIN",), **settings),
        clock=FixedClock(datetime(2027, 2, 26, 9, 0, tzinfo=UTC)),
        database=db,
    )


def test_services_take_the_trials_sites_and_its_own_default_site(db, other_rules):
    ctx = _context(db, other_rules, trial=OTHER)
    assert ctx.rules.name == OTHER
    assert ctx.default_site == "east"  # the rules' default, no TRIALBOT_DEFAULT_SITE needed
    admin = Request(user="U0ADMIN")
    outcome = enrol(ctx, admin, "OT-0001", start=date(2027, 3, 1), bsa=1.6, ecog=1, age=50)
    assert outcome.posts[0].facts["site"] == "east"
    with pytest.raises(UserError) as refused:
        enrol(ctx, admin, "LACC-007", start=date(2027, 3, 1), bsa=1.6)
    assert refused.value.field == "study_id"  # the other trial's numbering


def test_enrolment_without_a_stage_criterion_refuses_stage_by_name(db, other_rules):
    ctx = _context(db, other_rules, trial=OTHER)
    with pytest.raises(UserError) as refused:
        enrol(ctx, Request(user="U0ADMIN"), "OT-0002", start=date(2027, 3, 1), stage="IIIB")
    assert refused.value.field == "stage"
    assert "has no 'stage' criterion" in refused.value.message
    assert "type figo_stage" in refused.value.allowed


def test_a_default_site_the_trial_does_not_have_is_refused(db, other_rules):
    with pytest.raises(UserError) as refused:
        _context(db, other_rules, trial=OTHER, default_site="main")
    assert refused.value.field == "TRIALBOT_DEFAULT_SITE"
    assert "east" in refused.value.allowed


def test_rules_check_refuses_an_enrolment_criterion_of_another_type(other_rules):
    path = other_rules / OTHER / "eligibility.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["criteria"].append(
        {
            "key": "stage",
            "type": "yes_no",
            "section": "inclusion",
            "label": "Stage ok",
            "question": "Stage ok?",
            "pass_when": "yes",
            "citation": "x",
        }
    )
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(RulesError) as refused:
        load_trial(other_rules / OTHER)
    assert [str(p) for p in refused.value.problems] == [
        f"{OTHER}/eligibility.yaml: criteria[{len(data['criteria']) - 1}].type: 'stage' is "
        "read by enrolment (stage=) and must be type figo_stage, not yes_no"
    ]
