"""The analytes a lab panel may hold: names, aliases, units and what is humanly plausible.

Each analyte has one canonical unit (the unit `LabValue.value` is stored in) and the
units a report may print, each with its exact factor to the canonical unit. Conversion is
done in `Decimal` and rounded to 12 significant digits, so 500/mm3 is exactly 0.5 ×10^9/L
and 80 g/L exactly 8.0 g/dL.

The plausibility limits are wide on purpose: they only catch a value typed in the wrong
unit (Hb 91 meant as g/L, ANC 1500 meant as /mm3), never a sick patient's real value. The
reference-limit bands catch a report range printed in another unit than the value.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal

SIGNIFICANT_DIGITS = 12

# Haemoglobin: CTCAE's own equivalences (10.0 g/dL = 6.2 mmol/L, 8.0 g/dL = 4.9 mmol/L) use
# the monomer, 1 g/dL = 0.6206 mmol/L.
HB_MMOL_PER_G_DL = Decimal("0.6206")
CREATININE_UMOL_PER_MG_DL = Decimal("88.42")
BILIRUBIN_UMOL_PER_MG_DL = Decimal("17.1")
BUN_MMOL_PER_MG_DL = Decimal("0.357")  # urea nitrogen, 1 / 2.8


@dataclass(frozen=True)
class Analyte:
    code: str  # canonical code, as in LabValue.analyte
    label: str  # how it is shown (the commonest abbreviation)
    name: str
    aliases: tuple[str, ...]  # lower case, compared case-insensitively
    canonical_unit: str
    # unit -> factor: canonical value = value in that unit × factor
    units: dict[str, Decimal]
    # spellings (normalised by `unit_key`) -> unit
    spellings: dict[str, str]
    plausible: tuple[Decimal, Decimal]  # canonical unit, inclusive
    lln_band: tuple[Decimal, Decimal]  # where a lower reference limit can lie, canonical
    uln_band: tuple[Decimal, Decimal]
    is_count: bool = False

    def to_canonical(self, number: Decimal, unit: str) -> Decimal:
        return round_significant(number * self.units[unit])

    def from_canonical(self, number: Decimal, unit: str) -> Decimal:
        return round_significant(number / self.units[unit])

    def unit_for(self, spelling: str) -> str | None:
        return self.spellings.get(unit_key(spelling))


def round_significant(number: Decimal, digits: int = SIGNIFICANT_DIGITS) -> Decimal:
    if number == 0:
        return Decimal(0)
    exponent = number.adjusted() - digits + 1
    return number.quantize(Decimal(1).scaleb(exponent)).normalize()


def as_decimal(number: float | int | Decimal) -> Decimal:
    """A stored float as the decimal it was written as (repr is the shortest round-trip)."""
    if isinstance(number, Decimal):
        return number
    return Decimal(repr(float(number)))


def plain(number: Decimal | float) -> str:
    """A number without exponent or trailing zeros noise: 0.5, 75, 11.5."""
    value = as_decimal(number).normalize()
    text = format(value, "f")
    return text


_POWER = re.compile(r"^[x*]?10(?:\^|\*\*|e|\*)?([0-9]{1,2})/")


def unit_key(spelling: str) -> str:
    """Normalise how a unit is written: case, spaces, ×/x, µ/μ/u, superscripts, 10e9."""
    text = unicodedata.normalize("NFKC", spelling).replace("µ", "u").replace("μ", "u")
    text = text.replace("×", "x").replace("⁹", "9").replace("³", "3")
    text = re.sub(r"\s+", "", text).lower()
    text = _POWER.sub(lambda m: f"10^{m.group(1)}/", text)
    text = text.replace("cells/", "/").replace("cmm", "mm3")
    return text


def _spellings(table: dict[str, tuple[str, ...]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for unit, written in table.items():
        for spelling in (unit, *written):
            out[unit_key(spelling)] = unit
    return out


_COUNT_UNITS = {"10^9/L": Decimal(1), "/mm3": Decimal("0.001")}
_COUNT_SPELLINGS = _spellings(
    {
        "10^9/L": ("x10^9/L", "×10^9/L", "10e9/L", "G/L", "10^3/uL", "10^3/mm3", "K/uL", "giga/L"),
        "/mm3": ("/uL", "cells/uL", "cells/mm3", "/cmm"),
    }
)
_ENZYME_UNITS = {"U/L": Decimal(1)}
_ENZYME_SPELLINGS = _spellings({"U/L": ("IU/L",)})


def _count(code, label, name, aliases, plausible, lln_band, uln_band) -> Analyte:
    return Analyte(
        code=code,
        label=label,
        name=name,
        aliases=aliases,
        canonical_unit="10^9/L",
        units=_COUNT_UNITS,
        spellings=_COUNT_SPELLINGS,
        plausible=plausible,
        lln_band=lln_band,
        uln_band=uln_band,
        is_count=True,
    )


def _enzyme(code, label, name, aliases, plausible, lln_band, uln_band) -> Analyte:
    return Analyte(
        code=code,
        label=label,
        name=name,
        aliases=aliases,
        canonical_unit="U/L",
        units=_ENZYME_UNITS,
        spellings=_ENZYME_SPELLINGS,
        plausible=plausible,
        lln_band=lln_band,
        uln_band=uln_band,
    )


D = Decimal

ANALYTES: dict[str, Analyte] = {
    a.code: a
    for a in (
        _count(
            "anc",
            "ANC",
            "neutrophils (absolute count)",
            ("anc", "neut", "neu", "neut#", "neutrophil", "neutrophils", "agc"),
            (D(0), D(100)),
            (D("0.3"), D(4)),
            (D("2.5"), D(15)),
        ),
        _count(
            "plt",
            "PLT",
            "platelets",
            ("plt", "plts", "plat", "platelet", "platelets"),
            (D(0), D(3000)),
            (D(50), D(250)),
            (D(200), D(900)),
        ),
        _count(
            "wbc",
            "WBC",
            "white blood cells (leukocytes)",
            ("wbc", "leukocytes", "leucocytes", "leukocyte", "leucocyte"),
            (D(0), D(500)),
            (D(1), D(7)),
            (D(5), D(20)),
        ),
        _count(
            "lym",
            "LYM",
            "lymphocytes (absolute count)",
            ("lym", "lymph", "lymph#", "lym#", "ly", "lymphocyte", "lymphocytes", "alc"),
            (D(0), D(400)),
            (D("0.2"), D("2.5")),
            (D("1.5"), D(8)),
        ),
        Analyte(
            code="hb",
            label="Hb",
            name="haemoglobin",
            aliases=("hb", "hgb", "haemoglobin", "hemoglobin"),
            canonical_unit="g/dL",
            units={"g/dL": D(1), "g/L": D("0.1"), "mmol/L": 1 / HB_MMOL_PER_G_DL},
            spellings=_spellings({"g/dL": ("g/100mL",), "g/L": (), "mmol/L": ()}),
            plausible=(D(1), D(25)),
            lln_band=(D(6), D(16)),
            uln_band=(D(10), D(22)),
        ),
        _enzyme(
            "alt",
            "ALT",
            "alanine aminotransferase",
            ("alt", "gpt", "sgpt", "alat"),
            (D(0), D(20000)),
            (D(0), D(30)),
            (D(15), D(150)),
        ),
        _enzyme(
            "ast",
            "AST",
            "aspartate aminotransferase",
            ("ast", "got", "sgot", "asat"),
            (D(0), D(20000)),
            (D(0), D(30)),
            (D(15), D(150)),
        ),
        _enzyme(
            "alp",
            "ALP",
            "alkaline phosphatase",
            ("alp", "akp", "alkp", "alkphos"),
            (D(0), D(20000)),
            (D(0), D(150)),
            (D(50), D(600)),
        ),
        _enzyme(
            "amy",
            "AMY",
            "amylase (serum)",
            ("amy", "amyl", "amylase"),
            (D(0), D(50000)),
            (D(0), D(150)),
            (D(40), D(800)),
        ),
        _enzyme(
            "lip",
            "LIP",
            "lipase",
            ("lip", "lipa", "lps", "lipase"),
            (D(0), D(100000)),
            (D(0), D(200)),
            (D(20), D(1000)),
        ),
        Analyte(
            code="tbil",
            label="TBIL",
            name="total bilirubin",
            aliases=("tbil", "t-bil", "tbili", "bil", "bili", "bilirubin", "tbilirubin"),
            canonical_unit="µmol/L",
            units={"µmol/L": D(1), "mg/dL": BILIRUBIN_UMOL_PER_MG_DL},
            spellings=_spellings({"µmol/L": ("umol/L",), "mg/dL": ()}),
            plausible=(D(0), D(1500)),
            lln_band=(D(0), D(15)),
            uln_band=(D(8), D(50)),
        ),
        Analyte(
            code="cr",
            label="CR",
            name="creatinine (serum)",
            aliases=("cr", "crea", "creat", "cre", "scr", "creatinine"),
            canonical_unit="µmol/L",
            units={"µmol/L": D(1), "mg/dL": CREATININE_UMOL_PER_MG_DL},
            spellings=_spellings({"µmol/L": ("umol/L",), "mg/dL": ()}),
            plausible=(D(10), D(3000)),
            lln_band=(D(15), D(110)),
            uln_band=(D(45), D(250)),
        ),
        Analyte(
            code="bun",
            label="BUN",
            name="blood urea nitrogen",
            aliases=("bun", "urea", "un", "sun"),
            canonical_unit="mmol/L",
            units={"mmol/L": D(1), "mg/dL": BUN_MMOL_PER_MG_DL},
            spellings=_spellings({"mmol/L": (), "mg/dL": ()}),
            plausible=(D("0.2"), D(150)),
            lln_band=(D("0.3"), D(6)),
            uln_band=(D(3), D(15)),
        ),
    )
}

# Glucose is typed often but is not lab-gradable in CTCAE v5.0 (Hyperglycemia is graded by
# the clinical action taken), so it gets its own explanation instead of "unknown analyte".
GLUCOSE_ALIASES = ("glu", "gluc", "glucose", "fbg", "fpg", "bg")

ALIASES: dict[str, str] = {alias: a.code for a in ANALYTES.values() for alias in a.aliases}

# Every unit spelling any analyte knows, plus a few the panel never accepts: a token in this
# set after a number is a unit that does not fit, not the name of the next analyte.
KNOWN_UNIT_SPELLINGS: frozenset[str] = frozenset(
    {s for a in ANALYTES.values() for s in a.spellings}
    | {unit_key(u) for u in ("mg/L", "ng/mL", "ukat/L", "mEq/L", "g/mL", "mg/mL", "%", "10^12/L")}
)


def analyte_for(name: str) -> Analyte | None:
    code = ALIASES.get(name.lower())
    return ANALYTES[code] if code else None


def labels() -> str:
    return ", ".join(a.label for a in ANALYTES.values())
