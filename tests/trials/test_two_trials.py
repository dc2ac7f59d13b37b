"""The same patient stories on both shipped trials — NCT05084677 (toripalimab, the
protocol's Table 3) and KEYNOTE-A18 (pembrolizumab, the KEYTRUDA label) — through the
command dispatcher the console and Slack call, on a real SQLite file: enrolment, a
cytopenia, pneumonitis grade 2 → hold → resume, and a hepatitis graded by ULN multiples.

Every reply names its own trial's drugs and cites its own rules, and never the other
trial's drugs or table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.clock import FixedClock
from bot.commands import run
from bot.services import Request, build_context
from bot.settings import Settings

ADMIN, NURSE, DOCTOR = "U0ADMIN01", "U0NURSE01", "U0DOC0001"
DAY1 = date(2027, 3, 1)  # a Monday; a treatment day at both example sites


@dataclass(frozen=True)
class TrialCase:
    trial: str
    sid: str
    site: str
    utc_offset: str
    io: str  # the immunotherapy drug
    chemo: str
    table: str  # how its replies name the immune-related rules
    # citations (substrings of a decision's `rule`)
    cytopenia_rule: str
    cytopenia_action: str
    pneumonitis_hold: str
    hepatitis_hold: str
    others: tuple[str, ...]  # the other trial's words, never in a reply


NCT = TrialCase(
    trial="nct05084677",
    sid="LACC-007",
    site="main",
    utc_offset="+08:00",
    io="toripalimab",
    chemo="cisplatin",
    table="Table 3",
    cytopenia_rule="grade IV neutropenia, thrombocytopenia or leucopenia",
    cytopenia_action="reduce",
    pneumonitis_hold="Table 3, Pneumonitis, grade II",
    hepatitis_hold="Table 3, Hepatitis, grade II",
    others=("pembrolizumab", "KEYTRUDA", "SmPC", "NCT04221945"),
)
KEYNOTE = TrialCase(
    trial="keynote_a18",
    sid="KN-0007",
    site="london",
    utc_offset="+00:00",
    io="pembrolizumab",
    chemo="cisplatin",
    table="KEYTRUDA SmPC 4.2",
    cytopenia_rule="no cisplatin modification rule is published",
    cytopenia_action="refer",
    pneumonitis_hold="KEYTRUDA SmPC 4.2, Pneumonitis, grade 2",
    hepatitis_hold="KEYTRUDA SmPC 4.2, Hepatitis, grade 2",
    others=("toripalimab", "paclitaxel", "Table 3", "NCT05084677"),
)


class Story:
    """One trial's dispatcher, clock and database; `say` returns the reply."""

    def __init__(self, case: TrialCase, path: Path, **settings: Any) -> None:
        self.case = case
        self.clock = FixedClock(self._instant(-3))
        settings = Settings(
            database_url=f"sqlite:///{path}", admins=(ADMIN,), trial=case.trial, **settings
        )
        self.ctx = build_context(settings, clock=self.clock)

    def _instant(self, n: int) -> datetime:
        day = DAY1 + timedelta(days=n)
        return datetime.fromisoformat(f"{day.isoformat()}T09:00{self.case.utc_offset}")

    def on(self, n: int) -> Story:
        self.clock.set(self._instant(n))
        return self

    def say(self, text: str, user: str = NURSE) -> Any:
        reply = run(self.ctx, Request(user=user, source="test"), text)
        assert reply.ok, reply.text
        for word in self.case.others:
            assert word.lower() not in reply.text.lower(), (word, reply.text)
        return reply

    def decision(self, reply, drug: str, action: str | None = None) -> dict[str, Any]:
        for found in reply.decisions:
            if found["drug"] == drug and (action is None or found["action"] == action):
                return found
        raise AssertionError(f"no {drug} {action} decision in {reply.decisions}")


