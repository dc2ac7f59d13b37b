"""Reliability at the Slack boundary, on SQLite and PostgreSQL: a fake Slack over real HTTP
that fails for an hour, a sender killed with SIGKILL after claiming, and (PostgreSQL) two
scheduler processes over 30 simulated days. Time is simulated; nothing waits for it."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from bot.services import entries, rota
from bot.storage.models import OutboxMessage
from bot.transports.delivery import deliver
from bot.transports.slack_sender import SlackSender, slack_client
from tests.scheduler.conftest import BACKUP, DAY1, DOCTOR, NURSE, REPO, as_user, enrol
from tests.scheduler.fake_slack import FakeSlack

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def slack():
    fake = FakeSlack()
    url = fake.start()
    fake.url = url
    yield fake
    fake.stop()


def _sender(slack) -> SlackSender:
    from bot.render import Renderer

    return SlackSender(slack_client("xoxb-test", slack.url), Renderer())


class SlackRun:
    def __init__(self, ctx, clock, slack, owner="replica-a") -> None:
        self.ctx, self.clock, self.owner = ctx, clock, owner
        self.sender = _sender(slack)

    def at(self, moment):
        from bot.services.tick import tick

        self.clock.set(moment)
        tick(self.ctx, self.clock.now())
        return deliver(
            self.ctx.db,
            self.sender,
            self.clock,
            owner=self.owner,
            sleep=lambda s: self.clock.advance(seconds=s),
        )


def _outbox(ctx):
    with ctx.db.transaction(readonly=True) as session:
        return session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all()


@pytest.mark.parametrize("failure", [500, 429])
def test_slack_down_for_an_hour_then_everything_arrives_in_order_and_the_digest_says_so(
    ctx, sched_clock, slack, failure
):
    rota.set_rota(ctx, as_user(DOCTOR), DOCTOR, backup=BACKUP)
    enrol(ctx, "LACC-007")
    enrol(ctx, "LACC-008", height=150, weight=50)
    run = SlackRun(ctx, sched_clock, slack)
    down_from = datetime(2027, 3, 8, 7, 0, tzinfo=SHANGHAI)
    slack.failing = failure
    slack.retry_after = 120
    run.at(down_from)
    sched_clock.set(down_from + timedelta(minutes=5))
    entries.record_lab(ctx, as_user(NURSE), "LACC-007", "ANC 0.4")
    entries.record_lab(ctx, as_user(NURSE), "LACC-008", "ANC 0.3")
    moment = down_from + timedelta(minutes=5)
    while moment < down_from + timedelta(hours=1):
        run.at(moment)
        moment += timedelta(minutes=1)
    assert slack.posts == []
    slack.failing = None
    while moment < down_from + timedelta(hours=3):
        run.at(moment)
        moment += timedelta(minutes=1)
    rows = _outbox(ctx)
    assert {r.status for r in rows if r.kind != "reminder" or r.payload.get("text")} == {"sent"}
    keys = slack.posted_keys()
    assert len(keys) == len(set(keys))  # nothing twice
    assert any(k.startswith("digest:main:2027-03-08") for k in keys)
    dms = [k for k in keys if k.startswith("decision:") and k.endswith(":alert:dm")]
    assert dms  # the on-call copy of each alert, and its channel copy beside it
    assert all(k.removesuffix(":dm") in keys for k in dms)
    # in order per channel: the order the outbox queued them
    by_channel: dict[str, list[int]] = {}
    ids = {r.dedupe_key: r.id for r in rows}
    for post in slack.posts:
        by_channel.setdefault(post["channel"], []).append(
            ids[post["metadata"]["event_payload"]["key"]]
        )
    for channel, order in by_channel.items():
        assert order == sorted(order), channel
    # the next morning's digest says what arrived late
    run.at(datetime(2027, 3, 9, 7, 31, tzinfo=SHANGHAI))
    during = next(p for p in slack.posts if "site main · Mon 08 Mar 2027" in p["text"])
    assert "still waiting" in during["text"]  # composed in the outage: says what is stuck
    after = next(p for p in slack.posts if "site main · Tue 09 Mar 2027" in p["text"])
    assert "reached Slack late" in after["text"] and "digest to #trial-main" in after["text"]


def test_without_the_history_scopes_a_retried_message_is_posted_not_given_up(
    ctx, sched_clock, slack, caplog
):
    """A workspace that installed the app from an older manifest (no `channels:history`):
    the history read before a retry is refused for good, and the message still goes."""
    slack.scopes = slack.scopes - {"channels:history", "groups:history", "im:history"}
    rota.set_rota(ctx, as_user(DOCTOR), DOCTOR, backup=BACKUP)
    enrol(ctx)
    run = SlackRun(ctx, sched_clock, slack)
    moment = datetime(2027, 3, 8, 7, 31, tzinfo=SHANGHAI)
    slack.failing = 500
    run.at(moment)  # every first attempt fails: each retry will look in the history first
    slack.failing = None
    with caplog.at_level("WARNING", logger="trialbot.delivery"):
        for minute in range(1, 30):
            run.at(moment + timedelta(minutes=minute))
    assert "conversations.history" in slack.calls  # it did look, and was refused
    rows = _outbox(ctx)
    assert {r.status for r in rows if r.kind != "reminder" or r.payload.get("text")} == {"sent"}
    assert "digest:main:2027-03-08" in slack.posted_keys()
    assert "missing_scope" in caplog.text and "posting" in caplog.text
    assert "LACC" not in caplog.text  # the log names the channel and the error, no patient


def test_an_undeliverable_message_is_listed_by_outbox_and_in_the_next_digest(
    ctx, sched_clock, slack, monkeypatch, capsys
):
    from bot.cli import main

    enrol(ctx)
    run = SlackRun(ctx, sched_clock, slack)
    slack.failing = 500
    moment = datetime(2027, 3, 8, 7, 31, tzinfo=SHANGHAI)
    for _ in range(14):  # twelve attempts with backoff: about five hours
        run.at(moment)
        moment += timedelta(hours=1)
    dead = [r for r in _outbox(ctx) if r.status == "dead"]
    assert dead and all(r.attempts == 12 for r in dead)
    monkeypatch.setenv(
        "TRIALBOT_DATABASE_URL", ctx.db.engine.url.render_as_string(hide_password=False)
    )
    assert main(["outbox", "--failed"]) == 0
    listed = capsys.readouterr().out
    assert "dead" in listed and dead[0].dedupe_key in listed and "internal_error" in listed
    slack.failing = None
    run.at(datetime(2027, 3, 9, 7, 31, tzinfo=SHANGHAI))
    digest = next(p for p in slack.posts if "site main · Tue 09 Mar 2027" in p["text"])
    assert "could not be delivered (12 attempts" in digest["text"]
    assert dead[0].dedupe_key not in slack.posted_keys()  # given up, never posted late


def test_a_message_slack_refuses_for_good_is_dead_at_once_and_does_not_block_the_channel(
    ctx, sched_clock, slack
):
    enrol(ctx)
    run = SlackRun(ctx, sched_clock, slack)
    slack.failing = "invalid_blocks"
    run.at(datetime(2027, 3, 8, 7, 31, tzinfo=SHANGHAI))
    rows = _outbox(ctx)
    assert rows[0].status == "dead" and rows[0].attempts == 1
    assert "digest:main:2027-03-08" in slack.posted_keys()  # the channel went on at once


CHILD = textwrap.dedent(
    """
    import sys, time
    from datetime import datetime, timedelta
    from bot.storage.database import Database
    from bot.storage.outbox import claim
    from bot.transports.slack_sender import SlackSender, slack_client
    from bot.posts import Post
    from bot.render import Renderer

    url, slack_url, now, post_first = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    db = Database(url)
    claimed = claim(db, "doomed", datetime.fromisoformat(now), timedelta(minutes=2), limit=50,
                    ordered=True)
    if post_first == "yes":
        sender = SlackSender(slack_client("xoxb-test", slack_url), Renderer())
        for message in claimed:
            sender.deliver_keyed(Post.model_validate(message.payload), key=message.dedupe_key,
                                 resume=False, since=0)
    print(len(claimed), flush=True)
    time.sleep(600)
    """
)


@pytest.mark.parametrize("posted", [False, True], ids=["before-posting", "after-posting"])
def test_a_sender_killed_after_claiming_is_replaced_after_the_lease_and_delivers_once(
    ctx, sched_clock, slack, posted
):
    from bot.services.tick import tick

    enrol(ctx)
    moment = datetime(2027, 3, 8, 7, 31, tzinfo=SHANGHAI)
    tick(ctx, moment)
    url = ctx.db.engine.url.render_as_string(hide_password=False)
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD,
            url,
            slack.url,
            moment.isoformat(),
            "yes" if posted else "no",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    claimed = int(child.stdout.readline())
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert claimed >= 1
    posted_by_child = len(slack.posts)
    sender = _sender(slack)
    sched_clock.set(moment + timedelta(minutes=1))
    early = deliver(ctx.db, sender, sched_clock, owner="replica-b", pace=None)
    assert early.delivered == []  # the dead sender's lease still holds
    sched_clock.set(moment + timedelta(minutes=3))
    report = deliver(
        ctx.db,
        sender,
        sched_clock,
        owner="replica-b",
        sleep=lambda s: sched_clock.advance(seconds=s),
    )
    keys = slack.posted_keys()
    assert len(keys) == len(set(keys)), Counter(keys)  # each message once at Slack
    assert "digest:main:2027-03-08" in keys
    rows = [r for r in _outbox(ctx) if r.status != "expired"]
    assert all(r.status == "sent" for r in rows)
    if posted:
        assert posted_by_child >= 1 and len(report.adopted) >= 1
    else:
        assert posted_by_child == 0 and report.adopted == []


# --- two scheduler processes on one PostgreSQL -------------------------------------------

STEP = timedelta(hours=1)
DAYS = 30


def _replica(url, rules_dir, slack_url, owner, start, barrier, steps):  # pragma: no cover - child
    from bot.clock import FixedClock
    from bot.services import build_context
    from bot.services.tick import tick
    from bot.settings import Settings
    from bot.storage.database import Database
    from bot.transports.delivery import deliver as deliver_all
    from bot.transports.slack_sender import SlackSender as Sender
    from bot.transports.slack_sender import slack_client as client

    clock = FixedClock(start)
    ctx = build_context(
        Settings(database_url=url, rules_dir=rules_dir), clock=clock, database=Database(url)
    )
    sender = Sender(client("xoxb-test", slack_url), ctx.renderer)
    for n in range(steps):
        clock.set(start + n * STEP)
        barrier.wait()
        tick(ctx, clock.now())
        deliver_all(ctx.db, sender, clock, owner=owner, sleep=lambda s: clock.advance(seconds=s))
    ctx.db.dispose()


@pytest.mark.postgres
def test_two_scheduler_processes_over_30_days_post_each_digest_and_alert_once(
    pg_db, sched_clock, slack, tmp_path
):
    import yaml

    from tests.scheduler.conftest import ADMIN, make_context, rules_with_site

    rules_dir = rules_with_site(tmp_path)
    sites_file = rules_dir / "nct05084677" / "sites.yaml"
    data = yaml.safe_load(sites_file.read_text(encoding="utf-8"))
    data["sites"].append(
        {
            **data["sites"][0],
            "id": "north",
            "label": "second site",
            "country": "US",
            "timezone": "America/New_York",
            "makeup_days_published_through": None,
        }
    )
    sites_file.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    ctx = make_context(pg_db, sched_clock, rules_dir=rules_dir)
    from bot.services.members import set_role

    for user, role, site in (
        (NURSE, "coordinator", None),
        (DOCTOR, "investigator", "main"),
        (BACKUP, "investigator", "main"),
    ):
        set_role(ctx, as_user(ADMIN), user, role, site=site)
    rota.set_rota(ctx, as_user(DOCTOR), DOCTOR, backup=BACKUP)
    start = datetime(2027, 3, 1, 0, 0, tzinfo=UTC)
    sched_clock.set(start)
    enrol(ctx, "LACC-001", start=DAY1)
    enrol(ctx, "LACC-002", start=DAY1, site="north")
    sched_clock.set(datetime(2027, 3, 8, 2, 0, tzinfo=UTC))
    entries.record_lab(ctx, as_user(NURSE), "LACC-001", "ANC 0.4")  # an alert that escalates
    entries.record_lab(ctx, as_user(NURSE), "LACC-002", "ANC 0.3")  # nobody on call at north
    url = pg_db.engine.url.render_as_string(hide_password=False)
    steps = DAYS * 24
    spawn = multiprocessing.get_context("spawn")
    barrier = spawn.Barrier(2)
    processes = [
        spawn.Process(
            target=_replica,
            args=(url, rules_dir, slack.url, f"replica-{name}", start, barrier, steps),
        )
        for name in "ab"
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=900)
        assert process.exitcode == 0
    keys = slack.posted_keys()
    counts = Counter(keys)
    assert [k for k, n in counts.items() if n > 1] == []  # nothing twice at Slack
    digests = sorted(k for k in keys if k.startswith("digest:") and ":part" not in k)
    expected = {
        # the run starts at 08:00 in Shanghai and 19:00 the day before in New York, where
        # that day's 07:30 digest is due (late) at once
        "main": {(date(2027, 3, 1) + timedelta(days=n)).isoformat() for n in range(DAYS)},
        "north": {(date(2027, 2, 28) + timedelta(days=n)).isoformat() for n in range(DAYS + 1)},
    }
    for site, days in expected.items():
        sent = [k.rsplit(":", 1)[1] for k in digests if k.split(":")[1] == site]
        assert len(sent) == len(set(sent)) and set(sent) == days, site
    # each alert's two first copies (channel, on-call DM; only the channel at north, where
    # nobody is on call), then its escalation steps: backup, then channel with @here
    copies = sorted(k for k in keys if k.startswith("decision:") and ":alert" in k)
    assert {k.split(":alert", 1)[1] for k in copies} == {"", ":dm"}
    alerts = sorted(k for k in keys if k.startswith("alert:"))
    assert {k.rsplit(":", 1)[1] for k in alerts} == {"backup", "channel"}
    assert len(alerts) == len(set(alerts))
    rows = _outbox(ctx)
    assert all(r.status in ("sent", "expired") for r in rows), Counter(r.status for r in rows)
    assert date(2027, 3, 1)


def test_each_channel_is_paced_below_one_message_a_second(ctx, sched_clock):
    """A burst (two patients' alerts, their DMs, the digest, reminders) reaches each
    channel at least 1.1 s apart by the clock the sender was given, in queue order."""
    from tests.scheduler.conftest import RenderingRecorder

    rota.set_rota(ctx, as_user(DOCTOR), DOCTOR, backup=BACKUP)
    enrol(ctx, "LACC-007")
    enrol(ctx, "LACC-008", height=150, weight=50)
    sched_clock.set(datetime(2027, 3, 8, 7, 31, tzinfo=SHANGHAI))
    from bot.services.tick import tick

    tick(ctx, sched_clock.now())
    entries.record_lab(ctx, as_user(NURSE), "LACC-007", "ANC 0.4")
    entries.record_lab(ctx, as_user(NURSE), "LACC-008", "ANC 0.3")
    recorder = RenderingRecorder(ctx.renderer)
    arrivals: list[tuple[str, datetime]] = []
    original = recorder.deliver_keyed

    def timed(post, **kwargs):
        arrivals.append((post.address, sched_clock.now()))
        return original(post, **kwargs)

    recorder.deliver_keyed = timed
    deliver(
        ctx.db,
        recorder,
        sched_clock,
        owner="replica-a",
        pace=timedelta(seconds=1.1),
        sleep=lambda s: sched_clock.advance(seconds=s),
    )
    by_channel: dict[str, list[datetime]] = {}
    for channel, moment in arrivals:
        by_channel.setdefault(channel, []).append(moment)
    busiest = max(by_channel.values(), key=len)
    assert len(busiest) >= 3  # the study channel got a burst
    for channel, moments in by_channel.items():
        gaps = [(b - a).total_seconds() for a, b in pairwise(moments)]
        assert all(gap >= 1.1 for gap in gaps), (channel, gaps)
    assert {r.status for r in _outbox(ctx) if r.status != "expired"} == {"sent"}
