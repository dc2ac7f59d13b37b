"""The daily digest: once per site and local day at TRIALBOT_DIGEST_AT, what it says,
DST days, the site calendar's holidays and make-up days, reminders."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import select

from bot.cli import main
from bot.services import entries, rota, verdicts
from bot.services.digest import compose_for
from bot.storage.models import OutboxMessage
from bot.transports.slack.blocks import post_messages as messages
from bot.transports.text import post_text
from tests.scheduler.conftest import DOCTOR, NEW_YORK, NURSE, VIEWER, Run, as_user, enrol

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(day: date, hour: int, minute: int = 0, zone=SHANGHAI) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)


def _digests(posts):
    return [p for p in posts if p.kind == "digest"]


def test_one_digest_per_site_and_day_at_the_digest_time(ctx, run):
    enrol(ctx)
    day = date(2027, 3, 8)
    run.at(local(day, 7, 29))
    assert _digests(run.posts) == []
    run.at(local(day, 7, 30))
    run.at(local(day, 7, 45))
    run.at(local(day, 12, 0))
    assert len(_digests(run.posts)) == 1
    run.at(local(day + timedelta(days=1), 7, 31))
    assert len(_digests(run.posts)) == 2
    with ctx.db.transaction(readonly=True) as session:
        keys = session.exec(
            select(OutboxMessage.dedupe_key).where(OutboxMessage.kind == "digest")
        ).all()
    assert sorted(keys) == ["digest:main:2027-03-08", "digest:main:2027-03-09"]


def test_after_downtime_only_todays_digest_goes_out_and_missed_reminders_come_once(ctx, run):
    enrol(ctx)
    run.at(local(date(2027, 3, 1), 7, 31))
    run.posts.clear()
    # down for a week: no digest for the days missed, the missed reminders summarised once
    run.at(local(date(2027, 3, 9), 9, 0))
    digests = _digests(run.posts)
    assert len(digests) == 1 and "Tue 09 Mar 2027" in digests[0].text
    summaries = [p for p in run.posts if p.kind == "reminders_missed"]
    assert len(summaries) == 1 and "fell due while trialbot was not running" in summaries[0].text
    assert "2027-03-04 LACC-007 — pre-dose labs for Cisplatin weekly dose 1" in summaries[0].text
    assert [p for p in run.posts if p.kind == "reminder" and "03-04" in p.text] == []
    assert "summarised once" in digests[0].text
    run.posts.clear()
    run.at(local(date(2027, 3, 10), 7, 31))
    assert [p for p in run.posts if p.kind == "reminders_missed"] == []


def test_the_digest_lists_what_is_due_with_doses_holds_decisions_and_who_is_on_call(ctx):
    rota.set_rota(ctx, as_user(DOCTOR), DOCTOR)
    enrol(ctx, "LACC-007")
    enrol(ctx, "LACC-008", height=150, weight=50)
    ctx.clock.set(local(date(2027, 3, 8), 9))
    outcome = entries.record_lab(ctx, as_user(NURSE), "LACC-008", "ANC 0.4")
    reduce = next(d for d in outcome.decisions if d["action"] == "reduce")
    verdicts.confirm(ctx, as_user(DOCTOR), reduce["id"])
    entries.record_lab(ctx, as_user(NURSE), "LACC-007", "PLT 40")
    outcome = compose_for(ctx, as_user(VIEWER), day=date(2027, 3, 8))
    data = outcome.data["digest"]
    text = post_text(ctx.renderer, outcome.posts[0])
    digest = {"messages": messages(ctx.renderer, outcome.posts[0])}
    assert data["today"]["radiotherapy"] == {"ebrt": 2}
    drugs = {g["drug"]: g for g in data["today"]["infusions"]}
    assert drugs["cisplatin"]["count"] == 2 and drugs["toripalimab"]["count"] == 2
    assert any(
        p.startswith("LACC-007 ") and p.endswith(" mg") for p in drugs["cisplatin"]["patients"]
    )
    assert "cisplatin 40 mg/m2 (2): LACC-007" in text
    assert data["reduced"]["cisplatin at 80%"]["shown"] == ["LACC-008"]
    assert data["awaiting"]["count"] >= 1
    assert f"On call: <@{DOCTOR}>" in text
    assert "Awaiting an investigator" in text and "Next 7 days" in text
    for message in digest["messages"]:
        assert len(message["blocks"]) <= 50
        assert all(len(b["text"]["text"]) <= 3000 for b in message["blocks"])


def test_a_digest_for_many_patients_is_grouped_and_split_within_slacks_limits(ctx):
    from bot.scheduler.digest import DigestInput, compose
    from bot.scheduler.digest import messages as split

    rows = [
        {
            "study_id": f"LACC-{n}",
            "date": "2027-03-08",
            "kind": "infusion",
            "item": "cisplatin",
            "label": "Cisplatin weekly dose 1",
            "dose": {"amount": 40, "unit": "mg/m2", "mg": 60 + n % 9, "percent": 100},
        }
        for n in range(1, 1001)
    ]
    data = compose(
        DigestInput(
            site="main",
            day=date(2027, 3, 8),
            timezone="Asia/Shanghai",
            closure=None,
            today_rows=rows,
            radiotherapy_today={"ebrt": 1000},
            brachytherapy_today=[],
            next_days=[],
            overdue_rows=[],
            holds=[],
            awaiting=[],
            alerts=[],
            undelivered=[],
            late=[],
            on_call=None,
        )
    )
    group = data["today"]["infusions"][0]
    assert group["count"] == 1000 and len(group["patients"]) == 40 and group["more"] == 960
    parts = split(ctx.renderer.render("posts/digest.j2", digest=data))
    assert all(len(p["blocks"]) <= 50 for p in parts)
    assert "and 960 more" in parts[0]["text"]


def test_dst_days_in_new_york_get_the_digest_at_0730_local_once(site_ctx, sched_clock):
    ctx = site_ctx(**NEW_YORK)
    run = Run(ctx, sched_clock)
    enrol(ctx, start=date(2027, 3, 1))
    york = ZoneInfo("America/New_York")
    for first in (date(2027, 3, 13), date(2027, 11, 6)):  # DST starts 14 Mar, ends 7 Nov
        start = datetime(first.year, first.month, first.day, tzinfo=york)
        moment = start
        while moment < start + timedelta(days=3):
            run.at(moment)
            moment += timedelta(minutes=15)
    sent = _digests(run.posts)
    with ctx.db.transaction(readonly=True) as session:
        rows = session.exec(
            select(OutboxMessage).where(OutboxMessage.kind == "digest").order_by(OutboxMessage.id)
        ).all()
    assert len(sent) == len(rows) == 6, [r.dedupe_key for r in rows]
    for row in rows:
        when = row.created_at.astimezone(york)
        assert (when.hour, when.minute) == (7, 30), when
    utc_times = {row.dedupe_key[-10:]: row.created_at.strftime("%H:%M") for row in rows}
    assert utc_times["2027-03-13"] == "12:30" and utc_times["2027-03-14"] == "11:30"
    assert utc_times["2027-11-06"] == "11:30" and utc_times["2027-11-07"] == "12:30"


def test_holidays_and_make_up_days_of_the_site_calendar_shape_reminders_and_digest(
    site_ctx, sched_clock
):
    ctx = site_ctx(
        country=None,
        makeup_days_published_through=None,
        closures=["2027-03-12"],  # a Friday the department is closed
        openings=["2027-03-13"],  # a Saturday it treats (make-up day)
    )
    run = Run(ctx, sched_clock)
    enrol(ctx)
    days = [date(2027, 3, 8) + timedelta(days=n) for n in range(8)]
    for day in days:
        run.at(local(day, 7, 31))
    reminders = [p for p in run.posts if p.kind == "reminder"]
    with ctx.db.transaction(readonly=True) as session:
        rows = session.exec(
            select(OutboxMessage).where(
                OutboxMessage.kind == "reminder",
                OutboxMessage.dedupe_key.like("remind:LACC-007:cisplatin:2:%"),
            )
        ).all()
    # cisplatin dose 2 on Mon 15 Mar: two treatment days before are Sat 13 (open) and
    # Thu 11 (Fri 12 closed)
    assert [r.created_at.astimezone(SHANGHAI).date() for r in rows] == [date(2027, 3, 11)]
    assert any("Cisplatin weekly dose 2" in p.text for p in reminders)
    closed = next(p for p in _digests(run.posts) if "Fri 12 Mar 2027" in p.text)
    assert "no treatment today" in closed.text and "Radiotherapy" not in closed.text
    saturday = next(p for p in _digests(run.posts) if "Sat 13 Mar 2027" in p.text)
    assert "Radiotherapy: EBRT 1 patient" in saturday.text


def test_trialbot_digest_prints_without_posting(ctx, monkeypatch, capsys):
    enrol(ctx)
    url = ctx.db.engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("TRIALBOT_DATABASE_URL", url)
    monkeypatch.setenv("TRIALBOT_NOW", "2027-03-08T09:00+08:00")
    assert main(["digest", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["digest"]["date"] == "2027-03-08" and out["digest"]["site"] == "main"
    assert main(["digest", "--date", "2027-03-09", "--site", "main"]) == 0
    assert "Daily digest · site main · Tue 09 Mar 2027" in capsys.readouterr().out
    assert main(["digest", "--date", "9 March"]) == 2
    assert "--date" in capsys.readouterr().err
    assert main(["digest", "--site", "nowhere"]) == 2
    with ctx.db.transaction(readonly=True) as session:
        assert session.exec(select(OutboxMessage).where(OutboxMessage.kind == "digest")).all() == []


def test_the_digest_lists_holds_older_than_the_review_time_like_trial_holds(ctx, run):
    from bot.services import course, queries

    rota.set_rota(ctx, as_user(DOCTOR), DOCTOR)
    enrol(ctx, "LACC-007")
    enrol(ctx, "LACC-008")
    ctx.clock.set(local(date(2027, 3, 8), 9))
    entries.record_dose(ctx, as_user(NURSE), "LACC-007", "toripalimab")
    ctx.clock.set(local(date(2027, 3, 19), 9))
    course.change_course(ctx, as_user(DOCTOR), "LACC-007", "toripalimab", "hold", "interrupt")
    # 20 days on hold: not yet (TRIALBOT_HOLD_REVIEW_AFTER is 21 days)
    young = compose_for(ctx, as_user(VIEWER), day=date(2027, 4, 8)).data["digest"]
    assert young["long_holds"] == []
    run.at(local(date(2027, 4, 9), 7, 31))
    [digest] = _digests(run.posts)
    assert "LACC-007 toripalimab on hold since 2027-03-19 (21 days): review" in digest.text
    assert "LACC-008" not in digest.text.split("*Holds and reductions*")[1].split("*")[0]
    ctx.clock.set(local(date(2027, 4, 9), 9))
    listed = queries.holds_older_than(ctx, as_user(VIEWER)).data["holds"]
    stored = compose_for(ctx, as_user(VIEWER), day=date(2027, 4, 9)).data["digest"]
    assert stored["long_holds"] == listed


def test_imaging_is_reminded_on_its_day_and_a_window_closing_unrecorded_is_flagged(ctx, run):
    """The month-3 efficacy assessment (imaging) falls on Tue 8 Jun 2027 for a day 1 of
    8 Mar, its window closes on Tue 15 Jun: a reminder on each day, once, in the channel."""
    enrol(ctx)
    for n in range(7, 17):
        run.at(local(date(2027, 6, n), 7, 31))
    reminders = [
        (p.key.split(":")[-1], p.text)
        for p in run.posts
        if p.kind == "reminder" and ":efficacy_assessment:1:" in p.key
    ]
    assert [offset for offset, _ in reminders] == ["day", "closing"]
    with ctx.db.transaction(readonly=True) as session:
        created = {
            row.dedupe_key.split(":")[-1]: row.created_at.astimezone(SHANGHAI).date()
            for row in session.exec(
                select(OutboxMessage).where(
                    OutboxMessage.dedupe_key.like("remind:LACC-007:efficacy_assessment:1:%")
                )
            )
        }
    assert created == {"day": date(2027, 6, 8), "closing": date(2027, 6, 15)}
    assert all(p.channel == "#trial-main" for p in run.posts if p.kind == "reminder")
    assert all("Efficacy assessment (month 3)" in text for _, text in reminders)


def test_a_busy_day_counts_every_infusion_and_names_the_first_forty_with_doses(ctx):
    """More patients infused today than the digest names: the count is every unrecorded
    infusion, the names are the first 40 by study ID, each with its mg dose."""
    for n in range(1, 43):
        enrol(ctx, f"LACC-{n:03d}", weight=50 + n % 7)
    ctx.clock.set(local(date(2027, 3, 8), 9))
    data = compose_for(ctx, as_user(VIEWER), day=date(2027, 3, 8)).data["digest"]
    cisplatin = next(g for g in data["today"]["infusions"] if g["drug"] == "cisplatin")
    assert cisplatin["count"] == 42 and cisplatin["more"] == 2
    assert [p.split()[0] for p in cisplatin["patients"]] == [f"LACC-{n:03d}" for n in range(1, 41)]
    assert all(p.endswith(" mg") for p in cisplatin["patients"])
    assert data["counts"]["infusions"] == sum(g["count"] for g in data["today"]["infusions"])
