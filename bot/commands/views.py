"""Display data for the reply templates, made from the services' JSON (pure functions).

Templates lay text out; the few things a template cannot do well — units written the way
`trialbot grade` writes them, runs of radiotherapy fractions folded into one line, a
one-line summary of any kind of entry — are computed here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

STATUS_WORDS = {
    "planned": "planned",
    "due": "due",
    "overdue": "OVERDUE",
    "given": "given",
    "done": "done",
    "held": "held",
    "skipped": "skipped",
    "presumed_given": "given (presumed)",
    "presumed_done": "done (presumed)",
}
_NUMBERED = re.compile(r"^(?P<prefix>.*?)(?P<n>\d+)/(?P<total>\d+)(?P<suffix>.*)$")
_FOLDABLE_KINDS = ("radiotherapy", "brachytherapy")


def day(value: str | date) -> str:
    """2027-03-08 → "Mon 08 Mar 2027" (the `day` filter's form)."""
    moment = value if isinstance(value, date) else date.fromisoformat(value)
    return moment.strftime("%a %d %b %Y")


def short_day(value: str | date) -> str:
    moment = value if isinstance(value, date) else date.fromisoformat(value)
    return moment.strftime("%a %d %b")


# --- grades ------------------------------------------------------------------------------
def grade_view(grade: Mapping[str, Any]) -> dict[str, Any]:
    """One graded analyte: what was measured, the term and grade, the criterion applied."""
    from bot.services import labs  # the grading vocabulary: not loaded for `help`

    code = grade["analyte"]
    value = labs.measured(code, grade["value"], grade["unit"], unknown=code.upper())
    against_uln = labs.against_uln(code)
    multiple = f"{labs.plain(grade['x_uln'])}×ULN" if against_uln and grade.get("x_uln") else None
    criterion = grade.get("criterion") or ""
    if grade.get("grade") is None:
        applied = criterion.removeprefix("Not graded: ")
    else:
        applied = criterion.removeprefix(f"Grade {grade['grade']}: ")
    note = grade.get("note")
    if note and note in criterion:
        note = None
    return {
        "value": value,
        "multiple": multiple,
        "term": grade.get("term"),
        "grade": grade.get("grade"),
        "applied": applied,
        "note": note,
        "range_source": grade.get("range_source"),
    }


# --- calendar events ---------------------------------------------------------------------
def dose_text(event: Mapping[str, Any], *, short: bool = False) -> str:
    """The dose of a calendar event in a table's column (`short`: a derived dose without
    mg says only "refer"; the table's note says what is missing)."""
    dose = event.get("dose")
    if not dose:
        return ""
    amount = dose["amount"]
    if dose["basis"] == "per_fraction":
        text = f"{amount:g} Gy"
        return text + (f" (boost {dose['boost']:g} Gy)" if dose.get("boost") else "")
    percent = dose.get("percent", 100)
    at = f" at {percent}%" if percent != 100 else ""
    derivation = dose.get("derivation")
    if derivation:  # mg/kg, AUC, a cap: the basis, and what is missing when no mg
        written = f"AUC {amount:g}" if dose["basis"] == "auc" else f"{amount:g} {dose['unit']}"
        written = written.replace("/m2", "/m²") + at
        if dose.get("mg") is None:
            if short:
                return f"{written}: refer"
            return f"{written} — no mg: refer, needs {', '.join(derivation['missing'])}"
        return f"{written} = {dose['mg']:g} mg"
    if dose["basis"] == "flat" or dose.get("mg") is None:
        return f"{amount:g} {dose['unit'].replace('/m2', '/m²')}{at}"
    return f"{amount:g} {dose['unit'].replace('/m2', '/m²')}{at} = {dose['mg']:g} mg"


def _row(events: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    first, last = events[0], events[-1]
    label = first["label"]
    when = short_day(first["date"])
    if len(events) > 1:
        when = f"{short_day(first['date'])}–{short_day(last['date'])}"
        a, b = _NUMBERED.match(first["label"]), _NUMBERED.match(last["label"])
        if a and b and a["prefix"] == b["prefix"] and a["total"] == b["total"]:
            prefix = a["prefix"].rstrip()
            prefix += "s" if prefix.endswith("fraction") else ""
            label = f"{prefix} {a['n']}–{b['n']}/{a['total']}{a['suffix']}"
        else:
            label = f"{first['label']} … {last['label']}"
    window = ""
    low, high = first.get("window") or (first["date"], first["date"])
    if len(events) == 1 and not (low == high == first["date"]):
        window = f"{short_day(low)} – {short_day(high)}"
    return {
        "when": when,
        "date": first["date"],
        "label": label + ("*" if any(e.get("provisional") for e in events) else ""),
        "dose": dose_text(first),
        "status": STATUS_WORDS.get(first["status"], first["status"]),
        "raw_status": first["status"],
        "window": window,
        "note": first.get("note") or "",
        "count": len(events),
    }


def _fold_key(event: Mapping[str, Any]) -> tuple | None:
    if event["kind"] not in _FOLDABLE_KINDS:
        return None
    return (event["item"], event["status"], dose_text(event), bool(event.get("provisional")))


def rows(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Display rows: consecutive fractions of one course with the same status and dose
    (and no other event between them) fold into one row; everything else is one row."""
    out: list[dict[str, Any]] = []
    run: list[Mapping[str, Any]] = []
    for event in events:
        key = _fold_key(event)
        if run and key is not None and key == _fold_key(run[-1]):
            run.append(event)
            continue
        if run:
            out.append(_row(run))
        run = [event]
    if run:
        out.append(_row(run))
    return out


def widths(table: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Column widths that line a table's rows up (when, label, dose)."""
    return {
        column: max((len(row[column]) for row in table), default=0)
        for column in ("when", "label", "dose")
    }


def monday(value: date) -> date:
    return value - timedelta(days=value.weekday())


def by_week(events: Sequence[Mapping[str, Any]], day1: date) -> list[dict[str, Any]]:
    """Weeks (Monday first) numbered as a schedule of assessments does: week +0 holds day 1."""
    weeks: dict[date, list[Mapping[str, Any]]] = {}
    ordered = sorted(events, key=lambda e: e["date"])
    for event in ordered:
        weeks.setdefault(monday(date.fromisoformat(event["date"])), []).append(event)
    origin = monday(day1)
    out = []
    for start, items in weeks.items():
        table = rows(items)
        out.append(
            {
                "index": (start - origin).days // 7,
                "monday": start.isoformat(),
                "title": f"Week {(start - origin).days // 7:+d} — from {day(start)}",
                "rows": table,
                "widths": widths(table),
            }
        )
    return out


def by_patient(events: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    patients: dict[str, list[Mapping[str, Any]]] = {}
    for event in sorted(events, key=lambda e: (e["study_id"], e["date"])):
        patients.setdefault(event["study_id"], []).append(event)
    out = []
    for study_id, items in patients.items():
        table = rows(items)
        out.append(
            {
                "study_id": study_id,
                "rows": table,
                "widths": widths(table),
                "overdue": sum(1 for e in items if e["status"] == "overdue"),
                "provisional": any(e.get("provisional") for e in items),
            }
        )
    return out


# --- entries -----------------------------------------------------------------------------
def _yes_no(value: Any) -> str:
    return "unknown" if value is None else ("yes" if value else "no")


def entry_text(kind: str, payload: Mapping[str, Any]) -> str:
    """A one-line summary of an entry of any kind, from its stored payload."""
    if kind == "lab":
        from bot.services import labs

        values = []
        for result in payload.get("results", []):
            code = result["analyte"]
            values.append(
                result.get("entered")
                or labs.measured(code, result["value"], result["unit"], unknown=code)
            )
        text = ", ".join(values)
        if payload.get("irae") is not None:
            text += f" · immune-related: {_yes_no(payload['irae'])}"
        return text
    if kind == "ae":
        text = f"{payload.get('term')} grade {payload.get('grade')}"
        text += f" · immune-related: {_yes_no(payload.get('irae'))}"
        if payload.get("steroid_mg") is not None:
            text += f" · steroid {payload['steroid_mg']:g} mg/day"
        return text
    if kind == "dose":
        text = f"{payload.get('drug')} {payload.get('status', 'given')}"
        if payload.get("mg") is not None:
            text += f" {payload['mg']:g} mg"
        if payload.get("reason"):
            text += f" ({payload['reason']})"
        return text
    if kind == "response":
        return f"RECIST {payload.get('category')}"
    if kind == "attribution":
        return f"{payload.get('target')} immune-related: {_yes_no(payload.get('irae'))}"
    if kind == "enrolment":
        text = f"day 1 {day(payload['day1'])} · {payload.get('fractions')} fractions"
        return text + (" · nodal boost" if payload.get("boost") else "")
    return kind


# --- drug state --------------------------------------------------------------------------
def state_view(state: Mapping[str, Any]) -> dict[str, Any]:
    """One drug's state as `queries.patient` gives it, as words."""
    status = state["status"]
    percent = state.get("dose_percent", 100)
    if status == "held":
        words = f"HELD since {day(state['held_since'])}"
    elif status == "discontinued":
        words = f"DISCONTINUED on {day(state['discontinued_on'])}"
    elif status == "active" and percent != 100:
        words = f"active, reduced to {percent}%"
    else:
        words = status
    if status in ("held", "discontinued", "active") and not state.get("confirmed", True):
        words += " (awaiting confirmation)"
    upcoming = state.get("next")
    following = None
    if upcoming:
        dose = dose_text(upcoming)
        following = f"{upcoming['label']} on {day(upcoming['date'])}" + (
            f" ({dose})" if dose else ""
        )
    return {
        "drug": state["drug"],
        "words": words,
        "reason": state.get("reason") or "",
        "next": following,
        "last_given": day(state["last_given"]) if state.get("last_given") else None,
    }
