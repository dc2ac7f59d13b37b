"""Storage-test helpers: a site and an enrolled patient to hang events and rows on."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlmodel import Session

from bot.clock import FixedClock
from bot.storage.database import Database
from bot.storage.models import Patient, Site


def add_site(session: Session, site_id: str, now: datetime) -> Site:
    site = Site(
        id=site_id,
        country="CN",
        timezone="Asia/Shanghai",
        calendar={"treat_on_makeup_days": True},
        channel_id="C0SITE",
        created_at=now,
    )
    session.add(site)
    session.flush()
    return site


def add_patient(session: Session, study_id: str, site_id: str, now: datetime) -> Patient:
    patient = Patient(
        study_id=study_id,
        site_id=site_id,
        day1=date(2026, 12, 1),
        fractions=25,
        boost=False,
        height_cm=160.0,
        weight_kg=55.0,
        figo_stage="IIIC1r",
        ecog=1,
        diagnosed_on=date(2026, 10, 20),
        age_at_enrolment=47,
        baseline_labs={"anc": 3.1},
        created_at=now,
        created_by="U0COORD",
    )
    session.add(patient)
    session.flush()
    return patient


def _seed(database: Database, clock: FixedClock) -> int:
    with database.transaction() as session:
        add_site(session, "main", clock.now())
        add_site(session, "east", clock.now())
        return add_patient(session, "LACC-007", "main", clock.now()).id


@pytest.fixture
def patient_id(db: Database, clock: FixedClock) -> int:
    """An enrolled patient LACC-007 at site "main" (a second site "east" exists too)."""
    return _seed(db, clock)


@pytest.fixture
def pg_patient_id(pg_db: Database, clock: FixedClock) -> int:
    """The same, in the PostgreSQL-only database `pg_db`."""
    return _seed(pg_db, clock)


@pytest.fixture
def make_patient(db: Database, clock: FixedClock, patient_id: int):
    """Enrol another patient (committed) at an existing site; returns its id."""

    def make(study_id: str, site_id: str = "main") -> int:
        with db.transaction() as session:
            return add_patient(session, study_id, site_id, clock.now()).id

    return make
