"""What the command language needs to know about lab analytes, read from the grading core:
which option keys are lab values, how a measured value and a unit are written (the way
`trialbot grade` writes them), and the table `help lab` shows. Pure, no storage: handlers
and views ask here instead of reaching into `bot.grading`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bot.grading.analytes import ALIASES, ANALYTES, GLUCOSE_ALIASES, plain
from bot.grading.grader import display_unit
from bot.services.context import ServiceContext

__all__ = [
    "against_uln",
    "display_unit",
    "is_analyte",
    "label",
    "measured",
    "plain",
    "reference",
    "written_as",
]


def is_analyte(key: str) -> bool:
    """`ALT=130` is a lab value written as an option."""
    return key.lower() in ALIASES or key.lower() in GLUCOSE_ALIASES


def written_as(key: str, value: str) -> str:
    """`alt=130` (keys arrive lower-cased) reads back as `ALT 130`."""
    code = ALIASES.get(key.lower())
    return f"{ANALYTES[code].label if code else key} {value}"


def label(code: str) -> str | None:
    """How the analyte `code` is written (`ANC`, `Hb`), or None for a code grading lacks."""
    analyte = ANALYTES.get(code)
    return analyte.label if analyte else None


def against_uln(code: str) -> bool:
    """Whether the analyte is graded as a multiple of the ULN (not a count, not Hb)."""
    analyte = ANALYTES.get(code)
    return analyte is not None and not analyte.is_count and analyte.code != "hb"


def measured(code: str, value: Decimal | float, unit: str, unknown: str) -> str:
    """`ANC 0.4 ×10^9/L`: the analyte (`unknown` where grading lacks the code), the value,
    the unit."""
    return f"{label(code) or unknown} {plain(value)} {display_unit(unit)}"


def reference(ctx: ServiceContext) -> dict[str, Any]:
    """The analytes, their aliases and units, and the default site's units and ranges."""
    ranges = ctx.rules.ranges.for_site(None)
    rows = []
    for code, analyte in ANALYTES.items():
        limit = ranges.get(code)
        shown_range = ""
        if limit is not None and (limit.lln is not None or limit.uln is not None):
            unit = limit.default_unit
            low = "" if limit.lln is None else plain(analyte.from_canonical(limit.lln, unit))
            high = "" if limit.uln is None else plain(analyte.from_canonical(limit.uln, unit))
            shown_range = f"{low}–{high} {display_unit(unit)}"
        rows.append(
            {
                "label": analyte.label,
                "name": analyte.name,
                "aliases": [a for a in analyte.aliases if a != analyte.label.lower()],
                "units": [display_unit(u) for u in analyte.units],
                "default_unit": display_unit(ranges.default_unit(code)),
                "range": shown_range,
            }
        )
    return {"analytes": rows, "site": ranges.site}
