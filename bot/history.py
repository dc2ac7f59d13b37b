"""The effective history: a patient's log with its amendments applied.

The log keeps every entry as written. A correction replaces the content of the entry it
corrects (the corrected entry keeps its original id, so "E45" means the same clinical fact
before and after the correction); a void withdraws it. Nothing is deleted: this function
only decides what the pure core reads.

The attribution of a lab panel or adverse event is what the log says now: the latest of
its own `irae` (as corrected) and the `Attribution` entries about it, by recording order —
an attribution recorded before a correction that changed the entry's `irae` is no longer
in force.
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
    version: dict[int, int] = {}  # root -> the row number of its version in force
    voided: set[int] = set()
    # root -> row number of the latest correction that changed the entry's own `irae`:
    # that statement is newer than any attribution recorded before it.
    restated: dict[int, int] = {}
    for entry in ordered:
        root = roots[entry.number]
        if entry.voids is not None:
            voided.add(root)
        elif entry.corrects is not None:
            previous = current.get(root)
            if (
                previous is not None
                and not isinstance(entry.event, Attribution)
                and hasattr(entry.event, "irae")
                and getattr(previous, "irae", None) != entry.event.irae
            ):
                restated[root] = entry.number
            current[root] = entry.event
            version[root] = entry.number
        else:
            current[entry.number] = entry.event
            version[entry.number] = entry.number
    by_label = {label(n): label(r) for n, r in roots.items()}
    out: list[Event] = []
    for root, event in sorted(current.items()):
        if root in voided:
            continue
        update: dict = {"id": label(root), "seq": root}
        if isinstance(event, Attribution):
            target = by_label.get(event.target, event.target)
            target_root = int(target[1:]) if target[1:].isdigit() else None
            if target_root is not None and restated.get(target_root, -1) > version[root]:
                continue  # superseded by a later correction of the entry's attribution
            update["target"] = target
        out.append(event.model_copy(update=update))
    return out
