"""Each patient's parsed log, kept between writes: parse a history once, not per write.

Reading a patient's log meant loading every row and validating every payload again for
each write (and again for each entry the write appended): the cost of recording one lab
grew with the patient's history. The log is append-only — a correction or a void is a
new row — so what was parsed stays true; only rows added since need reading.

`read_log` asks the database for the patient's newest row id and row count (one indexed
aggregate), and:
- if they are the cached ones, answers from the cache;
- if rows were added since (by this process or another), reads and parses only those,
  provided the counts agree (else it reads the whole log again);
- otherwise reads and parses the whole log.
So any new entry, correction or void, from any process, invalidates what was cached.

Thread-safe: Bolt's listener threads and the scheduler's thread share one context, so the
cache is a dict behind a lock holding immutable values (tuples); each reader gets its own
lists. Only committed rows are stored: `run_patient_write` stores the unit's log after the
transaction committed, and `read_log` runs at the start of a unit, before it appends.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.events import Attribution, Event
from bot.history import LogEntry, effective_history

if TYPE_CHECKING:  # the cache is built with every context, `help`'s too: no SQL at import
    from sqlmodel import Session

    from bot.storage.models import EventRecord

# Patients kept (least recently used first out): a site's active patients, with room.
LIMIT = 1024


@dataclass(frozen=True, slots=True)
class CachedLog:
    """A patient's log as parsed: every row (amendments included) and the effective
    history, valid while the newest row is `last` and the log has `count` rows."""

    last: int
    count: int
    entries: tuple[LogEntry, ...]
    history: tuple[Event, ...]


class HistoryCache:
    def __init__(self, limit: int = LIMIT) -> None:
        self._lock = threading.Lock()
        self._logs: OrderedDict[int, CachedLog] = OrderedDict()
        self._limit = limit

    def get(self, patient_id: int) -> CachedLog | None:
        with self._lock:
            log = self._logs.get(patient_id)
            if log is not None:
                self._logs.move_to_end(patient_id)
            return log

    def put(self, patient_id: int, log: CachedLog) -> None:
        with self._lock:
            known = self._logs.get(patient_id)
            if known is not None and known.last > log.last:
                return  # a newer log is already kept
            self._logs[patient_id] = log
            self._logs.move_to_end(patient_id)
            while len(self._logs) > self._limit:
                self._logs.popitem(last=False)

    def forget(self, patient_id: int) -> None:
        with self._lock:
            self._logs.pop(patient_id, None)


def log_entry(row: EventRecord) -> LogEntry:
    from bot.services.derive import log_entries

    return log_entries([row])[0]


def extended(
    history: Sequence[Event], entries: Sequence[LogEntry], new: Sequence[LogEntry]
) -> list[Event]:
    """The effective history after `new` rows were appended to `entries` (which already
    include them): a plain entry is appended as it is; a correction, a void or an
    attribution (whose target is read through the corrections) recomputes it."""
    if all(
        e.corrects is None and e.voids is None and not isinstance(e.event, Attribution) for e in new
    ):
        return [*history, *(e.event for e in new)]
    return effective_history(entries)


def snapshot(entries: Sequence[LogEntry], history: Sequence[Event]) -> CachedLog | None:
    if not entries:
        return None
    return CachedLog(
        last=max(e.number for e in entries),
        count=len(entries),
        entries=tuple(entries),
        history=tuple(history),
    )


def stamps(session: Session, patient_ids: Sequence[int]) -> dict[int, tuple[int | None, int]]:
    """Each patient's (newest row id, row count) in one aggregate query, for `read_log`'s
    `stamp` when many patients are read at once (the scheduler's review)."""
    from sqlalchemy import func
    from sqlmodel import select

    from bot.storage.models import EventRecord

    if not patient_ids:
        return {}
    found = session.exec(
        select(EventRecord.patient_id, func.max(EventRecord.id), func.count(EventRecord.id))
        .where(EventRecord.patient_id.in_(list(patient_ids)))
        .group_by(EventRecord.patient_id)
    ).all()
    known = {patient_id: (last, count) for patient_id, last, count in found}
    return {patient_id: known.get(patient_id, (None, 0)) for patient_id in patient_ids}


def read_log(
    session: Session,
    patient_id: int,
    cache: HistoryCache | None,
    stamp: tuple[int | None, int] | None = None,
) -> tuple[list[LogEntry], list[Event]]:
    """The patient's log entries and effective history, parsed once per row. `stamp` is
    the patient's (newest row id, row count) when the caller already read it (`stamps`)
    in this transaction."""
    from sqlalchemy import func
    from sqlmodel import select

    from bot.services.derive import log_entries
    from bot.storage.eventlog import patient_events
    from bot.storage.models import EventRecord

    cached = cache.get(patient_id) if cache is not None else None
    if cached is not None:
        last, count = (
            stamp
            or session.exec(
                select(func.max(EventRecord.id), func.count(EventRecord.id)).where(
                    EventRecord.patient_id == patient_id
                )
            ).one()
        )
        if (last, count) == (cached.last, cached.count):
            return list(cached.entries), list(cached.history)
        if last is not None and last > cached.last:
            rows = list(
                session.exec(
                    select(EventRecord)
                    .where(EventRecord.patient_id == patient_id, EventRecord.id > cached.last)
                    .order_by(EventRecord.id)
                )
            )
            if cached.count + len(rows) == count:
                new = log_entries(rows)
                entries = [*cached.entries, *new]
                history = extended(cached.history, entries, new)
                cache.put(patient_id, snapshot(entries, history))
                return entries, history
    entries = log_entries(patient_events(session, patient_id))
    history = effective_history(entries)
    log = snapshot(entries, history)
    if cache is not None and log is not None:
        cache.put(patient_id, log)
    return entries, history
