"""A third rules directory, written as a new team would (tests/trials/conftest.py
`third_rules`: carboplatin, two immunotherapy drugs, other phase and course names, two
sites in France and the US with the second as default, no `stage` criterion, a conditional
one): every command reads it, and says nothing of the shipped trials."""

from __future__ import annotations

import json

import pytest

from bot.cli import main
from tests.trials import test_two_trials as stories
from tests.trials.conftest import THIRD

SHIPPED_WORDS = ("toripalimab", "paclitaxel", "pembrolizumab", "cisplatin", "LACC", "KN-0")
NCT_SCREEN_KEYS = ("pathology_proven", "ccrt_eligible", "hb", "bilirubin", "consent")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _help(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit):
        main(list(argv))
    return capsys.readouterr().out


def test_rules_check_passes(third_rules, capsys):
    code, out, err = run(capsys, "rules", "check")
    assert code == 0, err
    assert out.startswith(str(third_rules / THIRD))


def test_screen_help_lists_the_trials_own_criteria(third_rules, capsys):
    out = _help(capsys, "screen", "--help")
    assert "criteria: age, ecog, anc" in out
    assert "checklist (yes/no): child_bearing_potential, pregnancy_test, histology" in out
    assert "pregnancy_test applies only when child_bearing_potential is yes" in out
    assert "stage" not in out  # no stage criterion, no stage= line
    for key in NCT_SCREEN_KEYS:
        assert key not in out, key


def test_screen_reads_the_conditional_criterion_and_lists_its_answers(third_rules, capsys):
    answers = (
        "age=50",
        "child_bearing_potential=na",
        "histology=yes",
        "untreated=yes",
        "ecog=1",
        "organ_function=yes",
        "anc=2.0",
    )
    code, out, _ = run(capsys, "screen", *answers, "--json")
    assert code == 0 and json.loads(out)["eligible"] is True
    code, _, err = run(capsys, "screen", "stage=IIIB")
    assert code == 2 and "unknown criterion 'stage'" in err
    code, out, _ = run(capsys, "screen", "--keys")
    assert "answers: yes/no/na, passes yes" in out  # not "yes/no//na"


