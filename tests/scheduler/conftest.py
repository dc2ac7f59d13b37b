"""Scheduler tests: the services driven with an injected clock on SQLite and PostgreSQL,
posts delivered to a recording notifier (or a fake Slack server at the network boundary).
Nothing waits: time moves by `clock.advance`."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from bot.clock import FixedClock
from bot.services import Request, build_context, enrolment
from bot.services.context import ServiceContext
from bot.services.members import set_role
from bot.settings import Settings
from bot.transports.delivery import deliver
from bot.transports.slack.blocks import post_messages as messages

ADMIN, NURSE, DOCTOR, BACKUP, VIEWER = "U0ADMIN", "U0NURSE", "U0DOC0001", "U0DOC0002", "U0VIEWER"
REPO = Path(__file__).resolve().parents[2]
DAY1 = date(2027, 3, 8)  # a Monday with no holiday in China


def as_user(user: str) -> Request:
    return Request(user=user, source="test")


@pytest.fixture
def sched_clock() -> FixedClock:
    # Monday 2027-03-01 09:00 in Shanghai: a week before day 1
    return FixedClock(datetime(2027, 3, 1, 1, 0, tzinfo=UTC))


def make_context(db, clock, **settings) -> ServiceContext:
    values = dict(database_url=db.engine.url.render_as_string(hide_password=False), admins=(ADMIN,))
    values.update(settings)
    return build_context(Settings(**values), clock=clock, database=db)


@pytest.fixture
def ctx(db, sched_clock) -> Iterator[ServiceContext]:
    context = make_context(db, sched_clock)
    admin = as_user(ADMIN)
    set_role(context, admin, NURSE, "coordinator", site="main")
    set_role(context, admin, DOCTOR, "investigator", site="main")
    set_role(context, admin, BACKUP, "investigator", site="main")
    set_role(context, admin, VIEWER, "viewer", site="main")
    yield context


def enrol(ctx, study_id="LACC-007", start=DAY1, **extra):
    values = dict(start=start, height=160, weight=55, stage="IIIC1", ecog=1, age=52)
    values.update(extra)
    return enrolment.enrol(ctx, as_user(NURSE), study_id, **values)


def rules_with_site(tmp_path: Path, **changes) -> Path:
    """A copy of the shipped rules whose site `main` has `changes` (the rules file is the
    truth for site calendars)."""
    target = tmp_path / "rules"
    shutil.copytree(REPO / "rules", target)
    sites_file = target / "nct05084677" / "sites.yaml"
    data = yaml.safe_load(sites_file.read_text(encoding="utf-8"))
    data["sites"][0].update(changes)
    sites_file.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return target


@pytest.fixture
def site_ctx(db, sched_clock, tmp_path):
    """A context factory whose site `main` is changed (timezone, closures …)."""

    def build(**changes) -> ServiceContext:
        context = make_context(db, sched_clock, rules_dir=rules_with_site(tmp_path, **changes))
        admin = as_user(ADMIN)
        set_role(context, admin, NURSE, "coordinator", site="main")
        set_role(context, admin, DOCTOR, "investigator", site="main")
        set_role(context, admin, BACKUP, "investigator", site="main")
        return context

    return build


NEW_YORK = dict(
    country="US", timezone="America/New_York", makeup_days_published_through=None, label="NY"
)


@dataclass
class Delivered:
    """A post as Slack would get it: address, kind, text and blocks, and its outbox key."""

    channel: str
    kind: str
    text: str
    blocks: list
    key: str


@dataclass
class RenderingRecorder:
    """Records each post rendered for Slack (at the boundary, nothing is sent)."""

    renderer: object
    posts: list[Delivered] = field(default_factory=list)

    def deliver(self, post) -> str:
        return self.deliver_keyed(post, key="", resume=False, since=0)[0]

    def deliver_keyed(self, post, *, key, resume, since):
        parts = messages(self.renderer, post)
        self.posts.append(
            Delivered(
                channel=post.address,
                kind=post.kind,
                text="\n\n".join(p["text"] for p in parts),
                blocks=[b for p in parts for b in p["blocks"]],
                key=key,
            )
        )
        return f"recorded-{len(self.posts)}", False


class Run:
    """Tick and deliver at the clock's instant; every post kept in order."""

    def __init__(self, ctx, clock, owner="replica-a") -> None:
        self.ctx, self.clock, self.owner = ctx, clock, owner
        self.notifier = RenderingRecorder(ctx.renderer)

    @property
    def posts(self):
        return self.notifier.posts

    def at(self, moment: datetime):
        self.clock.set(moment)
        return self.tick()

    def tick(self):
        from bot.services.tick import tick

        report = tick(self.ctx, self.clock.now())
        deliver(
            self.ctx.db,
            self.notifier,
            self.clock,
            owner=self.owner,
            pace=timedelta(seconds=1.1),
            sleep=lambda s: self.clock.advance(seconds=s),
        )
        return report


@pytest.fixture
def run(ctx, sched_clock) -> Run:
    return Run(ctx, sched_clock)
