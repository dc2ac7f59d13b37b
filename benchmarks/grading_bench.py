"""How long does parsing and grading one lab panel take?

Parses `ANC PLT Hb WBC ALT AST TBIL CR` (report ranges on some values, the site's ranges for
the others, two units converted) and grades every value with CTCAE v5.0, with a baseline
for the liver values — the work `trialbot grade` and each lab entry do. Loading the CTCAE
data (once per process) is timed separately. Prints the per-panel cost.

    .venv/bin/python benchmarks/grading_bench.py [--panels 2000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

from machine import describe

from bot.grading import grade_panel, load_ctcae, load_reference_ranges, parse_panel
from bot.paths import trial_rules_dir

PANEL = "ANC 0.4 PLT 62 Hb 91 g/L WBC 2.1 ALT 130 U/L (7-40) AST 95 (13-35) TBIL 1.9 mg/dL CR 120"
BASELINE = "ALT 60 (7-40) AST 30 (13-35) TBIL 15 CR 60"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--panels", type=int, default=2000, help="panels per timed run")
    parser.add_argument(
        "--repeats", type=int, default=5, help="timed runs (the median is reported)"
    )
    args = parser.parse_args(argv)

    started = time.perf_counter()
    ctcae = load_ctcae()
    load_ms = (time.perf_counter() - started) * 1000
    ranges = load_reference_ranges(trial_rules_dir() / "reference_ranges.yaml").for_site(None)
    baseline = parse_panel(BASELINE, ranges)

    results = grade_panel(ctcae, parse_panel(PANEL, ranges), baseline)
    assert [r.grade for r in results] == [4, 2, 2, 2, 1, 1, 2, 2], [r.grade for r in results]

    per_panel = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        for _ in range(args.panels):
            grade_panel(ctcae, parse_panel(PANEL, ranges), baseline)
        per_panel.append((time.perf_counter() - started) / args.panels)
    parse_only = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        for _ in range(args.panels):
            parse_panel(PANEL, ranges)
        parse_only.append((time.perf_counter() - started) / args.panels)

    median = statistics.median(per_panel) * 1e6
    print(f"machine: {describe()}")
    print(f"panel: {len(results)} analytes: {PANEL}")
    print(f"load_ctcae (once per process): {load_ms:.1f} ms")
    print(
        f"parse + grade one panel: median {median:.0f} µs, best {min(per_panel) * 1e6:.0f} µs "
        f"({args.repeats} runs of {args.panels} panels)"
    )
    print(f"  of which parsing: median {statistics.median(parse_only) * 1e6:.0f} µs")
    print(f"  per analyte: {median / len(results):.0f} µs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
