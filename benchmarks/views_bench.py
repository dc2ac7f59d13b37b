"""The site views at 100, 1,000 and 10,000 patients (SQLite): `today`, `week`, `week
page=2` as the commands run them (parse, the SQL-filtered query, the page's rows, the
template), the digest (`trialbot digest`'s composition and template) and App Home's three
reads (`today`, `decisions`, holds and reductions). Target (issue 13): each view under
50 ms at 10,000 patients. Baseline in the same run: the previous `today`/`week` query —
every row of the 35 days read with its JSON and filtered in Python — so the ratio says
what filtering in SQL saves on this machine under its present load.

    .venv/bin/python benchmarks/views_bench.py [--sizes 100,1000,10000] [--rounds 15]

Patients, calendars and decisions are filled as `scheduler_bench.py` fills them (real
protocol calendars, day 1 spread over the year before 2027-06-14, past events recorded
except one in fifty). The last line is the summary.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from machine import describe
from scheduler_bench import NOW, TODAY, _fill

from bot.calendar.status import stored_status_on
from bot.clock import FixedClock
from bot.commands import run as command
from bot.services import Request, build_context, queries
from bot.services.digest import compose_for
from bot.settings import Settings
from bot.storage.calendar_rows import due_at_site
from bot.storage.database import Database
from bot.transports.text import post_text

ADMIN = "U0BENCHADMIN"


CPU = {}  # name → median CPU time of this process (ms), beside the wall time


def _timed(function, rounds: int, name: str = "") -> float:
    """Median wall time (ms); the median CPU time of this process goes to `CPU[name]`: on
    SQLite the work is all in-process, so CPU time says what a view costs on a machine
    whose other load stretches the wall time."""
    times, cpu = [], []
    for _ in range(rounds):
        started, busy = time.perf_counter(), time.process_time()
        function()
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - busy) * 1000)
    CPU[name] = statistics.median(cpu)
    return statistics.median(times)


def old_due(ctx, days: int) -> int:
    """The previous `queries.due`: 28 days back to the end, every row's JSON, Python status."""
    with ctx.db.transaction(readonly=True) as session:
        rows = due_at_site(
            session,
            "main",
            TODAY - timedelta(days=28),
            TODAY + timedelta(days=days - 1),
            with_payload=True,
        )
    shown = 0
    last = TODAY + timedelta(days=days - 1)
    for item in rows:
        event = {**item.payload, "study_id": item.study_id}
        event["status"] = stored_status_on(event, TODAY)
        if TODAY <= item.date <= last or event["status"] == "overdue":
            shown += 1
    return shown


def measure(patients: int, rounds: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/views.db"
        database = Database(url)
        ctx = build_context(
            Settings(database_url=url, admins=(ADMIN,)), clock=FixedClock(NOW), database=database
        )
        started = time.perf_counter()
        rows = _fill(ctx, patients, seed=7)
        print(
            f"{patients:,} patients, {rows:,} calendar rows (filled in "
            f"{time.perf_counter() - started:.0f} s)",
            flush=True,
        )
        viewer = Request(user=ADMIN, source="bench")

        def run(text: str):
            reply = command(ctx, viewer, text)
            assert reply.ok, reply.text
            return reply

        def home():
            run("today")
            run("decisions")
            queries.modified_treatment(ctx, viewer)

        def digest():
            outcome = compose_for(ctx, viewer, site="main", day=TODAY)
            return post_text(ctx.renderer, outcome.posts[0])

        for text in ("today", "week"):
            reply = run(text)
            print(
                f"  {text}: {len(reply.text.encode()):,} bytes, {len(reply.events)} events "
                f"on the page, {len(digest()):,} characters of digest"
                if text == "week"
                else f"  {text}: {len(reply.text.encode()):,} bytes, "
                f"{len(reply.events)} events on the page",
                flush=True,
            )
        views = {
            "old week query (baseline)": lambda: old_due(ctx, 7),
            "today": lambda: run("today"),
            "week": lambda: run("week"),
            "week page=2": lambda: run("week page=2"),
            "digest": digest,
            "App Home (3 reads)": home,
        }
        result = {name: _timed(view, rounds, name) for name, view in views.items()}
        for name, value in result.items():
            print(
                f"  {name}: median {value:.1f} ms (CPU {CPU[name]:.1f} ms), "
                f"load average {os.getloadavg()[0]:.1f}",
                flush=True,
            )
        database.dispose()
        return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    print(describe(), f"load average {os.getloadavg()[0]:.1f}")
    sizes = [int(s) for s in args.sizes.split(",")]
    results = {n: measure(n, args.rounds) for n in sizes}
    largest = results[sizes[-1]]
    baseline = largest["old week query (baseline)"]
    parts = ", ".join(
        f"{name} {value:.0f} ms (CPU {CPU[name]:.0f})"
        for name, value in largest.items()
        if "baseline" not in name
    )
    print(
        f"SUMMARY views at {sizes[-1]:,} patients (SQLite, target < 50 ms): {parts}; "
        f"week = {largest['week'] / baseline:.2f}× the old query ({baseline:.0f} ms); "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