def test_chat_help_shows_only_the_trials_own_options(third_rules, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("TRIALBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'help.db'}")
    code, out, err = run(capsys, "chat", "/trial help")
    assert code == 0, err
    enroll = next(line for line in out.splitlines() if "`enroll " in line)
    screen = next(line for line in out.splitlines() if "`screen " in line)
    assert "stage=" not in enroll and "[ecog=1] [age=52]" in enroll and "site=boston" in enroll
    assert "boost=" not in enroll  # no radiotherapy course gives a boost dose
    assert screen.startswith("• `screen age=18 ecog=0 anc=1.5 child_bearing_potential=yes")
    for word in SHIPPED_WORDS:
        assert word not in out, word


@pytest.mark.parametrize(
    ("file", "old", "new", "expected"),
    [
        # a built-in calendar (what-if plans) passed here and was refused by every service
        ("sites.yaml", "default_site: boston", "default_site: cn",
         "sites.yaml: default_site: unknown site 'cn' (allowed: lyon, boston)"),
        ("sites.yaml", "default_site: boston", "default_site: bostn",
         "sites.yaml: default_site: unknown site 'bostn' — did you mean 'boston'?"),
        ("reference_ranges.yaml", "default_site: boston", "default_site: bostn",
         "reference_ranges.yaml: default_site: is not one of the sites — did you mean 'boston'?"),
        ("reference_ranges.yaml", "\n  lyon:", "\n  cn:",
         "reference_ranges.yaml: sites.cn: 'cn' is not a site of sites.yaml; allowed: lyon, boston"),
        ("dose_modifications.yaml", "Blood and lymphatic system disorders",
         "Blood and lymphatic system disorder",
         "chemotherapy.haematological.socs[0]: 'Blood and lymphatic system disorder' is not a "
         "CTCAE v5.0 system organ class (did you mean 'Blood and lymphatic system disorders'?)"),
        ("dose_modifications.yaml", "action: hold", "action: hodl",
         "immunotherapy.categories[0].rows[0].action: Input should be 'hold', 'discontinue', "
         "'refer', 'reduce', 'continue_with_management' or 'slow_infusion' (got 'hodl') — did "
         "you mean 'hold'?"),
        ("dose_modifications.yaml", "- tremelimumab", "- tremelimumb",
         "immunotherapy.drugs[1]: 'tremelimumb' is not an immunotherapy drug of schedule.yaml "
         "(did you mean 'tremelimumab'?)"),
        ("schedule.yaml", "type: interval", "type: intervall",
         "schedule.yaml: series[3]: Input tag 'intervall' found using 'type' does not match "
         "any of the expected tags: 'once', 'fractions', 'weekly', 'interval', 'cycles', 'months', "
         "'labs', 'weekly_cover' — did you mean 'interval'?"),
        ("eligibility.yaml", "type: yes_no", "type: yesno", "— did you mean 'yes_no'?"),
        # a drug misspelt in the text a decision prints, and in a series' label
        ("dose_modifications.yaml", "Withhold {drug}", "Withhold tremelimumabb",
         "immunotherapy.categories[0].rows[0].management: 'tremelimumabb' is not a drug of "
         "schedule.yaml (did you mean 'tremelimumab'?)"),
        ("schedule.yaml", "label: Tremelimumab 75 mg", "label: Tremelimumb 75 mg",
         "series[4].label: 'Tremelimumb' is not a drug of schedule.yaml (did you mean "
         "'tremelimumab'?)"),
        ("eligibility.yaml", "field: child_bearing_potential", "field: child_bearing_potentail",
         "criteria[2].when.field: unknown field — did you mean 'child_bearing_potential'?"),
    ],
)  # fmt: skip
def test_a_typo_names_file_field_and_the_closest_valid_name(
    third_rules, capsys, file, old, new, expected
):
    path = third_rules / THIRD / file
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    code, _, err = run(capsys, "rules", "check")
    assert code == 2
    assert f"{THIRD}/{file}: " in err and expected in err, err


def test_enrolment_names_the_trials_own_fractions_and_phases(
    third_rules, capsys, tmp_path, monkeypatch
):
    """The reply and the channel post read the fraction series' label and the phase names
    from the schedule: no "EBRT", no other trial's phase, no empty stage before ECOG."""
    monkeypatch.setenv("TRIALBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'enrol.db'}")
    monkeypatch.setenv("TRIALBOT_NOW", "2027-02-26T09:00-05:00")
    code, out, err = run(
        capsys, "chat", "/trial enroll TT-001 start=2027-03-01 bsa=1.6 ecog=1 age=50"
    )
    assert code == 0, err
    assert "day 1 (first Pelvic IMRT fraction): Mon 01 Mar 2027" in out
    assert "last Pelvic IMRT fraction: Fri 02 Apr 2027" in out  # Boston: no holiday
    assert "\n  ECOG 1 · age 50\n" in out
    assert "EBRT" not in out and "consolidation" not in out.lower()
    code, out, err = run(capsys, "chat", "/trial enroll TT-002 start=2027-03-01 bsa=1.6 site=lyon")
    assert code == 0, err
    assert "last Pelvic IMRT fraction: Mon 05 Apr 2027" in out  # Lyon: Easter Monday closed


THIRD_CASE = stories.TrialCase(
    trial=THIRD,
    sid="TT-007",
    site="boston",
    utc_offset="-05:00",
    io="durvalumab",
    chemo="carboplatin",
    table="IMFINZI SmPC 4.2",
    cytopenia_rule="no carboplatin modification rule is published",
    cytopenia_action="refer",
    pneumonitis_hold="IMFINZI SmPC 4.2, Pneumonitis, grade 2",
    hepatitis_hold="IMFINZI SmPC 4.2, Hepatitis, grade 2",
    others=("toripalimab", "paclitaxel", "pembrolizumab", "cisplatin", "Table 3", "KEYTRUDA"),
)


@pytest.fixture
def third_story(third_rules, tmp_path):
    told = stories.Story(THIRD_CASE, tmp_path / "third.db", rules_dir=third_rules)
    told.say(f"role {stories.NURSE} coordinator site=boston", user=stories.ADMIN)
    told.say(f"role {stories.DOCTOR} investigator site=boston oncall=yes", user=stories.ADMIN)
    yield told
    told.ctx.db.dispose()


@pytest.mark.parametrize(
    "told",
    [
        stories.test_enrolment_at_the_trials_own_site_and_numbering,
        stories.test_a_cytopenia_before_the_next_chemotherapy,
        stories.test_pneumonitis_grade_2_holds_then_resumes_the_immunotherapy,
        stories.test_a_hepatitis_graded_by_multiples_of_the_uln,
    ],
    ids=lambda story: story.__name__.removeprefix("test_"),
)
def test_the_shipped_trials_patient_stories(third_story, told):
    """The stories both shipped trials run (tests/trials/test_two_trials.py), on the third:
    its own drugs and citations in every reply, no shipped trial's drug or table."""
    told(third_story)


def test_rules_shared_by_two_drugs_name_each_decisions_own_drug(third_story):
    """Both immunotherapy drugs are held on a grade 2 pneumonitis, and each decision says
    its own drug — the rows write `{drug}`."""
    story = third_story
    stories._enrol(story)
    asked = story.on(25).say(f"ae {THIRD_CASE.sid} pneumonitis grade=2 irae=yes")
    for drug, other in (("durvalumab", "tremelimumab"), ("tremelimumab", "durvalumab")):
        hold = story.decision(asked, drug, "hold")
        assert f"Withhold {drug} until recovered" in hold["reason"], hold
        assert other not in hold["reason"] + hold["rule"], hold
        assert "{drug}" not in json.dumps(hold), hold


def test_rules_shared_by_two_drugs_that_name_one_are_refused(third_rules, capsys):
    path = third_rules / THIRD / "dose_modifications.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("Withhold {drug}", "Withhold durvalumab", 1), encoding="utf-8")
    code, _, err = run(capsys, "rules", "check")
    assert code == 2
    assert (
        f"{THIRD}/dose_modifications.yaml: immunotherapy.categories[0].rows[0].management: "
        "names 'durvalumab', but these rules answer for tremelimumab too"
    ) in err, err


def test_the_calendar_names_the_trials_own_radiotherapy_and_phases(third_rules, capsys):
    code, out, err = run(capsys, "calendar", "--start", "2027-03-01", "--bsa", "1.7")
    assert code == 0, err
    assert "\n25 Pelvic IMRT fractions, no boost" in out
    assert "\n  Pelvic IMRT: 25 fractions, 2027-03-01 → 2027-04-02;" in out
    assert "(Pelvic IMRT start → end of brachytherapy" in out
    assert "\n  Last adjuvant durvalumab: " in out
    assert "EBRT" not in out and "maintenance" not in out.lower()


def test_the_digest_and_patient_reply_count_the_trials_own_fractions(third_story):
    from datetime import date

    from bot.services import Request
    from bot.services.digest import compose_for

    story = third_story
    stories._enrol(story)
    patient = story.on(1).say(f"patient {THIRD_CASE.sid}")
    assert "· 25 Pelvic IMRT fractions ·" in patient.text
    data = compose_for(
        story.ctx, Request(user=stories.ADMIN), site="boston", day=date(2027, 3, 2)
    ).data["digest"]
    assert data["today"]["radiotherapy_text"] == "Pelvic IMRT 1 patient"
    assert "1 Pelvic IMRT fraction" in data["next_days_text"]["2027-03-03"]
    assert "EBRT" not in json.dumps(data)


def test_the_swimmer_plot_draws_the_trials_own_phases(third_story):
    """Another trial's phases were not in the code's list: its bars had no segment."""
    from bot.reports.swimmer import phases_of
    from bot.services.reports import swimmer_lanes, swimmer_png

    story = third_story
    stories._enrol(story)
    story.on(70)
    phases = phases_of(story.ctx.rules.schedule)
    assert phases.treatment == ("chemoradiation", "adjuvant") and phases.tail == "follow_up"
    lanes, today = swimmer_lanes(story.ctx)
    (lane,) = lanes
    assert [segment[0] for segment in lane.segments][:1] == ["chemoradiation"], lane
    assert lane.segments[0][1] == 0
    png = swimmer_png(story.ctx, lanes, title="third", today=today)
    assert png.startswith(b"\x89PNG")


def test_the_demo_summary_heads_its_columns_with_the_trials_words(third_story):
    from datetime import date

    from bot.services.summary import trial_summary

    story = third_story
    stories._enrol(story)
    summary = trial_summary(story.ctx, on=date(2027, 3, 5))
    text = story.ctx.renderer.render("demo/summary.j2", summary=summary)
    header = next(line for line in text.splitlines() if line.startswith("patient"))
    assert header.split() == ["patient", "day", "1", "Pelvic", "IMRT", "OTT", "responses"]
    assert "EBRT" not in text and "consolidation" not in text


def test_the_calendar_feed_names_the_weeks_fractions_by_the_trials_course(third_story):
    from bot.services.ics import calendar_feed

    story = third_story
    stories._enrol(story)
    feed = calendar_feed(story.ctx, study_id=THIRD_CASE.sid).decode()
    assert f"SUMMARY:{THIRD_CASE.sid} · Pelvic IMRT fractions 1–5 (5)" in feed
    assert "EBRT" not in feed


def test_enrol_help_and_refusals_say_the_trials_fractions(third_story):
    story = third_story
    topic = story.say("help enroll").text
    assert "day 1 = the first Pelvic IMRT fraction" in topic
    assert "planned Pelvic IMRT fractions (25–28, default 25)" in topic
    refused = stories.run(story.ctx, stories.Request(user=stories.NURSE), "enroll TT-003 bsa=1.6")
    assert not refused.ok and "day 1, the first Pelvic IMRT fraction" in refused.text
    assert "EBRT" not in topic + refused.text


def test_a_rules_folder_without_ctcae_says_where_it_looked(third_rules, capsys):
    import shutil

    shutil.rmtree(third_rules / "ctcae")
    code, _, err = run(capsys, "rules", "check")
    assert code == 2
    assert f"ctcae/v5.0: no such folder beside the trial (in {third_rules})" in err, err
    assert "copy the shipped rules/ctcae/v5.0 there" in err


def test_a_path_for_the_trial_is_refused_with_the_two_settings_it_means(third_rules, capsys):
    code, _, err = run(
        capsys, "--trial", str(third_rules / THIRD), "calendar", "--start", "2027-03-01"
    )
    assert code == 2
    assert f"set TRIALBOT_RULES_DIR={third_rules} and TRIALBOT_TRIAL={THIRD}" in err, err


def test_a_hold_waits_for_its_categorys_own_recovery_grade(third_story):
    """A grade 3 hyperthyroidism recovers at grade 2 (its category's recovered_max_grade):
    the held drug's answer to an unrelated entry says so, not the block's grade 0–I."""
    story = third_story
    stories._enrol(story)
    sid = THIRD_CASE.sid
    asked = story.on(25).say(f"ae {sid} hyperthyroidism grade=3 irae=yes", user=stories.DOCTOR)
    hold = story.decision(asked, "durvalumab", "hold")
    story.say(f"confirm {hold['id']}", user=stories.DOCTOR)
    later = story.on(28).say(f"lab {sid} ANC 2.5")
    waiting = story.decision(later, "durvalumab", "hold")
    assert "waiting for Hyperthyroidism grade 3 to restore to grade 0–II" in waiting["reason"]


def test_an_investigators_hold_cites_the_blocks_own_recovery_grade(third_rules, tmp_path):
    path = third_rules / THIRD / "dose_modifications.yaml"
    text = path.read_text(encoding="utf-8")
    assert "\n  recovered_max_grade: 1\n" in text
    path.write_text(text.replace("\n  recovered_max_grade: 1\n", "\n  recovered_max_grade: 2\n"))
    story = stories.Story(THIRD_CASE, tmp_path / "grade2.db", rules_dir=third_rules)
    story.say(f"role {stories.DOCTOR} investigator site=boston oncall=yes", user=stories.ADMIN)
    story.say(f"enroll {THIRD_CASE.sid} start=2027-03-01 bsa=1.6", user=stories.ADMIN)
    held = story.say(f'hold {THIRD_CASE.sid} tremelimumab reason="work-up"', user=stories.DOCTOR)
    assert "interrupt tremelimumab until restored to grade 0–II" in held.text, held.text
    story.ctx.db.dispose()


def test_a_boost_the_schedule_gives_no_dose_for_is_refused(third_story, third_rules, capsys):
    story = third_story
    refused = stories.run(
        story.ctx,
        stories.Request(user=stories.ADMIN),
        f"enroll {THIRD_CASE.sid} start=2027-03-01 bsa=1.6 boost=yes",
    )
    assert not refused.ok and "this trial's schedule has no boost dose" in refused.text
    code, _, err = run(capsys, "calendar", "--start", "2027-03-01", "--boost")
    assert code == 2 and "no boost dose" in err


def test_enrolment_plans_the_schedules_own_default_fractions(third_rules, tmp_path):
    """Enrolment without fractions= planned 25 whatever the schedule's default: a trial of
    30–33 fractions was refused '25 is outside the protocol's range'."""
    path = third_rules / THIRD / "schedule.yaml"
    text = path.read_text(encoding="utf-8")
    old = "count:\n    default: 25\n    min: 25\n    max: 28\n"
    assert old in text
    path.write_text(text.replace(old, "count:\n    default: 30\n    min: 30\n    max: 33\n"))
    story = stories.Story(THIRD_CASE, tmp_path / "thirty.db", rules_dir=third_rules)
    enrolled = story.say(f"enroll {THIRD_CASE.sid} start=2027-03-01 bsa=1.6", user=stories.ADMIN)
    assert "· 30 fractions ·" in enrolled.text, enrolled.text
    story.ctx.db.dispose()


def test_a_history_files_plan_takes_the_schedules_own_default_fractions(
    third_rules, capsys, tmp_path
):
    path = third_rules / THIRD / "schedule.yaml"
    text = path.read_text(encoding="utf-8")
    old = "count:\n    default: 25\n    min: 25\n    max: 28\n"
    path.write_text(text.replace(old, "count:\n    default: 30\n    min: 30\n    max: 33\n"))
    history = tmp_path / "history.yaml"
    history.write_text(
        "study_id: TT-009\nplan: {start: 2027-03-01, bsa: 1.62}\n"
        "new: {date: 2027-03-11, lab: 'ALT 120 U/L'}\n",
        encoding="utf-8",
    )
    code, out, err = run(capsys, "decide", str(history))
    assert code == 0, err
    code, out, err = run(capsys, "calendar", "--history", str(history))
    assert code == 0, err
    assert "\n30 Pelvic IMRT fractions" in out
    history.write_text("plan: {start: 2027-03-01, boost: yes}\n", encoding="utf-8")
    code, out, err = run(capsys, "decide", str(history))
    assert code == 2 and "no boost dose" in err, err
