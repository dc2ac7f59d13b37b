"""Posts are data: the outbox holds what is to be said and to whom; each transport renders
it — the console as text from the templates, Slack as Block Kit with its buttons, the
recording notifier as the post itself."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from sqlmodel import select

from bot.posts import Post
from bot.render import Renderer
from bot.services import enrolment, entries, verdicts
from bot.storage.models import OutboxMessage
from bot.transports.notifier import RecordingNotifier, drain_outbox
from bot.transports.slack.blocks import DECISION_CONFIRM, DECISION_OVERRIDE, message
from bot.transports.text import post_text

from .conftest import DAY1, DOCTOR, NURSE, as_user


def _alerted(ctx) -> Post:
    enrolment.enrol(ctx, as_user(NURSE), "LACC-007", start=DAY1, height=160, weight=55)
    entries.record_lab(ctx, as_user(NURSE), "LACC-007", "ANC 0.4")
    notifier = RecordingNotifier()
    drain_outbox(ctx.db, notifier, now=ctx.now(), owner="test")
    alerts = [p for p in notifier.posts if p.kind == "decision_alert"]
    # one alert, two copies with the same facts: the site channel and the on-call DM
    assert sorted(p.audience.kind for p in alerts) == ["on_call", "site_channel"]
    assert alerts[0].facts == alerts[1].facts
    return next(p for p in alerts if p.audience.kind == "on_call")


def test_the_outbox_holds_the_facts_not_a_rendering(ctx):
    alert = _alerted(ctx)
    assert alert.audience.kind == "on_call" and alert.address == DOCTOR
    assert alert.study_id == "LACC-007"
    [decision_id] = alert.decision_ids
    assert alert.facts["decision"]["id"] == decision_id
    assert alert.facts["decision"]["drug"] == "cisplatin"
    assert alert.facts["entry"]["kind"] == "lab" and alert.facts["recorded_by"] == NURSE
    with ctx.db.transaction(readonly=True) as session:
        rows = session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    for row in rows:  # no wording, markup or Slack structure is stored
        assert "text" not in row.payload and "blocks" not in row.payload
        assert Post.model_validate(row.payload).address == row.target


def test_each_transport_renders_the_same_post_its_own_way(ctx):
    alert = _alerted(ctx)
    [decision_id] = alert.decision_ids
    text = post_text(ctx.renderer, alert)
    assert "needs an investigator decision" in text and "cisplatin — REDUCE" in text
    assert f"`confirm {decision_id}`" in text  # what the console user types
    slack = message(ctx.renderer, alert)
    assert slack["channel"] == DOCTOR
    # the same facts in the same words; Slack answers with buttons, not typed commands
    assert "`confirm" not in slack["text"] and "cisplatin — REDUCE" in slack["text"]

    def facts(shown: str) -> list[str]:
        return [line for line in shown.splitlines() if "→ investigator:" not in line]

    assert facts(slack["text"]) == facts(text)
    buttons = [b for b in slack["blocks"] if b["type"] == "actions"]
    assert [(e["action_id"], e["value"]) for e in buttons[0]["elements"]] == [
        (DECISION_CONFIRM, decision_id),
        (DECISION_OVERRIDE, decision_id),
    ]
    outcome = verdicts.confirm(ctx, as_user(DOCTOR), decision_id)
    [verdict] = outcome.posts
    assert verdict.kind == "verdict" and verdict.audience.kind == "site_channel"
    assert [b["type"] for b in message(ctx.renderer, verdict)["blocks"]] == ["section"]


def test_a_post_rendered_after_a_template_fix_says_the_same_facts(ctx, tmp_path: Path):
    alert = _alerted(ctx)
    root = Path(__file__).resolve().parents[2] / "templates"
    fixed = tmp_path / "templates"
    shutil.copytree(root, fixed)
    template = fixed / "posts" / "decision_alert.j2"
    template.write_text(
        template.read_text().replace("needs an investigator decision", "awaits a decision")
    )
    before = post_text(ctx.renderer, alert)
    after = post_text(Renderer(fixed), alert)
    assert "awaits a decision" in after and "awaits a decision" not in before
    assert after.replace("awaits a decision", "needs an investigator decision") == before


def test_a_question_about_another_entry_is_a_button_in_slack_and_a_command_on_the_console(
    ctx, service_clock
):
    """The steroid rule's daily review asks whether the entry that carried the steroids
    is immune-related: the engine names the entry as data, so Slack puts Immune-related
    yes / no for that entry on the alert, and the console says what to type."""
    from datetime import UTC, datetime, time, timedelta

    from bot.services import review
    from bot.transports.slack.blocks import ATTRIBUTE_NO, ATTRIBUTE_YES

    nurse = as_user(NURSE)
    enrolment.enrol(ctx, nurse, "LACC-007", start=DAY1, height=160, weight=55)
    entries.record_dose(ctx, nurse, "LACC-007", "toripalimab", status="given", on=DAY1)
    colitis = entries.record_ae(ctx, nurse, "LACC-007", "colitis", 1, on=DAY1, steroid_mg=40)
    entry = colitis.event["id"]
    day = DAY1 + timedelta(days=100)
    service_clock.set(datetime.combine(day, time(1, 0), tzinfo=UTC))
    outcome = review.review_patient(ctx, "LACC-007", day)
    [alert] = [
        p
        for p in outcome.posts
        if p.kind == "review_alert"
        and p.facts["decision"]["action"] == "refer"
        and p.audience.kind == "on_call"
    ]
    decision = alert.facts["decision"]
    assert decision["questions"] == [{"kind": "immune_related", "entry": entry, "drug": None}]
    assert "`" not in decision["ask"] and "irae=" not in decision["ask"]
    text = post_text(ctx.renderer, alert)
    assert f"`attribute {entry} irae=yes|no`; then `confirm {decision['id']}`" in text
    slack = message(ctx.renderer, alert)
    assert "irae=" not in json.dumps(slack["blocks"]).split('"actions"')[0]  # no typed answer
    [buttons] = [
        b for b in slack["blocks"] if b["type"] == "actions" and "decision:" in b["block_id"]
    ]
    assert [(e["action_id"], e["value"]) for e in buttons["elements"]][2:] == [
        (ATTRIBUTE_YES, f"{decision['id']}:{entry}"),
        (ATTRIBUTE_NO, f"{decision['id']}:{entry}"),
    ]
