"""Each patient's calendar and treatment state, kept while the history they came from is
the same: build a calendar once per history, not once per question.

A write asked the calendar engine twice (each drug's next dose before the entry, then the
rows to store after it), and the next write and the scheduler's daily review asked again
for the same history: each build reads the whole history. Both answers are pure
functions of their inputs, so they are kept keyed by those inputs:

- the history by identity — the very same event objects in the same order. Events are
  frozen, and the parsed log (`bot.services.histories`) hands out the same objects for
  the same rows, so an unchanged history is recognised without comparing content; any new
  entry, correction or void gives a different sequence (and a miss);
- the plan, the treatment state and the site calendar by equality, the schedule by
  identity (one per process).

Nothing is ever stale: a key that matches means the inputs are the same, so the answer is
the same; a miss builds afresh. Only calendars built without "today" are kept, and the
caller must not change what it gets (the services only read it). A few entries are kept
per patient (the next-dose calendar with open holds lifted, the stored one), and a
bounded number of patients.

Thread-safe: one memo is shared by every thread of the process; a lock guards the dict,
and a build runs outside it (two threads may build the same calendar; either answer is
the same).
"""

from __future__ import annotations

import operator
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from bot.calendar import Calendar
from bot.decisions import fold_treatment
from bot.events import Event
from bot.treatment import TreatmentState

PATIENTS = 1024  # patients kept, least recently used first out
PER_PATIENT = 4  # calendars kept per patient (lifted holds, stored, a day's review …)


def _same(history: Sequence[Event], kept: tuple[Event, ...]) -> bool:
    return len(history) == len(kept) and all(map(operator.is_, history, kept))


class _Patient:
    __slots__ = ("calendars", "derived")

    def __init__(self) -> None:
        # (history, inputs kept by identity, inputs kept by equality, answer), newest last
        self.calendars: list[tuple[tuple[Event, ...], tuple, tuple, Calendar]] = []
        # (history, what was computed, its value): treatment states, baselines
        self.derived: list[tuple[tuple[Event, ...], Any, Any]] = []


class CalendarMemo:
    def __init__(self, patients: int = PATIENTS) -> None:
        self._lock = threading.Lock()
        self._patients: OrderedDict[Any, _Patient] = OrderedDict()
        self._limit = patients

    def _slot(self, patient: Any) -> _Patient:
        kept = self._patients.get(patient)
        if kept is None:
            kept = self._patients[patient] = _Patient()
            while len(self._patients) > self._limit:
                self._patients.popitem(last=False)
        else:
            self._patients.move_to_end(patient)
        return kept

    def treatment(self, patient: Any, history: Sequence[Event]) -> TreatmentState:
        """`fold_treatment(history)`, folded once per history. A copy of the mapping (its
        courses are frozen), so a caller may add to it."""
        return dict(self.derived(patient, history, "treatment", fold_treatment))

    def derived(
        self, patient: Any, history: Sequence[Event], what: Any, compute: Callable[[Any], Any]
    ) -> Any:
        """`compute(history)` (`what` names it: equal names, the same computation), kept
        while `history` is the same objects. Read-only for the caller."""
        with self._lock:
            for kept, name, value in self._slot(patient).derived:
                if name == what and _same(history, kept):
                    return value
        frozen = tuple(history)
        value = compute(frozen)
        with self._lock:
            derived = self._slot(patient).derived
            derived.append((frozen, what, value))
            del derived[: -2 * PER_PATIENT]
        return value

    def calendar(
        self,
        patient: Any,
        history: Sequence[Event],
        *,
        objects: tuple,
        values: tuple,
        build: Callable[[Sequence[Event]], Calendar],
    ) -> Calendar:
        """`build(history)`, kept while `history` and `objects` (the schedule, the site
        calendar) are the same objects and `values` (the plan, the treatment) are equal.
        Read-only for the caller."""
        with self._lock:
            for kept, same, equal, calendar in self._slot(patient).calendars:
                if (
                    all(map(operator.is_, same, objects))
                    and equal == values
                    and _same(history, kept)
                ):
                    return calendar
        frozen = tuple(history)
        calendar = build(frozen)
        with self._lock:
            calendars = self._slot(patient).calendars
            calendars.append((frozen, objects, values, calendar))
            del calendars[:-PER_PATIENT]
        return calendar
