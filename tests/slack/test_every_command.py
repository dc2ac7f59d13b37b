"""Every subcommand of the registry works through a Slack-shaped request (a signed slash
command) as it does on the console: the same reply — the blocks Slack gets are the
console's reply text rendered as Block Kit — on twin databases, step by step.

The script below names one line per subcommand; the test iterates the registry, so a new
subcommand without a line here fails until someone adds it.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from sqlmodel import select

from bot.clock import FixedClock
from bot.commands import run
from bot.commands.registry import build_registry
from bot.services import Request, build_context
from bot.settings import Settings
from bot.storage.models import DecisionRecord, EventRecord
from bot.transports.slack.blocks import reply_messages

# (subcommand, who, line): {lab} / {ae} are the newest lab / ae entry, {D} the newest
# proposed decision, as the console twin recorded them (both databases number alike).
SCRIPT = [
    ("help", "nurse", "help"),
    ("whoami", "nurse", "whoami"),
    ("enroll", "nurse", "enroll LACC-008 start=2027-03-01 height=160 weight=55"),
    ("dose", "nurse", "dose LACC-007 cisplatin mg=62"),
    ("lab", "nurse", "lab LACC-007 ANC 0.4 PLT 62"),
    ("decisions", "doctor", "decisions"),
    ("ack", "doctor", "ack {D}"),
    ("confirm", "doctor", "confirm {D}"),
    ("lab", "nurse", "lab LACC-008 ANC 0.4 PLT 62"),
    ("override", "doctor", 'override {D} reason="ANC 1.6 on repeat the same day"'),
    ("ae", "nurse", "ae LACC-007 pneumonitis grade=2"),
    ("attribute", "doctor", "attribute {ae} irae=yes"),
    ("hold", "doctor", 'hold LACC-008 toripalimab reason="hypothyroidism grade 2: interrupt"'),
    ("holds", "viewer", "holds"),
    ("resume", "doctor", 'resume LACC-008 toripalimab reason="stable on levothyroxine"'),
    ("response", "nurse", "response LACC-007 PR"),
    ("correct", "nurse", 'correct {lab} ANC 0.6 PLT 62 reason="typo: 0.6 not 0.4"'),
    ("void", "nurse", 'void {ae} reason="entered for the wrong patient"'),
    ("calendar", "viewer", "calendar LACC-007"),
    ("today", "viewer", "today"),
    ("week", "viewer", "week"),
    ("patient", "viewer", "patient LACC-007"),
    ("screen", "viewer", "screen age=52 stage=IIIC1 ecog=1"),
    ("oncall", "viewer", "oncall"),
    ("export", "nurse", "export aes"),
    ("swimmer", "nurse", "swimmer"),
    ("role", "admin", "role U0VIEW002 viewer site=main"),
    ("site", "admin", "site"),
]


def test_the_script_covers_every_subcommand_of_the_registry():
    scripted = {name for name, _, _ in SCRIPT}
    missing = [c.name for c in build_registry().commands if c.name not in scripted]
    assert not missing, f"add a line to SCRIPT for: {', '.join(missing)}"


def _twin(tmp_path: Path, clock: FixedClock, server):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'twin.db'}", admins=(server.admin,))
    ctx = build_context(settings, clock=clock)
    from bot.services.sites import configure_channels

    configure_channels(ctx, {"main": server.study})
    for user, role, extra in (
        (server.nurse, "coordinator", ""),
        (server.doctor, "investigator", " oncall=yes"),
        (server.viewer, "viewer", ""),
    ):
        assert run(ctx, Request(user=server.admin), f"role {user} {role} site=main{extra}").ok
    enrol = "enroll LACC-007 start=2027-03-01 height=160 weight=55"
    assert run(ctx, Request(user=server.nurse), enrol).ok
    return ctx


def _labels(ctx) -> dict[str, str]:
    with ctx.db.transaction(readonly=True) as session:
        newest = {}
        for kind in ("lab", "ae"):
            found = session.exec(
                select(EventRecord.id)
                .where(EventRecord.kind == kind)
                .order_by(EventRecord.id.desc())
            ).first()
            newest[kind] = f"E{found}" if found else "E0"
        decision = session.exec(
            select(DecisionRecord.id)
            .where(DecisionRecord.status == "proposed")
            .order_by(DecisionRecord.id.desc())
        ).first()
        newest["D"] = f"D{decision}" if decision else "D0"
    return newest


def _blocks(call) -> list[dict]:
    raw = call.params.get("blocks") or []
    return json.loads(raw) if isinstance(raw, str) else list(raw)


def test_every_subcommand_answers_in_slack_as_on_the_console(server, slack_clock, tmp_path):
    twin = _twin(tmp_path, FixedClock(slack_clock.now()), server)
    people = {
        "nurse": server.nurse,
        "doctor": server.doctor,
        "viewer": server.viewer,
        "admin": server.admin,
    }
    assert isinstance(slack_clock.now(), datetime)
    for name, who, line in SCRIPT:
        typed = line.format(**_labels(twin))
        server.fake.reset()
        assert server.command(typed, user=people[who]).status == 200
        reply = run(twin, Request(user=people[who]), typed)
        assert reply.ok, f"{name}: {reply.text}"
        expected = [b for _, blocks in reply_messages(reply.text) for b in blocks]
        answered = [b for call in server.fake.called("response_url") for b in _blocks(call)]
        assert answered == expected, f"{name} ({typed}) answered differently in Slack"
        assert _labels(server.ctx) == _labels(twin), f"{name}: the records differ"
    twin.db.dispose()