@pytest.fixture(params=[NCT, KEYNOTE], ids=lambda case: case.trial)
def story(request, tmp_path) -> Story:
    told = Story(request.param, tmp_path / "story.db")
    site = request.param.site
    told.say(f"role {NURSE} coordinator site={site}", user=ADMIN)
    told.say(f"role {DOCTOR} investigator site={site} oncall=yes", user=ADMIN)
    yield told
    told.ctx.db.dispose()


def _enrol(story: Story):
    return story.say(f"enroll {story.case.sid} start={DAY1.isoformat()} height=160 weight=55")


def test_enrolment_at_the_trials_own_site_and_numbering(story):
    reply = _enrol(story)
    assert f"*{story.case.sid}* enrolled at site {story.case.site}" in reply.text
    calendar = story.on(0).say(f"calendar {story.case.sid}")
    assert story.case.io.capitalize() in calendar.text or story.case.io in calendar.text
    assert story.case.chemo in calendar.text.lower()


def test_help_and_usage_lines_show_the_trials_own_study_ids_and_site(story):
    """A KEYNOTE-A18 team is shown `lab KN-0001 …` and `site=london`, not the other
    trial's study IDs and site: in the overview, a topic, and a refusal's usage line."""
    example = "LACC-007" if story.case is NCT else "KN-0001"  # each sites.yaml's example
    other_example, other_site = ("KN-0001", "london") if story.case is NCT else ("LACC-007", "main")
    overview = story.say("help").text
    topic = story.say("help enroll").text
    refused = run(story.ctx, Request(user=NURSE, source="test"), "lab")
    assert not refused.ok
    for shown in (overview, topic, refused.text):
        assert f"lab {example}" in shown or f"enroll {example}" in shown, shown
        assert other_example not in shown, shown
    for shown in (overview, topic):
        assert f"site={story.case.site}" in shown and f"site={other_site}" not in shown, shown


def test_a_cytopenia_before_the_next_chemotherapy(story):
    _enrol(story)
    reply = story.on(4).say(f"lab {story.case.sid} ANC 0.4 PLT 180")
    chemo = story.decision(reply, story.case.chemo)
    assert chemo["action"] == story.case.cytopenia_action
    assert story.case.cytopenia_rule in chemo["rule"] + chemo["reason"], chemo
    io = story.decision(reply, story.case.io, "continue")
    assert story.case.io in io["reason"] and story.case.table in io["reason"], io
    assert story.case.chemo in reply.text and story.case.io in reply.text


def test_pneumonitis_grade_2_holds_then_resumes_the_immunotherapy(story):
    case = story.case
    _enrol(story)
    asked = story.on(25).say(f"ae {case.sid} pneumonitis grade=2")
    referral = story.decision(asked, case.io, "refer")
    assert referral["if_immune_related"]["action"] == "hold"
    assert case.pneumonitis_hold in referral["if_immune_related"]["rule"]
    assert f"if immune-related, {case.table} says" in referral["reason"]
    entry = referral["trigger"]
    attributed = story.say(f"attribute {entry} irae=yes", user=DOCTOR)
    hold = story.decision(attributed, case.io, "hold")
    assert hold["rule"].startswith(case.pneumonitis_hold), hold
    story.say(f"confirm {hold['id']}", user=DOCTOR)
    recovered = story.on(40).say(f"ae {case.sid} pneumonitis grade=1")
    resume = story.decision(recovered, case.io, "resume")
    assert f"resume {case.io}" in resume["reason"], resume
    assert resume["rule"].startswith(story.ctx.rules.dose_modifications.immunotherapy.source)


def test_a_hepatitis_graded_by_multiples_of_the_uln(story):
    case = story.case
    _enrol(story)
    # ALT 130 U/L against a ULN of 40: 3.25 × ULN, grade 2 by the ULN bands of both trials
    asked = story.on(25).say(f"lab {case.sid} ALT 130 (7-40)")
    referral = story.decision(asked, case.io, "refer")
    assert referral["if_immune_related"]["action"] == "hold"
    assert case.hepatitis_hold in referral["if_immune_related"]["rule"], referral
    entry = referral["trigger"]
    attributed = story.say(f"attribute {entry} irae=yes", user=DOCTOR)
    hold = story.decision(attributed, case.io, "hold")
    assert hold["rule"].startswith(case.hepatitis_hold), hold
    assert case.io in hold["reason"]


