"""Read a lab panel the way a nurse types it off a report: `ANC 0.4 PLT 62 ALT 130 U/L (7-40)`.

Each entry is an analyte name or alias, a number, an optional unit and an optional
reference range in parentheses (the report's LLN–ULN, in the value's unit). Entries may be
separated by spaces, commas or semicolons, and `ANC: 0.4` / `ANC=0.4` work too.

A bare number is read in the site's default unit for the analyte; a missing range is
taken from the site's reference ranges. Values are converted to the analyte's canonical
unit (see `analytes`). Either the whole panel parses or a `LabEntryError` (a `UserError`)
names the token, why it was refused and, where there is one, what was probably meant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import NoReturn

from bot import inputs
from bot.errors import UserError, closest
from bot.events import LabValue
from bot.grading.analytes import (
    ALIASES,
    ANALYTES,
    GLUCOSE_ALIASES,
    KNOWN_UNIT_SPELLINGS,
    Analyte,
    analyte_for,
    labels,
    plain,
    unit_key,
)
from bot.grading.ranges import NO_RANGES, ReferenceRanges, ReferenceRangesFile


class LabEntryError(UserError):
    """A lab panel that cannot be read; `field` is the token at fault."""


_NUM = r"(?:\d+(?:\.\d+)?|\.\d+)"
_SEPARATORS = re.compile(r"[\s,;]*")
_TOKEN = re.compile(r"\S+")
_RANGE_OPEN = re.compile(r"\s*\(")
_NAME = re.compile(r"[A-Za-z][A-Za-z#]*(?:-[A-Za-z]+)?")
_ASSIGN = re.compile(r"\s*[:=]?\s*")
_NUMBER = re.compile(_NUM)
_SIGNED = re.compile(rf"[-−+]\s*{_NUM}")
_CENSORED = re.compile(rf"(?:[<>≤≥]=?)\s*{_NUM}")
_BAD_TAIL = re.compile(r"[.,]\d|\.(?![\d])")
# '1e400', '4E-1': an exponent would be read as the number '1' and an analyte 'e400'
_EXPONENT = re.compile(r"[eE][-+−]?\d")
# "75,000/mm3" as CTCAE itself writes it: thousands separators only in a whole count of cells
# per mm3/µL, where a decimal comma would make no sense.
_GROUPED_COUNT = re.compile(
    r"(?P<num>[1-9]\d{0,2}(?:,\d{3})+)(?=\s*(?:cells\s*)?/\s*(?:mm3|mm³|cmm|[uµμ][lL])(?![A-Za-z]))"
)
_UNIT = re.compile(
    r"""\s*(?P<unit>
        (?:[x×*]\s*)?10\s*(?:\^|\*\*|[eE]|\*)?\s*[0-9⁹³]{1,2}\s*/\s*(?:[uµμ]?[lL]|mm3|mm³|cmm)(?![A-Za-z])
      | (?:cells\s*)?/\s*(?:mm3|mm³|cmm|[uµμ][lL])(?![A-Za-z])
      | %
      | [A-Za-zµμ]{1,6}\s*/\s*(?:100\s*mL|[dDmMuUµμ]?[lL]|mm3|mm³|g)(?![A-Za-z])
    )""",
    re.X,
)
_RANGE_DASH = r"(?:-|–|—|~|to|\.\.)"
_RANGE_BOTH = re.compile(rf"\s*(?P<lo>{_NUM})\s*{_RANGE_DASH}\s*(?P<hi>{_NUM})\s*(?P<unit>.*?)\s*")
_RANGE_HIGH = re.compile(rf"\s*(?:<=?|≤)\s*(?P<hi>{_NUM})\s*(?P<unit>.*?)\s*")
_RANGE_LOW = re.compile(rf"\s*(?:>=?|≥)\s*(?P<lo>{_NUM})\s*(?P<unit>.*?)\s*")


@dataclass(frozen=True)
class Entry:
    """One analyte exactly as typed: the number and range are the decimals the report shows."""

    analyte: Analyte
    name: str
    number: Decimal
    unit: str | None  # the unit written with the value (or inside the range), if any
    low: Decimal | None
    high: Decimal | None
    has_range: bool
    text: str  # the raw tokens


def parse_panel(
    text: str, ranges: ReferenceRanges | ReferenceRangesFile | None = None
) -> list[LabValue]:
    """All analytes of `text`, converted to canonical units; LabEntryError if any is wrong.

    `ranges` is a site's ranges (`ReferenceRangesFile.for_site(id)`); the whole file means
    its default site, None means no site ranges (bare numbers in the canonical unit).
    """
    if isinstance(ranges, ReferenceRangesFile):
        ranges = ranges.for_site(None)
    ranges = ranges or NO_RANGES
    # Size, characters and digits first (full-width digits read as ASCII; other scripts'
    # digits refused): the scanner's patterns are never run on hostile text.
    text = inputs.check_free_text(text, "panel", inputs.LAB_TEXT_LIMIT)
    entries = read_entries(text)
    return [to_lab_value(entry, ranges) for entry in entries]


def read_entries(text: str) -> list[Entry]:
    """The entries of a panel as typed, before units and ranges are applied."""
    scanner = _Scanner(text)
    entries: list[Entry] = []
    seen: dict[str, Entry] = {}
    while True:
        scanner.skip(_SEPARATORS)
        if scanner.done:
            break
        entry = scanner.entry()
        earlier = seen.get(entry.analyte.code)
        if earlier is not None:
            raise LabEntryError(
                f"{entry.analyte.label} appears twice ('{earlier.text}' and '{entry.text}'); "
                "enter each analyte once",
                field=entry.name,
            )
        seen[entry.analyte.code] = entry
        entries.append(entry)
    if not entries:
        raise LabEntryError(
            "the lab panel is empty",
            field="panel",
            allowed=f"e.g. 'ANC 0.4 PLT 62' — analytes: {labels()}",
        )
    return entries


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.entry_start = 0

    @property
    def done(self) -> bool:
        return self.pos >= len(self.text)

    def skip(self, pattern: re.Pattern[str]) -> None:
        match = pattern.match(self.text, self.pos)
        if match:
            self.pos = match.end()

    def token_at(self, pos: int) -> str:
        """The whitespace-delimited token starting at `pos`, for messages."""
        match = _TOKEN.match(self.text, pos)
        return match.group(0) if match else self.text[pos:]

    def entry(self) -> Entry:
        start = self.entry_start = self.pos
        name_match = _NAME.match(self.text, self.pos)
        if name_match is None:
            self._refuse_orphan()
        name = name_match.group(0).rstrip("-")
        analyte = self._analyte(name)
        self.pos = name_match.start() + len(name)
        self.skip(_ASSIGN)
        number = self._number(name, analyte)
        unit = self._unit(analyte, name)
        low = high = None
        has_range = False
        range_match = _RANGE_OPEN.match(self.text, self.pos)
        if range_match:
            self.pos = range_match.end() - 1
            low, high, range_unit = self._range(analyte)
            has_range = True
            if range_unit is not None:
                if unit is not None and unit != range_unit:
                    raise LabEntryError(
                        f"the value is in {unit} but its range in {range_unit}; "
                        "give both in one unit",
                        field=self.text[start : self.pos].strip(),
                    )
                unit = range_unit
            if unit is None:
                # "ALT 130 (7-40) U/L": a unit may follow the range.
                unit = self._unit(analyte, name)
        raw = self.text[start : self.pos].strip()
        return Entry(analyte, name, number, unit, low, high, has_range, raw)

    def _refuse_orphan(self) -> NoReturn:
        token = self.token_at(self.pos)
        char = self.text[self.pos]
        if char.isdigit() or char in ".-+−<>":
            raise LabEntryError(
                f"the number '{token}' has no analyte before it",
                field=token,
                allowed=f"an analyte then its value, e.g. 'PLT 62' — analytes: {labels()}",
            )
        if char == "(":
            raise LabEntryError(
                f"the range '{token}' must follow a value, e.g. 'ALT 130 (7-40)'", field=token
            )
        raise LabEntryError(
            f"unexpected '{char}' in '{token}'",
            field=token,
            allowed=f"an analyte then its value, e.g. 'PLT 62' — analytes: {labels()}",
        )

    def _analyte(self, name: str) -> Analyte:
        analyte = analyte_for(name)
        if analyte is not None:
            return analyte
        lowered = name.lower()
        if lowered in GLUCOSE_ALIASES:
            raise LabEntryError(
                "glucose is not lab-graded: CTCAE v5.0 grades Hyperglycemia by the clinical action "
                "taken (oral agent, insulin, hospitalization), not by glucose values; record it as "
                "the adverse event 'Hyperglycemia' with its grade",
                field=name,
            )
        if unit_key(name) in KNOWN_UNIT_SPELLINGS:
            raise LabEntryError(
                f"the unit '{name}' must follow a value, e.g. 'ALT 130 U/L'", field=name
            )
        hint = closest(lowered, ALIASES)
        suggestion = ANALYTES[ALIASES[hint]].label if hint else None
        raise LabEntryError("unknown analyte", field=name, suggestion=suggestion, allowed=labels())

    def _number(self, name: str, analyte: Analyte) -> Decimal:
        pos = self.pos
        token = self.token_at(pos)
        if _CENSORED.match(self.text, pos):
            raise LabEntryError(
                f"'{token}' is a bound, not a value; enter the measured number",
                field=f"{name} {token}",
            )
        if _SIGNED.match(self.text, pos):
            why = (
                "write the number without a sign" if token.startswith("+") else "cannot be negative"
            )
            raise LabEntryError(f"{analyte.label} '{token}': {why}", field=f"{name} {token}")
        grouped = _GROUPED_COUNT.match(self.text, pos)
        if grouped is not None:
            self.pos = grouped.end()
            return Decimal(grouped.group("num").replace(",", ""))
        match = _NUMBER.match(self.text, pos)
        if match is None:
            follows = f" (found '{token}')" if token else ""
            raise LabEntryError(
                f"a number is missing after '{name}'{follows}",
                field=name,
                allowed=f"e.g. '{name} {_example(analyte)}'",
            )
        if _EXPONENT.match(self.text, match.end()):
            bad = self.token_at(pos)
            raise LabEntryError(
                f"{analyte.label} '{bad}': write the number without an exponent",
                field=f"{name} {bad}",
                allowed=f"a plain number, e.g. '{name} {_example(analyte)}'",
            )
        tail = _BAD_TAIL.match(self.text, match.end())
        if tail is not None:
            bad = self.token_at(pos)
            if tail.group(0).startswith(","):
                raise LabEntryError(_comma_message(bad), field=f"{name} {bad}")
            raise LabEntryError(f"'{bad}' is not a number", field=f"{name} {bad}")
        self.pos = match.end()
        return Decimal(match.group(0))

    def _unit(self, analyte: Analyte, name: str) -> str | None:
        match = _UNIT.match(self.text, self.pos)
        if match is None:
            return None
        written = match.group("unit")
        self.pos = match.end()
        return _resolve_unit(analyte, name, written, self.text[self.entry_start : self.pos].strip())

    def _range(self, analyte: Analyte) -> tuple[Decimal | None, Decimal | None, str | None]:
        open_at = self.pos
        close_at = self.text.find(")", open_at)
        nested = self.text.find("(", open_at + 1)
        if close_at < 0 or (0 <= nested < close_at):
            token = self.token_at(open_at)
            raise LabEntryError(
                f"the range '{token}' has no closing ')'",
                field=token,
                allowed="a range like (7-40), (<40) or (>1.8)",
            )
        token = self.text[open_at : close_at + 1]
        inner = self.text[open_at + 1 : close_at]
        self.pos = close_at + 1
        low = high = None
        for pattern in (_RANGE_BOTH, _RANGE_HIGH, _RANGE_LOW):
            match = pattern.fullmatch(inner)
            if match:
                groups = match.groupdict()
                low = Decimal(groups["lo"]) if groups.get("lo") else None
                high = Decimal(groups["hi"]) if groups.get("hi") else None
                break
        else:
            raise LabEntryError(
                f"'{token}' is not a reference range",
                field=token,
                allowed="a range like (7-40), (11.5-15.0), (<40) or (>1.8)",
            )
        if low is not None and high is not None and low >= high:
            raise LabEntryError(
                f"the range's low end {plain(low)} is not below its high end {plain(high)}",
                field=token,
                suggestion=f"({plain(high)}-{plain(low)})" if low > high else None,
            )
        unit = None
        written = match.group("unit")
        if written:
            unit_match = _UNIT.fullmatch(written)
            if unit_match is None:
                raise LabEntryError(
                    f"'{written}' in '{token}' is not a unit",
                    field=token,
                    allowed=", ".join(analyte.units),
                )
            unit = _resolve_unit(analyte, "", unit_match.group("unit"), token)
        return low, high, unit


def _comma_message(token: str) -> str:
    digits = re.match(r"(\d+),(\d+)", token)
    message = f"'{token}': a comma inside a number is ambiguous (decimal or thousands?)"
    if digits is None:
        return message
    whole, part = digits.groups()
    decimal = plain(Decimal(f"{whole}.{part}"))
    if len(part) == 3:
        return f"{message}; write {whole}{part} or {decimal}"
    return f"{message}; write {decimal}"


def _example(analyte: Analyte) -> str:
    return {"hb": "9.1", "plt": "62", "anc": "1.2", "wbc": "3.4", "lym": "0.9"}.get(
        analyte.code, "35"
    )


def _resolve_unit(analyte: Analyte, name: str, written: str, where: str) -> str:
    unit = analyte.unit_for(written)
    if unit is not None:
        if analyte.code == "bun" and name.lower() == "urea" and unit == "mg/dL":
            raise LabEntryError(
                "urea in mg/dL is ambiguous (urea or urea nitrogen?)",
                field=where,
                allowed="BUN in mg/dL or mmol/L, or urea in mmol/L",
            )
        return unit
    if written.strip() == "%":
        raise LabEntryError(
            f"{analyte.label} as a percentage cannot be graded; enter the absolute count",
            field=where,
            allowed=", ".join(analyte.units),
        )
    known = unit_key(written) in KNOWN_UNIT_SPELLINGS
    reason = (
        f"does not fit {analyte.label}"
        if known
        else f"is not a unit trialbot knows for {analyte.label}"
    )
    raise LabEntryError(
        f"the unit '{written}' {reason}", field=where, allowed=", ".join(analyte.units)
    )


def to_lab_value(entry: Entry, ranges: ReferenceRanges) -> LabValue:
    analyte = entry.analyte
    unit = entry.unit or ranges.default_unit(analyte.code)
    canonical = analyte.to_canonical(entry.number, unit)
    _check_plausible(entry, unit, canonical)
    site = ranges.get(analyte.code)
    if entry.has_range:
        lln = None if entry.low is None else analyte.to_canonical(entry.low, unit)
        uln = None if entry.high is None else analyte.to_canonical(entry.high, unit)
        _check_range(entry, unit, lln, uln)
        source = "report"
    elif site is not None and (site.lln is not None or site.uln is not None):
        lln, uln, source = site.lln, site.uln, "site"
    else:
        lln = uln = None
        source = "none"
    return LabValue(
        analyte=analyte.code,
        value=float(canonical),
        unit=analyte.canonical_unit,
        lln=None if lln is None else float(lln),
        uln=None if uln is None else float(uln),
        range_source=source,
        entered=entry.text,
    )


def _check_plausible(entry: Entry, unit: str, canonical: Decimal) -> None:
    analyte = entry.analyte
    low, high = analyte.plausible
    if low <= canonical <= high:
        return
    meant = next(
        (
            f"{plain(entry.number)} {other}"
            for other in analyte.units
            if other != unit and low <= analyte.to_canonical(entry.number, other) <= high
        ),
        None,
    )
    shown_low, shown_high = analyte.from_canonical(low, unit), analyte.from_canonical(high, unit)
    implied = "" if entry.unit else " (no unit given: read in the site's default unit)"
    raise LabEntryError(
        f"{plain(entry.number)} {unit}{implied} is far outside human physiology for "
        f"{analyte.label} (plausible {plain(shown_low)}–{plain(shown_high)} {unit})",
        field=entry.text,
        suggestion=meant,
    )


def _check_range(entry: Entry, unit: str, lln: Decimal | None, uln: Decimal | None) -> None:
    analyte = entry.analyte

    def plausible(low: Decimal | None, high: Decimal | None) -> bool:
        return (low is None or analyte.lln_band[0] <= low <= analyte.lln_band[1]) and (
            high is None or analyte.uln_band[0] <= high <= analyte.uln_band[1]
        )

    if plausible(lln, uln):
        return
    written = [entry.low, entry.high]
    meant = None
    for other in analyte.units:
        if other == unit:
            continue
        as_other = [None if n is None else analyte.to_canonical(n, other) for n in written]
        if plausible(*as_other):
            meant = _range_text(entry.low, entry.high, other)
            break
    raise LabEntryError(
        f"the range {_range_text(entry.low, entry.high, unit)} is not a plausible {analyte.label} "
        f"reference range (limits in {unit}: low {_band(analyte, analyte.lln_band, unit)}, "
        f"high {_band(analyte, analyte.uln_band, unit)}); is it in another unit than the value?",
        field=entry.text,
        suggestion=meant,
    )


def _band(analyte: Analyte, band: tuple[Decimal, Decimal], unit: str) -> str:
    low, high = (analyte.from_canonical(b, unit) for b in band)
    return f"{plain(low)}–{plain(high)}"


def _range_text(low: Decimal | None, high: Decimal | None, unit: str) -> str:
    if low is None:
        return f"(<{plain(high)} {unit})"
    if high is None:
        return f"(>{plain(low)} {unit})"
    return f"({plain(low)}-{plain(high)} {unit})"
