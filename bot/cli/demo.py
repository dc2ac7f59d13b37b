"""`trialbot demo`: a demo patient walked through the protocol on the console.

A fresh SQLite file `trialbot-demo.db` in the working directory (recreated each run;
never your `trialbot.db`), a fixed clock moved day by day, two team members given their
roles by the console's admin, and every command going through the same dispatcher and
console transport as `trialbot chat` — each command printed with who typed it and when,
then its reply and the posts it caused. The story: enrol → calendar → weekly cisplatin →
grade 4 neutropenia → reduction (confirmed) → not recovered → suspended → recovered →
resumed → pneumonitis grade 2 → attribution asked → immune-related → toripalimab held →
recovery → resumed → today/week → the patient at a glance.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.commands.reply import Reply

DEMO_DATABASE = "trialbot-demo.db"
STUDY_ID = "LACC-001"
COORDINATOR = "U0NURSE01"
INVESTIGATOR = "U0DOC0001"
DAY1 = date(2026, 3, 2)  # a Monday; CN 2026 make-up workdays are published, so no * dates


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "demo",
        help="walk a demo patient through the protocol on the console (no Slack)",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument(
        "--keep-going",
        action="store_true",
        help="do not stop at a step that does not go as the story expects",
    )
    parser.set_defaults(func=_run)


@dataclass
class Story:
    """What the story needs to remember between steps: the replies' decision and entry ids."""

    last: Reply | None = None

    def decision(self, drug: str, action: str) -> str:
        assert self.last is not None
        for decision in self.last.decisions:
            if decision["drug"] == drug and decision["action"] == action:
                return decision["id"]
        raise LookupError(f"the last reply has no {drug} {action} decision")

    def entry(self) -> str:
        """The id of the entry the last reply recorded (the trigger of its decisions)."""
        assert self.last is not None
        for decision in self.last.decisions:
            if decision.get("trigger"):
                return decision["trigger"]
        raise LookupError("the last reply recorded no entry with a decision")


Text = str | Callable[[Story], str]


@dataclass(frozen=True)
class Step:
    day: date
    user: str | None  # None: the console's own user (an admin for the demo)
    command: Text
    note: str = ""
    expect_ok: bool = True


def _day(n: int) -> date:
    return DAY1 + timedelta(days=n)


