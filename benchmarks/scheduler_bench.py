"""The scheduler's two hot paths: composing a site's digest with 10,000 active patients
(target < 200 ms) and a tick with nothing due (target < 10 ms), on SQLite and PostgreSQL.

    .venv/bin/python benchmarks/scheduler_bench.py [--patients 10000] [--rounds 15]
    TRIALBOT_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python benchmarks/scheduler_bench.py --postgres

Patients of one site start on treatment days spread over the year before "today", so all
are active (on EBRT, chemotherapy, consolidation or maintenance); each gets its real
protocol calendar from the calendar engine (computed once per distinct day 1 and reused),
stored as calendar rows exactly as the service stores them. One patient in twenty has an
open proposal, one in thirty a hold and one in forty a reduction; past events are
recorded (given or done) except one in fifty, which the digest reports as overdue. The digest is timed as
`trialbot digest` runs it (read-only transaction, aggregate queries, composition, the
template); the empty tick as the scheduler runs it every 30 s once the day's digest is
queued. A PostgreSQL run uses a throwaway schema, dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from machine import describe
from sqlalchemy import insert, make_url, text

from bot.clock import FixedClock
from bot.services import Request, build_context
from bot.services.derive import calendar_for, site_calendar_of
from bot.services.digest import compose_for, daily
from bot.services.tick import tick
from bot.settings import Settings
from bot.storage.calendar_rows import _row_values
from bot.storage.database import Database
from bot.storage.jsonvalues import to_json_value
from bot.storage.models import CalendarRow, DecisionRecord, Patient, Site
from bot.transports.text import post_text

TODAY = date(2027, 6, 14)  # a Monday
NOW = datetime(2027, 6, 14, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai, after the digest time


def _fill(ctx, patients: int, seed: int) -> int:
    rng = random.Random(seed)
    with ctx.db.transaction() as session:
        site = session.get(Site, "main")
        calendar = site_calendar_of(site, ctx.site_calendars)
        days = calendar.treatment_days(TODAY - timedelta(days=365), TODAY)
        templates: dict[date, list[dict]] = {}
        rows_written = 0
        batch: list[dict] = []
        for n in range(patients):
            day1 = rng.choice(days)
            patient = Patient(
                study_id=f"LACC-{n + 1}",
                site_id="main",
                day1=day1,
                fractions=25,
                height_cm=160,
                weight_kg=55,
                created_at=NOW - timedelta(days=400),
                created_by="bench",
            )
            session.add(patient)
            session.flush()
            if day1 not in templates:
                events = calendar_for(ctx, patient, site, []).events_json()
                templates[day1] = to_json_value(events)
            for index, payload in enumerate(templates[day1]):
                values = _row_values(payload, patient, "main", index)
                # A site records what happens: past events are given or done, except
                # for one in fifty (what the digest reports as overdue).
                if values["date"] < TODAY and rng.random() > 0.02:
                    values["status"] = "given" if values["kind"] != "assessment" else "done"
                batch.append(values)
            if n % 20 == 0:
                session.add(_decision(patient.id, "cisplatin", "reduce", 80, "proposed"))
            if n % 30 == 1:
                session.add(_decision(patient.id, "toripalimab", "hold", None, "confirmed"))
            if n % 40 == 2:
                session.add(_decision(patient.id, "paclitaxel", "reduce", 80, "confirmed"))
            if len(batch) >= 20_000:
                session.execute(insert(CalendarRow), batch)
                rows_written += len(batch)
                batch = []
        if batch:
            session.execute(insert(CalendarRow), batch)
            rows_written += len(batch)
    return rows_written


def _decision(patient_id: int, drug: str, action: str, percent, status: str) -> DecisionRecord:
    payload = {
        "drug": drug,
        "action": action,
        "dose_percent": percent,
        "reason": "benchmark",
        "rule": "Protocol, Toxicity & dose modifications",
        "needs_confirmation": True,
        "criterion": None,
        "ctcae": None,
        "category": "chemotherapy" if drug != "toripalimab" else "immunotherapy",
        "trigger": None,
        "if_immune_related": None,
        "ask": None,
        "facts": [],
        "next_dose": None,
    }
    return DecisionRecord(
        payload=payload,
        patient_id=patient_id,
        drug=drug,
        action=action,
        dose_percent=percent,
        reason="benchmark",
        rule="Protocol, Toxicity & dose modifications",
        needs_confirmation=True,
        status=status,
        proposed_at=NOW - timedelta(days=3),
    )


def _timed(function, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    return times


def _report(name: str, times: list[float], target: float) -> None:
    median = statistics.median(times)
    verdict = "ok" if median < target else "OVER TARGET"
    print(
        f"  {name}: median {median:.1f} ms, min {min(times):.1f}, max {max(times):.1f} "
        f"(target < {target:g} ms: {verdict}), load average {os.getloadavg()[0]:.1f}"
    )


def run(url: str, patients: int, rounds: int) -> None:
    database = Database(url)
    if database.dialect == "postgresql":
        database.upgrade()
    clock = FixedClock(NOW)
    ctx = build_context(Settings(database_url=url), clock=clock, database=database)
    started = time.perf_counter()
    rows = _fill(ctx, patients, seed=7)
    print(
        f"{database.dialect}: {patients:,} active patients, {rows:,} calendar rows "
        f"(loaded in {time.perf_counter() - started:.0f} s)"
    )
    viewer = Request(user="console", console=True)

    def digest():
        outcome = compose_for(ctx, viewer, site="main", day=TODAY)
        return post_text(ctx.renderer, outcome.posts[0])

    text_out = digest()
    print(f"  digest text: {len(text_out):,} characters, {text_out.count(chr(10)) + 1} lines")
    _report("digest (compose + render)", _timed(digest, rounds), 200)
    # The day's work, done as the first tick of the day leaves it: the digest and the
    # reminders queued (`daily`, the tick's own step). The daily review of each patient
    # (one write per patient, minutes at 10,000) is not run: it proposes nothing here,
    # and a tick never repeats it once the digest is queued — the empty tick below asks
    # only "is any digest, escalation or expiry due?".
    daily(ctx, "main", TODAY, NOW)
    clock.set(NOW + timedelta(minutes=1))
    assert tick(ctx, clock.now()).to_json() == {
        "now": clock.now().isoformat(),
        "digests": [],
        "proposals": [],
        "escalations": [],
        "expired": 0,
    }, "the timed tick must have nothing to do"
    _report("tick with nothing due", _timed(lambda: tick(ctx, clock.now()), rounds * 4), 10)
    database.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--postgres", action="store_true", help="TRIALBOT_TEST_POSTGRES_URL")
    args = parser.parse_args()
    print(describe())
    if not args.postgres:
        with tempfile.TemporaryDirectory() as folder:
            run(f"sqlite:///{folder}/bench.db", args.patients, args.rounds)
        return 0
    base = os.environ.get("TRIALBOT_TEST_POSTGRES_URL")
    if not base:
        print("set TRIALBOT_TEST_POSTGRES_URL", file=sys.stderr)
        return 2
    schema = f"trialbot_bench_{uuid.uuid4().hex[:8]}"
    admin = Database(base).engine
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        run(url.render_as_string(hide_password=False), args.patients, args.rounds)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
