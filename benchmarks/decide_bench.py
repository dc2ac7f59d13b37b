"""How long does grading and deciding one lab panel take for a patient with a year of history?

Builds a year of one patient's history the way the service records it (replayed through
the engine, so the proposals are in it): weekly lab panels, every dose of the calendar as
given up to the last maintenance dose, a grade 4 neutropenia (reduce), an immune-related colitis (hold, recovered, resumed),
hypothyroidism and an unattributed rash with the investigator's answers — about 120
entries. Then times what one new `/trial lab` entry costs:

- parse + grade the panel (`parse_panel`, `grade_panel` against the baseline),
- `decide(context, history, panel)` with the context the service builds — without a memo
  (every past entry graded again) and with the caller's `FindingsMemo` warm,
- separately, building that context: `next_doses` (a calendar run) and `baseline_of`.

    .venv/bin/python benchmarks/decide_bench.py [--rounds 300] [--repeats 5] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import time
from datetime import date, timedelta

from machine import describe

from bot.calendar import SiteCalendar, build_calendar, schedule_of, sites_of
from bot.decisions import DecisionContext, decide
from bot.decisions.findings import FindingsMemo
from bot.decisions.planning import baseline_of, next_doses
from bot.decisions.replay import PatientRules, replay
from bot.events import LabPanel
from bot.grading import grade_panel, load_ctcae, parse_panel
from bot.history_file import Vocabulary, read_history
from bot.paths import trial_rules_dir
from bot.protocol.loader import load_trial

DAY1 = date(2027, 3, 1)
PANEL = "ANC 1.6 PLT 140 Hb 10.9 WBC 3.6 ALT 130 U/L (7-40) AST 41 (13-35) TBIL 14 CR 80"
# The new panel is the pre-dose lab of the last maintenance dose (day 330, 2028-01-24):
# later, no drug has a dose left and the engine has nothing to decide.
NEW_PANEL_DAY = 326
NORMAL = "ANC {anc} PLT {plt} Hb 11.2 WBC 4.1 ALT 35 U/L (7-40) AST 30 (13-35) CR 75"


def year_of_entries(schedule, plan, site) -> list[dict]:
    """A year of entries in friendly form, in chronological order."""
    calendar = build_calendar(schedule, plan, [], site)
    entries: list[tuple[date, int, dict]] = []
    end = DAY1 + timedelta(days=NEW_PANEL_DAY - 1)
    for event in calendar.events:
        if event.kind == "infusion" and event.date <= end:
            entry = {"dose": event.item}
            if event.dose is not None and event.dose.mg is not None:
                entry["mg"] = event.dose.mg
            entries.append((event.date, 1, entry))
    for week in range(NEW_PANEL_DAY // 7):
        day = DAY1 + timedelta(days=7 * week + 4)
        entries.append((day, 2, {"lab": NORMAL.format(anc=2.0 + week % 5 / 10, plt=180)}))
    story = [
        (DAY1 + timedelta(days=11), 3, {"lab": "ANC 0.4 PLT 120"}),  # grade 4 → reduce (D1)
        (DAY1 + timedelta(days=12), 4, {"verdict": "D1", "status": "confirmed"}),
        (
            DAY1 + timedelta(days=100),
            3,
            {"ae": "colitis", "grade": 2, "irae": True, "steroid_mg": 40},
        ),
        (
            DAY1 + timedelta(days=120),
            3,
            {"ae": "colitis", "grade": 1, "irae": True, "steroid_mg": 10},
        ),
        (DAY1 + timedelta(days=150), 3, {"ae": "hypothyroidism", "grade": 2, "irae": True}),
        (DAY1 + timedelta(days=180), 3, {"ae": "hypothyroidism", "grade": 1, "irae": True}),
        (DAY1 + timedelta(days=220), 3, {"ae": "rash maculo-papular", "grade": 2}),
        (DAY1 + timedelta(days=260), 3, {"ae": "rash maculo-papular", "grade": 1}),
    ]
    entries.extend(story)
    entries.sort(key=lambda item: (item[0], item[1]))
    return [{"date": day.isoformat(), **entry} for day, _, entry in entries]


def _timed(label: str, rounds: int, repeats: int, work) -> float:
    """Median seconds per call over `repeats` runs of `rounds` calls."""
    per_call = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(rounds):
            work()
        per_call.append((time.perf_counter() - started) / rounds)
    median = statistics.median(per_call)
    print(f"{label:<58} {median * 1e6:9.0f} µs  (best {min(per_call) * 1e6:.0f} µs)")
    return median


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300, help="calls per timed run")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs (median reported)")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile decide() with the memo, and print"
    )
    args = parser.parse_args(argv)

    trial = load_trial(trial_rules_dir())
    ctcae = load_ctcae()
    schedule, sites = schedule_of(trial), sites_of(trial)
    rules = trial.get("dose_modifications.yaml")
    ranges = trial.get("reference_ranges.yaml")
    vocabulary = Vocabulary(schedule, sites, ranges, lambda: ctcae)
    document = {
        "study_id": "LACC-001",
        "plan": {"start": DAY1.isoformat(), "bsa": 1.62, "baseline": "ALT 30 (7-40) CR 70"},
    }
    site = SiteCalendar(sites.config(None))
    probe = read_history(document, vocabulary)
    document["events"] = year_of_entries(schedule, probe.plan, site)
    history_file = read_history(document, vocabulary)
    patient = PatientRules(schedule, rules, ctcae, history_file.plan, site)
    started = time.perf_counter()
    replayed = replay(patient, history_file.entries, [history_file.enrolment()])
    replay_s = time.perf_counter() - started
    history = list(replayed.history)
    site_ranges = ranges.for_site(history_file.plan.site)
    day = DAY1 + timedelta(days=NEW_PANEL_DAY)
    kinds: dict[str, int] = {}
    for event in history:
        kinds[event.kind] = kinds.get(event.kind, 0) + 1

    print(f"Machine: {describe()} ({sys.implementation.name})")
    print(
        f"History: {len(history)} events over {(day - DAY1).days} days "
        f"({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))})"
    )
    print(f"Replaying the file (decide + next doses per entry): {replay_s * 1000:.0f} ms")
    print()

    baseline = baseline_of(history, history_file.plan.day1)
    plan_doses = next_doses(schedule, rules, history_file.plan, site, history, day)
    context = DecisionContext(rules=rules, ctcae=ctcae, baseline=baseline, plan=plan_doses)

    def new_panel() -> LabPanel:
        values = parse_panel(PANEL, site_ranges)
        grade_panel(ctcae, values, baseline)
        return LabPanel(id="E999", date=day, results=tuple(values), seq=len(history))

    panel = new_panel()
    decisions = decide(context, history, panel)
    print("Decisions for the new panel:")
    for decision in decisions:
        print(f"  {decision.drug}: {decision.action} — {decision.reason}")
    print()

    memo = FindingsMemo()
    remembered = DecisionContext(
        rules=rules, ctcae=ctcae, baseline=baseline, plan=plan_doses, memo=memo
    )
    assert decide(remembered, history, panel) == decisions  # fills the memo; same answer

    grade_s = _timed("parse + grade the panel (8 analytes)", args.rounds, args.repeats, new_panel)
    cold_s = _timed(
        "decide, no memo (every past entry graded again)",
        max(args.rounds // 10, 10),
        args.repeats,
        lambda: decide(context, history, panel),
    )
    warm_s = _timed(
        "decide, with the caller's FindingsMemo (past entries known)",
        args.rounds,
        args.repeats,
        lambda: decide(remembered, history, panel),
    )
    print(f"{'grade + decide, no memo (target < 1 ms)':<58} {(grade_s + cold_s) * 1e6:9.0f} µs")
    print(f"{'grade + decide, with memo (target < 1 ms)':<58} {(grade_s + warm_s) * 1e6:9.0f} µs")
    print()
    _timed(
        "next_doses (the calendar run behind the context)",
        max(args.rounds // 10, 10),
        args.repeats,
        lambda: next_doses(schedule, rules, history_file.plan, site, history, day),
    )
    _timed(
        "baseline_of",
        args.rounds,
        args.repeats,
        lambda: baseline_of(history, history_file.plan.day1),
    )

    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.rounds):
            decide(remembered, history, panel)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
