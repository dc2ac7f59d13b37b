"""JSON values as the database keeps them, and the one canonical text used for hashing.

JSON columns hold plain JSON (objects, arrays, strings, numbers, booleans, null). Callers
may hand in pydantic models, dates or tuples; `to_json_value` turns them into the plain
value the database will give back, so what was hashed or compared before the write is
exactly what a later read returns (PostgreSQL's JSONB re-orders keys and drops nothing
else; SQLite keeps the text).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_jsonable_python


def to_json_value(value: Any) -> Any:
    """`value` as plain JSON data (a pydantic model becomes its JSON-mode dump)."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    # allow_nan=False: NaN and infinities are not JSON, and PostgreSQL's JSONB refuses them.
    text = json.dumps(to_jsonable_python(value), ensure_ascii=False, allow_nan=False)
    plain = json.loads(text)
    # json.dumps escapes NUL as \u0000, so one look at the text clears almost every value;
    # only a text containing that spelling is walked to find (or rule out) a real NUL.
    if "\\u0000" in text:
        refuse_nul(plain)
    return plain


def refuse_nul(value: Any, where: str = "JSON") -> None:
    """Refuse NUL characters in text: PostgreSQL cannot store them (SQLite can), and the
    same data must be accepted or refused alike on both databases."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError(f"{where} text contains a NUL character: {value[:40]!r}")
    elif isinstance(value, dict):
        for key, item in value.items():
            refuse_nul(key, where)
            refuse_nul(item, where)
    elif isinstance(value, list):
        for item in value:
            refuse_nul(item, where)


def canonical_json(value: Any) -> str:
    """A stable text for `value`: sorted keys, no insignificant whitespace, UTF-8 kept."""
    return json.dumps(
        to_json_value(value),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )
