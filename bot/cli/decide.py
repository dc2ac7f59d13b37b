"""`trialbot decide` — replay a patient's history file, then decide a new event.

    trialbot decide HISTORY [EVENT …] [--date DATE] [--rules DIR] [--json]

HISTORY is a YAML or JSON file (format: docs/decide.md) with the patient's plan and the
entries so far. Every entry is replayed through the decision engine the way the service
records it (proposals D1, D2, … in effect until overridden). Then EVENT — or the file's
`new:` entry — is decided and each affected drug's decision printed: action, dose, next
dose, reason, protocol rule, CTCAE criterion and what the investigator must do. Without
EVENT or `new:`, the replay itself is printed: every entry with its decisions.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
from datetime import date
from pathlib import Path
from typing import Any

from bot.calendar import SiteCalendar, schedule_of, sites_of
from bot.calendar.dates import parse_iso_date
from bot.cli import load_configured_trial
from bot.decisions.engine import Review
from bot.decisions.model import Decision
from bot.decisions.planning import baseline_of
from bot.decisions.replay import PatientRules, Replay, Step, record, replay, treatment_json
from bot.errors import UserError
from bot.events import (
    AdverseEvent,
    Attribution,
    DoseRecord,
    Event,
    LabPanel,
    ResponseAssessment,
    Verdict,
)
from bot.grading import grade_panel, grade_text
from bot.grading.analytes import ANALYTES, plain
from bot.grading.grader import display_unit
from bot.history_file import EVENT_FORMS, HistoryFile, Vocabulary, load_history, read_event_text

Entry = Event | Review

EPILOG = (
    "events:\n"
    + "\n".join(f"  {form}" for form in EVENT_FORMS.values())
    + """

The event is dated --date (default: the day after the last entry of the history).
examples:
  trialbot decide docs/examples/history-neutropenia.yaml
  trialbot decide docs/examples/history-neutropenia.yaml "lab ANC 1.9 PLT 160" --json
  trialbot decide history.yaml ae pneumonitis grade=2 irae=unknown --date 2027-05-10
