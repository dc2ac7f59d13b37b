"""How people write what the tables store: a study ID, an entry id ("E45") and a decision
id ("D12") — read and checked without the database layer, so the command language's
parser needs no SQL library (start-up). `bot.storage.models` re-exports them."""

from __future__ import annotations

import re

from bot import inputs
from bot.errors import UserError
from bot.inputs import STUDY_ID_EXAMPLE, STUDY_ID_PATTERN


def normalise_study_id(text: str, example: str | None = None) -> str:
    """A study ID as stored: upper case, checked against `STUDY_ID_PATTERN`.

    The study ID is the only patient identifier trialbot keeps, so the pattern leaves no
    room for a name or a record number typed in its place. `example` is the loaded
    trial's example study ID, for the refusal (default: the configured trial's, read only
    when refusing).
    """
    stripped = text.strip()
    if stripped.isascii() and STUDY_ID_PATTERN.fullmatch(stripped.upper()):
        return stripped.upper()  # what the checks below accept, without reading the rules
    if example is None:
        from bot.settings import configured_study_id_example

        example = configured_study_id_example()
    allowed = "a letter, 1–9 letters or digits, '-', 1–5 digits"
    if example != STUDY_ID_EXAMPLE:
        allowed += f" (e.g. {example})"
    candidate = inputs.ascii_value(text.strip(), "study_id", allowed).upper()
    if not STUDY_ID_PATTERN.fullmatch(candidate):
        raise UserError(
            f"{inputs.shown(text.strip())} is not a study ID",
            field="study_id",
            allowed=allowed,
        )
    return candidate


def event_label(event_id: int) -> str:
    """How people see an event id: 45 → "E45"."""
    return f"E{event_id}"


def decision_label(decision_id: int) -> str:
    """How people see a decision id: 123 → "D123"."""
    return f"D{decision_id}"


def parse_label(text: str, prefix: str, *, field: str) -> int:
    """ "E45" → 45 (with `prefix` "E"); a bare "45" is accepted too. Full-width forms read
    as ASCII; any other non-ASCII digit is refused, and so is a number no database row
    can carry (above 2147483647)."""
    allowed = f"{prefix} followed by a number from 1 to {inputs.ID_LIMIT}, e.g. {prefix}45"
    candidate = inputs.ascii_value(text.strip(), field, allowed).upper().removeprefix(prefix)
    if not re.fullmatch(r"[0-9]+", candidate) or int(candidate) == 0:
        raise UserError(f"{inputs.shown(text.strip())} is not an id", field=field, allowed=allowed)
    if len(candidate) > 10 or int(candidate) > inputs.ID_LIMIT:
        raise UserError(f"{prefix}{candidate} is too large", field=field, allowed=allowed)
    return int(candidate)
