"""Fixtures for the calendar tests: the shipped schedule and sites files, site calendars,
and a quick way to build a patient's calendar."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from bot.calendar import PatientPlan, Schedule, SiteCalendar, SitesFile, build_calendar
from bot.calendar.sites import SiteConfig

RULES = Path(__file__).resolve().parents[2] / "rules" / "nct05084677"


def load_yaml(name: str) -> dict:
    return yaml.safe_load((RULES / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def schedule() -> Schedule:
    return Schedule.model_validate(load_yaml("schedule.yaml"))


@pytest.fixture(scope="session")
def sites() -> SitesFile:
    return SitesFile.model_validate(load_yaml("sites.yaml"))


@pytest.fixture(scope="session")
def cn(sites: SitesFile) -> SiteCalendar:
    """The shipped study site: China's calendar, make-up workdays treated."""
    return SiteCalendar(sites.config("main"))


@pytest.fixture(scope="session")
def weekdays() -> SiteCalendar:
    """Monday–Friday, no holidays."""
    return SiteCalendar(SiteConfig(id="none", country=None))


@pytest.fixture
def plan_for():
    def make(day1: date, **values) -> PatientPlan:
        values.setdefault("bsa_m2", 1.62)
        return PatientPlan(day1=day1, **values)

    return make


@pytest.fixture
def calendar_for(schedule, cn, plan_for):
    """build_calendar with the shipped schedule; site defaults to the study site."""

    def make(
        day1: date, *, site=None, history=(), today=None, treatment=None, sched=None, **plan_values
    ):
        return build_calendar(
            sched or schedule,
            plan_for(day1, **plan_values),
            list(history),
            site or cn,
            today=today,
            treatment=treatment,
        )

    return make


@pytest.fixture
def rules_root(tmp_path, monkeypatch) -> Path:
    """A copy of the shipped rules (the files the loader knows), used as TRIALBOT_RULES_DIR,
    so the command line reads real rules files that a test may then break."""
    import shutil

    from bot.protocol.loader import RULE_FILES

    root = tmp_path / "rules"
    trial = root / "nct05084677"
    trial.mkdir(parents=True)
    for name in RULE_FILES:
        if (RULES / name).exists():
            shutil.copy(RULES / name, trial / name)
    ctcae = RULES.parent / "ctcae"
    if ctcae.is_dir():
        shutil.copytree(ctcae, root / "ctcae")
    monkeypatch.setenv("TRIALBOT_RULES_DIR", str(root))
    return root
