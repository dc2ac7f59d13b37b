"""How long `trialbot demo` takes, as a newcomer runs it: a new process, the default
cohort (12 patients, 183 days), `--quiet` (the same work, no per-day printing).

    .venv/bin/python benchmarks/demo_bench.py [--days 183] [--patients 12]

Reports wall time, the CPU time of the process (what the load of other programs does not
inflate), the load average before and after, and the ratio to a one-shot `trialbot chat
--json whoami` (start-up only) measured in the same run. Not a test.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

from machine import describe


def _timed(command: list[str], cwd: str, env: dict[str, str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", default="183")
    parser.add_argument("--patients", default="12")
    args = parser.parse_args()
    cli = [sys.executable, "-c", "from bot.cli import main; raise SystemExit(main())"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIALBOT_")}
    print(f"Machine: {describe()}")
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as folder:
        start_wall, start_cpu = _timed([*cli, "chat", "--json", "whoami"], folder, env)
        demo = [*cli, "demo", "--quiet", "--days", args.days, "--patients", args.patients]
        wall, cpu = _timed(demo, folder, env)
    print(f"load average after:  {os.getloadavg()[0]:.1f}")
    print(f"one-shot chat (start-up): {start_wall:.2f} s wall, {start_cpu:.2f} s CPU")
    print(
        f"demo {args.patients} patients {args.days} days: {wall:.1f} s wall, {cpu:.1f} s CPU "
        f"({cpu / start_cpu:.0f}× the start-up's CPU)"
    )


if __name__ == "__main__":
    main()
