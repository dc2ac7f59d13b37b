"""Message text comes from Jinja2 templates in `templates/`; this builds the environment.

One `Renderer` per process (passed down, never a module-level instance). Templates get
plain data (dicts from `to_json()`), so what a message says is reviewable in one place.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from bot.paths import templates_dir

ACTION_WORDS = {
    "continue": "CONTINUE",
    "hold": "HOLD",
    "reduce": "REDUCE",
    "resume": "RESUME",
    "discontinue": "DISCONTINUE",
    "refer": "REFER to investigator",
}


def _percent(value: Any) -> str:
    return "" if value is None else f"{value:g}%"


def _num(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def _day(value: Any) -> str:
    """2027-03-08 → "Mon 08 Mar 2027": a weekday makes a date impossible to misread."""
    if value is None:
        return ""
    day = value if isinstance(value, date) else date.fromisoformat(str(value))
    return day.strftime("%a %d %b %Y")


def _action(value: str) -> str:
    return ACTION_WORDS.get(value, value.upper())


class Renderer:
    def __init__(self, directory: Path | None = None) -> None:
        self.env = Environment(
            loader=FileSystemLoader(str(directory or templates_dir())),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            autoescape=False,  # plain text and Slack mrkdwn, not HTML
        )
        self.env.filters.update(percent=_percent, num=_num, day=_day, action=_action)

    def render(self, name: str, **data: Any) -> str:
        return self.env.get_template(name).render(**data).strip()

    def dose_line(self, derivation: dict[str, Any], drug: str, mg: Any, percent: Any) -> str:
        """How a derived dose (mg/kg, AUC, a cap) comes to its mg, or what is missing, in
        the words of templates/posts/_dose_basis.j2 (for output that is not a template)."""
        macros = self.env.get_template("posts/_dose_basis.j2").module
        return str(macros.dose_line(derivation, drug, mg, percent)).strip()
