"""The daily digest of a site: pure composition from what the shell read, and its split
into Slack-sized messages.

Readable at 1,000 patients: radiotherapy is counted, not listed (every patient on EBRT has
a fraction every treatment day); infusions are grouped by drug with each patient's mg dose;
labs, imaging and visits are grouped by item; the next 7 days are counts per day; overdue
items, holds and reductions are grouped by item or drug; long lists are cut with "and N
more". Study IDs only.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

KIND_WORDS = {
    "radiotherapy": ("radiotherapy fraction", "radiotherapy fractions"),
    "brachytherapy": ("brachytherapy fraction", "brachytherapy fractions"),
    "infusion": ("infusion", "infusions"),
    "labs": ("lab draw", "lab draws"),
    "assessment": ("visit or imaging", "visits or imaging"),
}
LIST_LIMIT = 40  # patients named in one line before "and N more"
BLOCKS_PER_MESSAGE = 50  # Slack's limit
SECTION_CHARS = 3000  # Slack's limit for one section's text


@dataclass
class DigestInput:
    """What the shell read for one site and day."""

    site: str
    day: date
    timezone: str
    closure: str | None  # why the day is not a treatment day, if it is not
    today_rows: Sequence[Mapping[str, Any]]  # non-radiotherapy events due today (JSON + study_id)
    radiotherapy_today: Mapping[str, int]  # item → patients with a fraction today
    brachytherapy_today: Sequence[str]  # study IDs
    next_days: Sequence[tuple[date, str, int]]  # (date, kind, count), the next 7 days
    overdue_rows: Sequence[Mapping[str, Any]]
    holds: Sequence[Mapping[str, Any]]  # {study_id, drug, action, percent, since, confirmed}
    awaiting: Sequence[
        Mapping[str, Any]
    ]  # open decisions {id, study_id, drug, action, proposed_at}
    alerts: Sequence[Mapping[str, Any]]  # unacknowledged alerts {subject, step, study_id}
    undelivered: Sequence[Mapping[str, Any]]  # {kind, target, status, attempts, error, created_at}
    late: Sequence[Mapping[str, Any]]  # delivered late since the last digest
    on_call: Mapping[str, Any] | None
    long_holds: Sequence[Mapping[str, Any]] = field(default_factory=list)
    # drug → infusions due today, when the shell counted them and passed only the first
    # LIST_LIMIT of each drug in today_rows (None: every row is in today_rows)
    infusion_counts: Mapping[str, int] | None = None
    stale_reminders: int = 0
    # the schedule's names of its radiotherapy (item → name, e.g. "EBRT"): the counts
    # say "3 EBRT fractions" in the trial's words; unnamed, the item id upper-cased
    radiotherapy_names: Mapping[str, str] = field(default_factory=dict)


def _names(ids: Iterable[str], limit: int = LIST_LIMIT) -> dict[str, Any]:
    ordered = list(dict.fromkeys(ids))
    return {"shown": ordered[:limit], "more": max(len(ordered) - limit, 0), "count": len(ordered)}


def _dose_text(row: Mapping[str, Any]) -> str:
    dose = row.get("dose") or {}
    mg = dose.get("mg")
    percent = dose.get("percent", 100)
    text = f"{row['study_id']}"
    if mg is not None:
        text += f" {mg:g} mg" if isinstance(mg, float) else f" {mg} mg"
    if percent not in (None, 100):
        text += f" ({percent}%)"
    if mg is None and dose.get("missing"):  # never a dose without its mg and no word why
        text += f" (no mg: refer, needs {', '.join(dose['missing'])})"
    return text


def compose(data: DigestInput) -> dict[str, Any]:
    """The digest as plain data (what the template shows and `--json` prints)."""
    infusions: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    labs: dict[str, list[str]] = defaultdict(list)
    visits: dict[str, list[str]] = defaultdict(list)
    still_open: list[Mapping[str, Any]] = []
    for row in data.today_rows:
        if row["date"] != data.day.isoformat():
            still_open.append(row)
            continue
        if row["kind"] == "infusion":
            infusions[row["item"]].append(row)
        elif row["kind"] == "labs":
            labs[_item_label(row)].append(row["study_id"])
        else:
            visits[row.get("label") or row["item"]].append(row["study_id"])
    infusion_groups = []
    for drug, rows in sorted(infusions.items()):
        dose = rows[0].get("dose") or {}
        listed = [_dose_text(r) for r in rows[:LIST_LIMIT]]
        count = len(rows) if data.infusion_counts is None else data.infusion_counts[drug]
        infusion_groups.append(
            {
                "drug": drug,
                "amount": dose.get("amount"),
                "unit": dose.get("unit"),
                "count": count,
                "patients": listed,
                "more": max(count - LIST_LIMIT, 0),
            }
        )
    open_groups: dict[str, list[str]] = defaultdict(list)
    for row in still_open:
        open_groups[row.get("label") or row["item"]].append(row["study_id"])
    # the next days count radiotherapy as one kind: named by the trial's (first) course
    names = list(dict.fromkeys(data.radiotherapy_names.values()))
    fraction = f"{names[0]} fraction" if len(names) == 1 else None
    next_days: dict[str, Counter] = defaultdict(Counter)
    for day, kind, count in data.next_days:
        next_days[day.isoformat()][kind] += count
    next_text = {
        day: ", ".join(_counted(kinds[k], k, fraction) for k in KIND_WORDS if kinds.get(k))
        for day, kinds in sorted(next_days.items())
    }
    overdue: dict[str, list[str]] = defaultdict(list)
    for row in data.overdue_rows:
        label = _item_label(row)
        overdue[label].append(f"{row['study_id']} (window closed {row['window'][1]})")
    held: dict[str, list[str]] = defaultdict(list)
    reduced: dict[str, list[str]] = defaultdict(list)
    for hold in data.holds:
        mark = "" if hold.get("confirmed") else " (awaiting confirmation)"
        if hold["action"] == "hold":
            held[hold["drug"]].append(f"{hold['study_id']} since {hold['since']}{mark}")
        else:
            reduced[f"{hold['drug']} at {hold['percent']}%"].append(f"{hold['study_id']}{mark}")
    awaiting = sorted(data.awaiting, key=lambda d: (d["proposed_at"], d["id"]))
    return {
        "site": data.site,
        "date": data.day.isoformat(),
        "timezone": data.timezone,
        "closure": data.closure,
        "on_call": dict(data.on_call) if data.on_call else None,
        "today": {
            "radiotherapy": dict(sorted(data.radiotherapy_today.items())),
            "radiotherapy_text": "; ".join(
                f"{data.radiotherapy_names.get(item, item.upper())} {n} patient{'s' if n != 1 else ''}"
                for item, n in sorted(data.radiotherapy_today.items())
            ),
            "brachytherapy": _names(data.brachytherapy_today),
            "infusions": infusion_groups,
            "labs": {k: _names(v) for k, v in sorted(labs.items())},
            "visits": {k: _names(v) for k, v in sorted(visits.items())},
            "still_open": {k: _names(v) for k, v in sorted(open_groups.items())},
        },
        "next_days": {day: dict(sorted(kinds.items())) for day, kinds in sorted(next_days.items())},
        "next_days_text": next_text,
        "overdue": {k: _names(v) for k, v in sorted(overdue.items())},
        "held": {k: _names(v) for k, v in sorted(held.items())},
        "reduced": {k: _names(v) for k, v in sorted(reduced.items())},
        "long_holds": [dict(h) for h in data.long_holds],
        "awaiting": {
            "count": len(awaiting),
            "shown": [dict(d) for d in awaiting[:LIST_LIMIT]],
            "more": max(len(awaiting) - LIST_LIMIT, 0),
        },
        "alerts": [dict(a) for a in data.alerts],
        "undelivered": [dict(u) for u in data.undelivered],
        "late": [dict(u) for u in data.late],
        "stale_reminders": data.stale_reminders,
        "counts": {
            "infusions": sum(g["count"] for g in infusion_groups),
            "radiotherapy": sum(data.radiotherapy_today.values()),
            "overdue": len(data.overdue_rows),
            "awaiting": len(awaiting),
        },
    }


def _counted(count: int, kind: str, fraction: str | None = None) -> str:
    one, many = KIND_WORDS.get(kind, (kind, kind))
    if kind == "radiotherapy" and fraction:
        one, many = fraction, fraction + "s"
    return f"{count} {one if count == 1 else many}"


def _item_label(row: Mapping[str, Any]) -> str:
    label = str(row.get("label") or row["item"])
    # "Pre-dose labs (dose on 2027-03-08)" → "Pre-dose labs": group across patients.
    return label.split(" (")[0]


def messages(text: str) -> list[dict[str, Any]]:
    """`text` as Slack messages: paragraphs become section blocks (≤ 3,000 characters),
    at most 50 blocks a message; what does not fit goes on in the thread of the first."""
    blocks: list[dict[str, Any]] = []
    for paragraph in (p.strip("\n") for p in text.split("\n\n")):
        if not paragraph.strip():
            continue
        for chunk in _chunks(paragraph, SECTION_CHARS):
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": chunk}})
    out = []
    for start in range(0, max(len(blocks), 1), BLOCKS_PER_MESSAGE):
        part = blocks[start : start + BLOCKS_PER_MESSAGE]
        out.append(
            {
                "text": "\n\n".join(b["text"]["text"] for b in part)[: SECTION_CHARS * 13],
                "blocks": part,
            }
        )
    return out


def _chunks(paragraph: str, limit: int) -> list[str]:
    out: list[str] = []
    current = ""
    for line in paragraph.splitlines():
        while len(line) > limit:  # one enormous line: cut it
            if current:
                out.append(current)
                current = ""
            out.append(line[:limit])
            line = line[limit:]
        if current and len(current) + 1 + len(line) > limit:
            out.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        out.append(current)
    return out
