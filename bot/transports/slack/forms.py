"""The entry forms: `/trial lab` and `/trial ae` with nothing after them open a modal.

A submission is turned back into the command a person would type (`lab LACC-007
date=2027-03-05 ANC 0.4 PLT 62`) and goes through the same dispatcher and parser; a
refusal is shown on the field it names (`response_action: errors`), nothing is recorded.

Type-ahead (`external_select`, answered by the options listener): the patient field offers
the enrolled study IDs, the AE term field all CTCAE v5.0 terms (837), matched by any word
of the name. Choosing a term updates the grade choices to show that term's own CTCAE text.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from sqlmodel import select

from bot.services.context import ServiceContext
from bot.storage.models import Patient

LAB_CALLBACK = "form_lab"
AE_CALLBACK = "form_ae"
PATIENT, DATE, PANEL, TERM, GRADE, IRAE = "patient", "date", "panel", "term", "grade", "irae"
OPTIONS_LIMIT = 100  # Slack shows at most 100 options
PLAIN_LIMIT = 75  # an option's text


def _text(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text[:PLAIN_LIMIT] or " "}


def _option(label: str, value: str) -> dict[str, Any]:
    return {"text": _text(label), "value": value[:150]}


def _input(
    block_id: str,
    label: str,
    element: dict[str, Any],
    *,
    optional: bool = False,
    hint: str | None = None,
) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "input",
        "block_id": block_id,
        "label": _text(label),
        "element": {"action_id": block_id, **element},
        "optional": optional,
    }
    if hint:
        block["hint"] = _text(hint[:150])
    return block


def _patient() -> dict[str, Any]:
    return _input(
        PATIENT,
        "Patient (study ID)",
        {"type": "external_select", "min_query_length": 0, "placeholder": _text("LACC-007")},
    )


def _date() -> dict[str, Any]:
    return _input(DATE, "Date (default: today at the site)", {"type": "datepicker"}, optional=True)


def _irae() -> dict[str, Any]:
    return _input(
        IRAE,
        "Immune-related (irAE)?",
        {
            "type": "static_select",
            "options": [_option("yes", "yes"), _option("no", "no"), _option("unknown", "unknown")],
        },
        optional=True,
    )


def lab_form(analytes_hint: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": LAB_CALLBACK,
        "title": _text("Lab panel"),
        "submit": _text("Record"),
        "close": _text("Cancel"),
        "blocks": [
            _patient(),
            _date(),
            _input(
                PANEL,
                "Results, as you would type them",
                {
                    "type": "plain_text_input",
                    "multiline": True,
                    "placeholder": _text("ANC 0.4 PLT 62 Hb 9.1"),
                },
                hint=analytes_hint,
            ),
            _irae(),
        ],
    }


def grade_options(ctx: ServiceContext, term: str | None) -> list[dict[str, Any]]:
    found = ctx.rules.ctcae.term(term) if term else None
    options = [_option("0 — none", "0")]
    for grade in range(1, 6):
        text = (found.grades.get(grade) if found else None) if found else ""
        if found is not None and text is None:
            continue  # the term has no such grade
        options.append(_option(f"{grade} — {text}" if text else str(grade), str(grade)))
    return options


def ae_form(
    ctx: ServiceContext, term: str | None = None, view_state: dict | None = None
) -> dict[str, Any]:
    term_element: dict[str, Any] = {
        "type": "external_select",
        "min_query_length": 2,
        "placeholder": _text("start typing: diarrhea, rash, ALT…"),
    }
    if term:
        term_element["initial_option"] = _option(term, term)
    blocks = [
        _patient(),
        _date(),
        {**_input(TERM, "CTCAE v5.0 term", term_element), "dispatch_action": True},
        _input(
            GRADE,
            f"Grade ({term})" if term else "Grade",
            {"type": "static_select", "options": grade_options(ctx, term)},
        ),
        _irae(),
    ]
    return {
        "type": "modal",
        "callback_id": AE_CALLBACK,
        "title": _text("Adverse event"),
        "submit": _text("Record"),
        "close": _text("Cancel"),
        "private_metadata": term or "",
        "blocks": blocks,
    }


def patient_options(ctx: ServiceContext, typed: str) -> list[dict[str, Any]]:
    wanted = typed.strip().upper()
    with ctx.db.transaction(readonly=True) as session:
        ids = session.exec(select(Patient.study_id).order_by(Patient.study_id)).all()
    hits = [s for s in ids if wanted in s] if wanted else list(ids)
    return [_option(s, s) for s in hits[:OPTIONS_LIMIT]]


def term_options(ctx: ServiceContext, typed: str) -> list[dict[str, Any]]:
    words = typed.lower().split()
    terms = [t.term for t in ctx.rules.ctcae.terms]
    hits = [t for t in terms if all(w in t.lower() for w in words)]
    hits.sort(key=lambda t: (not t.lower().startswith(words[0]) if words else False, t))
    return [_option(t, t) for t in hits[:OPTIONS_LIMIT]]


# --- submissions → the command a person would type -----------------------------------------
def _values(view: dict[str, Any]) -> dict[str, Any]:
    state = (view.get("state") or {}).get("values") or {}
    out: dict[str, Any] = {}
    for block_id, actions in state.items():
        element = actions.get(block_id) or next(iter(actions.values()), {})
        if element.get("selected_option"):
            out[block_id] = element["selected_option"]["value"]
        elif element.get("selected_date"):
            out[block_id] = element["selected_date"]
        elif element.get("value") is not None:
            out[block_id] = element["value"]
    return out


def lab_command(view: dict[str, Any]) -> str:
    values = _values(view)
    parts = ["lab", shlex.quote(values.get(PATIENT, ""))]
    if values.get(DATE):
        parts.append(f"date={values[DATE]}")
    if values.get(IRAE) in ("yes", "no"):
        parts.append(f"irae={values[IRAE]}")
    return " ".join(parts) + " " + " ".join(str(values.get(PANEL, "")).split())


def ae_command(view: dict[str, Any]) -> str:
    values = _values(view)
    parts = [
        "ae",
        shlex.quote(values.get(PATIENT, "")),
        *map(shlex.quote, str(values.get(TERM, "")).split()),
    ]
    if values.get(GRADE):
        parts.append(f"grade={values[GRADE]}")
    if values.get(DATE):
        parts.append(f"date={values[DATE]}")
    if values.get(IRAE):
        parts.append(f"irae={values[IRAE]}")
    return " ".join(parts)


LAB_FIELDS = (PATIENT, DATE, PANEL, IRAE)
AE_FIELDS = (PATIENT, DATE, TERM, GRADE, IRAE)
_BY_FIELD = {"study_id": PATIENT, "date": DATE, "term": TERM, "grade": GRADE, "irae": IRAE}


def error_block(message: str, fields: tuple[str, ...], default: str) -> str:
    """The form field a refusal is about, read from the field name it starts with."""
    head = re.match(r"\s*([a-z_]+)", message.lower())
    block = _BY_FIELD.get(head.group(1)) if head else None
    return block if block in fields else default
