"""Time-based rules, evaluated daily from the event log by the scheduler's review: both
12-week toripalimab rules, one year of immunotherapy, chemotherapy held too long. Each
becomes a proposal citing its rule, alerted like any other, and is proposed once."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import select

from bot.services import entries, rota, verdicts
from bot.storage.models import DecisionRecord
from tests.scheduler.conftest import DAY1, DOCTOR, NURSE, as_user, enrol

SHANGHAI = ZoneInfo("Asia/Shanghai")

# The citations, as NCT05084677's rules directory words them (dose_modifications.yaml:
# immunotherapy.duration.source, chemotherapy.suspend.hold_limit_source).
ONE_YEAR_RULE = (
    "Protocol, Immunotherapy ('240 mg toripalimab will be given once every six weeks until "
    "the whole treatment period reached one year since the beginning')"
)
CHEMO_HOLD_RULE = (
    "Protocol, Toxicity & dose modifications: chemotherapy suspended until the haematological "
    "toxicity recovers to grade 0–I (no longest suspension is given; READING: "
    "TRIALBOT_CHEMO_HOLD_LIMIT_DAYS)"
)


def at(ctx, day: date, hour: int = 10) -> None:
    ctx.clock.set(datetime(day.year, day.month, day.day, hour, tzinfo=SHANGHAI))


def morning(run, day: date):
    return run.at(datetime(day.year, day.month, day.day, 7, 31, tzinfo=SHANGHAI))


def _open(ctx, drug=None):
    with ctx.db.transaction(readonly=True) as session:
        statement = select(DecisionRecord).where(DecisionRecord.status == "proposed")
        if drug:
            statement = statement.where(DecisionRecord.drug == drug)
        return session.exec(statement.order_by(DecisionRecord.id)).all()


def _confirm_all(ctx):
    for record in _open(ctx):
        verdicts.confirm(ctx, as_user(DOCTOR), record.label)


def test_an_irae_not_recovered_within_12_weeks_becomes_a_discontinue_proposal_once(ctx, run):
    rota.set_rota(ctx, as_user(DOCTOR), DOCTOR)
    enrol(ctx)
    at(ctx, DAY1)
    entries.record_dose(ctx, as_user(NURSE), "LACC-007", "toripalimab")
    at(ctx, DAY1 + timedelta(days=7))
    entries.record_ae(ctx, as_user(NURSE), "LACC-007", "colitis", 2, irae=True)
    _confirm_all(ctx)  # toripalimab held
    last_day_within = DAY1 + timedelta(days=84)
    morning(run, last_day_within)
    assert _open(ctx, "toripalimab") == []
    run.posts.clear()
    report = morning(run, last_day_within + timedelta(days=1))
    proposals = _open(ctx, "toripalimab")
    assert [(p.action, p.rule.split(":")[0]) for p in proposals] == [
        ("discontinue", "Table 3, Recurrent or persistent adverse events")
    ]
    assert "not recovered to grade 0–I within 12 weeks" in proposals[0].reason
    assert report.proposals == [proposals[0].label]
    alert = [p for p in run.posts if p.channel == DOCTOR and p.kind == "review_alert"]
    assert alert and "daily review" in alert[0].text and proposals[0].label in alert[0].text
    morning(run, last_day_within + timedelta(days=2))
    assert len(_open(ctx, "toripalimab")) == 1  # proposed once, not every morning


def test_steroids_not_tapered_within_12_weeks_become_a_proposal(ctx, run):
    enrol(ctx)
    at(ctx, DAY1)
    entries.record_dose(ctx, as_user(NURSE), "LACC-007", "toripalimab")
    at(ctx, DAY1 + timedelta(days=10))
    entries.record_ae(ctx, as_user(NURSE), "LACC-007", "colitis", 2, irae=True, steroid_mg=40)
    _confirm_all(ctx)
    at(ctx, DAY1 + timedelta(days=40))
    entries.record_ae(ctx, as_user(NURSE), "LACC-007", "colitis", 1, irae=True, steroid_mg=20)
    _confirm_all(ctx)  # recovered: resume proposed and confirmed
    morning(run, DAY1 + timedelta(days=85))
    rules = [p.rule for p in _open(ctx, "toripalimab")]
    assert any("corticosteroids not reduced" in r for r in rules), rules


def test_one_year_of_immunotherapy_ends_toripalimab_by_proposal(ctx, run):
    enrol(ctx)
    at(ctx, DAY1)
    entries.record_dose(ctx, as_user(NURSE), "LACC-007", "toripalimab")
    morning(run, date(2028, 3, 7))
    assert [p for p in _open(ctx, "toripalimab") if p.rule == ONE_YEAR_RULE] == []
    morning(run, date(2028, 3, 8))
    (proposal,) = [p for p in _open(ctx, "toripalimab") if p.rule == ONE_YEAR_RULE]
    assert proposal.action == "discontinue" and "reached one year on 2028-03-08" in proposal.reason


def test_chemotherapy_held_longer_than_the_limit_is_referred(ctx, run):
    enrol(ctx)
    at(ctx, DAY1)
    entries.record_dose(ctx, as_user(NURSE), "LACC-007", "cisplatin")
    at(ctx, DAY1 + timedelta(days=3))
    entries.record_lab(ctx, as_user(NURSE), "LACC-007", "ANC 0.4")
    _confirm_all(ctx)  # cisplatin reduced to 80 %
    at(ctx, DAY1 + timedelta(days=6))
    entries.record_lab(ctx, as_user(NURSE), "LACC-007", "ANC 0.9")  # not recovered: suspended
    holds = [p for p in _open(ctx, "cisplatin") if p.action == "hold"]
    assert holds, [(p.drug, p.action) for p in _open(ctx)]
    _confirm_all(ctx)
    limit = ctx.settings.chemo_hold_limit_days
    morning(run, DAY1 + timedelta(days=6 + limit))
    assert [p for p in _open(ctx, "cisplatin") if p.rule == CHEMO_HOLD_RULE] == []
    morning(run, DAY1 + timedelta(days=7 + limit))
    (refer,) = [p for p in _open(ctx, "cisplatin") if p.rule == CHEMO_HOLD_RULE]
    assert refer.action == "refer" and "on hold since" in refer.reason
    morning(run, DAY1 + timedelta(days=8 + limit))
    assert len([p for p in _open(ctx, "cisplatin") if p.rule == CHEMO_HOLD_RULE]) == 1


def test_a_review_alert_is_queued_as_posts_and_audited_as_the_scheduler(ctx, run):
    from bot.posts import Post
    from bot.services.context import Request
    from bot.services.review import review_patient
    from bot.storage.models import AuditEntry

    rota.set_rota(ctx, as_user(DOCTOR), DOCTOR)
    enrol(ctx)
    at(ctx, DAY1)
    entries.record_dose(ctx, as_user(NURSE), "LACC-007", "toripalimab")
    at(ctx, DAY1 + timedelta(days=7))
    entries.record_ae(ctx, as_user(NURSE), "LACC-007", "colitis", 2, irae=True)
    _confirm_all(ctx)
    day = DAY1 + timedelta(days=85)
    at(ctx, day, 8)
    outcome = review_patient(ctx, "LACC-007", day)
    assert outcome.posts and all(isinstance(p, Post) for p in outcome.posts)
    assert {p.kind for p in outcome.posts} == {"review_alert"}
    subject = f"alert:{outcome.decisions[0]['id']}"
    with ctx.db.transaction(readonly=True) as session:
        actors = {
            (a.actor, a.details.get("source"))
            for a in session.exec(select(AuditEntry)).all()
            if a.subject == subject
        }
    assert actors == {(Request.scheduler().user, "scheduler")}
