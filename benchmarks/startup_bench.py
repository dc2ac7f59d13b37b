"""Start-up of one-shot `trialbot` commands, against `python3 -c pass` in the same run.

    .venv/bin/python benchmarks/startup_bench.py [--rounds 15] [--before DIR]

Each round runs, in a new process and in turn (so the machine's load falls on all of them
alike): the bare interpreter (`-c pass`), `trialbot chat "/trial help"` and `trialbot
calendar --start 2027-03-01 --json`, with the rules cache warm — and, to show what the
cache saves, the same two commands with `TRIALBOT_CACHE_DIR=off`. A throwaway working
directory holds the SQLite database (`chat` migrates it in the warm-up run) and the
cache. `--before DIR` adds the two commands run from another checkout's `bot/` (e.g.
`git archive <commit> | tar -x -C DIR`), for a before/after in the same run. Bytecode is written (PYTHONDONTWRITEBYTECODE is unset for the children), as an
installed trialbot has it. Prints the machine, the load average, the medians, the ratio
to the bare interpreter and the target (300 ms). Not a test.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe

TARGET_S = 0.300


def _trialbot() -> list[str]:
    script = shutil.which("trialbot", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-c", "from bot.cli import main; main()"]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _time(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of one run. CPU time (user + system of the child) leaves out
    the time spent waiting for a core, so it says more on a loaded machine."""
    cpu = _cpu()
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{argv} failed ({done.returncode}): {done.stderr.decode()[-500:]}")
    return elapsed, _cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--before", type=Path, help="another checkout to compare with")
    args = parser.parse_args()
    trialbot = _trialbot()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TRIALBOT_", "SLACK_"))}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.update(TRIALBOT_CACHE_DIR=str(work / "cache"), TRIALBOT_NOW="2027-02-26T09:00+08:00")
        off = {**env, "TRIALBOT_CACHE_DIR": "off"}
        runs = {
            "python3 -c pass": ([sys.executable, "-c", "pass"], env),
            'trialbot chat "/trial help"': ([*trialbot, "chat", "/trial help"], env),
            "trialbot calendar --start 2027-03-01 --json": (
                [*trialbot, "calendar", "--start", "2027-03-01", "--json"],
                env,
            ),
            'chat "/trial help", no rules cache': ([*trialbot, "chat", "/trial help"], off),
            "calendar --json, no rules cache": (
                [*trialbot, "calendar", "--start", "2027-03-01", "--json"],
                off,
            ),
        }
        if args.before is not None:
            before = {**env, "PYTHONPATH": str(args.before.resolve())}
            main_of = [sys.executable, "-c", "from bot.cli import main; raise SystemExit(main())"]
            runs["before: chat"] = ([*main_of, "chat", "/trial help"], before)
            runs["before: calendar"] = (
                [*main_of, "calendar", "--start", "2027-03-01", "--json"],
                before,
            )
        for argv, run_env in runs.values():  # warm-up: bytecode, database, cache
            _time(argv, run_env, work)
        samples: dict[str, list[float]] = {name: [] for name in runs}
        cpu: dict[str, list[float]] = {name: [] for name in runs}
        load_before = os.getloadavg()
        for _ in range(args.rounds):
            for name, (argv, run_env) in runs.items():
                wall, used = _time(argv, run_env, work)
                samples[name].append(wall)
                cpu[name].append(used)
        load_after = os.getloadavg()
    base = statistics.median(samples["python3 -c pass"])
    base_cpu = statistics.median(cpu["python3 -c pass"])
    print(f"machine: {describe()}")
    print(
        f"load average (1 min) before/after: {load_before[0]:.1f} / {load_after[0]:.1f}; "
        f"{args.rounds} rounds"
    )
    print(
        f"{'command':46} {'wall median':>11} {'min':>8} {'max':>8} {'× pass':>7} "
        f"{'CPU median':>11} {'× pass':>7}"
    )
    for name, values in samples.items():
        median, used = statistics.median(values), statistics.median(cpu[name])
        print(
            f"{name:46} {median * 1000:8.0f} ms {min(values) * 1000:5.0f} ms "
            f"{max(values) * 1000:5.0f} ms {median / base:6.1f}× {used * 1000:8.0f} ms "
            f"{used / base_cpu if base_cpu else float('nan'):6.1f}×"
        )
    for name in list(samples)[1:3]:
        median = statistics.median(samples[name])
        verdict = "met" if median < TARGET_S else "not met"
        print(f"target < {TARGET_S * 1000:.0f} ms, {name}: {verdict} ({median * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
