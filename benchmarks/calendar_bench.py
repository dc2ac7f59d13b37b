"""Time 10,000 patients' full protocol calendars (target: under 2 ms per patient, one core).

    .venv/bin/python benchmarks/calendar_bench.py [--patients 10000] [--seed 7]

Patients start on random treatment days over two years at the study site (China's
calendar, so Golden Week, Spring Festival and provisional 2027+ dates are all exercised),
with 25–28 fractions, boost or not, a BSA, and — for one patient in four — a history of
recorded doses, holds and labs to re-flow from, and a "today" for statuses. The schedule
and the site calendar are loaded once, as the service does; each calendar is built from
scratch, and its JSON is produced too (what the service stores).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from machine import describe

from bot.calendar import PatientPlan, SiteCalendar, build_calendar, schedule_of
from bot.calendar.sites import SitesFile
from bot.events import DoseRecord, LabPanel, LabValue
from bot.paths import trial_rules_dir
from bot.treatment import DrugCourse, Hold


def _load():
    import yaml

    from bot.calendar.schema import Schedule

    directory = trial_rules_dir()
    try:
        from bot.protocol.loader import load_trial

        trial = load_trial(directory)
        return schedule_of(trial), trial.get("sites.yaml")
    except Exception:  # another rules file of the tree mid-edit: read ours directly
        schedule = Schedule.model_validate(
            yaml.safe_load((directory / "schedule.yaml").read_text())
        )
        sites = SitesFile.model_validate(yaml.safe_load((directory / "sites.yaml").read_text()))
        return schedule, sites


def _patients(site: SiteCalendar, count: int, seed: int):
    rng = random.Random(seed)
    first = date(2026, 1, 5)
    out = []
    for _ in range(count):
        day1 = site.next_treatment_day(first + timedelta(days=rng.randrange(730)))
        plan = PatientPlan(
            day1=day1,
            fractions=rng.randint(25, 28),
            boost=rng.random() < 0.4,
            bsa_m2=round(rng.uniform(1.3, 2.1), 2),
        )
        history, treatment, today = [], None, None
        if rng.random() < 0.25:
            today = day1 + timedelta(days=rng.randrange(20, 200))
            history = [
                DoseRecord(date=day1, drug="cisplatin"),
                DoseRecord(date=day1, drug="toripalimab"),
                DoseRecord(date=day1 + timedelta(days=3), drug="ebrt", status="held"),
                DoseRecord(date=day1 + timedelta(days=7), drug="cisplatin", status="held"),
                LabPanel(
                    date=day1 - timedelta(days=1),
                    results=(LabValue(analyte="anc", value=2.5, unit="10^9/L"),),
                ),
            ]
            if rng.random() < 0.5:
                start = day1 + timedelta(days=rng.randrange(60, 150))
                treatment = {
                    "toripalimab": DrugCourse(
                        drug="toripalimab",
                        holds=(
                            Hold(start=start, until=start + timedelta(days=rng.choice([14, 28]))),
                        ),
                    )
                }
        out.append((plan, history, treatment, today))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    schedule, sites = _load()
    site = SiteCalendar(sites.config())
    patients = _patients(site, args.patients, args.seed)

    # the site's per-year treatment-day flags are built once, on first use
    plan, history, treatment, today = patients[0]
    started = time.perf_counter()
    build_calendar(schedule, plan, history, site, today=today, treatment=treatment)
    cold_ms = (time.perf_counter() - started) * 1000

    samples, events = [], 0
    started = time.perf_counter()
    for plan, history, treatment, today in patients:
        t0 = time.perf_counter()
        calendar = build_calendar(schedule, plan, history, site, today=today, treatment=treatment)
        calendar.events_json()
        samples.append(time.perf_counter() - t0)
        events += len(calendar.events)
    total = time.perf_counter() - started

    engine_only = time.perf_counter()
    for plan, history, treatment, today in patients[:2000]:
        build_calendar(schedule, plan, history, site, today=today, treatment=treatment)
    engine_ms = (time.perf_counter() - engine_only) * 1000 / min(2000, len(patients))

    samples.sort()
    print(f"machine: {describe()}")
    print(f"patients: {len(patients)}  events: {events} ({events / len(patients):.0f} per patient)")
    print(f"first calendar (cold site cache): {cold_ms:.1f} ms")
    print(
        f"total: {total:.2f} s  per patient: {total * 1000 / len(patients):.3f} ms "
        f"(calendar + JSON)"
    )
    print(f"per patient without JSON: {engine_ms:.3f} ms")
    print(
        f"median {statistics.median(samples) * 1000:.3f} ms  "
        f"p95 {samples[int(len(samples) * 0.95)] * 1000:.3f} ms  "
        f"max {samples[-1] * 1000:.3f} ms"
    )
    print(
        "target: < 2 ms per patient on one core —",
        "met" if total * 1000 / len(patients) < 2 else "NOT met",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
