"""How fast is "everything due at a site" with 100,000 patients, as the commands ask it?

Fills a PostgreSQL schema of its own (migrated with trialbot's own migrations, so the
indexes are the production ones) with enrolled patients and ~150 calendar rows each,
spread over several sites of different sizes and six years of enrolment, by COPY. The
schema is named after the fixture's version and size and kept: a later run with the same
version, patients, sites and seed reuses it (`--fresh` rebuilds it, `--drop` removes it
afterwards). Then it times, for every site:

- `/trial week site=S` and `/trial today site=S` through the command dispatcher — the
  query the command really issues (rows of the week and the still-overdue rows of the
  28 days before, filtered and counted in SQL, one page of patients read in full), the
  handler and the template (targets: < 100 ms at the busiest site, issue 13);
- at the busiest site, the digest's composition and App Home's three reads;
- as the baseline of the same run, the narrower `due_at_site` range query of the week
  alone (what this benchmark timed before);

and prints PostgreSQL's plan. The last line is the summary.

    TRIALBOT_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python benchmarks/due_query_bench.py [--patients 100000] [--sites 20]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

from machine import describe
from sqlalchemy import make_url, text

from bot.storage.calendar_rows import due_at_site
from bot.storage.database import Database

TODAY = date(2026, 11, 30)  # a Monday; "the next 7 days" is TODAY … TODAY + 6
ENROLMENT_START = date(2021, 1, 4)
ENROLMENT_DAYS = 6 * 365
CREATED = datetime(2026, 1, 1, tzinfo=UTC)

Row = tuple[date, str, str, str, int | None, int, int]  # date, kind, item, phase, n, ±window


def _weekdays_from(start: date, count: int) -> Iterator[date]:
    day = start
    while count:
        if day.weekday() < 5:
            yield day
            count -= 1
        day += timedelta(days=1)


def patient_calendar(day1: date, fractions: int) -> list[Row]:
    """A plausible NCT05084677 calendar (about 150 events): screening, CCRT (EBRT,
    weekly cisplatin, toripalimab, weekly labs and toxicity review), brachytherapy,
    6 consolidation cycles, maintenance to one year, and efficacy follow-up to 10 years.
    The real one comes from bot.calendar; only the shape and date spread matter here."""
    rows: list[Row] = [
        (day1 - timedelta(days=21), "assessment", "eligibility", "screening", None, 7, 0),
        (day1 - timedelta(days=16), "assessment", "inclusion", "screening", None, 2, 2),
        (day1 - timedelta(days=14), "assessment", "planning_ct", "screening", None, 2, 0),
    ]
    ebrt = list(_weekdays_from(day1, fractions))
    rows += [(d, "radiotherapy", "ebrt", "ccrt", n + 1, 0, 0) for n, d in enumerate(ebrt)]
    weeks = sorted({d - timedelta(days=d.weekday()) for d in ebrt})
    for n, monday in enumerate(weeks):
        first = next(d for d in ebrt if d >= monday)
        if n < 5:
            rows.append((first, "infusion", "cisplatin", "ccrt", n + 1, 0, 2))
        rows.append((first - timedelta(days=1), "labs", "pre_dose_labs", "ccrt", n + 1, 2, 1))
        rows.append((first + timedelta(days=2), "assessment", "toxicity", "ccrt", n + 1, 1, 1))
    rows += [
        (day1, "infusion", "toripalimab", "ccrt", 1, 0, 3),
        (day1 + timedelta(days=21), "infusion", "toripalimab", "ccrt", 2, 0, 3),
    ]
    evaluation = ebrt[-1] + timedelta(days=3)
    rows.append((evaluation, "assessment", "end_of_ebrt_evaluation", "ccrt", None, 0, 7))
    brachy = [evaluation + timedelta(days=3 + 3 * n) for n in range(4)]
    rows += [
        (d, "brachytherapy", "brachytherapy", "ccrt", n + 1, 0, 2) for n, d in enumerate(brachy)
    ]
    cycle = brachy[-1] + timedelta(days=7)
    for n in range(6):
        rows += [
            (cycle - timedelta(days=1), "labs", "pre_dose_labs", "consolidation", n + 1, 3, 0),
            (cycle, "infusion", "paclitaxel", "consolidation", n + 1, 0, 3),
            (cycle, "infusion", "toripalimab", "consolidation", n + 1, 0, 3),
            (cycle, "assessment", "toxicity", "consolidation", n + 1, 1, 1),
        ]
        rows += [
            (cycle + timedelta(days=k), "infusion", "cisplatin", "consolidation", n + 1, 0, 0)
            for k in (1, 2, 3)
        ]
        cycle += timedelta(days=21)
    dose, number = cycle - timedelta(days=21) + timedelta(days=42), 1
    while dose < day1 + timedelta(days=365):
        rows += [
            (dose - timedelta(days=1), "labs", "pre_dose_labs", "maintenance", number, 3, 0),
            (dose, "infusion", "toripalimab", "maintenance", number, 0, 3),
        ]
        dose, number = dose + timedelta(days=42), number + 1
    months = list(range(3, 25, 3)) + list(range(30, 61, 6)) + list(range(72, 121, 12))
    for n, month in enumerate(months):
        when = day1 + timedelta(days=round(month * 30.44))
        window = 7 if month <= 24 else 14 if month <= 60 else 30
        for item in ("efficacy_assessment", "follow_up_visit", "follow_up_labs"):
            rows.append((when, "assessment", item, "follow_up", n + 1, window, window))
    return rows


def _site_weights(sites: int) -> list[float]:
    # A few large centres and a tail of small ones, as multi-centre trials usually are.
    return [1 / (rank + 1) ** 0.7 for rank in range(sites)]


def fill(database: Database, patients: int, sites: int, seed: int) -> tuple[int, dict[str, int]]:
    rng = random.Random(seed)
    site_ids = [f"site{n:02}" for n in range(1, sites + 1)]
    per_site = dict.fromkeys(site_ids, 0)
    raw = database.engine.raw_connection()
    try:
        connection = raw.driver_connection
        with connection.cursor() as cursor:
            # Bulk load only: skip per-row foreign-key triggers (the generated data is
            # consistent by construction); indexes stay, as in production.
            cursor.execute("SET session_replication_role = replica")
            with cursor.copy(
                "COPY site (id, country, timezone, calendar, created_at) FROM STDIN"
            ) as copy:
                for site in site_ids:
                    copy.write_row((site, "CN", "Asia/Shanghai", "{}", CREATED))
            columns = (
                "id, study_id, site_id, day1, fractions, boost, bsa_m2, figo_stage, ecog, "
                "age_at_enrolment, baseline_labs, created_at, created_by"
            )
            plans = []
            with cursor.copy(f"COPY patient ({columns}) FROM STDIN") as copy:
                for pid in range(1, patients + 1):
                    site = rng.choices(site_ids, weights=_site_weights(sites))[0]
                    per_site[site] += 1
                    day1 = ENROLMENT_START + timedelta(days=rng.randrange(ENROLMENT_DAYS))
                    while day1.weekday() >= 5:
                        day1 += timedelta(days=1)
                    fractions = rng.choice((25, 25, 25, 28))
                    study_id = f"S{site[-2:]}-{per_site[site]}"
                    plans.append((pid, study_id, site, day1, fractions))
                    copy.write_row(
                        (
                            pid,
                            study_id,
                            site,
                            day1,
                            fractions,
                            fractions == 28,
                            round(rng.uniform(1.3, 2.0), 2),
                            "IIIC1",
                            rng.choice((0, 1)),
                            rng.randrange(25, 70),
                            "{}",
                            CREATED,
                            "U0BENCH",
                        )
                    )
            rows = 0
            columns = (
                "patient_id, study_id, site_id, date, kind, item, phase, number, "
                "window_from, window_to, status, presumed_done_from, payload"
            )
            with cursor.copy(f"COPY calendar_row ({columns}) FROM STDIN") as copy:
                for pid, study_id, site, day1, fractions in plans:
                    for day, kind, item, phase, number, before, after in patient_calendar(
                        day1, fractions
                    ):
                        status = "done" if day < TODAY else "planned"
                        low, high = day - timedelta(days=before), day + timedelta(days=after)
                        payload = json.dumps(
                            {
                                "key": f"{item}#{number or 0}",
                                "label": item.replace("_", " ").capitalize()
                                + (f" {number}" if number else ""),
                                "date": day.isoformat(),
                                "kind": kind,
                                "item": item,
                                "phase": phase,
                                "number": number,
                                "window": [low.isoformat(), high.isoformat()],
                                "dose": None,
                                "status": status,
                                "source": "protocol Table 2",
                            }
                        )
                        copy.write_row(
                            (
                                pid,
                                study_id,
                                site,
                                day,
                                kind,
                                item,
                                phase,
                                number,
                                low,
                                high,
                                status,
                                None,  # presumed_done_from: the payload has none
                                payload,
                            )
                        )
                        rows += 1
            cursor.execute("SET session_replication_role = DEFAULT")
            cursor.execute("SELECT setval('patient_id_seq', %s)", (patients,))
        connection.commit()
    finally:
        raw.close()
    with database.engine.connect() as connection:
        autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
        for table in ("site", "patient", "calendar_row"):
            autocommit.execute(text(f"VACUUM ANALYZE {table}"))
    return rows, per_site


def time_query(
    database: Database, site: str, rounds: int, with_payload: bool = False
) -> tuple[list[float], int]:
    """Wall time of the whole call as a command would make it: open a read-only
    transaction, run the query, build the result objects, commit."""
    timings, found = [], 0
    for _ in range(rounds):
        started = time.perf_counter()
        with database.transaction(readonly=True) as session:
            found = len(
                due_at_site(
                    session, site, TODAY, TODAY + timedelta(days=6), with_payload=with_payload
                )
            )
        timings.append((time.perf_counter() - started) * 1000)
    return timings, found


def explain(database: Database, site: str) -> str:
    with database.transaction(readonly=True) as session:
        plan = session.execute(
            text(
                "EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM calendar_row WHERE site_id = :site "
                "AND date >= :start AND date <= :end ORDER BY date, study_id, id"
            ),
            {"site": site, "start": TODAY, "end": TODAY + timedelta(days=6)},
        ).scalars()
        return "\n".join(plan)


FIXTURE_VERSION = 3  # bump when fill() changes what it writes


def _fixture_schema(args) -> str:
    return f"trialbot_bench_due_v{FIXTURE_VERSION}_{args.patients}_{args.sites}_{args.seed}"


def _fixture_ready(admin: Database, schema: str) -> dict[str, int] | None:
    """The per-site patient counts of a complete fixture in `schema`, or None."""
    with admin.engine.connect() as connection:
        found = connection.execute(
            text(
                "SELECT 1 FROM information_schema.tables WHERE table_schema = :s "
                "AND table_name = 'bench_fixture'"
            ),
            {"s": schema},
        ).first()
        if found is None:
            return None
        row = connection.execute(
            text(f'SELECT version, per_site FROM "{schema}".bench_fixture')
        ).first()
    if row is None or row[0] != FIXTURE_VERSION:
        return None
    return json.loads(row[1])


def time_command(ctx, site: str, command_text: str, rounds: int) -> tuple[list[float], int]:
    """Wall time of the command through the dispatcher, as Slack or the console run it."""
    from bot.commands import run
    from bot.services import Request

    request = Request(user=ADMIN, source="bench")
    timings, size = [], 0
    for _ in range(rounds):
        started = time.perf_counter()
        reply = run(ctx, request, f"{command_text} site={site}")
        timings.append((time.perf_counter() - started) * 1000)
        assert reply.ok, reply.text
        size = len(reply.text.encode())
    return timings, size


def time_views(ctx, site: str, rounds: int) -> dict[str, list[float]]:
    """Wall times of the digest's composition (its queries and template) and of App
    Home's three reads (`today`, `decisions`, the modified treatment) for `site`."""
    from bot.commands import run
    from bot.services import Request, queries
    from bot.services.digest import compose_for
    from bot.transports.text import post_text

    request = Request(user=ADMIN, source="bench")

    def digest() -> None:
        outcome = compose_for(ctx, request, site=site, day=TODAY)
        post_text(ctx.renderer, outcome.posts[0])

    def home() -> None:
        for command_text in ("today", "decisions"):
            assert run(ctx, request, f"{command_text} site={site}").ok
        queries.modified_treatment(ctx, request, site=site)

    timings: dict[str, list[float]] = {}
    for name, view in (("digest", digest), ("App Home", home)):
        view()  # warm
        timings[name] = []
        for _ in range(rounds):
            started = time.perf_counter()
            view()
            timings[name].append((time.perf_counter() - started) * 1000)
    return timings


