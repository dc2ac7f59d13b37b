"""Split a `/trial` command into free words and `key=value` options.

Options and free words may come in any order; values may be quoted
(`reason="dose given elsewhere"`). Keys are case-insensitive; values keep their case.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from bot.errors import UserError

_OPTION = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)=(.*)$", re.S)


@dataclass
class Tokens:
    words: list[str] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)
    # Words and option keys in the order typed, as ("word", text) or ("option", key): a
    # lab panel mixes both (`ALT=130 U/L (7-40)`) and must be read back in order.
    order: list[tuple[str, str]] = field(default_factory=list)


def split_command(text: str) -> Tokens:
    """Tokens of `text`; a stray quote or a repeated option is refused, not guessed."""
    # Typographic quotes arrive from phones and Slack's auto-formatting.
    normalised = text.replace("“", '"').replace("”", '"').replace("‘", "'").replace("’", "'")
    try:
        parts = shlex.split(normalised, posix=True)
    except ValueError as exc:
        raise UserError(
            f"could not read the command: {exc} — close the quote", field="quotes"
        ) from None
    tokens = Tokens()
    for part in parts:
        match = _OPTION.match(part)
        if match:
            key = match.group(1).lower()
            if key in tokens.options:
                raise UserError(f"'{key}' is given twice", field=key)
            tokens.options[key] = match.group(2).strip()
            tokens.order.append(("option", key))
        else:
            tokens.words.append(part)
            tokens.order.append(("word", part))
    return tokens


def strip_prefix(text: str) -> str:
    """`/trial lab …` and `lab …` mean the same thing."""
    stripped = text.strip()
    if stripped.lower().startswith("/trial"):
        stripped = stripped[len("/trial") :]
    return stripped.strip()