"""
)


def _intermixed(parser: argparse.ArgumentParser) -> None:
    """Let options sit anywhere: `decide FILE --date D lab ANC 0.4` as well as
    `decide FILE lab ANC 0.4 --date D`. Plain argparse gives the words after an option to
    no positional once EVENT has matched nothing (the known intermixing limitation), so
    this parser parses the way `parse_intermixed_args` does."""

    class Intermixed(type(parser)):
        _inside = False

        def parse_known_args(self, args=None, namespace=None):
            if self._inside:  # parse_known_intermixed_args calls back in here
                return super().parse_known_args(args, namespace)
            self._inside = True
            try:
                return self.parse_known_intermixed_args(args, namespace)
            finally:
                self._inside = False

    parser.__class__ = Intermixed


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "decide",
        help="replay a patient's history file and decide a new event (no database)",
        description=__doc__.splitlines()[0],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("history", metavar="HISTORY", type=Path, help="history file (YAML/JSON)")
    parser.add_argument(
        "event",
        metavar="EVENT",
        nargs="*",
        help='the new event, e.g. "lab ANC 0.4 PLT 62 irae=no" (default: the file\'s new:)',
    )
    parser.add_argument("--date", metavar="DATE", help="the new event's date (YYYY-MM-DD)")
    parser.add_argument(
        "--rules", metavar="DIR", type=Path, help="rules directory (default: the shipped trial)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=_run)
    _intermixed(parser)


# --- input ------------------------------------------------------------------------------
def _requested_date(text: str | None) -> date | None:
    if text is None:
        return None
    value = parse_iso_date(text)
    if value is None:
        raise UserError(
            f"{text!r} is not a date", field="date", allowed="a calendar date written YYYY-MM-DD"
        )
    return value


def _event_text(words: list[str]) -> str:
    # One argument is the event as typed (quotes included); several are re-quoted so that
    # `reason="given elsewhere"` stays one option.
    return words[0] if len(words) == 1 else shlex.join(words)


def _new_id(history: HistoryFile) -> str:
    taken = history.known_ids()
    number = len(history.entries) + 1
    while f"E{number}" in taken:
        number += 1
    return f"E{number}"


def _check_after_history(day: date, history: HistoryFile) -> None:
    last = history.last_date
    if last is not None and day < last:
        raise UserError(
            f"{day.isoformat()} is before the last entry of the history ({last.isoformat()})",
            field="date",
            allowed=f"{last.isoformat()} or later",
        )


def _with_date(entry: Entry, day: date) -> Entry:
    if isinstance(entry, Review):
        return dataclasses.replace(entry, date=day)
    return entry.model_copy(update={"date": day})


def _new_entry(
    args: argparse.Namespace,
    history: HistoryFile,
    vocabulary: Vocabulary,
    requested: date | None,
) -> Entry | None:
    default = history.default_date()
    if args.event:
        day = requested or default
        _check_after_history(day, history)
        return read_event_text(
            _event_text(args.event),
            day=day,
            entry_id=_new_id(history),
            vocabulary=vocabulary,
            known=history.known_ids(),
        )
    if history.new is None:
        if requested is not None:
            raise UserError(
                "--date dates a new event, and there is none",
                field="date",
                allowed="an EVENT on the command line, or new: in the history file",
            )
        return None
    new = history.new
    if requested is not None:
        if history.new_dated and new.date != requested:
            raise UserError(
                f"the file's new entry is dated {new.date.isoformat()}, --date says "
                f"{requested.isoformat()}",
                field="date",
                allowed="one date: drop --date, or the date of new:",
            )
        new = _with_date(new, requested)
    _check_after_history(new.date, history)
    return new


# --- the run ----------------------------------------------------------------------------
def _run(args: argparse.Namespace) -> int:
    requested = _requested_date(args.date)
    trial = load_configured_trial(args.rules)
    rules = trial.get("dose_modifications.yaml")
    ctcae = trial.ctcae  # read beside the trial, from the same rules root
    schedule = schedule_of(trial)
    sites = sites_of(trial)
    vocabulary = Vocabulary(
        schedule=schedule,
        sites=sites,
        ranges=trial.get("reference_ranges.yaml"),
        ctcae_loader=lambda: ctcae,
    )
    history = load_history(args.history, vocabulary)
    if history.plan is None:
        raise UserError(
            "the file has no plan; deciding needs the patient's plan",
            field=f"{args.history.name}: plan",
            allowed="plan: {start: YYYY-MM-DD, fractions: 25, bsa: 1.62, …} (docs/decide.md)",
        )
    plan = history.plan
    vocabulary = vocabulary.for_site(plan.site)
    patient = PatientRules(
        schedule=schedule,
        rules=rules,
        ctcae=ctcae,
        plan=plan,
        site=SiteCalendar(sites.config(plan.site)),
    )
    entry = _new_entry(args, history, vocabulary, requested)
    try:
        replayed = replay(patient, history.entries, initial=[history.enrolment()])
    except UserError as exc:  # a verdict for a decision the replay did not propose
        raise UserError(exc.message, field=args.history.name) from None
    drugs = rules.drugs
    if entry is None:
        _print_replay(args.json, history, replayed, drugs)
        return 0
    after = record(patient, replayed, entry)
    step = after.steps[-1]
    grades = _grades(ctcae, step.entry, replayed, plan.day1)
    if args.json:
        print(
            json.dumps(
                {
                    "event": _entry_json(step.entry),
                    "decisions": step.decisions_json(),
                    "state": treatment_json(after.state, drugs),
                    "grades": grades,
                },
                ensure_ascii=False,
            )
        )
        return 0
    print(f"{history.study_id} — {_entry_line(step.entry)}")
    for grade in grades:
        print(f"  {_grade_line(grade)}")
    print()
    if not step.decisions:
        print("No decision: nothing in this entry changes treatment.")
    for decision, decision_id in zip(step.decisions, step.ids, strict=True):
        _print_decision(decision, decision_id)
    print()
    print(f"Treatment after {step.entry.id or 'this entry'}: {_state_line(after, drugs)}")
    return 0


def _grades(ctcae, entry: Entry, before: Replay, day1: date) -> list[dict[str, Any]]:
    """What the entry's values grade as (lab panels), or what its grade means (AEs)."""
    if isinstance(entry, LabPanel):
        baseline = baseline_of(list(before.history), day1)
        graded = grade_panel(ctcae, entry.results, baseline, entry.symptomatic)
        return [g.to_json() for g in graded]
    if isinstance(entry, AdverseEvent):
        term = ctcae.term(entry.term)
        return [
            {
                "term": entry.term,
                "grade": entry.grade,
                "ctcae": ctcae.version,
                "criterion": grade_text(term, entry.grade) if term else None,
                "meddra_code": entry.meddra_code,
                "entered": entry.entered_term,
            }
        ]
    return []


