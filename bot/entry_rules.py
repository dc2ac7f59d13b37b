"""Entry rules in one place: what each kind of entry holds, and how it is read.

`bot.events` says what an entry *is* (the payload the log stores and the core reads). This
module says how a person *writes* one — in a `/trial` command, in a history file for
`trialbot decide` or `trialbot calendar --history`, or as a correction — and checks it:

- `ENTRY_RULES`: per kind, the word it is written with, what its free words are (the
  subject: lab text, a CTCAE term, a drug, a RECIST word, an entry id), its options, which
  are required, which a correction may change, and whether it carries its own clinical
  date. The command handlers take their options from it, the history file its keys and
  forms, corrections their fields, and tests/commands/test_docs.py holds docs/commands.md
  and docs/decide.md to it.
- `build`: written values (text as typed, or values a command parser already read) →
  the `bot.events` entry, checked. The services (`services.entries`, `services.amend`) and
  the history file (`bot.history_file`) all build their entries here, so an entry a file
  replays and the same entry recorded through the service are the same entry.

Pure: the trial's words (`Vocabulary`) are an argument. A refusal is a `UserError` whose
`key` attribute names the written key at fault (the history file places it in the file).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING, Any

from bot.errors import UserError, closest
from bot.events import (
    AdverseEvent,
    Attribution,
    DoseRecord,
    Event,
    LabPanel,
    LabValue,
    ResponseAssessment,
)
from bot.inputs import check_free_text

if TYPE_CHECKING:  # the calendar and grading stacks load when an entry is built, not when
    # the command language is imported (`help` needs neither: start-up, docs/benchmarks.md)
    from bot.calendar import Schedule, SitesFile
    from bot.grading import Ctcae
    from bot.grading.ranges import ReferenceRanges, ReferenceRangesFile

YES = ("yes", "y", "true")
NO = ("no", "n", "false")
UNKNOWN = ("unknown", "null", "none", "?")

DOSE_STATUSES = ("given", "held", "skipped")
# The words a dose's status may be written with (a command says `hold`, a file `held`).
STATUS_WORDS = {
    "given": "given",
    "give": "given",
    "held": "held",
    "hold": "held",
    "skipped": "skipped",
    "skip": "skipped",
}
RECIST = ("CR", "PR", "SD", "PD", "NE")
MAX_DOSE_MG = 2000.0
MAX_STEROID_MG = 2000.0


# --- the declaration ---------------------------------------------------------------------
@dataclass(frozen=True)
class Option:
    """A `key=value` an entry takes besides its subject and date."""

    name: str
    syntax: str  # how usage lines and forms show its value
    meaning: str
    required: bool = False
    correctable: bool = True  # whether `correct E…` may change it
    positional: bool = False  # may also be written as a bare word (a dose's given|held|skipped)
    low: float | None = None  # bounds of a number, in `unit`
    high: float | None = None
    unit: str = ""


@dataclass(frozen=True)
class EntryRule:
    """One kind of entry as a person writes it."""

    kind: str  # the `bot.events` kind
    word: str  # how a history file and `trialbot decide` write it
    subject: str  # the field its free words fill, as refusals name it
    subject_example: str
    words: str  # what the free words are, for refusals
    options: tuple[Option, ...] = ()
    dated: bool = True  # carries its own clinical date (an attribution is dated when made)

    @property
    def option_names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.options)

    @property
    def keys(self) -> tuple[str, ...]:
        """The keys of this entry in a history file besides `date` and `id`."""
        return (self.word, *self.option_names)

    @property
    def command_options(self) -> tuple[str, ...]:
        """The `key=` options of its `/trial` command."""
        return (*(("date",) if self.dated else ()), *self.option_names)

    @property
    def correctable(self) -> tuple[str, ...]:
        """What `correct E…` may change: the date, the subject, the correctable options."""
        return (
            *(("date",) if self.dated else ()),
            *((self.subject,) if self.kind != "attribution" else ()),
            *(o.name for o in self.options if o.correctable),
        )

    def option(self, name: str) -> Option:
        return next(o for o in self.options if o.name == name)

    @property
    def form(self) -> str:
        """The short form `trialbot decide` reads, e.g. `ae pneumonitis grade=2 [irae=…]`."""
        parts = [self.word, self.subject_example]
        for o in self.options:
            text = o.syntax if o.positional else f"{o.name}={o.syntax}"
            parts.append(text if o.required else f"[{text}]")
        return " ".join(parts)


_IRAE = "the investigator's attribution to immunotherapy"
ENTRY_RULES: dict[str, EntryRule] = {
    rule.kind: rule
    for rule in (
        EntryRule(
            kind="lab",
            word="lab",
            subject="lab",
            subject_example="ANC 0.4 PLT 62",
            words="lab values (e.g. ANC 0.6 PLT 80)",
            options=(
                Option("irae", "yes|no", _IRAE + " of its abnormal values"),
                Option("symptomatic", "yes|no", "signs or symptoms, for amylase and lipase"),
            ),
        ),
        EntryRule(
            kind="ae",
            word="ae",
            subject="term",
            subject_example="pneumonitis",
            words="the CTCAE term",
            options=(
                Option("grade", "2", "the CTCAE grade (0: resolved)", required=True),
                Option("irae", "yes|no|unknown", _IRAE),
                Option(
                    "steroid_mg",
                    "20",
                    "prednisone-equivalent mg/day",
                    low=0,
                    high=MAX_STEROID_MG,
                    unit="mg/day prednisone-equivalent",
                ),
            ),
        ),
        EntryRule(
            kind="dose",
            word="dose",
            subject="drug",
            subject_example="<drug>",
            words="the drug and/or given|held|skipped",
            options=(
                Option(
                    "status",
                    "given|held|skipped",
                    "given (default), held or skipped",
                    positional=True,
                ),
                Option("mg", "52", "the amount given", low=0, high=MAX_DOSE_MG, unit="mg"),
                Option("reason", '"…"', "why it was held or skipped", correctable=False),
            ),
        ),
        EntryRule(
            kind="response",
            word="response",
            subject="response",
            subject_example="PD",
            words="a RECIST word (CR, PR, SD, PD, NE)",
        ),
        EntryRule(
            kind="attribution",
            word="attribute",
            subject="event",
            subject_example="E3",
            words="the id of an earlier lab or ae entry",
            options=(Option("irae", "yes|no", "immune-related or not", required=True),),
            dated=False,
        ),
    )
}
BY_WORD: dict[str, EntryRule] = {rule.word: rule for rule in ENTRY_RULES.values()}


# --- the trial's words -------------------------------------------------------------------
@dataclass
class Vocabulary:
    """The trial's words: drugs, sites, reference ranges and (loaded on first use) CTCAE."""

    schedule: Schedule
    sites: SitesFile
    ranges: ReferenceRangesFile
    ctcae_loader: Callable[[], Ctcae]
    site: str | None = None  # whose reference ranges read lab text (None: the default site)

    @classmethod
    def of(cls, rules: Any, site: str | None = None) -> Vocabulary:
        """The words of loaded rules (`services.rules.TrialRules`: schedule, sites, ranges,
        ctcae)."""
        return cls(rules.schedule, rules.sites, rules.ranges, lambda: rules.ctcae, site)

    @cached_property
    def ctcae(self) -> Ctcae:
        return self.ctcae_loader()

    @cached_property
    def treatments(self) -> tuple[str, ...]:
        return tuple(d.id for d in self.schedule.drugs) + tuple(
            c.id for c in self.schedule.radiotherapy
        )

    def for_site(self, site: str | None) -> Vocabulary:
        """The same words, lab text read with `site`'s reference ranges (CTCAE shared)."""
        return Vocabulary(
            schedule=self.schedule,
            sites=self.sites,
            ranges=self.ranges,
            ctcae_loader=lambda: self.ctcae,
            site=site,
        )

    def lab_ranges(self) -> ReferenceRanges:
        # A calendar site without reference ranges of its own reads with the default's.
        site = self.site if self.site in self.ranges.sites else None
        return self.ranges.for_site(site)


