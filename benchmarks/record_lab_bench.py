"""Recording one lab panel end to end, for a patient with 10, 500 and 2,000 prior entries,
on SQLite and on PostgreSQL: does a write's cost grow with the patient's history?

End to end = the service call a Slack command makes: check the role, lock the patient,
read its effective history, parse and grade the panel, decide (with the next doses from
the calendar), record proposals, refresh the calendar rows, queue the outbox, audit,
commit. The timed panel (`ANC 0.4 PLT 62 Hb 9.1 ALT 130 U/L (7-40)`) leads to a reduction
and a referral each time. Target (issue 13): the median at 2,000 prior entries within
1.5× the median at 10. Not a test: run it and read the summary line. Beside the wall time
it prints this process's CPU time per call (`time.process_time`), which other programs
loading the machine inflate far less (PostgreSQL's own work is in its server, not in it).

The prior entries (about one a day for five years: lab panels, the first year's doses, a
few adverse events) are
written straight into the event log in one transaction, as the service would have stored
them, so that filling 2,000 does not take the time of 2,000 service calls.

    .venv/bin/python benchmarks/record_lab_bench.py [--runs 20] [--sizes 10 500 2000]
        [--postgres URL]   (default: $TRIALBOT_TEST_POSTGRES_URL; none: SQLite only)
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from machine import describe
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from bot.clock import FixedClock
from bot.entry_rules import build
from bot.services import Request, build_context, enrolment, entries
from bot.services.context import ServiceContext
from bot.services.entries import vocabulary_of
from bot.settings import Settings
from bot.storage.database import Database, patient_by_study_id
from bot.storage.eventlog import append_event

DAY1 = date(2027, 3, 1)
SID = "LACC-001"
# The console's own user: an admin while no TRIALBOT_ADMINS are set, so it may enter data.
NURSE = Request(user="console", console=True)
PANEL = "ANC 0.4 PLT 62 Hb 9.1 ALT 130 U/L (7-40)"


def _at(clock: FixedClock, day: date) -> None:
    clock.set(datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=1))


def fill_history(ctx: ServiceContext, clock: FixedClock, prior: int) -> date:
    """Enrol the patient and write `prior` entries to its log, about one a day, as five
    years of follow-up look: the doses the protocol gives in the first year (weekly
    cisplatin for five weeks, toripalimab every three weeks), lab panels, and now and then
    a grade 1 adverse event. Returns the date of the last entry."""
    _at(clock, DAY1)
    enrolment.enrol(ctx, NURSE, SID, start=DAY1, height=160, weight=55)
    vocabulary = vocabulary_of(ctx, "main")
    panels = ("ANC 2.1 PLT 180 Hb 11.2 ALT 30 CR 70", "ANC 2.3 PLT 190 Hb 11.5")
    day = DAY1
    with ctx.db.transaction() as session:
        patient = patient_by_study_id(session, SID)
        for number in range(prior - 1):  # the enrolment is the first entry
            day = DAY1 + timedelta(days=number * 2000 // max(prior, 1))
            offset = (day - DAY1).days
            if offset < 35 and offset % 7 == 0:
                kind, values = "dose", {"drug": "cisplatin"}
            elif offset < 365 and offset % 21 == 1:
                kind, values = "dose", {"drug": "toripalimab"}
            elif number % 97 == 50:
                kind, values = "ae", {"term": "diarrhea", "grade": 1, "irae": False}
            else:
                kind, values = "lab", {"lab": panels[number % 2]}
            event = build(kind, values, day=day, vocabulary=vocabulary).event
            append_event(
                session,
                patient_id=patient.id,
                kind=event.kind,
                clinical_date=event.date,
                payload=event.model_dump(mode="json", exclude={"id", "seq"}),
                recorded_by=NURSE.user,
                source="benchmark",
                now=clock.now(),
            )
    return day


def time_record_lab(url: str, prior: int, runs: int) -> tuple[list[float], list[float]]:
    clock = FixedClock(datetime(2027, 3, 1, 1, tzinfo=UTC))
    ctx = build_context(Settings(database_url=url), clock=clock)
    try:
        last = fill_history(ctx, clock, prior)
        _at(clock, last + timedelta(days=1))
        entries.record_lab(ctx, NURSE, SID, PANEL)  # warm: rules, templates, site calendar
        gc.collect()
        gc.freeze()  # as `trialbot serve` does once started
        samples, cpu = [], []
        for _ in range(runs):
            start, start_cpu = time.perf_counter(), time.process_time()
            entries.record_lab(ctx, NURSE, SID, PANEL)
            samples.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
        return sorted(samples), sorted(cpu)
    finally:
        ctx.db.dispose()


class _Postgres:
    """A throwaway schema, migrated by trialbot itself on first use, dropped afterwards."""

    def __init__(self, url: str) -> None:
        self.admin = create_engine(url, poolclass=NullPool)
        self.base = url
        self.schemas: list[str] = []

    def fresh(self) -> str:
        schema = f"trialbot_bench_{uuid.uuid4().hex[:8]}"
        with self.admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        self.schemas.append(schema)
        url = make_url(self.base).update_query_dict({"options": f"-csearch_path={schema}"})
        database = Database(url)
        database.upgrade()  # trialbot's own migrations
        database.dispose()
        return url.render_as_string(hide_password=False)

    def close(self) -> None:
        with self.admin.begin() as connection:
            for schema in self.schemas:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        self.admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="lab panels timed per size")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 500, 2000])
    parser.add_argument(
        "--postgres",
        default=os.environ.get("TRIALBOT_TEST_POSTGRES_URL"),
        help="PostgreSQL URL (default: $TRIALBOT_TEST_POSTGRES_URL)",
    )
    args = parser.parse_args()
    print(f"machine: {describe()}; load average {os.getloadavg()[0]:.1f}")
    results: dict[str, dict[int, float]] = {}
    cpu_results: dict[str, dict[int, float]] = {}
    backends = ["sqlite"] + (["postgresql"] if args.postgres else [])
    for backend in backends:
        results[backend] = {}
        cpu_results[backend] = {}
        postgres = _Postgres(args.postgres) if backend == "postgresql" else None
        try:
            for prior in args.sizes:
                with tempfile.TemporaryDirectory() as folder:
                    url = postgres.fresh() if postgres else f"sqlite:///{Path(folder) / 'bench.db'}"
                    samples, cpu = time_record_lab(url, prior, args.runs)
                median = statistics.median(samples)
                results[backend][prior] = median
                cpu_results[backend][prior] = statistics.median(cpu)
                print(
                    f"{backend:<10} {prior:>5} prior entries: median {median:6.1f} ms, "
                    f"p90 {samples[int(len(samples) * 0.9) - 1]:6.1f} ms, "
                    f"min {samples[0]:6.1f} ms; this process's CPU median "
                    f"{statistics.median(cpu):6.1f} ms ({len(samples)} runs)"
                )
        finally:
            if postgres:
                postgres.close()
    low, high = min(args.sizes), max(args.sizes)
    ratios = ", ".join(
        f"{backend} ×{medians[high] / medians[low]:.2f}" for backend, medians in results.items()
    )
    print(f"summary: record_lab median at {high} / at {low} prior entries: {ratios} (target ≤ 1.5)")
    cpu_ratios = ", ".join(
        f"{backend} ×{medians[high] / medians[low]:.2f}" for backend, medians in cpu_results.items()
    )
    print(f"         the same in this process's CPU time: {cpu_ratios}")


if __name__ == "__main__":
    main()
