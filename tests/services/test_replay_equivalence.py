"""Replaying a history file and recording the same entries through the services give the
same decisions — for every patient story the tests write as a history.

The stories are collected, not chosen: every module-level value of the test modules of
tests/commands, tests/decisions and tests/console that reads as a replayable history file
(a YAML text, a mapping with `events:`, or a list of entries, with the module's `PLAN`),
and the history files of docs/examples/. Each is replayed (`bot.decisions.replay`, as
`trialbot decide` does) and recorded entry by entry through the services on SQLite and
PostgreSQL, the clock at each entry's date; the decisions of every entry must match.

The stories written as chat scripts (tests/**/test_patient_stories.py) go the other way:
each is run as written through the console transport on the services, and the patient's
event log, written out as a history file, is replayed (below).
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import io
import json
import sys
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest
import yaml

from bot.calendar import SiteCalendar, schedule_of, sites_of
from bot.decisions.engine import Review
from bot.decisions.replay import PatientRules, replay
from bot.errors import UserError
from bot.events import (
    AdverseEvent,
    Attribution,
    DoseRecord,
    Enrolment,
    LabPanel,
    Proposal,
    ResponseAssessment,
    Verdict,
)
from bot.grading import load_ctcae
from bot.history_file import HistoryFile, Vocabulary, _Loader, read_history
from bot.paths import trial_rules_dir
from bot.protocol import load_trial
from bot.services import derive, enrolment, entries, review, verdicts
from bot.services.unit import find_patient
from bot.storage.eventlog import patient_events
from bot.transports.console import Console, JsonPrinter

from .conftest import ADMIN, DAY1, DOCTOR, NURSE, VIEWER, as_user

REPO = Path(__file__).resolve().parents[2]
STORY_DIRS = ("commands", "decisions", "console")
SID = "LACC-101"
# What a decision is, without the ids the two ways number differently.
COMPARED = ("drug", "action", "dose_percent", "rule", "criterion", "category", "status")


def _constants(path: Path) -> list[tuple[str, Any]]:
    """The plain data of a test module, evaluated without importing it: its module-level
    values (texts, lists, mappings, built from each other and `dedent`), and every call,
    anywhere in it, of a module function on such values (`story(text)`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    namespace: dict[str, Any] = {"dedent": dedent, "len": len, "str": str}
    found: list[tuple[str, Any]] = []

    def evaluate(node: ast.expr) -> Any:
        code = compile(ast.Expression(node), str(path), "eval")
        return eval(code, {"__builtins__": {}}, namespace)

    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                try:
                    namespace[target.id] = evaluate(node.value)
                    found.append((target.id, namespace[target.id]))
                except Exception:
                    continue
        elif isinstance(node, ast.FunctionDef) and not node.name.startswith("test_"):
            try:
                exec(compile(ast.Module([node], []), str(path), "exec"), namespace)
            except Exception:
                continue
    helpers = {
        name
        for name, value in namespace.items()
        if callable(value) and name not in ("dedent", "len", "str")
    }
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        # a helper's call (`story(text)`), and the entries handed to a fixture (`run([…])`)
        calls = [node] if isinstance(node.func, ast.Name) and node.func.id in helpers else []
        for call in (*calls, *node.args):
            try:
                found.append((f"line {call.lineno}", evaluate(call)))
            except Exception:
                continue
    return found


def _as_document(value: Any, plan: Any) -> dict | None:
    if isinstance(value, str):
        try:
            value = yaml.load(value, Loader=_Loader)
        except yaml.YAMLError:
            return None
    if isinstance(value, dict) and isinstance(value.get("events"), list):
        return value if "plan" in value else {"plan": plan, **value}
    if (
        isinstance(value, list)
        and value
        and all(isinstance(e, dict) and "date" in e for e in value)
    ):
        return {"plan": plan, "events": value}
    return None


def _stories() -> list[tuple[str, dict]]:
    found: dict[str, tuple[str, dict]] = {}
    default_plan = {"start": "2027-03-01", "bsa": 1.62}
    paths = [p for d in STORY_DIRS for p in sorted((REPO / "tests" / d).glob("*.py"))]
    for path in paths:
        constants = _constants(path)
        plan = dict(constants).get("PLAN", default_plan)
        if isinstance(plan, str):
            plan = (yaml.load(plan, Loader=_Loader) or {}).get("plan", default_plan)
        for name, value in constants:
            document = _as_document(value, plan)
            if document is not None:
                found.setdefault(
                    repr(document), (f"{path.parent.name}/{path.stem}:{name}", document)
                )
    for path in sorted((REPO / "docs" / "examples").glob("history-*.yaml")):
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
        found.setdefault(repr(document), (f"docs/examples/{path.name}", document))
    return list(found.values())


TRIAL = load_trial(trial_rules_dir())
VOCABULARY = Vocabulary(
    schedule=schedule_of(TRIAL),
    sites=sites_of(TRIAL),
    ranges=TRIAL.get("reference_ranges.yaml"),
    ctcae_loader=load_ctcae,
)


def _readable(vocabulary: Vocabulary) -> list[tuple[str, HistoryFile, dict]]:
    stories = []
    for name, document in _stories():
        try:
            history = read_history({k: v for k, v in document.items() if k != "new"}, vocabulary)
        except UserError:
            continue  # a refusal test's file
        if history.plan is None or not history.entries:
            continue
        items = document["events"]
        if any(isinstance(i, dict) and "kind" in i for i in items):
            continue  # raw bot.events JSON: the services take entries as people type them
        try:
            _replayed(history, vocabulary)
        except UserError:
            continue  # a refusal test's file (a verdict on no proposal, …)
        stories.append((name, history, document))
    return stories


def test_the_stories_are_collected():
    names = [name for name, _, _ in STORIES]
    # the whole-story files of the decide and replay tests and the documented example
    assert len(names) >= 5, names
    assert any(n.startswith("decisions/test_decide_cli") for n in names)
    assert any(n.startswith("decisions/test_replay") for n in names)
    assert any(n.startswith("docs/examples") for n in names)


def _replayed(history: HistoryFile, vocabulary: Vocabulary):
    trial = TRIAL
    patient = PatientRules(
        schedule=schedule_of(trial),
        rules=trial.get("dose_modifications.yaml"),
        ctcae=vocabulary.ctcae,
        plan=history.plan,
        site=SiteCalendar(sites_of(trial).config(history.plan.site)),
    )
    return replay(patient, history.entries, [history.enrolment()])


STORIES = _readable(VOCABULARY)


def _shape(decision: dict, ids: dict[str, str]) -> dict:
    shaped = {key: decision.get(key) for key in COMPARED}
    shaped["trigger"] = ids.get(decision.get("trigger"), decision.get("trigger"))
    shaped["next_dose"] = decision.get("next_dose")
    follow = decision.get("if_immune_related") or {}
    shaped["if_immune_related"] = follow.get("action")
    return shaped


def _record(ctx, clock, history: HistoryFile, document: dict) -> list[list[dict]]:
    """Every entry of the story recorded through the services; each entry's decisions."""
    plan, raw_plan = history.plan, document["plan"]

    def at(day) -> None:
        clock.set(datetime.combine(day, time(1, 0), tzinfo=UTC))  # 09:00 at the main site

    at(min(plan.day1, history.entries[0].date))
    enrolment.enrol(
        ctx,
        as_user(NURSE),
        SID,
        start=plan.day1,
        fractions=plan.fractions,
        boost=plan.boost,
        bsa=raw_plan.get("bsa"),
        height=raw_plan.get("height"),
        weight=raw_plan.get("weight"),
        site=plan.site,
        baseline_text=raw_plan.get("baseline"),
    )
    labels: dict[str, str] = {}  # the file's entry ids -> the store's
    decision_ids: dict[str, str] = {}  # the replay's D1, D2, … -> the store's
    proposed = 0
    answers = []
    nurse, doctor = as_user(NURSE), as_user(DOCTOR)
    for item, entry in zip(document["events"], history.entries, strict=True):
        at(entry.date)
        on = entry.date
        if isinstance(entry, LabPanel):
            outcome = entries.record_lab(
                ctx, nurse, SID, item["lab"], on=on, irae=entry.irae, symptomatic=entry.symptomatic
            )
        elif isinstance(entry, AdverseEvent):
            outcome = entries.record_ae(
                ctx,
                nurse,
                SID,
                entry.entered_term,
                entry.grade,
                on=on,
                irae=entry.irae,
                steroid_mg=entry.steroid_mg,
            )
        elif isinstance(entry, DoseRecord):
            outcome = entries.record_dose(
                ctx,
                nurse,
                SID,
                entry.drug,
                status=entry.status,
                on=on,
                mg=entry.mg,
                reason=entry.reason,
            )
        elif isinstance(entry, ResponseAssessment):
            outcome = entries.record_response(ctx, nurse, SID, entry.category, on=on)
        elif isinstance(entry, Attribution):
            outcome = entries.attribute(ctx, doctor, labels[entry.target], entry.irae)
        elif isinstance(entry, Verdict):
            label = decision_ids[entry.decision_id]
            if entry.status == "confirmed":
                verdicts.confirm(ctx, doctor, label)
            else:
                verdicts.override(ctx, doctor, label, entry.reason or "")
            answers.append(None)
            continue
        elif isinstance(entry, Review):
            outcome = review.review_patient(ctx, SID, entry.date)
        else:  # pragma: no cover - every kind a file holds is above
            raise AssertionError(entry)
        if outcome.event and entry.id:
            labels[entry.id] = outcome.event["id"]
        for decision in outcome.decisions:
            if decision.get("status") == "proposed":
                proposed += 1
                decision_ids[f"D{proposed}"] = decision["id"]
        answers.append(outcome.decisions)
    return answers, labels


@pytest.mark.parametrize(("name", "history", "document"), STORIES, ids=[s[0] for s in STORIES])
def test_replaying_a_story_and_recording_it_give_the_same_decisions(
    ctx, service_clock, command_syntax, name, history, document
):
    replayed = _replayed(history, VOCABULARY)
    recorded, labels = _record(ctx, service_clock, history, document)
    assert len(replayed.steps) == len(recorded)
    for step, answer in zip(replayed.steps, recorded, strict=True):
        if answer is None:  # a verdict: it decides nothing
            continue
        expected = [_shape(d, labels) for d in step.decisions_json()]
        got = [_shape(d, {}) for d in answer]
        assert got == expected, f"{name}: {step.entry.kind} of {step.entry.date}"
        # the engine's words carry no interface's syntax (the templates add it)
        assert [t for d in answer for t in command_syntax(d)] == [], name


# --- the stories written as chat scripts ----------------------------------------------------
# tests/**/test_patient_stories.py are whole stories typed into `trialbot chat`. Each is
# run here as written, by the console transport on the services (its own assertions
# included); the patient's event log is then written out as a history file, the way
# `trialbot decide` reads one (docs/decide.md), and replayed: every entry's decisions must
# be the ones the console was given, words included (the file keeps the store's ids).
CHAT_SCRIPTS = sorted((REPO / "tests").glob("**/test_patient_stories.py"))
CHAT_SID = "LACC-007"
SITE_MORNING = "T09:00+08:00"  # 09:00 at the main site, as the chat scripts' TRIALBOT_NOW


def _module(path: Path, name: str):
    """A test folder's module, loaded by path (test folders are not packages)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


# What a chat script reads of an answer: the `Answer` of the chat fixture it was written for.
Answer = _module(REPO / "tests" / "commands" / "conftest.py", "_chat_fixture").Answer


def _chat_stories() -> list[tuple[str, Any]]:
    stories = []
    for path in CHAT_SCRIPTS:
        module = _module(path, f"_chat_script_{path.parent.name}")
        for attribute, function in vars(module).items():
            if attribute.startswith("test_") and callable(function):
                parameters = list(inspect.signature(function).parameters)
                assert parameters == ["enrolled"], (path, attribute, parameters)
                stories.append((f"{path.parent.name}/{path.stem}::{attribute}", function))
    return stories


CHAT_STORIES = _chat_stories()


class _ConsoleScript:
    """A chat script's `enrolled` fixture, run by the console transport (`--json`) on the
    services' context and clock; remembers each recorded entry's decisions."""

    admin, nurse, doctor, viewer = ADMIN, NURSE, DOCTOR, VIEWER
    sid = CHAT_SID
    day1 = DAY1

    def __init__(self, ctx, clock) -> None:
        self.ctx, self.clock, self.day = ctx, clock, 0
        self.decided: dict[str, list[dict]] = {}  # entry label -> its decisions

    @staticmethod
    def date(n: int):
        return DAY1 + timedelta(days=n)

    def __call__(self, text: str, *, user: str = NURSE, on: int | None = None):
        if on is not None:
            self.day = on
        self.clock.set(datetime.fromisoformat(self.date(self.day).isoformat() + SITE_MORNING))
        stream = io.StringIO()
        reply = Console(self.ctx, user, JsonPrinter(self.ctx.renderer, stream)).run(text)
        event = (reply.view.get("outcome") or {}).get("event") or {}
        if reply.ok and event.get("id"):
            self.decided[event["id"]] = reply.decisions
        data = json.loads(stream.getvalue())
        return Answer(0 if data["ok"] else 2, data)


def _yes_no(value: bool | None) -> str:
    return "unknown" if value is None else ("yes" if value else "no")


def _as_history_file(log: list) -> dict[str, Any]:
    """The patient's log as a history file: the enrolment as `plan:`, each entry as it is
    typed, with the store's id; proposals left out (the replay derives them, D1, D2, … in
    order: verdicts name them so) and a review where the daily review proposed one."""
    assert not [e for e in log if e.corrects or e.voids], "an amended story: not replayable"
    [enrolled_as] = [e.event for e in log if isinstance(e.event, Enrolment)]
    plan: dict[str, Any] = {
        "start": enrolled_as.day1.isoformat(),
        "fractions": enrolled_as.fractions,
        "boost": _yes_no(enrolled_as.boost),
        "site": enrolled_as.site,
    }
    if enrolled_as.height_cm is not None:
        plan.update(height=enrolled_as.height_cm, weight=enrolled_as.weight_kg)
    elif enrolled_as.bsa_m2 is not None:
        plan["bsa"] = enrolled_as.bsa_m2
    if enrolled_as.baseline:
        plan["baseline"] = " ".join(v.entered for v in enrolled_as.baseline)
    events: list[dict[str, Any]] = []
    replay_ids: dict[str, str] = {}
    for logged in log:
        event = logged.event
        item: dict[str, Any] = {"date": event.date.isoformat(), "id": event.id}
        if isinstance(event, Enrolment):
            continue
        if isinstance(event, Proposal):
            replay_ids[event.decision_id] = f"D{len(replay_ids) + 1}"
            review = {"date": item["date"], "review": "yes"}
            if event.trigger is None and (not events or events[-1] != review):
                events.append(review)
            continue
        if isinstance(event, LabPanel):
            assert all(v.entered for v in event.results), event
            item["lab"] = " ".join(v.entered for v in event.results)
            for key in ("irae", "symptomatic"):
                if getattr(event, key) is not None:
                    item[key] = _yes_no(getattr(event, key))
        elif isinstance(event, AdverseEvent):
            item.update(ae=event.entered_term or event.term, grade=event.grade)
            item["irae"] = _yes_no(event.irae)
            if event.steroid_mg is not None:
                item["steroid_mg"] = event.steroid_mg
        elif isinstance(event, DoseRecord):
            item.update(dose=event.drug, status=event.status)
            item.update({k: getattr(event, k) for k in ("mg", "reason") if getattr(event, k)})
        elif isinstance(event, ResponseAssessment):
            item["response"] = event.category
        elif isinstance(event, Attribution):
            item.update(attribute=event.target, irae=_yes_no(event.irae))
        elif isinstance(event, Verdict):
            if event.status == "withdrawn":
                # the system's own (an attribution answered the referral): no file writes
                # it, and a standing referral changes no treatment state
                continue
            item.update(verdict=replay_ids[event.decision_id], status=event.status)
            if event.reason:
                item["reason"] = event.reason
        else:
            raise AssertionError(f"a {event.kind} entry: write it in the history file")
        events.append(item)
    return {"study_id": enrolled_as.study_id, "plan": plan, "events": events}


def _log(ctx, study_id: str) -> list:
    with ctx.db.transaction(readonly=True) as session:
        patient = find_patient(session, study_id, lock=False)
        return derive.log_entries(patient_events(session, patient.id))


# A decision as the console is given it, for a story that keeps the store's ids: the
# words too (reason, ask) and the questions.
WORDS = ("reason", "ask", "questions")


def _said(decision: dict) -> dict:
    return {**_shape(decision, {}), **{key: decision.get(key) for key in WORDS}}


def test_the_chat_scripts_are_collected():
    names = [name for name, _ in CHAT_STORIES]
    assert len(names) >= 2 and all("test_patient_stories::test_" in n for n in names), names


@pytest.mark.parametrize(("name", "story"), CHAT_STORIES, ids=[s[0] for s in CHAT_STORIES])
def test_a_chat_script_and_the_replay_of_its_log_give_the_same_decisions(
    ctx, service_clock, command_syntax, name, story
):
    script = _ConsoleScript(ctx, service_clock)
    enrolled = script(f"enroll {CHAT_SID} start={DAY1.isoformat()} height=160 weight=55", on=-3)
    assert enrolled.ok, enrolled.reply
    story(script)  # the script as written, its own assertions included

    document = _as_history_file(_log(ctx, CHAT_SID))
    history = read_history(document, VOCABULARY)
    replayed = _replayed(history, VOCABULARY)
    compared = 0
    for step in replayed.steps:
        if isinstance(step.entry, Verdict):
            continue  # a verdict decides nothing
        expected = [_said(d) for d in step.decisions_json()]
        got = [_said(d) for d in script.decided[step.entry.id]]
        assert got == expected, f"{name}: {step.entry.kind} {step.entry.id} of {step.entry.date}"
        compared += len(got)
        for decision in script.decided[step.entry.id]:
            assert command_syntax(decision) == [], decision
    # the story decides things, and proposes some (a test that compares nothing is none)
    assert compared >= 5 and replayed.proposals, name