def steps() -> list[Step]:
    sid = STUDY_ID
    nurse, doctor = COORDINATOR, INVESTIGATOR
    return [
        Step(
            _day(-3),
            None,
            f"role {nurse} coordinator site=main",
            "The trial admin (you, at the console) gives the team their roles.",
        ),
        Step(_day(-3), None, f"role {doctor} investigator site=main oncall=yes"),
        Step(
            _day(-3),
            nurse,
            "screen age=52 stage=IIIC1 ecog=1 hb=11.8 anc=3.1 plt=210",
            "The research nurse checks the candidate against Table 1 (nothing is recorded).",
        ),
        Step(
            _day(-3),
            nurse,
            f"enroll {sid} start={DAY1.isoformat()} height=160 weight=55 stage=IIIC1 ecog=1 age=52",
            "Enrolment builds the protocol calendar from day 1 (first EBRT fraction).",
        ),
        Step(_day(-3), nurse, f"calendar {sid} from={DAY1.isoformat()} weeks=2"),
        Step(
            _day(0),
            nurse,
            f"dose {sid} cisplatin mg=62",
            "Week 0: weekly cisplatin and the first toripalimab are given.",
        ),
        Step(_day(0), nurse, f"dose {sid} toripalimab"),
        Step(
            _day(4),
            nurse,
            f"lba {sid} ANC 0.4 PLT 62 Hb 9.1",
            "Friday's pre-dose labs — typed in a hurry.",
            expect_ok=False,
        ),
        Step(
            _day(4),
            nurse,
            f"lab {sid} ANC 0.4 PLT 62 Hb 9.1",
            "Grade 4 neutropenia: the protocol reduces the next cisplatin cycle by 20%.",
        ),
        Step(
            _day(4),
            nurse,
            lambda s: f"confirm {s.decision('cisplatin', 'reduce')}",
            "Only an investigator may confirm.",
            expect_ok=False,
        ),
        Step(
            _day(4),
            doctor,
            lambda s: f"confirm {s.decision('cisplatin', 'reduce')}",
            "The on-call investigator confirms the reduction.",
        ),
        Step(
            _day(7),
            nurse,
            f"lab {sid} ANC 1.2 PLT 98",
            "Monday, before the next cycle: not recovered to grade 0–I after the reduction "
            "→ chemotherapy suspended.",
        ),
        Step(_day(7), doctor, lambda s: f"confirm {s.decision('cisplatin', 'hold')}"),
        Step(
            _day(11),
            nurse,
            f"lab {sid} ANC 1.9 PLT 160",
            "Recovered to grade 0–I → cisplatin resumes at the dose before the suspension.",
        ),
        Step(_day(11), doctor, lambda s: f"confirm {s.decision('cisplatin', 'resume')}"),
        Step(_day(14), nurse, f"dose {sid} cisplatin mg=50", "The reduced dose is given."),
        Step(
            _day(17),
            nurse,
            f"ae {sid} pneumonitis grade=2",
            "Pneumonitis grade 2: Table 3 applies only if it is immune-related — the "
            "investigator is asked.",
        ),
        Step(_day(17), doctor, lambda s: f"attribute {s.entry()} irae=yes"),
        Step(
            _day(17),
            doctor,
            lambda s: f"confirm {s.decision('toripalimab', 'hold')}",
            "Toripalimab is interrupted until the pneumonitis is back to grade 0–I.",
        ),
        Step(
            _day(17),
            doctor,
            "decisions",
            "The attribution answered the referral's question: nothing is left open.",
        ),
        Step(
            _day(18),
            nurse,
            f"lab {sid} ANC 2.2 PLT 170",
            "Pre-dose labs are fine: cisplatin goes on at 80% (toripalimab stays held).",
        ),
        Step(_day(21), nurse, f"dose {sid} cisplatin mg=50"),
        Step(_day(25), nurse, f"lab {sid} ANC 2.0 PLT 150"),
        Step(
            _day(28),
            nurse,
            f"ae {sid} pneumonitis grade=1 irae=yes",
            "Recovered to grade I → toripalimab resumes.",
        ),
        Step(_day(28), doctor, lambda s: f"confirm {s.decision('toripalimab', 'resume')}"),
        Step(_day(28), nurse, "today", "What is due at the site today, and this week."),
        Step(_day(28), nurse, "week"),
        Step(_day(28), nurse, f"patient {sid}", "The patient at a glance."),
    ]


def _remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _run(args: argparse.Namespace) -> int:
    from bot.clock import FixedClock
    from bot.services import build_context
    from bot.settings import load_settings
    from bot.transports.console import Console, TextPrinter, log_to_stderr

    log_to_stderr()
    path = Path.cwd() / DEMO_DATABASE
    _remove_database(path)
    # The demo's own database and admins: whatever TRIALBOT_DATABASE_URL and
    # TRIALBOT_ADMINS say, the demo never touches the real trial's data.
    settings = load_settings(database_url=f"sqlite:///{path}", admins=(), now=None)
    # Midnight UTC of the first day until the site's timezone is known from the rules.
    clock = FixedClock(datetime.combine(steps()[0].day, time(0, 0), UTC))
    ctx = build_context(settings, clock=clock)
    timezone = ZoneInfo(ctx.rules.sites.config(settings.default_site or None).timezone)
    printer = TextPrinter()
    console = Console(ctx, user=settings.user, printer=printer)
    story = Story()
    printer.note(
        f"trialbot demo — {STUDY_ID} through NCT05084677 on {path.name} "
        "(recreated each run; your trialbot.db is not touched)"
    )
    try:
        minute = 0
        previous_day = None
        for number, step in enumerate(steps(), start=1):
            minute = minute + 1 if step.day == previous_day else 0
            previous_day = step.day
            clock.set(datetime.combine(step.day, time(9, minute), timezone))
            text = step.command(story) if callable(step.command) else step.command
            if step.note:
                printer.note(f"\n— {step.note}")
            user = step.user or settings.user
            printer.command(text, user=user, when=ctx.now().astimezone(timezone))
            reply = console.run(text, user=user)
            if reply.ok:
                story.last = reply
            if reply.ok != step.expect_ok and not args.keep_going:
                printer.note(f"\nthe demo stopped: step {number} did not go as the story expects")
                return 1
        printer.note(
            f"\nThat was {STUDY_ID}'s first month. Carry on yourself:\n"
            f"  TRIALBOT_DATABASE_URL=sqlite:///{path.name} "
            f"TRIALBOT_NOW={clock.now().astimezone(timezone).isoformat(timespec='minutes')} "
            "trialbot chat"
        )
        return 0
    finally:
        ctx.db.dispose()