@pytest.fixture
def keynote(tmp_path) -> Story:
    told = Story(KEYNOTE, tmp_path / "keynote.db")
    told.say(f"role {NURSE} coordinator site={KEYNOTE.site}", user=ADMIN)
    told.say(f"role {DOCTOR} investigator site={KEYNOTE.site} oncall=yes", user=ADMIN)
    _enrol(told)
    yield told
    told.ctx.db.dispose()


def test_hypothyroidism_continues_with_hormone_replacement(keynote):
    asked = keynote.on(25).say(f"ae {KEYNOTE.sid} hypothyroidism grade=2")
    referral = keynote.decision(asked, "pembrolizumab", "refer")
    assert referral["if_immune_related"]["action"] == "continue"
    attributed = keynote.say(f"attribute {referral['trigger']} irae=yes", user=DOCTOR)
    kept = keynote.decision(attributed, "pembrolizumab", "continue")
    assert "Hormone replacement therapy (levothyroxine)" in kept["reason"]
    assert "pembrolizumab continues" in kept["reason"]
    assert kept["rule"] == (
        "KEYTRUDA SmPC 4.2, Hypothyroidism: may be managed with replacement therapy "
        "without treatment interruption"
    )


def test_a_grade_1_infusion_reaction_slows_the_infusion_and_holds_nothing(keynote):
    keynote.on(0).say(f"dose {KEYNOTE.sid} pembrolizumab")
    asked = keynote.say(f"ae {KEYNOTE.sid} infusion_related_reaction grade=1 irae=yes", user=DOCTOR)
    slowed = keynote.decision(asked, "pembrolizumab", "continue")
    assert "Interrupt or slow the rate of infusion" in slowed["reason"]
    assert slowed["rule"].startswith("KEYTRUDA USPI, Dosage modifications, Infusion-related")
    assert all(d["action"] != "hold" for d in asked.decisions)


def test_a_grade_3_hyperthyroidism_resumes_at_grade_2_its_categorys_recovery_grade(keynote):
    asked = keynote.on(25).say(f"ae {KEYNOTE.sid} hyperthyroidism grade=3 irae=yes", user=DOCTOR)
    hold = keynote.decision(asked, "pembrolizumab", "hold")
    assert hold["rule"] == "KEYTRUDA SmPC 4.2, Hyperthyroidism grade ≥ 3"
    keynote.say(f"confirm {hold['id']}", user=DOCTOR)
    improved = keynote.on(32).say(f"ae {KEYNOTE.sid} hyperthyroidism grade=2 irae=yes", user=DOCTOR)
    resume = keynote.decision(improved, "pembrolizumab", "resume")
    assert "restored to grade 0–II → resume pembrolizumab" in resume["reason"], resume


def _other_trial_story(
    other_rules: Path, db: Path, sid: str, change, cytopenia_action: str = ""
) -> Story:
    """A story on a copy of NCT05084677's rules (tests/trials/conftest.py) whose
    dose_modifications.yaml `change(rules)` edits first, at its site `east`, with a
    coordinator and an on-call investigator, the patient enrolled."""
    import yaml

    from tests.trials.conftest import OTHER

    path = other_rules / OTHER / "dose_modifications.yaml"
    rules = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(rules)
    path.write_text(yaml.safe_dump(rules, allow_unicode=True, sort_keys=False), encoding="utf-8")
    case = TrialCase(
        trial=OTHER,
        sid=sid,
        site="east",
        utc_offset="+01:00",
        io="toripalimab",
        chemo="cisplatin",
        table="Table 3",
        cytopenia_rule="",
        cytopenia_action=cytopenia_action,
        pneumonitis_hold="",
        hepatitis_hold="",
        others=("pembrolizumab",),
    )
    story = Story(case, db, rules_dir=other_rules)
    story.say(f"role {NURSE} coordinator site=east", user=ADMIN)
    story.say(f"role {DOCTOR} investigator site=east oncall=yes", user=ADMIN)
    _enrol(story)
    return story