ADMIN = "U0BENCHADMIN"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url",
        default=os.environ.get("TRIALBOT_TEST_POSTGRES_URL"),
        help="PostgreSQL URL (default: $TRIALBOT_TEST_POSTGRES_URL)",
    )
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=15, help="timed runs per site")
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument("--fresh", action="store_true", help="rebuild the fixture")
    parser.add_argument("--drop", action="store_true", help="drop the fixture afterwards")
    args = parser.parse_args(argv)
    if not args.url or not args.url.startswith("postgresql"):
        print("a PostgreSQL URL is needed: --url or TRIALBOT_TEST_POSTGRES_URL", file=sys.stderr)
        return 2

    from bot.clock import FixedClock
    from bot.services import build_context
    from bot.settings import Settings

    schema = _fixture_schema(args)
    admin = Database(args.url)
    per_site = None if args.fresh else _fixture_ready(admin, schema)
    url = make_url(args.url).update_query_dict({"options": f"-csearch_path={schema}"})
    print(f"machine: {describe()}, load average {os.getloadavg()[0]:.1f}")
    if per_site is None:
        with admin.engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    database = Database(url)
    try:
        if per_site is None:
            database.upgrade()
            started = time.perf_counter()
            rows, per_site = fill(database, args.patients, args.sites, args.seed)
            with database.engine.begin() as connection:
                connection.execute(text("CREATE TABLE bench_fixture (version int, per_site text)"))
                connection.execute(
                    text("INSERT INTO bench_fixture VALUES (:v, :p)"),
                    {"v": FIXTURE_VERSION, "p": json.dumps(per_site)},
                )
            print(
                f"loaded {args.patients:,} patients, {rows:,} calendar rows over "
                f"{args.sites} sites in {time.perf_counter() - started:.0f} s (schema {schema})"
            )
        else:
            print(f"reusing the fixture in schema {schema} (version {FIXTURE_VERSION})")
        with database.engine.connect() as connection:
            print(connection.execute(text("SELECT version()")).scalar_one().split(",")[0])
        noon = datetime.combine(TODAY, datetime.min.time(), tzinfo=UTC) + timedelta(hours=2)
        ctx = build_context(
            Settings(database_url=url.render_as_string(hide_password=False), admins=(ADMIN,)),
            clock=FixedClock(noon),  # 10:00 in Shanghai on TODAY
            database=database,
        )
        busiest = max(per_site, key=per_site.__getitem__)
        time_query(database, busiest, 3)  # warm the cache and the connection pool
        time_command(ctx, busiest, "week", 3)
        print(
            f"\n{args.rounds} runs per site, median ms: the narrower range query of the week "
            "(baseline) | `week` | `today` | `week page=2` as the commands run them"
        )
        print(
            f"{'site':8} {'patients':>8} {'base':>7} {'week':>7} {'today':>7} {'page2':>7} "
            f"{'bytes':>7}"
        )
        results: dict[str, dict[str, float]] = {}
        for site in sorted(per_site):
            base, _ = time_query(database, site, args.rounds)
            week, size = time_command(ctx, site, "week", args.rounds)
            today, _ = time_command(ctx, site, "today", args.rounds)
            page2, _ = time_command(ctx, site, "week page=2", args.rounds)
            results[site] = {
                "base": statistics.median(base),
                "week": statistics.median(week),
                "today": statistics.median(today),
                "page2": statistics.median(page2),
                "week_p95": sorted(week)[int(0.95 * (len(week) - 1))],
            }
            r = results[site]
            print(
                f"{site:8} {per_site[site]:>8,} {r['base']:>7.1f} {r['week']:>7.1f} "
                f"{r['today']:>7.1f} {r['page2']:>7.1f} {size:>7,}",
                flush=True,
            )
        print(
            f"\nplan of the baseline query, busiest site ({busiest}):\n{explain(database, busiest)}"
        )
        top = results[busiest]
        views = {k: statistics.median(v) for k, v in time_views(ctx, busiest, args.rounds).items()}
        print(
            f"SUMMARY PostgreSQL, {args.patients:,} patients, busiest site {busiest} "
            f"({per_site[busiest]:,} patients; target < 100 ms): week {top['week']:.0f} ms "
            f"(p95 {top['week_p95']:.0f}), today {top['today']:.0f} ms, week page=2 "
            f"{top['page2']:.0f} ms, digest {views['digest']:.0f} ms, App Home (3 reads) "
            f"{views['App Home']:.0f} ms; week = {top['week'] / top['base']:.1f}× the bare range "
            f"query ({top['base']:.0f} ms)"
        )
    finally:
        database.dispose()
        if args.drop:
            with admin.engine.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
