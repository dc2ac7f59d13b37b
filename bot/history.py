"""The effective history: a patient's log with its amendments applied.

The log keeps every entry as written. A correction replaces the content of the entry it
corrects (the corrected entry keeps its original id, so "E45" means the same clinical fact
before and after the correction); a void withdraws it. Nothing is deleted: this function
only decides what the pure core reads.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.events import Attribution, Event


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One row of the log as the pure core needs it."""

    number: int  # the row id (45 for "E45"), also the recording order
    event: Event
    corrects: int | None = None
    voids: int | None = None


def label(number: int) -> str:
    return f"E{number}"


def root_of(entries: Iterable[LogEntry]) -> dict[int, int]:
    """Each entry's original: a correction of a correction leads back to the first entry."""
    roots: dict[int, int] = {}
    for entry in sorted(entries, key=lambda e: e.number):
        amended = entry.corrects if entry.corrects is not None else entry.voids
        roots[entry.number] = roots.get(amended, amended) if amended is not None else entry.number
    return roots


def effective_history(entries: Iterable[LogEntry]) -> list[Event]:
    """The events in force, each under its original id, in recording order."""
    ordered = sorted(entries, key=lambda e: e.number)
    roots = root_of(ordered)
    current: dict[int, Event] = {}
    voided: set[int] = set()
    for entry in ordered:
        root = roots[entry.number]
        if entry.voids is not None:
            voided.add(root)
        elif entry.corrects is not None:
            current[root] = entry.event
        else:
            current[entry.number] = entry.event
    by_label = {label(n): label(r) for n, r in roots.items()}
    out: list[Event] = []
    for root, event in sorted(current.items()):
        if root in voided:
            continue
        update: dict = {"id": label(root), "seq": root}
        if isinstance(event, Attribution):
            update["target"] = by_label.get(event.target, event.target)
        out.append(event.model_copy(update=update))
    return out
