"""`trialbot chat` one command at a time: text or --json, exit codes, posts marked with
their destination, the outbox drained, the configured database and clock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlmodel import select

from bot.cli import main
from bot.storage.database import Database
from bot.storage.models import OutboxMessage

ENROL = "/trial enroll LACC-007 start=2027-03-01 height=160 weight=55"


def _json(capsys) -> dict:
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) == 1, out
    return json.loads(lines[0])


def _outbox(path: Path) -> list[OutboxMessage]:
    database = Database(f"sqlite:///{path}")
    try:
        with database.transaction(readonly=True) as session:
            return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)))
    finally:
        database.dispose()


def test_one_command_prints_the_reply_and_the_posts_it_caused(workdir, capsys):
    assert main(["chat", ENROL]) == 0
    out = capsys.readouterr().out
    assert "LACC-007 enrolled at site main" in out
    assert "  → #trial-main:\n    + LACC-007 enrolled at site main by @console" in out
    assert "```" not in out and "*LACC-007*" not in out  # Slack markup is off on a pipe
    assert (workdir / "trialbot.db").exists()  # the default database, in the working directory
    sent = _outbox(workdir / "trialbot.db")
    assert [(m.status, m.message_id) for m in sent] == [("sent", "console-1")]


def _grade4_neutropenia_with_an_on_call(capsys, monkeypatch) -> str:
    """An on-call investigator, LACC-007 enrolled, then ANC 0.4 on Fri 05 Mar 2027: what
    the lab command printed."""
    assert main(["chat", "role U0DOC0001 investigator oncall=yes"]) == 0
    assert main(["chat", ENROL]) == 0
    monkeypatch.setenv("TRIALBOT_NOW", "2027-03-05T09:00+08:00")
    capsys.readouterr()
    assert main(["chat", "lab", "LACC-007", "ANC", "0.4"]) == 0
    return capsys.readouterr().out


def test_a_sequence_of_commands_builds_the_history_and_alerts_the_on_call(
    workdir, capsys, monkeypatch
):
    out = _grade4_neutropenia_with_an_on_call(capsys, monkeypatch)
    assert "→ DM @U0DOC0001:" in out and "needs an investigator decision" in out
    assert "→ #trial-main:" in out
    assert main(["chat", "--as", "U0DOC0001", "confirm D1"]) == 0
    assert "D1 cisplatin REDUCE at 80% — confirmed" in capsys.readouterr().out
    assert {m.status for m in _outbox(workdir / "trialbot.db")} == {"sent"}


def test_a_refused_command_exits_2(workdir, capsys):
    assert main(["chat", "lba LACC-007"]) == 2
    out = capsys.readouterr().out
    assert "unknown subcommand 'lba' — did you mean 'lab'?" in out
    assert "usage: `/trial lab" in out


def test_json_prints_one_object_of_the_contract(workdir, capsys):
    assert main(["chat", "--json", ENROL]) == 0
    reply = _json(capsys)
    assert set(reply) == {"ok", "error", "text", "grades", "decisions", "events", "posts"}
    assert reply["ok"] is True and reply["error"] is None
    assert reply["posts"][0]["channel"] == "#trial-main"
    assert main(["chat", "--json", "calendar LACC-008"]) == 2
    refused = _json(capsys)
    assert refused["ok"] is False and "no patient LACC-008" in refused["error"]
    assert "usage:" in refused["text"]
    # the posts are in the object; none is printed around it, yet all are delivered
    assert {m.status for m in _outbox(workdir / "trialbot.db")} == {"sent"}


def test_flags_after_the_command_and_words_kept_together(workdir, capsys):
    assert main(["chat", ENROL]) == 0
    capsys.readouterr()
    # the shell has removed the quotes: reason=ANC 0.9 on Friday is one argument
    code = main(
        ["chat", "dose", "LACC-007", "cisplatin", "held", "reason=ANC 0.9 on Friday", "--json"]
    )
    assert code == 0
    assert "ANC 0.9 on Friday" in _json(capsys)["text"]
    assert main(["chat", "whoami", "--as", "U0SOMEONE"]) == 0
    assert "you are U0SOMEONE" in capsys.readouterr().out


def test_the_user_comes_from_trialbot_user(workdir, capsys, monkeypatch):
    monkeypatch.setenv("TRIALBOT_USER", "U0NURSE01")
    assert main(["chat", "whoami"]) == 0
    assert "you are U0NURSE01" in capsys.readouterr().out


def test_trialbot_now_must_be_an_instant(workdir, capsys, monkeypatch):
    monkeypatch.setenv("TRIALBOT_NOW", "2027-03-08T09:00")
    assert main(["chat", "--json", "whoami"]) == 2
    error = _json(capsys)["error"]
    assert error.startswith("TRIALBOT_NOW:") and "UTC offset" in error
    assert main(["chat", "whoami", "--json"]) == 2  # a trailing --json answers in JSON too
    assert _json(capsys)["error"] == error


def test_the_clock_is_the_system_clock_without_trialbot_now(workdir, capsys, monkeypatch):
    monkeypatch.delenv("TRIALBOT_NOW")
    assert main(["chat", "--json", "enroll LACC-007 start=2020-03-02"]) == 0
    assert _json(capsys)["ok"]  # enrolled after the fact; today is the real today


def test_an_internal_error_exits_1_with_a_polite_reply(workdir, capsys, monkeypatch):
    from bot.services import queries

    def broken(*args, **kwargs):
        raise ZeroDivisionError

    monkeypatch.setattr(queries, "whoami", broken)
    assert main(["chat", "whoami"]) == 1
    captured = capsys.readouterr()
    assert "nothing was recorded" in captured.out
    assert "ZeroDivisionError" in captured.err and "Traceback" not in captured.out


def test_a_real_process(workdir):
    """The installed entry point, as a shell script would call it."""
    env = {**os.environ, "TRIALBOT_NOW": "2027-02-26T09:00+08:00"}
    env.pop("TRIALBOT_DATABASE_URL", None)
    env.pop("TRIALBOT_ADMINS", None)
    command = [sys.executable, "-c", "from bot.cli import main; raise SystemExit(main())"]
    done = subprocess.run(
        [*command, "chat", "--json", ENROL], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ok"] is True
    refused = subprocess.run(
        [*command, "chat", "--json", ENROL], capture_output=True, text=True, env=env, timeout=120
    )
    assert refused.returncode == 2
    assert "already enrolled" in json.loads(refused.stdout)["error"]
    assert refused.stderr == ""


def test_an_export_is_written_to_the_working_directory_and_the_console_says_where(workdir, capsys):
    assert main(["chat", ENROL]) == 0
    assert main(["chat", "ae LACC-007 nausea grade=2"]) == 0
    capsys.readouterr()
    assert main(["chat", "export aes"]) == 0
    out = capsys.readouterr().out
    [written] = workdir.glob("trialbot-aes-all-*.csv")
    assert f"file written to {written.name}" in out and "→ console:" in out
    assert ":page_facing_up:" not in out and "📄" in out
    text = written.read_bytes().decode("utf-8-sig")
    assert text.startswith("study_id,site,entry,ctcae_term") and "LACC-007" in text
    # asked again: a second file beside the first, never over it
    assert main(["chat", "export aes"]) == 0
    assert len(list(workdir.glob("trialbot-aes-all-*.csv"))) == 2
    assert _outbox(workdir / "trialbot.db")[-1].status == "sent"


def test_help_answers_as_the_ordinary_path_does_without_the_database_layer(workdir, capsys):
    """`help` takes a short path (no service context: the member row read with sqlite3);
    `--request-id` takes the ordinary one — the answers are the same, role and site too."""
    assert main(["chat", "role U0NURSE01 coordinator site=main"]) == 0
    assert main(["chat", ENROL]) == 0
    for user in ("U0NURSE01", "U0NOBODY1", "console"):
        for line in ("/trial help", "help lab", "? roles", "help labb", "HELP export"):
            for extra in ([], ["--json"]):
                capsys.readouterr()
                short = main(["chat", *extra, "--as", user, line])
                fast = capsys.readouterr()
                ordinary = main(["chat", *extra, "--as", user, "--request-id", "k1", line])
                slow = capsys.readouterr()
                assert (short, fast.out) == (ordinary, slow.out), (user, line, extra)
    capsys.readouterr()
    assert main(["chat", "--as", "U0NURSE01", "help"]) == 0
    assert "you are U0NURSE01 (coordinator, site main)" in capsys.readouterr().out


def test_help_on_a_database_not_yet_created_creates_none_and_answers(workdir, capsys):
    assert main(["chat", "help"]) == 0
    assert "you are console (admin)" in capsys.readouterr().out
    assert not (workdir / "trialbot.db").exists()
    assert main(["chat", "whoami"]) == 0 and (workdir / "trialbot.db").exists()


def test_with_slack_configured_the_posts_are_shown_and_left_for_slack_to_deliver(
    workdir, capsys, monkeypatch
):
    """A coordinator using the console against the production database: the on-call
    investigator's alert must reach Slack, not only this terminal."""
    from tests.slack.fake_slack import FakeSlack

    fake = FakeSlack().start()
    try:
        monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
        monkeypatch.setenv("SLACK_API_URL", fake.url + "/")
        out = _grade4_neutropenia_with_an_on_call(capsys, monkeypatch)
        assert "→ DM @U0DOC0001 (queued for Slack):" in out
        assert "→ #trial-main (queued for Slack):" in out and "needs an investigator" in out
        waiting = [m for m in _outbox(workdir / "trialbot.db") if m.status == "pending"]
        assert {m.target for m in waiting} >= {"#trial-main", "U0DOC0001"}
        assert fake.called("chat.postMessage") == []  # the console posts nothing itself
        assert main(["tick", "--now", "2027-03-05T09:01+08:00"]) == 0
        posted = fake.called("chat.postMessage")
    finally:
        fake.stop()
    texts = [c.params.get("text") or "" for c in posted]
    assert any("needs an investigator decision" in t for t in texts)
    assert any(c.params.get("channel", "").startswith("D") for c in posted)  # the on-call DM
    assert all(m.status != "pending" for m in _outbox(workdir / "trialbot.db"))


def test_help_refuses_a_default_site_the_trial_does_not_have_like_any_command(
    workdir, capsys, monkeypatch
):
    assert main(["chat", "whoami"]) == 0  # the database exists: help takes its own path
    capsys.readouterr()
    monkeypatch.setenv("TRIALBOT_DEFAULT_SITE", "nowhere")
    for command in ("/trial help", "/trial whoami"):
        assert main(["chat", command]) == 2
        refused = capsys.readouterr()
        assert "TRIALBOT_DEFAULT_SITE: 'nowhere' is not a site of nct05084677" in refused.err
        assert refused.out == ""
