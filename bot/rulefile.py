"""Reading one rules file: its YAML as data, and a schema's complaints as `RulesProblem`s.

The bottom of the rules stack. The modules that own a schema (`bot.calendar`,
`bot.grading`, `bot.eligibility`, `bot.decisions`) and the trial loader above them
(`bot.protocol.loader`) all read files through here; this module imports none of them,
so the dependency points one way: loader → schemas → this.

YAML is parsed with libyaml's C loader when PyYAML was built with it (about ten times
faster than the pure-Python loader on the rules files), else with the pure-Python one:
both are the *safe* loader and build the same data.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.errors import RulesProblem, closest

# PyYAML is imported on the first read (lazy: a process whose rules come from the cache,
# bot.protocol.cache, never parses YAML).


@cache
def safe_loader() -> type:
    """libyaml's `CSafeLoader` when PyYAML has it, else the pure-Python `SafeLoader`."""
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _describe(error: dict[str, Any]) -> str:
    reason = error["msg"]
    if error["type"] not in ("missing",) and "input" in error:
        given = error["input"]
        if isinstance(given, str | int | float | bool) or given is None:
            reason += f" (got {given!r})"
    # a misspelt choice (an action, a basis) or type: name the closest allowed one
    hint = None
    if error["type"] == "literal_error" and isinstance(error.get("input"), str):
        hint = closest(error["input"], re.findall(r"'([^']*)'", error["ctx"]["expected"]))
    elif error["type"] == "union_tag_invalid" and isinstance(error["ctx"].get("tag"), str):
        tags = re.findall(r"'([^']*)'", error["ctx"]["expected_tags"])
        hint = closest(error["ctx"]["tag"], tags)
    if hint is not None:
        reason += f" — did you mean {hint!r}?"
    return reason


def problems_from_validation(file: str, exc: ValidationError) -> list[RulesProblem]:
    """Every error of a pydantic validation, as `file: field.path: reason`."""
    return [RulesProblem(file, _dotted(err["loc"]), _describe(err)) for err in exc.errors()]


def load_yaml(text: str) -> Any:
    """`yaml.safe_load`, with the C loader when available."""
    import yaml

    return yaml.load(text, Loader=safe_loader())


def read_yaml(path: Path, display: str) -> tuple[Any, list[RulesProblem]]:
    """The data of one YAML file, or the problems that stop it being read (`display` is
    how the file is named in them)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return None, [RulesProblem(display, "", f"cannot be read: {exc.strerror}")]
    import yaml

    try:
        return load_yaml(text), []
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        return None, [RulesProblem(display, where, f"is not valid YAML: {problem}")]
    except ValueError as exc:  # PyYAML builds dates itself: `2026-13-01` raises here
        return None, [RulesProblem(display, "", f"holds an impossible value: {exc}")]
