"""Recording one lab panel end to end on SQLite, for a patient with a year of history.

End to end = the service call a Slack command makes: parse, grade, decide (with the next
doses from the calendar), record proposals, refresh the calendar rows, queue the outbox,
audit, commit. Target: median under 20 ms. Not a test: run it and read the numbers.

    .venv/bin/python benchmarks/record_lab_bench.py [--entries 30]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from machine import describe

from bot.clock import FixedClock
from bot.services import Request, build_context, enrolment, entries
from bot.settings import Settings

DAY1 = date(2027, 3, 1)
# The console's own user: an admin while no TRIALBOT_ADMINS are set, so it may enter data.
NURSE = Request(user="console", console=True)


def build_history(ctx, clock: FixedClock) -> int:
    """About a year of entries: weekly labs during treatment, every dose as given, a few
    adverse events. Returns the number of entries written."""
    written = 0
    enrolment.enrol(ctx, NURSE, "LACC-001", start=DAY1, height=160, weight=55)
    written += 1
    for week in range(52):
        day = DAY1 + timedelta(weeks=week)
        clock.set(datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=1))
        entries.record_lab(ctx, NURSE, "LACC-001", "ANC 2.1 PLT 180 Hb 11.2 ALT 30 CR 70", on=day)
        written += 1
        if week < 5:
            entries.record_dose(ctx, NURSE, "LACC-001", "cisplatin", on=day)
            written += 1
        if (week % 3 == 0 and week < 26) or week % 6 == 0:
            entries.record_dose(ctx, NURSE, "LACC-001", "toripalimab", on=day)
            written += 1
        if week in (10, 20, 30):
            entries.record_ae(ctx, NURSE, "LACC-001", "diarrhea", 1, on=day, irae=False)
            written += 1
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=30, help="lab panels to time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        clock = FixedClock(datetime(2027, 3, 1, 1, tzinfo=UTC))
        settings = Settings(database_url=f"sqlite:///{Path(folder) / 'bench.db'}")
        ctx = build_context(settings, clock=clock)
        history = build_history(ctx, clock)
        clock.advance(days=1)
        samples = []
        for _ in range(args.entries):
            start = time.perf_counter()
            entries.record_lab(ctx, NURSE, "LACC-001", "ANC 0.4 PLT 62 Hb 9.1 ALT 130 U/L (7-40)")
            samples.append((time.perf_counter() - start) * 1000)
        ctx.db.dispose()
    samples.sort()
    print(f"machine: {describe()}")
    print(f"history: {history} entries over a year (plus the proposals they led to)")
    print(
        f"record_lab end to end, {len(samples)} runs: median {statistics.median(samples):.1f} ms, "
        f"p90 {samples[int(len(samples) * 0.9) - 1]:.1f} ms, min {samples[0]:.1f} ms"
    )


if __name__ == "__main__":
    main()
