"""`trialbot calendar` — a what-if protocol calendar for a patient, without any database.

    trialbot calendar --start 2027-03-01 [--fractions 28] [--site cn|none|<site id>]
                      [--bsa 1.62 | --height 160 --weight 55] [--boost] [--today DATE]
                      [--history FILE] [--count KEY=N] [--rules DIR] [--json]
    trialbot calendar --history FILE [--today DATE] [--json]   # FILE gives the plan

The history file (docs/decide.md) is the one `trialbot decide` reads: a list of events, or
the patient's plan with the events; events re-flow the calendar, proposals are not derived.

Human output is a table grouped by calendar week (week 0 holds day 1, as in a schedule of assessments) and a
summary; `--json` prints the list of events (the calendar's public JSON contract).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from bot.calendar import (
    Calendar,
    CalendarEvent,
    PatientPlan,
    SiteCalendar,
    build_calendar,
    schedule_of,
    sites_of,
)
from bot.calendar.dates import parse_iso_date, week_start
from bot.calendar.dosing import BSA_M2_RANGE, HEIGHT_CM_RANGE, WEIGHT_KG_RANGE, check_range
from bot.calendar.schema import CountSpec, Schedule
from bot.cli import load_configured_trial
from bot.errors import UserError, closest

if TYPE_CHECKING:
    from bot.history_file import HistoryFile


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "calendar",
        help="what-if protocol calendar for a start date (no database)",
        description="Print every protocol event of a patient starting on --start.",
    )
    parser.add_argument(
        "--start", metavar="DATE", help="day 1 = the first radiotherapy fraction (YYYY-MM-DD)"
    )
    parser.add_argument(
        "--fractions",
        metavar="N",
        help="radiotherapy fractions (the schedule's range; default its own)",
    )
    parser.add_argument(
        "--site",
        metavar="SITE",
        help="site calendar: cn, none (Mon–Fri, no holidays) or a site id of "
        "sites.yaml (default: its default site)",
    )
    parser.add_argument("--bsa", metavar="M2", help="body surface area in m²")
    parser.add_argument("--height", metavar="CM", help="height in cm (with --weight)")
    parser.add_argument("--weight", metavar="KG", help="weight in kg (with --height)")
    parser.add_argument("--boost", action="store_true", help="simultaneous nodal boost (SIB)")
    parser.add_argument(
        "--today",
        metavar="DATE",
        help="statuses as of this date (default: every unrecorded event planned)",
    )
    parser.add_argument(
        "--history",
        metavar="FILE",
        type=Path,
        help="history file to re-flow from: a JSON list of events (bot.events), or a "
        "YAML/JSON file with the plan and its events (docs/decide.md)",
    )
    parser.add_argument(
        "--count",
        metavar="KEY=N",
        action="append",
        default=[],
        help="another planned count, by its key in the schedule's patient block (repeatable)",
    )
    parser.add_argument(
        "--rules", metavar="DIR", type=Path, help="rules directory (default: the shipped trial)"
    )
    parser.add_argument("--json", action="store_true", help="print the events as JSON")
    parser.set_defaults(func=_run)


# --- input ------------------------------------------------------------------------------
def _date(text: str | None, field: str) -> date | None:
    if text is None:
        return None
    value = parse_iso_date(text)
    if value is None:
        raise UserError(
            f"{text!r} is not a date", field=field, allowed="a calendar date written YYYY-MM-DD"
        )
    return value


def _number(text: str | None, field: str, bounds: tuple[float, float], unit: str) -> float | None:
    if text is None:
        return None
    allowed = f"{bounds[0]:g}–{bounds[1]:g} {unit}"
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"{text!r} is not a number", field=field, allowed=allowed) from None
    return check_range(field, value, bounds, unit)


def _count_spec(schedule: Schedule, key: str) -> CountSpec | None:
    for entry in schedule.series:
        spec = getattr(entry, "count", None) or getattr(entry, "cycles", None)
        if isinstance(spec, CountSpec) and spec.patient == key:
            return spec
    return None


def _whole(text: str, field: str, spec: CountSpec | None) -> int:
    allowed = f"{spec.min}–{spec.max}" if spec else "a whole number"
    try:
        value = int(text)
    except ValueError:
        raise UserError(f"{text!r} is not a whole number", field=field, allowed=allowed) from None
    if spec is not None and not spec.min <= value <= spec.max:
        raise UserError(f"{value} is outside the protocol's range", field=field, allowed=allowed)
    return value


def _counts(schedule: Schedule, pairs: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise UserError(
                f"{pair!r} is not KEY=N",
                field="count",
                allowed="KEY=N, KEY a count the schedule's patient block names",
            )
        key = key.strip()
        spec = _count_spec(schedule, key)
        if spec is None or key == "fractions":
            keys = sorted(
                {
                    e.count.patient
                    for e in schedule.series
                    if isinstance(getattr(e, "count", None), CountSpec)
                    and e.count.patient
                    and e.count.patient != "fractions"
                }
            )
            raise UserError(
                f"unknown planned count {key!r}",
                field="count",
                allowed=", ".join(keys) or "none in this schedule",
                suggestion=closest(key, keys),
            )
        counts[key] = _whole(value.strip(), key, spec)
    return counts


def _history(path: Path | None, trial, site: str | None) -> HistoryFile | None:
    """The history file (docs/decide.md): a list of events, or a plan with its events."""
    if path is None:
        return None
    # only with --history: the history file's reader brings the decision engine along
    from bot.history_file import Vocabulary, load_history

    vocabulary = Vocabulary(
        schedule=schedule_of(trial),
        sites=sites_of(trial),
        ranges=trial.get("reference_ranges.yaml"),
        ctcae_loader=lambda: trial.ctcae,  # read beside the trial by the loader
        site=site,  # lab text in a file without a plan reads with --site's ranges
    )
    return load_history(path, vocabulary, replayable=False)


# The options that make the plan; a history file with `plan:` gives them instead.
PLAN_OPTIONS = ("start", "fractions", "site", "bsa", "height", "weight", "boost", "count")


def _plan_from_file(args: argparse.Namespace, history: HistoryFile) -> PatientPlan:
    given = [name for name in PLAN_OPTIONS if getattr(args, name) not in (None, False, [])]
    if given:
        raise UserError(
            f"{args.history.name} gives the plan; --{given[0]} would give it twice",
            field=given[0],
            allowed="the plan in the file (plan:), or the options with a file of events only",
        )
    return history.plan


def _plan_inputs(args: argparse.Namespace, schedule: Schedule, site: SiteCalendar) -> PatientPlan:
    if args.start is None:
        raise UserError(
            "start is required", field="start", allowed="a treatment day written YYYY-MM-DD"
        )
    start = _date(args.start, "start")
    if not site.is_treatment_day(start):
        following = site.next_treatment_day(start)
        raise UserError(
            f"{start.isoformat()} ({start:%A}) is not a treatment day at site {site.id!r} "
            f"({site.closure_reason(start)}); the next treatment day is "
            f"{following.isoformat()} ({following:%A})",
            field="start",
            allowed="a treatment day of the site",
        )
    fractions_spec = _count_spec(schedule, "fractions")
    fractions = (
        _whole(args.fractions, "fractions", fractions_spec)
        if args.fractions is not None
        else (fractions_spec.default if fractions_spec else 25)
    )
    bsa = _number(args.bsa, "bsa", BSA_M2_RANGE, "m²")
    height = _number(args.height, "height", HEIGHT_CM_RANGE, "cm")
    weight = _number(args.weight, "weight", WEIGHT_KG_RANGE, "kg")
    if bsa is not None and (height is not None or weight is not None):
        raise UserError(
            "give --bsa, or --height with --weight, not both",
            field="bsa",
            allowed="--bsa M2 | --height CM --weight KG",
        )
    if (height is None) != (weight is None):
        missing = "weight" if weight is None else "height"
        raise UserError(
            f"--{missing} is missing",
            field=missing,
            allowed="--height CM together with --weight KG",
        )
    refused = schedule.boost_refusal(args.boost)
    if refused is not None:
        raise refused
    return PatientPlan.build(
        day1=start,
        fractions=fractions,
        boost=args.boost,
        bsa_m2=bsa,
        height_cm=height,
        weight_kg=weight,
        site=site.id,
        counts=_counts(schedule, args.count),
    )


def _site(trial, site_id: str | None):
    """The site's calendar, with what the holidays package said in an earlier run (the
    cache beside the rules cache): (calendar, the facts it was given, the cache folder)."""
    from bot.protocol.holiday_cache import load_facts
    from bot.settings import load_settings

    config = sites_of(trial).config(site_id)
    cache_dir = load_settings().cache_dir
    facts = load_facts(cache_dir, config.country, config.subdivision)
    return SiteCalendar(config, facts=facts), facts, cache_dir


def _run(args: argparse.Namespace) -> int:
    from bot.protocol.holiday_cache import keep_facts

    # cheap checks on the arguments first, so a typo is named before anything is loaded
    _date(args.start, "start")
    today = _date(args.today, "today")
    trial = load_configured_trial(args.rules)
    schedule = schedule_of(trial)
    history = _history(args.history, trial, args.site)
    if history is not None and history.plan is not None:
        plan = _plan_from_file(args, history)
        site, facts, cache_dir = _site(trial, plan.site)
    else:
        site, facts, cache_dir = _site(trial, args.site)
        plan = _plan_inputs(args, schedule, site)
    events = history.events if history is not None else []
    calendar = build_calendar(schedule, plan, events, site, today=today)
    keep_facts(cache_dir, site, facts)
    if args.json:
        print(json.dumps(calendar.events_json(), ensure_ascii=False, indent=2))
    else:
        _print_human(calendar, schedule, plan, site, today)
    return 0


# --- human output -----------------------------------------------------------------------
def _dose_text(event: CalendarEvent) -> str:
    dose = event.dose
    if dose is None:
        return ""
    if dose.basis == "per_fraction":
        text = f"{dose.amount:g} Gy"
        return text + (f" (boost {dose.boost:g} Gy)" if dose.boost else "")
    amount = f"{dose.amount:g} {dose.unit.replace('/m2', '/m²')}"
    percent = f" at {dose.percent} %" if dose.percent != 100 else ""
    if dose.derivation is not None:  # mg/kg, AUC, a cap: as the calendar reply says it
        from bot.commands.views import dose_text

        return dose_text(event.to_json(), short=True)
    if dose.mg is None or dose.basis == "flat":
        return f"{amount}{percent}"
    return f"{amount}{percent} = {dose.mg:g} mg"


def _window_text(event: CalendarEvent) -> str:
    if event.window_from == event.window_to == event.date:
        return ""
    return f"{event.window_from:%m-%d} … {event.window_to:%m-%d}"


def _print_human(
    calendar: Calendar,
    schedule: Schedule,
    plan: PatientPlan,
    site: SiteCalendar,
    today: date | None,
) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    width = max(shutil.get_terminal_size((140, 40)).columns, 120)
    console = Console(
        file=sys.stdout, width=width, highlight=False, markup=False, emoji=False, soft_wrap=False
    )
    summary = calendar.summary
    body = (
        f"BSA {summary.bsa_m2:g} m²"
        if summary.bsa_m2 is not None
        else "no BSA given: doses per m² without mg"
    )
    print(
        f"{schedule.trial} — what-if calendar, day 1 = {plan.day1.isoformat()} "
        f"({plan.day1:%A}), site {site.id!r} ({site.config.label or site.config.country})"
    )
    print(
        f"{plan.fractions} {summary.radiotherapy_name or 'radiotherapy'} fractions, {'nodal boost' if plan.boost else 'no boost'}, "
        f"{body}" + (f", statuses as of {today.isoformat()}" if today else "")
    )
    day1_week = week_start(plan.day1)
    groups: dict[date, list[CalendarEvent]] = {}
    for event in calendar.events:
        groups.setdefault(week_start(event.date), []).append(event)
    for monday, events in groups.items():
        index = (monday - day1_week).days // 7
        table = Table(
            title=f"Week {index:+d} — from Monday {monday.isoformat()}",
            title_justify="left",
            box=box.SIMPLE_HEAD,
            show_edge=False,
            pad_edge=False,
        )
        # fixed widths: every week's table lines up with the others
        table.add_column("Date", no_wrap=True, width=15)
        table.add_column("Event", width=36)
        table.add_column("Phase", no_wrap=True, width=13)
        table.add_column("Dose", width=22)
        table.add_column("Window", no_wrap=True, width=13)
        table.add_column("Status", no_wrap=True, width=14)
        table.add_column("Note", ratio=1)
        for event in events:
            mark = "*" if event.provisional else ""
            table.add_row(
                f"{event.date:%a %Y-%m-%d}{mark}",
                event.label,
                event.phase,
                _dose_text(event),
                _window_text(event),
                event.status,
                event.note or "",
            )
        console.print()
        console.print(table)
    print()
    print("Summary")
    rt_name = summary.radiotherapy_name or "radiotherapy"
    if summary.first_fraction:
        sign = f"{summary.prolongation_days:+d}"
        print(
            f"  {rt_name}: {summary.fractions} fractions, {summary.first_fraction.isoformat()}"
            f" → {summary.last_fraction.isoformat()}; overall treatment time "
            f"{summary.ott_days} days (planned {summary.planned_ott_days} on Mon–Fri "
            f"without closures; prolongation {sign} days)"
        )
    if summary.last_brachytherapy:
        print(
            f"  Last brachytherapy fraction: {summary.last_brachytherapy.isoformat()} "
            f"({rt_name} start → end of brachytherapy: "
            f"{summary.ott_with_brachytherapy_days} days)"
        )
    if summary.consolidation_start:
        phase = (summary.consolidation_phase or "next phase").capitalize()
        print(f"  {phase} starts: {summary.consolidation_start.isoformat()}")
    if summary.maintenance_end:
        series = schedule.series_by_id(schedule.summary.maintenance_series)
        drug = getattr(series, "drug", None) or series.label
        phase = series.phase.replace("_", " ")
        print(f"  Last {phase} {drug}: {summary.maintenance_end.isoformat()}")
    for line in _doses_without_mg(calendar):
        print(f"  {line}")
    for hold in summary.on_hold:
        until = hold.until.isoformat() if hold.until else "until resumed"
        print(f"  On hold: {hold.drug} since {hold.since.isoformat()} ({until})")
    for stop in summary.discontinued:
        print(f"  Discontinued: {stop.drug} on {stop.on.isoformat()}")
    if summary.provisional:
        print("  * marks a provisional date (see the note below)")
    for note in summary.notes:
        print(f"  Note: {note}")


def _doses_without_mg(calendar: Calendar) -> list[str]:
    """Each drug's derived doses (mg/kg, AUC) that have no mg, once: what is missing, so
    the table's "refer" is explained — never a guessed input."""
    return [
        f"No mg for {dose['drug']} from {dose['date']} (refer): needs "
        + ", ".join(dose["derivation"]["missing"])
        for dose in calendar.summary.doses_without_mg
    ]
