"""What a service call returns: plain data every interface renders its own way.

It is also what an idempotency key remembers: the same request twice returns this,
recorded once.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from bot.posts import Post


class Outcome(BaseModel):
    operation: str
    study_id: str | None = None
    event: dict[str, Any] | None = None  # the entry recorded: id, kind, date and its fields
    grades: list[dict[str, Any]] = Field(default_factory=list)
    decisions: list[dict[str, Any]] = Field(default_factory=list)
    events: list[dict[str, Any]] = Field(default_factory=list)  # calendar events
    posts: list[Post] = Field(default_factory=list)  # what the call queued, as data
    data: dict[str, Any] = Field(default_factory=dict)  # what only this operation returns
    replayed: bool = False  # True when an idempotency key had already been served