def test_a_trial_can_hold_not_reduce_chemotherapy_on_a_blood_count(other_rules, tmp_path):
    """`chemotherapy.hold_on`: a grade 3 platelet count holds cisplatin (NCT05084677's
    rules would refer it), and its recovery resumes the same dose."""

    def hold_on_platelets(rules: dict) -> None:
        rules["chemotherapy"]["hold_on"] = {
            "triggers": [{"term": "Platelet count decreased", "min_grade": 3}],
            "recovered_max_grade": 1,
            "source": "Other trial, chemotherapy: hold for grade 3 thrombocytopenia",
        }

    story = _other_trial_story(
        other_rules, tmp_path / "other.db", "OT-0001", hold_on_platelets, cytopenia_action="hold"
    )
    case = story.case
    held = story.on(4).say(f"lab {case.sid} ANC 2.1 PLT 40")
    hold = story.decision(held, "cisplatin", "hold")
    assert hold["rule"] == "Other trial, chemotherapy: hold for grade 3 thrombocytopenia"
    assert "chemotherapy held until recovered to grade 0–I" in hold["reason"], hold
    story.say(f"confirm {hold['id']}", user=DOCTOR)
    recovered = story.on(6).say(f"lab {case.sid} ANC 2.1 PLT 160")
    resume = story.decision(recovered, "cisplatin", "resume")
    assert resume["dose_percent"] == 100, resume
    story.ctx.db.dispose()


def test_an_immune_rule_can_reduce_by_dose_level(other_rules, tmp_path):
    """A row `reduce` with `levels_down: 1` steps down the block's `dose_levels` from the
    dose in effect: 100 → 80, then 80 → 60."""

    def one_level_down(rules: dict) -> None:
        rules["immunotherapy"]["dose_levels"] = [100, 80, 60]
        (category,) = [c for c in rules["immunotherapy"]["categories"] if c["id"] == "pneumonitis"]
        category["rows"][0] = {
            "grades": [2],
            "action": "reduce",
            "levels_down": 1,
            "management": "Reduce toripalimab by one dose level",
            "source": "Other trial, pneumonitis grade 2: one dose level down",
        }

    story = _other_trial_story(other_rules, tmp_path / "levels.db", "OT-0002", one_level_down)
    case = story.case
    first = story.on(25).say(f"ae {case.sid} pneumonitis grade=2 irae=yes", user=DOCTOR)
    reduced = story.decision(first, "toripalimab", "reduce")
    assert reduced["dose_percent"] == 80 and reduced["rule"].startswith("Other trial"), reduced
    story.say(f"confirm {reduced['id']}", user=DOCTOR)
    again = story.on(30).say(f"ae {case.sid} pneumonitis grade=2 irae=yes", user=DOCTOR)
    assert story.decision(again, "toripalimab", "reduce")["dose_percent"] == 60
    story.ctx.db.dispose()


