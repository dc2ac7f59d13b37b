"""Report several problems of one rules model at once, each at its own field path.

A pydantic model validator can only raise one message; rules files should list every
problem with the field it is in (the loader turns each into file: field: reason).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

Problem = tuple[tuple[str | int, ...], str, Any]  # (field path, reason, offending value)


def raise_problems(title: str, problems: Sequence[Problem]) -> None:
    if not problems:
        return
    details = [
        InitErrorDetails(
            type=PydanticCustomError("rules", "{reason}", {"reason": reason}),
            loc=loc,
            input=value,
        )
        for loc, reason, value in problems
    ]
    raise ValidationError.from_exception_data(title, details)