# --- reading single values -----------------------------------------------------------------
def _refuse(key: str, message: str, **extra: Any) -> UserError:
    error = UserError(message, field=key, **extra)
    error.key = key  # type: ignore[attr-defined]
    return error


@contextmanager
def under(key: str) -> Iterator[None]:
    """Refusals of a reader of one value (lab text, a term, a grade) belong to `key`."""
    try:
        yield
    except UserError as exc:
        if getattr(exc, "key", None) is None:
            exc.key = key  # type: ignore[attr-defined]
        raise


def read_yes_no(
    value: Any, key: str, *, unknown: bool, unknown_words: Sequence[str] = UNKNOWN
) -> bool | None:
    """yes/no/y/n/true/false, and (when `unknown`) one of `unknown_words` read as None."""
    allowed = "yes, no" + (", unknown" if unknown else "")
    if isinstance(value, bool):
        return value
    if value is None and unknown:
        return None
    if isinstance(value, str):
        word = value.strip().lower()
        if word in YES:
            return True
        if word in NO:
            return False
        if unknown and word in unknown_words:
            return None
    raise _refuse(key, f"{value!r} is not yes or no", allowed=allowed)


def read_float(value: Any, key: str, allowed: str) -> float:
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number):
        raise _refuse(key, f"{value!r} is not a number", allowed=allowed)
    return number