def test_refusals_name_the_trials_own_study_id_and_stage(story):
    """What a refusal says is allowed — the words nobody read, a word that is not a study
    ID, a stage outside the staging system — names this trial's example study ID and
    staging, never the other trial's."""
    example = "LACC-007" if story.case is NCT else "KN-0001"
    other_example = "KN-0001" if story.case is NCT else "LACC-007"
    system, other_system = ("FIGO 2018", "FIGO 2014")[:: 1 if story.case is NCT else -1]
    _enrol(story)
    request = Request(user=NURSE, source="test")
    extra = run(story.ctx, request, f"patient {story.case.sid} recent=3 whatever")
    not_an_id = run(story.ctx, request, "calendar 12345678901")
    stage = run(story.ctx, request, f"screen stage=IIIC3 site={story.case.site}")
    for refused in (extra, not_an_id):
        assert not refused.ok and example in refused.text, refused.text
        assert other_example not in refused.text and "{" not in refused.text, refused.text
    assert not stage.ok and f"not a {system} stage" in stage.text, stage.text
    assert other_system not in stage.text and "IIIC1" not in stage.text.split("allowed")[0]
    help_enroll = story.say("help enroll").text
    stage_example = story.ctx.rules.stage_example
    assert f"stage={stage_example}" in help_enroll and "{stage}" not in help_enroll


@pytest.mark.parametrize("case", [NCT, KEYNOTE], ids=lambda case: case.trial)
def test_the_console_and_the_command_line_help_show_the_trials_study_ids(
    case, tmp_path, monkeypatch, capsys
):
    """`trialbot --trial X chat …` (help, a refusal) and the `--help` of chat, export and
    screen: the named trial's example study ID and stages, never the other trial's."""
    from bot.cli import main

    example, other = ("LACC-007", "KN-0001") if case is NCT else ("KN-0001", "LACC-007")
    monkeypatch.setenv("TRIALBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'console.db'}")
    monkeypatch.setenv("TRIALBOT_ADMINS", ADMIN)
    shown = []
    for argv in (
        ["--trial", case.trial, "chat", "--as", ADMIN, "/trial help"],
        ["--trial", case.trial, "chat", "--as", ADMIN, "/trial calendar"],
    ):
        main(argv)
        out, err = capsys.readouterr()
        shown.append(out + err)
    for argv in (["chat", "--help"], ["export", "--help"], ["screen", "--help"]):
        with pytest.raises(SystemExit):
            main(["--trial", case.trial, *argv])
        shown.append(capsys.readouterr().out)
    help_, refusal, chat_help, export_help, screen_help = shown
    for text in (help_, refusal, chat_help, export_help):
        assert example in text and other not in text, text
        assert "{study_id}" not in text, text
    eligible = "IIIA, IIIB, IIIC1, IIIC2, IVA" if case is NCT else "IB2, IIA1, IIA2, IIB"
    assert eligible in screen_help and "{stage" not in screen_help, screen_help


@pytest.mark.parametrize("case", [NCT, KEYNOTE], ids=lambda case: case.trial)
def test_the_demos_holiday_patient_meets_its_own_sites_holiday(case, tmp_path):
    """The demo's `holiday` patient starts so that a later phase of its treatment would
    begin on a public holiday of the trial's own site (NCT05084677: China's National Day,
    as before; KEYNOTE-A18: an English bank holiday), and the enrolled calendar moves it."""
    from bot.calendar.engine import build_calendar
    from bot.calendar.plan import PatientPlan
    from bot.calendar.sites import SiteCalendar
    from bot.demo.cohort import DEFAULT_START
    from bot.demo.runner import holiday_day1

    story = Story(case, tmp_path / "holiday.db")
    day1 = holiday_day1(story.ctx, DEFAULT_START)
    assert day1 is not None
    if case is NCT:
        assert day1 == date(2026, 8, 10)  # consolidation from Thu 1 Oct 2026, moved
    site = SiteCalendar(story.ctx.rules.sites.config(case.site))
    events = build_calendar(story.ctx.rules.schedule, PatientPlan(day1=day1), [], site).events
    firsts: dict[str, Any] = {}
    for event in events:
        if event.dose is not None:
            firsts.setdefault(event.phase, event)
    moved = [e for e in list(firsts.values())[1:] if e.nominal_date != e.date]
    assert moved, list(firsts.values())
    reasons = {site.closure_reason(e.nominal_date) for e in moved}
    assert reasons and "weekend" not in reasons and None not in reasons, reasons
    story.ctx.db.dispose()
