"""Body surface area and doses in mg (pure).

BSA comes from height and weight (Mosteller by default, DuBois selectable). A dose in mg is
the dose per m² × BSA × percent / 100 (or the flat dose × percent / 100), rounded the way the
rules file says. Decimal arithmetic keeps half-way cases exact (135 × 1.7 = 229.5, not
229.49999…). There is no BSA cap unless the rules give one.
"""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Literal

from bot.errors import UserError

BsaFormula = Literal["mosteller", "dubois"]
RoundingMode = Literal["half_up", "half_even", "down", "up"]
DoseBasis = Literal["per_m2", "flat"]

# Plausible adult human ranges: a value outside them is a typo (metres for centimetres,
# pounds for kilograms), never a patient. Inclusive bounds.
HEIGHT_CM_RANGE = (100.0, 230.0)
WEIGHT_KG_RANGE = (25.0, 250.0)
BSA_M2_RANGE = (0.8, 3.0)

_MODES = {
    "half_up": ROUND_HALF_UP,
    "half_even": ROUND_HALF_EVEN,
    "down": ROUND_FLOOR,
    "up": ROUND_CEILING,
}


def _decimal(value: float | int | Decimal) -> Decimal:
    # via str: the shortest repr of a float is what the user typed (1.62, not 1.6200000001)
    return value if isinstance(value, Decimal) else Decimal(str(value))


def check_range(field: str, value: float, bounds: tuple[float, float], unit: str) -> float:
    low, high = bounds
    if not (math.isfinite(value) and low <= value <= high):
        raise UserError(
            f"{value:g} {unit} is outside the plausible range",
            field=field,
            allowed=f"{low:g}–{high:g} {unit}",
        )
    return value


def bsa_m2(height_cm: float, weight_kg: float, formula: BsaFormula = "mosteller") -> float:
    """Body surface area in m² (unrounded)."""
    check_range("height_cm", height_cm, HEIGHT_CM_RANGE, "cm")
    check_range("weight_kg", weight_kg, WEIGHT_KG_RANGE, "kg")
    if formula == "mosteller":
        return math.sqrt(height_cm * weight_kg / 3600.0)
    if formula == "dubois":
        return 0.007184 * weight_kg**0.425 * height_cm**0.725
    raise UserError(
        f"unknown BSA formula {formula!r}", field="bsa_formula", allowed="mosteller, dubois"
    )


def round_to_step(value: float | Decimal, step: float = 1, mode: RoundingMode = "half_up") -> float:
    """`value` rounded to a multiple of `step` (1 mg, 0.1 mg, 5 mg, …)."""
    step_d = _decimal(step)
    if step_d <= 0:
        raise ValueError("rounding step must be positive")
    units = (_decimal(value) / step_d).quantize(Decimal(1), rounding=_MODES[mode])
    return float(units * step_d)


def round_bsa(bsa: float, decimals: int | None = 2, cap_m2: float | None = None) -> float:
    """The BSA the dose is computed with: rounded half-up to `decimals`, then capped."""
    value = bsa
    if decimals is not None:
        value = float(_decimal(bsa).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))
    if cap_m2 is not None:
        value = min(value, cap_m2)
    return value


def dose_mg(
    amount: float,
    basis: DoseBasis,
    bsa: float | None,
    percent: int | float = 100,
    step: float = 1,
    mode: RoundingMode = "half_up",
) -> float | None:
    """The dose in mg, or None when it is per m² and the BSA is unknown."""
    if basis == "flat":
        raw = _decimal(amount) * _decimal(percent) / 100
    elif bsa is None:
        return None
    else:
        raw = _decimal(amount) * _decimal(bsa) * _decimal(percent) / 100
    return round_to_step(raw, step, mode)