def _entry_json(entry: Entry) -> dict[str, Any]:
    if isinstance(entry, Review):
        return {"id": entry.id, "kind": "review", "date": entry.date.isoformat()}
    return entry.model_dump(mode="json", exclude={"seq"})


# --- human output -----------------------------------------------------------------------
def _yes_no(value: bool | None) -> str:
    return "unknown" if value is None else ("yes" if value else "no")


def _lab_text(panel: LabPanel) -> str:
    parts = []
    for value in panel.results:
        if value.entered:
            parts.append(value.entered)
        else:
            label = ANALYTES[value.analyte].label if value.analyte in ANALYTES else value.analyte
            parts.append(f"{label} {plain(value.value)}")
    return " ".join(parts)


def describe(entry: Entry) -> str:
    """An entry the way it would be typed."""
    if isinstance(entry, LabPanel):
        text = f"lab {_lab_text(entry)}"
        if entry.irae is not None:
            text += f" irae={_yes_no(entry.irae)}"
        if entry.symptomatic is not None:
            text += f" symptomatic={_yes_no(entry.symptomatic)}"
        return text
    if isinstance(entry, AdverseEvent):
        text = f"ae {entry.term} grade={entry.grade} irae={_yes_no(entry.irae)}"
        if entry.steroid_mg is not None:
            text += f" steroid_mg={entry.steroid_mg:g}"
        return text
    if isinstance(entry, DoseRecord):
        text = f"dose {entry.drug} {entry.status}"
        if entry.mg is not None:
            text += f" mg={entry.mg:g}"
        return text + (f" ({entry.reason})" if entry.reason else "")
    if isinstance(entry, ResponseAssessment):
        return f"response {entry.category}"
    if isinstance(entry, Attribution):
        return f"attribute {entry.target} irae={_yes_no(entry.irae)}"
    if isinstance(entry, Verdict):
        return f"verdict {entry.decision_id} {entry.status}" + (
            f': "{entry.reason}"' if entry.reason else ""
        )
    return "review (time-based checks)"


def _entry_line(entry: Entry) -> str:
    return f"{entry.id or 'new'} on {entry.date.isoformat()}: {describe(entry)}"


def _grade_line(grade: dict[str, Any]) -> str:
    if "analyte" not in grade:  # an adverse event
        return (
            f"{grade['term']}, grade {grade['grade']} (CTCAE v{grade['ctcae']}): "
            f"{grade['criterion']}"
        )
    analyte = ANALYTES[grade["analyte"]]
    value = f"{analyte.label} {plain(grade['value'])} {display_unit(grade['unit'])}"
    if not analyte.is_count and analyte.code != "hb" and grade["x_uln"] is not None:
        value += f" ({plain(grade['x_uln'])} x ULN)"
    if grade["grade"] is None:
        return f"{value} — not graded: {grade['criterion'].removeprefix('Not graded: ')}"
    applied = grade["criterion"].removeprefix(f"Grade {grade['grade']}: ")
    line = f"{value} — {grade['term']}, grade {grade['grade']} (CTCAE v{grade['ctcae']}): {applied}"
    return line + (f"\n    note: {grade['note']}" if grade["note"] else "")


def _headline(decision: Decision) -> str:
    action = decision.action.upper()
    percent = decision.dose_percent
    if decision.action == "reduce":
        return f"{action} to {percent} % of the protocol dose"
    if decision.action in ("resume", "continue") and percent is not None:
        return f"{action} at {percent} % of the protocol dose"
    if decision.action == "refer":
        return f"{action} — investigator decision"
    return action


