"""A patient's history written as a file: the plan, the entries so far, and a new entry.

`trialbot decide` replays such a file through the decision engine; `trialbot calendar
--history` re-flows a calendar from it. The format (docs/decide.md) is YAML or JSON:

- a mapping `{study_id?, plan?, events: [...], new?}`, or
- a bare list of events (the calendar's original format).

Each event is written either in a friendly form — `{date: 2027-03-08, lab: "ANC 0.4 PLT
62", irae: no}`, `{date: …, ae: pneumonitis, grade: 2, irae: yes, steroid_mg: 40}`,
`{date: …, dose: <drug>, status: given, mg: 52}`, `{date: …, response: PR}`, `{date: …,
attribute: E3, irae: yes}`, `{date: …, verdict: D2, status: overridden, reason: "…"}`,
`{date: …, review: yes}` — or as the raw `bot.events` JSON (`{kind: lab, date: …,
results: […]}`) for scripts. Entry n gets the id En unless it gives its own.

A clinical entry is read by `bot.entry_rules` — the same declaration and the same reading
the `/trial` commands and the services use — so a file replays the entries the service
would record. This module only adds what a file has besides: the plan, dates, ids, order,
verdicts and reviews (which a replay derives or checks), and the raw form.

The same words read the short command form `trialbot decide` takes for a new event
(`lab ANC 0.4 PLT 62 irae=no`, `ae pneumonitis grade=2`, …): `read_event_text`.

Everything here but `load_document` is pure: data in, events out. Every refusal is a
`UserError` naming the entry (its number and date) and the field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot.calendar import PatientPlan, SiteCalendar, build_calendar
from bot.calendar.dates import parse_iso_date
from bot.decisions.engine import Review
from bot.entry_rules import (
    BY_WORD,
    ENTRY_RULES,
    Vocabulary,
    build,
    read_drug,
    read_float,
    read_status,
    read_target,
    read_text,
    read_whole,
    read_yes_no,
)
from bot.errors import UserError, closest
from bot.events import (
    EVENT_ADAPTER,
    AdverseEvent,
    Attribution,
    DoseRecord,
    Enrolment,
    Event,
    LabPanel,
    LabValue,
    Verdict,
)
from bot.grading import grade_text, parse_panel

__all__ = ["HistoryFile", "Vocabulary", "load_history", "read_event_text", "read_history"]

Entry = Event | Review
"""What a history file holds: an event, or a review (the daily time-based check)."""


# The study ID of a what-if patient whose file names none (study IDs only, never a name).
DEFAULT_STUDY_ID = "WHATIF-0"

# The friendly kinds, each with the keys it takes besides `date` and `id`: the clinical
# entries as bot.entry_rules declares them, and the two entries only a replay has.
FRIENDLY_KEYS: dict[str, tuple[str, ...]] = {
    **{rule.word: rule.keys for rule in ENTRY_RULES.values()},
    "verdict": ("verdict", "status", "reason"),
    "review": ("review",),
}
RAW_KINDS = ("lab", "ae", "dose", "response", "attribution", "verdict")
# Kinds the store writes that a replayed file must not: replay derives the proposals, and
# the plan is written under `plan:`.
DERIVED_KINDS = ("proposal", "enrolment")
PLAN_KEYS = (
    "start",
    "day1",
    "fractions",
    "boost",
    "bsa",
    "height",
    "weight",
    "age",
    "site",
    "baseline",
    "counts",
)
DOCUMENT_KEYS = ("study_id", "plan", "events", "new")
VERDICT_STATUSES = ("confirmed", "overridden")

_DECISION_ID = re.compile(r"^D[1-9]\d*$")
_OWN_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,31}$")


@dataclass(frozen=True)
class HistoryFile:
    """A history file, read and checked."""

    plan: PatientPlan | None
    study_id: str = DEFAULT_STUDY_ID
    baseline: tuple[LabValue, ...] = ()
    entries: tuple[Entry, ...] = ()
    new: Entry | None = None
    new_dated: bool = False  # whether `new:` gave its own date
    numbers: Mapping[str, int] = field(default_factory=dict)  # entry id -> its number

    @property
    def events(self) -> list[Event]:
        """The entries that are events (reviews are checks, not events)."""
        return [e for e in self.entries if not isinstance(e, Review)]

    @property
    def last_date(self) -> date | None:
        return self.entries[-1].date if self.entries else None

    def enrolment(self) -> Enrolment | None:
        """The plan as the enrolment entry the store would hold (it carries the baseline)."""
        if self.plan is None:
            return None
        first = min([self.plan.day1, *(e.date for e in self.entries)])
        return Enrolment(
            date=first,
            seq=0,
            study_id=self.study_id,
            site=self.plan.site or "",
            day1=self.plan.day1,
            fractions=self.plan.fractions,
            boost=self.plan.boost,
            height_cm=self.plan.height_cm,
            weight_kg=self.plan.weight_kg,
            bsa_m2=self.plan.bsa_m2,
            age=self.plan.age,
            baseline=self.baseline,
        )

    def default_date(self) -> date | None:
        """When a new entry without a date happens: the day after the last entry (day 1
        when there is none)."""
        if self.last_date is not None:
            return self.last_date + timedelta(days=1)
        return self.plan.day1 if self.plan else None

    def known_ids(self) -> dict[str, str]:
        """Entry id -> kind of every entry, for an attribution written after the file."""
        return {e.id: e.kind for e in self.entries if e.id}


# --- small readers -----------------------------------------------------------------------
def _refuse(where: str, key: str, message: str, **extra: Any) -> UserError:
    return UserError(message, field=f"{where}: {key}" if key else where, **extra)


# Field names the readers of single values use that the file calls by the key it is under
# (`ae:` for match_term's "term", `start:` for the plan's "day1", …).
_INNER_NAMES = {"term", "grade", "day1", "bsa_m2", "height_cm", "weight_kg", "site", "study_id"}


def _rewrap(where: str, key: str, error: UserError, *, same: str | None = None) -> UserError:
    """An error from a reader of one value (lab text, term, grade), placed in the file.
    The inner field stays when it says more than the key (the lab token at fault);
    `same` is another name of the key (the declaration's name of an entry's subject)."""
    inner = error.field
    if inner is None or inner in (key, same) or inner in _INNER_NAMES or inner == "history":
        text = str(error)
    else:
        text = f"{inner}: {error}" if not str(error).startswith(inner) else str(error)
    return UserError(
        text,
        field=f"{where}: {key}" if key else where,
        allowed=error.allowed,
        suggestion=error.suggestion,
    )


def _date(value: Any, where: str, key: str = "date") -> date:
    if isinstance(value, datetime):
        raise _refuse(where, key, f"{value.isoformat()} has a time", allowed="a date YYYY-MM-DD")
    if isinstance(value, date):
        return value
    parsed = parse_iso_date(value) if isinstance(value, str) else None
    if parsed is None:
        raise _refuse(where, key, f"{value!r} is not a date", allowed="a date written YYYY-MM-DD")
    return parsed


def _placed(where: str, read: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """A reader of bot.entry_rules, its refusal placed in the file."""
    try:
        return read(*args, **kwargs)
    except UserError as exc:
        raise _rewrap(where, getattr(exc, "key", None) or exc.field or "", exc) from None


def _yes_no(value: Any, where: str, key: str, *, unknown: bool) -> bool | None:
    return _placed(where, read_yes_no, value, key, unknown=unknown)


def _float(value: Any, where: str, key: str, allowed: str) -> float:
    return _placed(where, read_float, value, key, allowed)


def _whole(value: Any, where: str, key: str, allowed: str) -> int:
    return _placed(where, read_whole, value, key, allowed)


def _text(value: Any, where: str, key: str, allowed: str) -> str:
    return _placed(where, read_text, value, key, allowed)


def _own_id(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _OWN_ID.match(value.strip()):
        raise _refuse(
            where,
            "id",
            f"{value!r} is not an entry id",
            allowed="a letter, then up to 31 letters, digits, '_', '.' or '-' (e.g. E12)",
        )
    text = value.strip()
    if _DECISION_ID.match(text):
        raise _refuse(
            where,
            "id",
            f"{text} looks like a decision id; D1, D2, … are given to the proposals replay makes",
            allowed="another id, e.g. E12",
        )
    return text


# --- one entry -----------------------------------------------------------------------------
def _kind_of(item: Mapping[str, Any], where: str) -> str:
    given = [k for k in (*FRIENDLY_KEYS, "kind") if k in item]
    allowed = ", ".join(FRIENDLY_KEYS) + " (or kind: for a raw bot.events entry)"
    if not given:
        others = [str(k) for k in item if k not in ("date", "id")]
        hint = closest(others[0], FRIENDLY_KEYS) if others else None
        what = f"{others[0]!r} is not a kind of entry" if others else "nothing happened"
        raise _refuse(where, "", what, allowed=allowed, suggestion=hint)
    if len(given) > 1:
        raise _refuse(
            where, "", f"one entry, one thing: it has {', '.join(given)}", allowed=allowed
        )
    return given[0]


def read_entry(
    item: Any,
    *,
    where: str,
    number: int | None,
    vocabulary: Vocabulary,
    known: Mapping[str, str],
    default_date: date | None = None,
    replayable: bool = True,
) -> Entry:
    """One entry of a history file (friendly or raw), checked.

    `where` names it in refusals ("entry 3"); `number` gives its default id E<number>
    (None: no id unless the entry gives one); `known` maps the ids of the entries before
    it to their kinds (an attribution must name an earlier lab or ae entry);
    `default_date` dates an entry written without one.
    """
    if not isinstance(item, Mapping):
        raise _refuse(
            where,
            "",
            f"{item!r} is not an entry",
            allowed="a mapping such as {date: 2027-03-08, lab: 'ANC 0.4'}",
        )
    if "date" in item:
        day = _date(item["date"], where)
    elif default_date is not None:
        day = default_date
    else:
        raise _refuse(where, "date", "the entry has no date", allowed="date: YYYY-MM-DD")
    where = f"{where} ({day.isoformat()})"
    entry_id = _own_id(item["id"], where) if item.get("id") is not None else None
    if entry_id is None and number is not None:
        entry_id = f"E{number}"
    kind = _kind_of(item, where)
    if kind == "kind":
        return _raw(item, where, day, entry_id, vocabulary, known, replayable)
    allowed_keys = ("date", "id", *FRIENDLY_KEYS[kind])
    unknown = [k for k in item if k not in allowed_keys]
    if unknown:
        raise _refuse(
            where,
            str(unknown[0]),
            f"a {kind} entry has no field {unknown[0]!r}",
            allowed=", ".join(allowed_keys),
            suggestion=closest(str(unknown[0]), allowed_keys),
        )
    if kind in _REPLAY_ONLY:
        return _REPLAY_ONLY[kind](item, where, day, entry_id)
    rule = BY_WORD[kind]
    values = {k: v for k, v in item.items() if k not in ("date", "id")}
    try:
        return build(
            rule.kind, values, day=day, vocabulary=vocabulary, entry_id=entry_id, known=known
        ).event
    except UserError as exc:
        key = getattr(exc, "key", None) or exc.field or ""
        shown, same = (rule.word, key) if key == rule.subject else (key, None)
        raise _rewrap(where, shown, exc, same=same) from None


def _verdict(item, where, day, entry_id) -> Verdict:
    decision = _text(item["verdict"], where, "verdict", "a decision id such as D2").upper()
    if not _DECISION_ID.match(decision):
        raise _refuse(
            where, "verdict", f"{decision!r} is not a decision id", allowed="D1, D2, … (D<number>)"
        )
    if "status" not in item:
        raise _refuse(
            where, "status", f"say what became of {decision}", allowed=", ".join(VERDICT_STATUSES)
        )
    statuses = {s: s for s in VERDICT_STATUSES}
    status = _placed(where, read_status, item["status"], "status", VERDICT_STATUSES, statuses)
    reason = item.get("reason")
    reason = None if reason is None else _text(reason, where, "reason", "text")
    if status == "overridden" and not reason:
        raise _refuse(
            where,
            "reason",
            "an override needs a reason",
            allowed='reason: "why the protocol action is not taken"',
        )
    return Verdict(id=entry_id, date=day, decision_id=decision, status=status, reason=reason)


def _review(item, where, day, entry_id) -> Review:
    if _yes_no(item["review"], where, "review", unknown=False) is not True:
        raise _refuse(where, "review", "review: no is not an entry", allowed="review: yes")
    return Review(date=day, id=entry_id)


_REPLAY_ONLY = {"verdict": _verdict, "review": _review}


def _raw(item, where, day, entry_id, vocabulary, known, replayable) -> Event:
    kind = item.get("kind")
    allowed = RAW_KINDS if replayable else (*RAW_KINDS, *DERIVED_KINDS)
    if kind not in allowed:
        why = (
            "is written by the store, not in a replayed history: replay derives the "
            "proposals, and the plan goes under plan:"
            if kind in DERIVED_KINDS
            else "is not an event kind"
        )
        raise _refuse(where, "kind", f"{kind!r} {why}", allowed=", ".join(allowed))
    data = {**item, "date": day.isoformat(), "id": entry_id}
    data.pop("seq", None)  # the file's order is the recording order
    try:
        event = EVENT_ADAPTER.validate_python(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = ".".join(str(p) for p in error["loc"][1:]) or "kind"
        raise _refuse(where, loc, error["msg"].removeprefix("Value error, ")) from None
    if isinstance(event, LabPanel):
        _check_raw_results(event, where)
    elif isinstance(event, DoseRecord):
        _placed(where, read_drug, event.drug, "drug", vocabulary)
    elif isinstance(event, AdverseEvent):
        term = vocabulary.ctcae.term(event.term)
        if term is None or term.term != event.term:
            names = [t.term for t in vocabulary.ctcae.terms]
            raise _refuse(
                where,
                "term",
                f"{event.term!r} is not a CTCAE v{vocabulary.ctcae.version} term as the term "
                "list spells it",
                suggestion=term.term if term else closest(event.term, names),
            )
        try:
            grade_text(term, event.grade)
        except UserError as exc:
            raise _rewrap(where, "grade", exc) from None
    elif isinstance(event, Attribution):
        _placed(where, read_target, event.target, "target", known)
    elif isinstance(event, Verdict) and event.status not in VERDICT_STATUSES and replayable:
        raise _refuse(
            where,
            "status",
            f"{event.status!r} is written by the system only",
            allowed=", ".join(VERDICT_STATUSES),
        )
    return event


def _check_raw_results(panel: LabPanel, where: str) -> None:
    from bot.grading.analytes import ANALYTES

    for index, value in enumerate(panel.results):
        analyte = ANALYTES.get(value.analyte)
        key = f"results.{index}"
        if analyte is None:
            raise _refuse(
                where,
                f"{key}.analyte",
                f"unknown analyte code {value.analyte!r}",
                allowed=", ".join(ANALYTES),
                suggestion=closest(value.analyte, ANALYTES),
            )
        if value.unit != analyte.canonical_unit:
            raise _refuse(
                where,
                f"{key}.unit",
                f"a raw {value.analyte} value is in {analyte.canonical_unit}, not {value.unit!r} "
                "(or write the lab text: lab: '…')",
                allowed=analyte.canonical_unit,
            )


# --- the command-line form of one entry -------------------------------------------------
EVENT_FORMS = {**{rule.word: rule.form for rule in ENTRY_RULES.values()}, "review": "review"}


def read_event_text(
    text: str,
    *,
    day: date,
    entry_id: str | None,
    vocabulary: Vocabulary,
    known: Mapping[str, str],
) -> Entry:
    """A new entry typed the short way (`lab ANC 0.4 PLT 62 irae=no`), dated `day`."""
    from bot.commands.tokens import split_command

    try:
        tokens = split_command(text)
    except UserError as exc:
        raise _rewrap("event", "", exc) from None
    allowed_forms = " | ".join(EVENT_FORMS.values())
    if not tokens.words:
        raise UserError("no event given", field="event", allowed=allowed_forms)
    kind = tokens.words[0].lower()
    rest = tokens.words[1:]
    if kind not in EVENT_FORMS:
        raise UserError(
            f"unknown event {tokens.words[0]!r}",
            field="event",
            allowed=", ".join(EVENT_FORMS),
            suggestion=closest(kind, EVENT_FORMS),
        )
    options_allowed = BY_WORD[kind].option_names if kind in BY_WORD else ()
    for key in tokens.options:
        if key not in options_allowed:
            raise UserError(
                f"{kind} takes no option {key!r}",
                field="event",
                allowed=EVENT_FORMS[kind],
                suggestion=closest(key, options_allowed),
            )
    item: dict[str, Any] = {"date": day, **tokens.options}
    if entry_id is not None:
        item["id"] = entry_id
    if kind == "review":
        if rest:
            raise UserError(f"review takes nothing more, got {' '.join(rest)!r}", field="event")
        item["review"] = True
    elif kind == "dose":
        if not rest:
            raise UserError("say which drug", field="event", allowed=EVENT_FORMS["dose"])
        if len(rest) > 2:
            raise UserError(
                f"dose takes a drug and a status, got {' '.join(rest)!r}",
                field="event",
                allowed=EVENT_FORMS["dose"],
            )
        item["dose"] = rest[0]
        if len(rest) == 2:
            if "status" in item:
                raise UserError("the status is given twice", field="event: status")
            item["status"] = rest[1]
    elif kind in ("response", "attribute"):
        if len(rest) != 1:
            raise UserError(
                f"{kind} takes one word, got {len(rest)}", field="event", allowed=EVENT_FORMS[kind]
            )
        item[kind] = rest[0]
    else:
        if not rest:
            what = "lab values" if kind == "lab" else "the adverse event term"
            raise UserError(f"no {what} given", field="event", allowed=EVENT_FORMS[kind])
        item[kind] = " ".join(rest)
    return read_entry(
        item,
        where="event",
        number=None,
        vocabulary=vocabulary,
        known=known,
        default_date=day,
    )


# --- the whole file -----------------------------------------------------------------------
class _Loader(yaml.SafeLoader):
    """YAML without implicit timestamps: a date stays the text written, so that a wrong one
    (2027-13-01) is refused by name, and no date comes with a time."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_document(path: Path) -> Any:
    """The file's data (JSON for `.json`, else YAML, which also reads JSON)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}", field="history") from None
    except UnicodeDecodeError:
        raise UserError(f"{path} is not UTF-8 text", field="history") from None
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserError(
                f"{path} is not JSON ({exc.msg}, line {exc.lineno})", field="history"
            ) from None
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "cannot be parsed"
        raise UserError(f"{path} is not YAML ({problem}{line})", field="history") from None


def read_plan(data: Any, vocabulary: Vocabulary) -> tuple[PatientPlan, tuple[LabValue, ...]]:
    """`plan:` → the patient's plan (checked against the schedule and the site calendar)
    and the baseline labs."""
    where = "plan"
    if not isinstance(data, Mapping):
        raise _refuse(where, "", f"{data!r} is not a mapping", allowed=", ".join(PLAN_KEYS))
    unknown = [k for k in data if k not in PLAN_KEYS]
    if unknown:
        raise _refuse(
            where,
            str(unknown[0]),
            f"a plan has no field {unknown[0]!r}",
            allowed=", ".join(PLAN_KEYS),
            suggestion=closest(str(unknown[0]), PLAN_KEYS),
        )
    if "start" in data and "day1" in data:
        raise _refuse(where, "day1", "start and day1 are the same date; give one")
    start_key = "start" if "start" in data else "day1"
    if start_key not in data:
        raise _refuse(where, "start", "the plan has no start", allowed="start: YYYY-MM-DD (day 1)")
    day1 = _date(data[start_key], where, start_key)
    site_id = data.get("site")
    site_id = None if site_id is None else _text(site_id, where, "site", "a site id").lower()
    try:
        site_config = vocabulary.sites.config(site_id)
    except UserError as exc:
        raise _rewrap(where, "site", exc) from None
    values: dict[str, Any] = {"day1": day1, "site": site_config.id}
    if "fractions" in data:
        values["fractions"] = _whole(data["fractions"], where, "fractions", "a whole number")
    else:  # the schedule's own default, as enrolment plans it
        values["fractions"] = vocabulary.schedule.default_fractions()
    if "boost" in data:
        values["boost"] = bool(_yes_no(data["boost"], where, "boost", unknown=False))
        refused = vocabulary.schedule.boost_refusal(values["boost"])
        if refused is not None:
            raise _rewrap(where, "boost", refused)
    sizes = [k for k in ("bsa", "height", "weight") if data.get(k) is not None]
    if "bsa" in sizes and len(sizes) > 1:
        raise _refuse(
            where,
            "bsa",
            "give bsa, or height with weight, not both",
            allowed="bsa | height + weight",
        )
    if sizes in (["height"], ["weight"]):
        missing = "weight" if sizes == ["height"] else "height"
        raise _refuse(where, missing, f"{missing} is missing", allowed="height with weight")
    for key, target in (("bsa", "bsa_m2"), ("height", "height_cm"), ("weight", "weight_kg")):
        if data.get(key) is not None:
            values[target] = _float(data[key], where, key, "a number")
    if data.get("age") is not None:
        values["age"] = _whole(data["age"], where, "age", "a whole number of years")
    counts = data.get("counts") or {}
    if not isinstance(counts, Mapping):
        raise _refuse(where, "counts", f"{counts!r} is not a mapping", allowed="KEY: N")
    values["counts"] = {
        str(k): _whole(v, where, f"counts.{k}", "a whole number") for k, v in counts.items()
    }
    try:
        plan = PatientPlan.build(**values)
        # The calendar refuses a day 1 that is no treatment day and counts out of range.
        build_calendar(vocabulary.schedule, plan, [], SiteCalendar(site_config))
    except UserError as exc:
        key = {"day1": start_key, "bsa_m2": "bsa", "height_cm": "height", "weight_kg": "weight"}
        raise _rewrap(where, key.get(exc.field or "", exc.field or ""), exc) from None
    baseline: tuple[LabValue, ...] = ()
    if data.get("baseline") is not None:
        text = _text(data["baseline"], where, "baseline", "lab text such as 'ALT 60 U/L (7-40)'")
        try:
            baseline = tuple(parse_panel(text, vocabulary.for_site(plan.site).lab_ranges()))
        except UserError as exc:
            raise _rewrap(where, "baseline", exc) from None
    return plan, baseline


def read_history(data: Any, vocabulary: Vocabulary, *, replayable: bool = True) -> HistoryFile:
    """A history file's data → `HistoryFile`, or a `UserError` naming the entry and field.

    `replayable`: the entries will be replayed through the decision engine, so they must
    be in chronological order, and proposals and enrolments (which replay derives from the
    file) may not be written. The calendar reads files without that promise.
    """
    if isinstance(data, list):
        document: Mapping[str, Any] = {"events": data}
    elif isinstance(data, Mapping):
        document = data
        unknown = [k for k in document if k not in DOCUMENT_KEYS]
        if unknown:
            raise _refuse(
                "history",
                str(unknown[0]),
                f"a history file has no section {unknown[0]!r}",
                allowed=", ".join(DOCUMENT_KEYS),
                suggestion=closest(str(unknown[0]), DOCUMENT_KEYS),
            )
    else:
        raise UserError(
            "the file holds neither a list of events nor a mapping",
            field="history",
            allowed="plan:, events:, new: (see docs/decide.md), or a JSON list of events",
        )
    study_id = DEFAULT_STUDY_ID
    if document.get("study_id") is not None:
        from bot.storage.models import normalise_study_id

        try:
            study_id = normalise_study_id(str(document["study_id"]))
        except UserError as exc:
            raise _rewrap("history", "study_id", exc) from None
    plan, baseline = (None, ())
    if document.get("plan") is not None:
        plan, baseline = read_plan(document["plan"], vocabulary)
        vocabulary = vocabulary.for_site(plan.site)
    items = document.get("events")
    if items is None:
        items = []
    if not isinstance(items, list):
        raise _refuse("history", "events", "events is not a list", allowed="a list of entries")
    entries: list[Entry] = []
    known: dict[str, str] = {}
    numbers: dict[str, int] = {}
    previous: date | None = None
    for number, item in enumerate(items, start=1):
        where = f"entry {number}"
        entry = read_entry(
            item,
            where=where,
            number=number,
            vocabulary=vocabulary,
            known=known,
            replayable=replayable,
        )
        placed = f"{where} ({entry.date.isoformat()})"
        if entry.id in numbers:
            raise _refuse(
                placed,
                "id",
                f"{entry.id} is the id of entry {numbers[entry.id]} already",
                allowed="ids unique in the file",
            )
        if replayable and previous is not None and entry.date < previous:
            raise _refuse(
                placed,
                "date",
                f"the entries must be in chronological order; the entry before is dated "
                f"{previous.isoformat()}",
                allowed=f"{previous.isoformat()} or later",
            )
        previous = entry.date if previous is None else max(previous, entry.date)
        entries.append(entry)
        numbers[entry.id] = number
        known[entry.id] = entry.kind
    history = HistoryFile(
        plan=plan,
        study_id=study_id,
        baseline=baseline,
        entries=tuple(entries),
        numbers=numbers,
    )
    if document.get("new") is None:
        return history
    raw_new = document["new"]
    new = read_entry(
        raw_new,
        where="new",
        number=len(entries) + 1,
        vocabulary=vocabulary,
        known=known,
        default_date=history.default_date(),
        replayable=replayable,
    )
    if new.id in numbers:
        raise _refuse(
            f"new ({new.date.isoformat()})",
            "id",
            f"{new.id} is the id of entry {numbers[new.id]} already",
            allowed="an id no entry has",
        )
    dated = isinstance(raw_new, Mapping) and "date" in raw_new
    return HistoryFile(
        plan=plan,
        study_id=study_id,
        baseline=baseline,
        entries=tuple(entries),
        new=new,
        new_dated=dated,
        numbers=numbers,
    )


def load_history(path: Path, vocabulary: Vocabulary, *, replayable: bool = True) -> HistoryFile:
    """Read and check a history file (see `read_history`); a refusal starts with the
    file's name."""
    data = load_document(path)
    try:
        return read_history(data, vocabulary, replayable=replayable)
    except UserError as exc:
        raise _rewrap(path.name, "", exc) from None