def read_amount(value: Any, key: str, high: float, unit: str, *, zero: bool = False) -> float:
    """A plausible amount: above 0 (or 0 itself when `zero`) and at most `high`."""
    lowest = "0" if zero else "a number above 0"
    allowed = f"{lowest} to {high:g} ({unit})"
    number = read_float(value, key, allowed)
    if not (0 < number <= high or (zero and number == 0)):
        raise _refuse(key, f"{number:g} {unit} is not plausible", allowed=allowed)
    return number


def read_whole(value: Any, key: str, allowed: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise _refuse(key, f"{value!r} is not a whole number", allowed=allowed)


def read_text(value: Any, key: str, allowed: str) -> str:
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise _refuse(key, f"{value!r} is not text", allowed=allowed)


def read_drug(value: Any, key: str, vocabulary: Vocabulary) -> str:
    known = vocabulary.treatments
    name = read_text(value, key, ", ".join(known)).lower()
    if name not in known:
        raise _refuse(
            key,
            f"unknown drug or treatment {name!r}",
            allowed=", ".join(known),
            suggestion=closest(name, known),
        )
    return name


def read_status(value: Any, key: str, allowed: Sequence[str], words: Mapping[str, str]) -> str:
    word = str(value).strip().lower() if value is not None else ""
    if word not in words:
        raise _refuse(
            key,
            f"unknown status {value!r}",
            allowed=", ".join(allowed),
            suggestion=closest(word, allowed),
        )
    return words[word]


def read_recist(value: Any, key: str) -> str:
    word = str(value).strip().upper()
    if word not in RECIST:
        raise _refuse(
            key,
            f"{value!r} is not a RECIST 1.1 response",
            allowed=", ".join(RECIST),
            suggestion=closest(word, RECIST),
        )
    return word


def read_panel(value: Any, key: str, vocabulary: Vocabulary) -> tuple[LabValue, ...]:
    """Lab text as typed off a report (or values already read) → the panel's values."""
    if isinstance(value, tuple | list) and all(isinstance(v, LabValue) for v in value):
        values: Sequence[LabValue] = value
    else:
        text = read_text(value, key, "lab text such as 'ANC 0.4 PLT 62'")
        from bot.grading import parse_panel

        with under(key):
            values = parse_panel(text, vocabulary.lab_ranges())
    if not values:
        raise _refuse(key, "no lab value given", allowed="lab text such as 'ANC 0.4'")
    return tuple(values)


def allowed_grades(term) -> str:
    from bot.grading.terms import allowed_grades as grades

    return grades(term)


def read_target(value: Any, key: str, known: Mapping[str, str]) -> str:
    """An attribution's entry: an earlier lab panel or adverse event of `known` (id → kind)."""
    target = read_text(value, key, "the id of an earlier lab or ae entry, e.g. E3")
    if target not in known and target.upper() in known:
        target = target.upper()
    kind = known.get(target)
    if kind not in ("lab", "ae"):
        candidates = [i for i, k in known.items() if k in ("lab", "ae")]
        why = "is not an earlier entry" if kind is None else f"is a {kind} entry"
        raise _refuse(
            key,
            f"{target} {why}; only a lab panel or an adverse event is attributed",
            allowed=", ".join(candidates) or "none: no lab or ae entry before this one",
            suggestion=closest(target, candidates),
        )
    return target


# --- one entry -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Built:
    """An entry read from what was written, and what reading it found out on the way."""

    event: Event
    facts: dict[str, Any] = field(default_factory=dict)  # ae: how the term was matched


def build(
    kind: str,
    values: Mapping[str, Any],
    *,
    day: date,
    vocabulary: Vocabulary,
    entry_id: str | None = None,
    known: Mapping[str, str] | None = None,
) -> Built:
    """The `kind` entry (a `bot.events` kind or its written word) of `values`, checked.

    `values` holds the entry's subject under the rule's `subject` or `word` (`lab`,
    `term`/`ae`, `drug`/`dose`, `response`, `event`/`attribute`) and its options by name;
    a missing option is absent or None. `known` (entry id → kind) checks an attribution's
    target; None leaves that to the caller (the service looks the entry up in the log).
    """
    rule = ENTRY_RULES.get(kind) or BY_WORD[kind]
    extra = [
        k
        for k, v in values.items()
        if k not in (rule.subject, rule.word, *rule.option_names) and v is not None
    ]
    if extra:
        allowed = (rule.word, *rule.option_names)
        raise _refuse(
            extra[0],
            f"a {rule.word} entry has no field {extra[0]!r}",
            allowed=", ".join(allowed),
            suggestion=closest(extra[0], allowed),
        )
    subject = values.get(rule.subject, values.get(rule.word))
    get = values.get
    if rule.kind == "lab":
        return Built(
            LabPanel(
                id=entry_id,
                date=day,
                results=read_panel(subject, rule.subject, vocabulary),
                irae=read_yes_no(get("irae"), "irae", unknown=True),
                symptomatic=read_yes_no(get("symptomatic"), "symptomatic", unknown=True),
            )
        )
    if rule.kind == "ae":
        return _ae(rule, subject, values, day, vocabulary, entry_id)
    if rule.kind == "dose":
        drug = read_drug(subject, rule.subject, vocabulary)
        status = read_status(get("status") or "given", "status", DOSE_STATUSES, STATUS_WORDS)
        mg, reason = get("mg"), get("reason")
        if mg is not None and status != "given":
            raise _refuse("mg", f"mg is the amount given; this dose was {status}")
        return Built(
            DoseRecord(
                id=entry_id,
                date=day,
                drug=drug,
                status=status,
                mg=None if mg is None else read_amount(mg, "mg", MAX_DOSE_MG, "mg"),
                reason=None
                if reason is None
                else check_free_text(read_text(reason, "reason", "text"), "reason"),
            )
        )
    if rule.kind == "response":
        category = read_recist(subject, rule.subject)
        return Built(ResponseAssessment(id=entry_id, date=day, category=category))
    # attribution
    if known is not None:
        target = read_target(subject, rule.subject, known)
    else:
        target = read_text(subject, rule.subject, "the id of a lab or ae entry, e.g. E3")
    if get("irae") is None:
        raise _refuse("irae", f"the attribution of {target} is missing", allowed="irae: yes | no")
    irae = read_yes_no(get("irae"), "irae", unknown=False)
    return Built(Attribution(id=entry_id, date=day, target=target, irae=irae))


def _ae(rule, subject, values, day, vocabulary, entry_id) -> Built:
    from bot.grading import grade_text, match_term

    entered = read_text(subject, rule.subject, "a CTCAE v5.0 term or a common synonym")
    entered = check_free_text(entered, rule.subject)
    with under(rule.subject):
        match = match_term(vocabulary.ctcae, entered)
    if values.get("grade") is None:
        raise _refuse(
            "grade",
            f"no grade given for {match.term.term}",
            allowed=allowed_grades(match.term),
        )
    grade = read_whole(values["grade"], "grade", allowed_grades(match.term))
    with under("grade"):
        meaning = grade_text(match.term, grade)
    steroid = values.get("steroid_mg")
    event = AdverseEvent(
        id=entry_id,
        date=day,
        term=match.term.term,
        grade=grade,
        meddra_code=match.term.meddra_code,
        entered_term=entered,
        irae=read_yes_no(values.get("irae"), "irae", unknown=True),
        steroid_mg=None
        if steroid is None
        else read_amount(steroid, "steroid_mg", MAX_STEROID_MG, "mg/day prednisone", zero=True),
    )
    facts = {
        "term": match.term.term,
        "grade": grade,
        "grade_text": meaning,
        "matched": match.how,
        "note": match.note,
        "ctcae": vocabulary.ctcae.version,
    }
    return Built(event, facts)


def written(event: Event) -> dict[str, Any]:
    """An entry's values as `build` reads them: what a correction starts from."""
    if isinstance(event, LabPanel):
        return {"lab": event.results, "irae": event.irae, "symptomatic": event.symptomatic}
    if isinstance(event, AdverseEvent):
        return {
            "term": event.term,
            "grade": event.grade,
            "irae": event.irae,
            "steroid_mg": event.steroid_mg,
        }
    if isinstance(event, DoseRecord):
        return {"drug": event.drug, "status": event.status, "mg": event.mg, "reason": event.reason}
    if isinstance(event, ResponseAssessment):
        return {"response": event.category}
    if isinstance(event, Attribution):
        return {"event": event.target, "irae": event.irae}
    raise UserError(f"a {event.kind} entry is not written by hand", field="event")
