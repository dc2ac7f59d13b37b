"""The entry forms: `/trial lab`, `/trial ae` and `/trial dose` with nothing after them
(and the buttons of App Home) open a modal.

The lab form has one field per analyte CTCAE grades (the analytes of the lab criteria in
`rules/ctcae/`, in the grading's order, each labelled with its default unit; another unit
or a report range may be typed after the number), and a field for anything else as typed.
Each filled field is read by the same parser as `/trial lab` before anything is recorded,
and a field that does not read is refused on that field.

A submission is turned back into the command a person would type (`lab <study ID>
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

from bot.errors import UserError
from bot.grading.analytes import ANALYTES, Analyte
from bot.grading.parsing import parse_panel
from bot.services.context import ServiceContext
from bot.storage.models import Patient

LAB_CALLBACK = "form_lab"
AE_CALLBACK = "form_ae"
DOSE_CALLBACK = "form_dose"
PATIENT, DATE, PANEL, TERM, GRADE, IRAE = "patient", "date", "panel", "term", "grade", "irae"
DRUG, STATUS, MG, REASON = "drug", "status", "mg", "reason"
ANALYTE_PREFIX = "lab_"  # an analyte's field: lab_anc, lab_plt, …
DOSE_STATUSES = ("given", "held", "skipped")
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


def _patient(ctx: ServiceContext) -> dict[str, Any]:
    placeholder = _text(ctx.rules.study_id_example)  # the loaded trial's example study ID
    return _input(
        PATIENT,
        "Patient (study ID)",
        {"type": "external_select", "min_query_length": 0, "placeholder": placeholder},
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


def lab_analytes(ctx: ServiceContext) -> list[Analyte]:
    """The analytes the grading knows (those with CTCAE lab criteria), in its order."""
    return [a for code, a in ANALYTES.items() if code in ctx.rules.ctcae.lab]


def analyte_block(analyte: Analyte) -> str:
    return ANALYTE_PREFIX + analyte.code


def _analyte_input(analyte: Analyte) -> dict[str, Any]:
    others = [u for u in analyte.units if u != analyte.canonical_unit]
    hint = f"{analyte.name}; a number in {analyte.canonical_unit}"
    if others:
        hint += f", or with its unit ({', '.join(others)})"
    hint += "; a report's range may follow, e.g. (7-40)"
    return _input(
        analyte_block(analyte),
        f"{analyte.label} ({analyte.canonical_unit})",
        {"type": "plain_text_input"},
        optional=True,
        hint=hint,
    )


def lab_form(ctx: ServiceContext, others_hint: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": LAB_CALLBACK,
        "title": _text("Lab panel"),
        "submit": _text("Record"),
        "close": _text("Cancel"),
        "blocks": [
            _patient(ctx),
            _date(),
            *(_analyte_input(a) for a in lab_analytes(ctx)),
            _input(
                PANEL,
                "Other results, as you would type them",
                {
                    "type": "plain_text_input",
                    "multiline": True,
                    "placeholder": _text("BUN 7.1"),
                },
                optional=True,
                hint=others_hint,
            ),
            _irae(),
        ],
    }


def lab_errors(ctx: ServiceContext, view: dict[str, Any]) -> dict[str, str]:
    """Each filled analyte field read as `/trial lab` reads it; {block: why not}."""
    values = _values(view)
    ranges = ctx.rules.ranges.for_site(None)
    errors: dict[str, str] = {}
    filled = False
    for analyte in lab_analytes(ctx):
        block = analyte_block(analyte)
        typed = str(values.get(block) or "").strip()
        if not typed:
            continue
        filled = True
        try:
            read = parse_panel(f"{analyte.label} {typed}", ranges)
        except UserError as exc:
            errors[block] = _field_message(exc, analyte)
            continue
        if [v.analyte for v in read] != [analyte.code]:
            errors[block] = (
                f"one {analyte.label} result here (the other analytes have fields of their own)"
            )
    if not filled and not str(values.get(PANEL) or "").strip():
        first = lab_analytes(ctx)[0]
        errors[analyte_block(first)] = "Enter at least one result."
    return errors


def _field_message(exc: UserError, analyte: Analyte) -> str:
    message = exc.message
    for prefix in (f"{analyte.label}: ", f"{analyte.label.lower()}: "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    return message


def lab_field_of(ctx: ServiceContext, message: str) -> str | None:
    """The analyte field a refusal of the whole command names (`ALT: …`), if any."""
    head = message.split(":", 1)[0].strip().lower()
    for analyte in lab_analytes(ctx):
        if head == analyte.label.lower() or head in analyte.aliases:
            return analyte_block(analyte)
    return None


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
        _patient(ctx),
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


def lab_command(ctx: ServiceContext, view: dict[str, Any]) -> str:
    values = _values(view)
    parts = ["lab", shlex.quote(values.get(PATIENT, ""))]
    if values.get(DATE):
        parts.append(f"date={values[DATE]}")
    if values.get(IRAE) in ("yes", "no"):
        parts.append(f"irae={values[IRAE]}")
    for analyte in lab_analytes(ctx):
        typed = " ".join(str(values.get(analyte_block(analyte)) or "").split())
        if typed:
            parts.append(f"{analyte.label} {typed}")
    return " ".join(parts) + " " + " ".join(str(values.get(PANEL, "")).split())


def dose_form(ctx: ServiceContext) -> dict[str, Any]:
    from bot.services.entries import treatments_of

    drugs = [_option(d, d) for d in treatments_of(ctx)][:OPTIONS_LIMIT]
    return {
        "type": "modal",
        "callback_id": DOSE_CALLBACK,
        "title": _text("Dose"),
        "submit": _text("Record"),
        "close": _text("Cancel"),
        "blocks": [
            _patient(ctx),
            _date(),
            _input(DRUG, "Drug or treatment", {"type": "static_select", "options": drugs}),
            _input(
                STATUS,
                "Given, held (postponed) or skipped",
                {
                    "type": "static_select",
                    "options": [_option(s, s) for s in DOSE_STATUSES],
                    "initial_option": _option(DOSE_STATUSES[0], DOSE_STATUSES[0]),
                },
            ),
            _input(
                MG,
                "Amount given (mg)",
                {"type": "number_input", "is_decimal_allowed": True, "min_value": "0"},
                optional=True,
            ),
            _input(REASON, "Reason (held or skipped)", {"type": "plain_text_input"}, optional=True),
        ],
    }


def dose_command(view: dict[str, Any]) -> str:
    values = _values(view)
    parts = [
        "dose",
        shlex.quote(values.get(PATIENT, "")),
        shlex.quote(str(values.get(DRUG, ""))),
        shlex.quote(str(values.get(STATUS) or "given")),
    ]
    if values.get(MG):
        parts.append(f"mg={shlex.quote(str(values[MG]))}")
    if values.get(DATE):
        parts.append(f"date={values[DATE]}")
    if str(values.get(REASON) or "").strip():
        parts.append(f"reason={shlex.quote(str(values[REASON]).strip())}")
    return " ".join(parts)


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
DOSE_FIELDS = (PATIENT, DATE, DRUG, STATUS, MG, REASON)
_BY_FIELD = {
    "study_id": PATIENT,
    "date": DATE,
    "term": TERM,
    "grade": GRADE,
    "irae": IRAE,
    "drug": DRUG,
    "status": STATUS,
    "mg": MG,
    "reason": REASON,
}


def error_block(message: str, fields: tuple[str, ...], default: str) -> str:
    """The form field a refusal is about, read from the field name it starts with."""
    head = re.match(r"\s*([a-z_]+)", message.lower())
    block = _BY_FIELD.get(head.group(1)) if head else None
    return block if block in fields else default
