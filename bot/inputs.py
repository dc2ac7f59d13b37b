"""What any typed text must be before trialbot reads it: the limits, the characters, and
how identifiers and numbers are normalised. Pure functions; every refusal is a
`UserError` naming the field and what is allowed.

- **Size first.** A command is at most `COMMAND_LIMIT` characters and a free-text field at
  most `FREE_TEXT_LIMIT`; both are checked before anything is parsed, so a pasted
  megabyte is refused at once (Slack's own guide: 4,000 characters for a message's text).
- **No invisible or broken characters.** Control characters (other than tab and line
  breaks), format characters (zero-width and bidirectional controls, which can hide or
  reorder what is shown), lone surrogates and NUL are refused wherever they appear.
- **Full-width forms read as ASCII.** Chinese and Japanese input methods type `ＡＢ－００７`
  and `０.４`; NFKC maps these width variants (and the ideographic space) to their ASCII
  twins, and trialbot applies exactly that mapping to the whole command.
- **Identifiers and numbers are ASCII.** After that, an id, a number or a date must be
  ASCII: any other character NFKC would rewrite (a superscript ², a circled ①) or leave
  non-ASCII (Arabic-Indic ٣, Devanagari ३) is refused by name rather than guessed at, so a
  look-alike is never read as a different patient, entry or dose.
"""

from __future__ import annotations

import re
import unicodedata

from bot.errors import UserError

# What a study ID is (the only patient identifier trialbot keeps; see
# `bot.storage.models.normalise_study_id`). ASCII only: `\d` would also match
# Arabic-Indic and other scripts' digits.
STUDY_ID_PATTERN = re.compile(r"^[A-Z][A-Z0-9]{1,9}-[0-9]{1,5}$", re.ASCII)
# What a study ID is called where no trial is loaded: each trial's own example is its
# sites.yaml `study_ids.example` (a refusal, a usage line and help show that one).
STUDY_ID_EXAMPLE = "<study ID>"

COMMAND_LIMIT = 4000  # characters in one command (Slack: 4,000 for a message's text)
FREE_TEXT_LIMIT = 500  # a reason, a stage, a site, an adverse-event term
LAB_TEXT_LIMIT = 1000  # a lab panel (or baseline) as typed off the report
WORD_LIMIT = 64  # one identifier or number
KEY_LIMIT = 128  # an idempotency key (request id)
ID_LIMIT = 2_147_483_647  # the largest entry or decision id the databases hold
# Format characters allowed in free text: the zero-width joiner inside emoji sequences.
_ALLOWED_FORMAT = {"\u200d"}
_LINE_BREAKS = {"\t", "\n", "\r"}


def describe(char: str) -> str:
    """`U+00B2 SUPERSCRIPT TWO` — how a refused character is named in a message."""
    code = f"U+{ord(char):04X}"
    name = unicodedata.name(char, "")
    return f"{code} {name}" if name else code


def _forbidden(char: str) -> str | None:
    """Why `char` may not appear in any text, or None."""
    if char in _LINE_BREAKS:
        return None
    category = unicodedata.category(char)
    if category == "Cc":
        return "a control character"
    if category == "Cs":
        return "a lone surrogate (broken text)"
    if category == "Cf" and char not in _ALLOWED_FORMAT:
        return "an invisible formatting character"
    return None


def check_characters(text: str, field: str) -> None:
    """Refuse control, format and surrogate characters in `text` (see module doc)."""
    for char in text:
        why = _forbidden(char)
        if why is not None:
            raise UserError(
                f"contains {why} ({describe(char)})",
                field=field,
                allowed="visible text: letters, digits, spaces and punctuation",
            )


def check_length(text: str, field: str, limit: int) -> None:
    if len(text) > limit:
        raise UserError(
            f"is {len(text)} characters long",
            field=field,
            allowed=f"at most {limit} characters",
        )


def fold_width(text: str) -> str:
    """Full-width and half-width forms (and the ideographic space) as NFKC maps them —
    `ＡＢ－００７` → `AB-007`; every other character as it is."""
    if text.isascii():
        return text
    out = []
    for char in text:
        if unicodedata.decomposition(char).startswith(("<wide>", "<narrow>")):
            out.append(unicodedata.normalize("NFKC", char))
        else:
            out.append(char)
    return "".join(out)


def check_command(text: str) -> str:
    """The command text, checked and width-folded, before it is split into words.

    Refuses a command over `COMMAND_LIMIT` characters (before looking at anything else)
    and any character `check_characters` refuses."""
    check_length(text, "command", COMMAND_LIMIT)
    check_characters(text, "command")
    return fold_width(text)


def ascii_value(text: str, field: str, allowed: str) -> str:
    """`text` (an id, a number, a date) NFKC-normalised for width and checked ASCII.

    Any other character that is not ASCII — a superscript, a circled digit, a digit of
    another script, a letter that only looks Latin — is refused naming it."""
    check_length(text, field, WORD_LIMIT)
    check_characters(text, field)
    folded = fold_width(text)
    for char in folded:
        if not char.isascii():
            raise UserError(
                f"{_shown(text)} contains {describe(char)}",
                field=field,
                allowed=f"{allowed}, typed with the ASCII digits 0-9 and letters A-Z",
            )
    return folded


def check_free_text(text: str, field: str, limit: int = FREE_TEXT_LIMIT) -> str:
    """A free-text value: within its limit, no forbidden characters, no digits of other
    scripts (numbers in free text are read by people and sometimes by the lab parser),
    and nothing that looks like protected health information (`bot.phi`)."""
    check_length(text, field, limit)
    check_characters(text, field)
    folded = fold_width(text)
    for char in folded:
        if not char.isascii() and unicodedata.category(char) == "Nd":
            raise UserError(
                f"contains the digit {describe(char)}",
                field=field,
                allowed="numbers written with the digits 0-9",
            )
    from bot.phi import check_no_phi

    check_no_phi(folded, field)
    return folded


def check_request_key(key: str) -> str:
    """An idempotency key: 1–`KEY_LIMIT` visible ASCII characters."""
    if not key or not key.strip():
        raise UserError("is empty", field="request-id", allowed=f"1–{KEY_LIMIT} characters")
    check_length(key, "request-id", KEY_LIMIT)
    if not all(char.isascii() and char.isprintable() for char in key):
        bad = next(c for c in key if not (c.isascii() and c.isprintable()))
        raise UserError(
            f"contains {describe(bad)}",
            field="request-id",
            allowed=f"1–{KEY_LIMIT} visible ASCII characters (letters, digits, - _ . :)",
        )
    return key


def _shown(text: str, limit: int = 40) -> str:
    """`text` quoted for a message, cut short and with unprintable characters escaped."""
    cut = text if len(text) <= limit else text[:limit] + "…"
    return repr(cut)


def shown(text: str, limit: int = 40) -> str:
    return _shown(text, limit)
