"""A crash anywhere inside a service call leaves the database as it was; concurrent
entries for one patient serialise (PostgreSQL)."""

from __future__ import annotations

import threading
import time
from datetime import date

import pytest
from sqlalchemy import text

from bot.services import Request, derive, enrolment, entries, notify, unit
from bot.services.context import ServiceContext

DAY1 = date(2027, 3, 1)
NURSE = "U0NURSE"


class Crash(Exception):
    pass


def _enrol(ctx: ServiceContext) -> None:
    enrolment.enrol(ctx, Request(user=NURSE), "LACC-007", start=DAY1, height=160, weight=55)


# Every step of a lab entry, patched to crash right after it has done its work.
STEPS = [
    (unit, "append_event"),
    (unit, "decide"),
    (derive, "calendar_for"),
    (unit, "replace_calendar_rows"),
    (notify, "enqueue"),
    (unit, "add_audit"),
    (unit, "remember"),
]


@pytest.mark.parametrize(("module", "name"), STEPS, ids=[name for _, name in STEPS])
def test_a_crash_at_any_step_leaves_the_database_as_before(ctx, counts, monkeypatch, module, name):
    _enrol(ctx)
    before = counts(ctx)
    original = getattr(module, name)
    calls = []

    def crash_after(*args, **kwargs):
        original(*args, **kwargs)
        calls.append(name)
        raise Crash(name)

    monkeypatch.setattr(module, name, crash_after)
    with pytest.raises(Crash):
        entries.record_lab(ctx, Request(user=NURSE, key="k-1"), "LACC-007", "ANC 0.4")
    assert calls == [name]  # the step really ran before the crash
    assert counts(ctx) == before


def _waiting_for_lock(ctx: ServiceContext) -> bool:
    with ctx.db.engine.connect() as connection:
        return bool(
            connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()"
                )
            ).scalar()
        )


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_concurrent_entries_for_one_patient_serialise(ctx, monkeypatch):
    """A holds the patient; B's entry must wait and then see A's proposal (a reduction),
    so it refers a second grade 4 instead of reducing again — no lost update."""
    _enrol(ctx)
    a_inside = threading.Event()
    original = derive.decision_context
    first = threading.Lock()

    def slow_first(*args, **kwargs):
        if first.acquire(blocking=False):  # only thread A's call waits
            a_inside.set()
            deadline = time.monotonic() + 10
            while not _waiting_for_lock(ctx) and time.monotonic() < deadline:
                time.sleep(0.01)  # polling a condition, not timing the test
        return original(*args, **kwargs)

    monkeypatch.setattr(derive, "decision_context", slow_first)
    results: dict[str, object] = {}

    def run(name: str, panel: str) -> None:
        results[name] = entries.record_lab(ctx, Request(user=NURSE), "LACC-007", panel)

    a = threading.Thread(target=run, args=("a", "ANC 0.4"))
    a.start()
    assert a_inside.wait(10)
    b = threading.Thread(target=run, args=("b", "ANC 0.45"))
    b.start()
    a.join(20)
    b.join(20)
    actions = [
        next(d["action"] for d in results[n].decisions if d["drug"] == "cisplatin")
        for n in ("a", "b")
    ]
    assert actions == ["reduce", "refer"]
