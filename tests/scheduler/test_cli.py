"""`trialbot tick` to the console and to a (fake) Slack, `trialbot outbox`, and the real
APScheduler timer calling tick and delivery (the one test that lets real time pass: it
waits for the first delivery, with a timeout)."""

from __future__ import annotations

import json
import threading

import pytest

from bot.cli import main
from tests.scheduler.conftest import enrol
from tests.scheduler.fake_slack import FakeSlack


def _env(monkeypatch, ctx):
    monkeypatch.setenv(
        "TRIALBOT_DATABASE_URL", ctx.db.engine.url.render_as_string(hide_password=False)
    )
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    monkeypatch.delenv("TRIALBOT_NOW", raising=False)


def test_tick_prints_the_digest_like_chat_and_runs_once(ctx, monkeypatch, capsys):
    enrol(ctx)
    _env(monkeypatch, ctx)
    assert main(["tick", "--now", "2027-03-08T07:31+08:00"]) == 0
    out = capsys.readouterr().out
    assert "→ #trial-main:" in out and "Daily digest · site main · Mon 08 Mar 2027" in out
    assert "1 digest(s)" in out
    assert main(["tick", "--now", "2027-03-08T07:45+08:00", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["digests"] == [] and again["posts"] == []
    assert main(["outbox"]) == 0
    assert "everything was delivered" in capsys.readouterr().out
    assert main(["tick", "--now", "Monday morning"]) == 2
    assert "--now" in capsys.readouterr().err


def test_tick_delivers_through_slack_when_a_token_is_set(ctx, monkeypatch, capsys):
    enrol(ctx)
    _env(monkeypatch, ctx)
    slack = FakeSlack()
    url = slack.start()
    try:
        monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
        monkeypatch.setenv("SLACK_API_URL", url)
        assert main(["tick", "--now", "2027-03-08T07:31+08:00", "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
    finally:
        slack.stop()
    assert report["digests"] == ["main:2027-03-08"]
    assert "digest:main:2027-03-08" in slack.posted_keys()
    digest = next(
        p for p in slack.posts if p["metadata"]["event_payload"]["key"].startswith("digest")
    )
    assert digest["channel"] == "#trial-main" and "Daily digest" in digest["text"]


def test_the_real_timer_ticks_and_delivers(ctx):
    from bot.scheduler.timer import build_scheduler

    enrol(ctx)
    delivered = threading.Event()

    class Notifier:
        def deliver(self, post):
            delivered.set()
            return "ok"

    scheduler = build_scheduler(
        ctx,
        Notifier(),
        owner="timer-test",
        tick_seconds=0.2,
        deliver_seconds=0.2,
        lease_clock=ctx.clock,  # the test's instant, when the rows are due
    )
    job_defaults = {job.id: job for job in scheduler.get_jobs()}
    assert set(job_defaults) == {"tick", "deliver"}
    scheduler.start()
    try:
        assert delivered.wait(timeout=20)  # the enrolment post, drained by the timer
    finally:
        scheduler.shutdown(wait=True)
    assert str(scheduler.timezone) == "UTC"


@pytest.fixture
def slack_web(ctx, monkeypatch):
    """The fake Slack Web API (tests/slack), with `trialbot tick` pointed at it."""
    from tests.slack.fake_slack import FakeSlack as SlackWebApi

    _env(monkeypatch, ctx)
    fake = SlackWebApi().start()
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_API_URL", fake.url)
    yield fake
    fake.stop()


def _grade4_neutropenia(ctx, oncall: str | None = None, backup: str | None = None) -> str:
    """Day 1 (Mon 08 Mar 2027, 09:00 at the site): ANC 0.4 with `oncall` (and `backup`) on
    call, or nobody; the id of the cisplatin reduction it proposes."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from bot.services import entries, rota
    from tests.scheduler.conftest import NURSE, as_user

    if oncall:
        rota.set_rota(ctx, as_user(oncall), oncall, backup=backup)
    enrol(ctx)
    ctx.clock.set(datetime(2027, 3, 8, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    outcome = entries.record_lab(ctx, as_user(NURSE), "LACC-007", "ANC 0.4")
    return next(d for d in outcome.decisions if d["action"] == "reduce")["id"]


def _tick(at: str) -> None:
    assert main(["tick", "--now", f"2027-03-08T{at}+08:00"]) == 0


def test_a_verdict_delivered_by_tick_updates_the_alerts_copies_in_place(ctx, slack_web):
    """`trialbot tick` delivers as `trialbot serve` does: the alert with its buttons, and
    once an investigator decides, both copies (channel and DM) edited to say so."""
    from bot.services import verdicts
    from tests.scheduler.conftest import DOCTOR, as_user

    reduce = _grade4_neutropenia(ctx, DOCTOR)
    _tick("09:01")
    alerts = [
        c
        for c in slack_web.called("chat.postMessage")
        if "needs an investigator decision" in (c.params.get("text") or "")
    ]
    assert len(alerts) == 2  # the channel and the on-call DM
    assert all(any(b["type"] == "actions" for b in c.blocks()) for c in alerts)
    verdicts.confirm(ctx, as_user(DOCTOR), reduce)
    _tick("09:05")
    updates = slack_web.called("chat.update")
    assert len(updates) == 2
    for update in updates:
        assert "confirmed" in update.text_of_blocks()
        assert not any(b["type"] == "actions" for b in update.blocks())  # the buttons go


def test_with_nobody_on_call_the_channel_alert_really_calls_here(ctx, slack_web):
    """The @here the escalation template writes reaches Slack as the special mention, in
    the blocks (what Slack renders and notifies from), not escaped into literal text."""
    _grade4_neutropenia(ctx)
    _tick("09:01")
    posted = slack_web.called("chat.postMessage")
    [alert] = [c for c in posted if "nobody is on call" in c.text_of_blocks()]
    assert alert.text_of_blocks().startswith(":rotating_light: <!here> nobody is on call")
    assert "&lt;!here&gt;" not in alert.text_of_blocks()


def test_a_verdict_after_escalation_closes_the_backups_and_the_channels_copies_too(ctx, slack_web):
    """Every copy with buttons — the first two, the backup's DM and the channel's @here —
    says who decided, and none keeps live buttons."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from bot.services import verdicts
    from tests.scheduler.conftest import BACKUP, DOCTOR, as_user

    reduce = _grade4_neutropenia(ctx, DOCTOR, BACKUP)
    for at in ("09:01", "09:32", "10:03"):  # the alert, the backup, the channel
        _tick(at)
    with_buttons = [
        c
        for c in slack_web.called("chat.postMessage")
        if any(b["type"] == "actions" for b in c.blocks())
        and "needs an investigator decision" in c.text_of_blocks()
    ]
    assert len(with_buttons) == 4
    ctx.clock.set(datetime(2027, 3, 8, 10, 5, tzinfo=ZoneInfo("Asia/Shanghai")))
    verdicts.confirm(ctx, as_user(BACKUP), reduce)
    _tick("10:06")
    updates = slack_web.called("chat.update")
    assert len(updates) == 4
    assert all("confirmed" in u.text_of_blocks() for u in updates)
    assert not any(b["type"] == "actions" for u in updates for b in u.blocks())


def test_tick_posts_to_the_channel_the_setting_names_even_for_posts_queued_before(
    ctx, slack_web, monkeypatch, capsys
):
    """A deployment that enrols on the console and runs `tick` from cron, `serve` never
    started: the enrolment notice was queued for the placeholder `#trial-main` (no channel
    known then), and both it and the digest go to the channel TRIALBOT_SITE_CHANNELS names
    — Slack would refuse `#trial-main` for ever."""
    enrol(ctx)  # queued now, addressed to the placeholder
    monkeypatch.setenv("TRIALBOT_SITE_CHANNELS", "main=C0STUDY01")
    _tick("07:31")
    channels = {c.params.get("channel") for c in slack_web.called("chat.postMessage")}
    assert channels == {"C0STUDY01"}
    texts = [c.params.get("text") or "" for c in slack_web.called("chat.postMessage")]
    assert any("Daily digest" in t for t in texts) and len(texts) >= 2


def test_tick_refuses_a_malformed_site_channels_setting_before_any_work(
    ctx, slack_web, monkeypatch, capsys
):
    enrol(ctx)
    monkeypatch.setenv("TRIALBOT_SITE_CHANNELS", "main=lacc-study")
    assert main(["tick", "--now", "2027-03-08T07:31+08:00"]) == 2
    err = capsys.readouterr().err
    assert "TRIALBOT_SITE_CHANNELS" in err and "not a channel id" in err
    assert slack_web.called("chat.postMessage") == []
    monkeypatch.delenv("TRIALBOT_SITE_CHANNELS")
    assert main(["tick", "--now", "2027-03-08T07:31+08:00", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["digests"] == ["main:2027-03-08"]  # not done before
