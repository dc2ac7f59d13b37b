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
# per_kg: mg/kg of the weight; auc: a target AUC (mg/mL·min) by Calvert, the GFR a
# Cockcroft–Gault creatinine clearance (bot/calendar/derived_dose.py computes both)
DoseBasis = Literal["per_m2", "flat", "per_kg", "auc"]
DOSE_BASES: tuple[str, ...] = ("per_m2", "flat", "per_kg", "auc")

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
    """The dose in mg, or None when it is per m² and the BSA is unknown. (mg/kg and AUC
    doses need more than the BSA: `derived_dose.derive`.)"""
    if basis not in ("per_m2", "flat"):
        raise ValueError(f"a {basis} dose is derived (bot.calendar.derived_dose), not dose_mg")
    if basis == "flat":
        raw = _decimal(amount) * _decimal(percent) / 100
    elif bsa is None:
        return None
    else:
        raw = _decimal(amount) * _decimal(bsa) * _decimal(percent) / 100
    return round_to_step(raw, step, mode)


# --- mg/kg and AUC (Calvert with Cockcroft–Gault) -----------------------------------------
# Pure arithmetic for the dose bases `per_kg` and `auc` (bot/calendar/derived_dose.py
# reads the patient's inputs for them): each returns None when an input is missing,
# never a default, so a caller can say what is missing and refer.


def per_kg_mg(
    mg_per_kg: float, weight_kg: float | None, max_mg: float | None = None
) -> float | None:
    """mg/kg × the latest recorded weight, capped at `max_mg`; None without a weight."""
    if weight_kg is None:
        return None
    check_range("weight_kg", weight_kg, WEIGHT_KG_RANGE, "kg")
    raw = _decimal(mg_per_kg) * _decimal(weight_kg)
    return float(raw if max_mg is None else min(raw, _decimal(max_mg)))


def cockcroft_gault_ml_min(
    age: int | None, weight_kg: float | None, creatinine_umol_l: float | None, female: bool | None
) -> float | None:
    """Creatinine clearance in mL/min: ((140 − age) × weight kg) / (72 × serum creatinine
    mg/dL), × 0.85 for women. Creatinine in µmol/L (the canonical unit) is converted to mg/dL
    ÷ 88.42, the factor grading converts with. None when any input is missing."""
    from bot.grading.analytes import CREATININE_UMOL_PER_MG_DL

    if age is None or weight_kg is None or creatinine_umol_l is None or female is None:
        return None
    scr_mg_dl = _decimal(creatinine_umol_l) / CREATININE_UMOL_PER_MG_DL
    crcl = (140 - _decimal(age)) * _decimal(weight_kg) / (72 * scr_mg_dl)
    return float(crcl * Decimal("0.85") if female else crcl)


def calvert_mg(
    target_auc: float, crcl_ml_min: float | None, crcl_cap_ml_min: float | None = None
) -> float | None:
    """Calvert: dose mg = target AUC × (GFR + 25), the creatinine clearance standing for the
    GFR and capped at `crcl_cap_ml_min` (commonly 125 mL/min, so at most 150 × AUC)."""
    if crcl_ml_min is None:
        return None
    crcl = _decimal(crcl_ml_min)
    if crcl_cap_ml_min is not None:
        crcl = min(crcl, _decimal(crcl_cap_ml_min))
    return float(_decimal(target_auc) * (crcl + 25))