def _next_dose_line(decision: Decision) -> str | None:
    dose = decision.next_dose
    if dose is None or decision.action == "discontinue":
        return None
    when = f"{dose.date.isoformat()}" + (f" ({dose.label})" if dose.label else "")
    full = dose.mg_at(100)
    if decision.action == "hold":
        return f"next planned dose: {when} — not given while on hold"
    mg = decision.next_dose_mg
    if dose.derivation is not None:  # mg/kg, AUC, a cap: the basis and its inputs
        from bot.render import Renderer

        how = Renderer().dose_line(dose.derivation, decision.drug, mg, decision.dose_percent)
        return f"next dose: {when}, {how}"
    if mg is not None and full is not None:
        return f"next dose: {when}, {mg:g} mg ({decision.dose_percent} % of {full:g} mg)"
    if full is not None:
        return f"next planned dose: {when}, {full:g} mg at 100 %"
    return f"next planned dose: {when}"


def _todo(decision: Decision, decision_id: str | None) -> list[str]:
    lines = []
    conditional = decision.if_immune_related
    if conditional is not None:
        what = conditional.management or conditional.action
        lines.append(
            f"if immune-related: {conditional.action.upper()} — {what} ({conditional.rule})"
        )
    if decision.ask:
        # the engine asks in words; what to type is this command line's
        typed = [
            f"attribute {q.entry} irae=yes|no"
            if q.kind == "immune_related"
            else f'to interrupt, in the chat: hold <study ID> {q.drug} reason="…"'
            for q in decision.questions
        ]
        answer = f" {' · '.join(typed)}" if typed else ""
        lines.append(f"to answer: {decision.ask}{answer}")
    if decision_id:
        lines.append(f'investigator: confirm {decision_id}, or override {decision_id} reason="…"')
    return lines


def _print_decision(decision: Decision, decision_id: str | None) -> None:
    print(f"{decision.drug}: {_headline(decision)}")
    next_dose = _next_dose_line(decision)
    if next_dose:
        print(f"  {next_dose}")
    print(f"  reason: {decision.reason}")
    print(f"  rule: {decision.rule}")
    if decision.criterion:
        print(f"  CTCAE v{decision.ctcae}: {decision.criterion}")
    for line in _todo(decision, decision_id):
        print(f"  {line}")


def _state_line(replayed: Replay, drugs: list[str]) -> str:
    parts = []
    for drug, state in treatment_json(replayed.state, drugs).items():
        if state["status"] == "discontinued":
            text = f"{drug} discontinued on {state['discontinued_on']}"
        elif state["status"] == "held":
            text = f"{drug} on hold since {state['held_since']}"
        else:
            text = f"{drug} active at {state['dose_percent']} %"
        if state["awaiting_confirmation"]:
            text += " (awaiting confirmation)"
        parts.append(text)
    return " · ".join(parts)


def _step_json(step: Step) -> dict[str, Any]:
    return {"event": _entry_json(step.entry), "decisions": step.decisions_json()}


def _print_replay(as_json: bool, history: HistoryFile, replayed: Replay, drugs: list[str]) -> None:
    if as_json:
        print(
            json.dumps(
                {
                    "entries": [_step_json(step) for step in replayed.steps],
                    "state": treatment_json(replayed.state, drugs),
                },
                ensure_ascii=False,
            )
        )
        return
    plan = history.plan
    body = (
        f"BSA {plan.bsa_m2:g} m²"
        if plan.bsa_m2 is not None
        else (
            f"{plan.height_cm:g} cm, {plan.weight_kg:g} kg"
            if plan.height_cm is not None
            else "no body size: doses without mg"
        )
    )
    print(
        f"{history.study_id} — day 1 {plan.day1.isoformat()}, {plan.fractions} fractions"
        f"{', nodal boost' if plan.boost else ''}, site {plan.site}, {body}"
    )
    if not replayed.steps:
        print("No entries yet.")
    for step in replayed.steps:
        print(_entry_line(step.entry))
        for decision, decision_id in zip(step.decisions, step.ids, strict=True):
            mark = f" [{decision_id}]" if decision_id else ""
            print(f"    {decision.drug}: {_headline(decision)}{mark} — {decision.reason}")
    print()
    print(f"Treatment now: {_state_line(replayed, drugs)}")
