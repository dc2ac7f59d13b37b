"""What the command language adds on top of the services, and how long the console takes.

    .venv/bin/python benchmarks/chat_bench.py [--entries 40]

1. One `/trial lab …` through `bot.commands.dispatch.run` (parse, service, render the
   reply) next to the same service call made directly — the difference is the language's
   own cost. SQLite file, one patient with `--entries` earlier lab panels.
2. The read commands (`patient`, `calendar`, `week`) through the dispatcher.
3. A short `trialbot demo --quiet --patients 2 --days 14` and a one-shot
   `trialbot chat --json` as new processes (start-up included). Not a test. The full
   demo has its own benchmark (`benchmarks/demo_bench.py`).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from machine import describe

from bot.clock import FixedClock
from bot.commands import build_registry, run
from bot.services import Request, build_context, entries
from bot.settings import Settings

DAY1 = date(2027, 3, 1)
NURSE = Request(user="console", console=True)
PANEL = "ANC 2.1 PLT 180 Hb 11.2 ALT 30 CR 70"


def _median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.1f} ms (best {min(samples) * 1000:.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=40)
    args = parser.parse_args()
    print(f"machine: {describe()}")
    with tempfile.TemporaryDirectory() as folder:
        clock = FixedClock(datetime(2027, 2, 26, 1, 0, tzinfo=UTC))
        ctx = build_context(Settings(database_url=f"sqlite:///{folder}/bench.db"), clock=clock)
        registry = build_registry()
        assert run(ctx, NURSE, f"enroll LACC-001 start={DAY1} height=160 weight=55", registry).ok
        for n in range(args.entries):
            clock.set(datetime(2027, 3, 1, 1, 0, tzinfo=UTC) + timedelta(days=n))
            entries.record_lab(ctx, NURSE, "LACC-001", PANEL)
        through_language, direct = [], []
        for n in range(args.entries, args.entries + 30):
            clock.set(datetime(2027, 3, 1, 1, 0, tzinfo=UTC) + timedelta(days=n))
            started = time.perf_counter()
            assert run(ctx, NURSE, f"lab LACC-001 {PANEL}", registry).ok
            through_language.append(time.perf_counter() - started)
            clock.advance(hours=1)
            started = time.perf_counter()
            entries.record_lab(ctx, NURSE, "LACC-001", PANEL)
            direct.append(time.perf_counter() - started)
        print(f"/trial lab through the dispatcher: {_median_ms(through_language)}")
        print(f"record_lab called directly:       {_median_ms(direct)}")
        for text in ("patient LACC-001", "calendar LACC-001", "week", "help"):
            samples = []
            for _ in range(20):
                started = time.perf_counter()
                assert run(ctx, NURSE, text, registry).ok
                samples.append(time.perf_counter() - started)
            print(f"/trial {text:<20} {_median_ms(samples)}")
        ctx.db.dispose()

        env = {**os.environ, "TRIALBOT_NOW": "2027-02-26T09:00+08:00"}
        env.pop("TRIALBOT_DATABASE_URL", None)
        cli = [sys.executable, "-c", "from bot.cli import main; raise SystemExit(main())"]
        started = time.perf_counter()
        subprocess.run(
            [*cli, "demo", "--quiet", "--patients", "2", "--days", "14"],
            cwd=folder, env=env, check=True, capture_output=True,
        )  # fmt: skip
        print(f"trialbot demo, 2 patients 14 days: {time.perf_counter() - started:.2f} s")
        samples = []
        for _ in range(5):
            started = time.perf_counter()
            subprocess.run(
                [*cli, "chat", "--json", "whoami"], cwd=folder, env=env, check=True,
                capture_output=True,
            )  # fmt: skip
            samples.append(time.perf_counter() - started)
        print(
            f"one-shot trialbot chat --json:     {statistics.median(samples):.2f} s (median of 5)"
        )


if __name__ == "__main__":
    main()
