"""The parsed log a context keeps between writes (bot/services/histories.py) is always
the log the database holds: entries, corrections and voids written by another process
(another context on the same database) are seen by the next write."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.services import amend, build_context, derive, entries
from bot.storage.database import patient_by_study_id
from bot.storage.eventlog import patient_events

from .conftest import DAY1, NURSE, as_user
from .test_entries import enrol


def _truth(ctx, study_id="LACC-007"):
    with ctx.db.transaction(readonly=True) as session:
        patient = patient_by_study_id(session, study_id)
        return patient.id, derive.history_of(patient_events(session, patient.id))


def test_entries_corrections_and_voids_of_another_process_reach_the_cached_log(
    ctx, db, service_clock
):
    enrol(ctx)
    nurse = as_user(NURSE)
    first = entries.record_lab(ctx, nurse, "LACC-007", "ANC 1.0", on=DAY1)
    other = build_context(ctx.settings, clock=service_clock, database=db)
    second = entries.record_lab(other, nurse, "LACC-007", "ANC 0.4")
    amend.correct(other, nurse, first.event["id"], amend.Changes(lab_text="ANC 1.4"), "typo")
    amend.void(other, nurse, second.event["id"], "wrong patient")
    entries.record_dose(ctx, nurse, "LACC-007", "cisplatin", on=DAY1)
    patient_id, truth = _truth(ctx)
    assert list(ctx.histories.get(patient_id).history) == truth
    assert [e.id for e in truth if e.kind == "lab"] == [first.event["id"]]
    assert truth[[e.id for e in truth].index(first.event["id"])].results[0].value == 1.4


def test_writes_from_many_threads_leave_the_log_the_database_holds(ctx):
    if ctx.db.dialect != "postgresql":
        pytest.skip("concurrent writers: PostgreSQL (SQLite's one writer times out under load)")
    enrol(ctx)
    nurse = as_user(NURSE)
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(
            pool.map(
                lambda n: entries.record_lab(ctx, nurse, "LACC-007", f"ANC {1 + n / 10:.1f}"),
                range(8),
            )
        )
    patient_id, truth = _truth(ctx)
    assert list(ctx.histories.get(patient_id).history) == truth
    assert sum(1 for e in truth if e.kind == "lab") == 8
