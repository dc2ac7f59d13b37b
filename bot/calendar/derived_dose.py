"""Doses that need more than the BSA: mg/kg, AUC (Calvert with Cockcroft–Gault), caps (pure).

A per m² dose without a cap and a flat dose keep the calendar's plain path (`dosing.dose_mg`).
Every other dose is *derived* here from the patient's inputs, and the derivation says which
inputs it used (the creatinine's value, date and entry, the weight, the age, the sex) or
which are missing. A missing input is never defaulted: the dose then has no mg, and
`missing` names what is needed, so the reply can refer and say why.

The protocol dose (100 %) is computed first and capped (`cap_mg`; for AUC also the GFR
cap); a reduction is a percentage of that capped dose, rounded as the drug's rules say.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from bot.calendar.dosing import (
    RoundingMode,
    calvert_mg,
    cockcroft_gault_ml_min,
    per_kg_mg,
    round_to_step,
)

Sex = Literal["female", "male"]
CREATININE = "cr"  # the analyte code of serum creatinine (bot.grading.analytes)
# The words of `missing` (the templates say what each one needs).
MISSING_BSA = "bsa"
MISSING_WEIGHT = "weight"
MISSING_AGE = "age"
MISSING_SEX = "sex"
MISSING_CREATININE = "creatinine"


@dataclass(frozen=True, slots=True)
class Creatinine:
    """One serum creatinine, in µmol/L (the analyte's canonical unit: a value typed in
    mg/dL was converted when the panel was read)."""

    on: date
    umol_l: float
    entry: str | None = None


@dataclass(frozen=True, slots=True)
class DoseInputs:
    """What the patient gives a derived dose: none of it has a default."""

    bsa_m2: float | None = None  # the BSA the calendar doses with (rounded, capped)
    weight_kg: float | None = None
    age: int | None = None  # at enrolment
    sex: Sex | None = None
    creatinine: tuple[Creatinine, ...] = ()  # by date, then as recorded

    def creatinine_on(self, day: date) -> Creatinine | None:
        """The latest creatinine on or before `day` (the last recorded of that date)."""
        index = bisect_right([c.on for c in self.creatinine], day)
        return self.creatinine[index - 1] if index else None


def needs_derivation(dose: Any) -> bool:
    """Whether `dose` (a schedule `Dose`) is computed here rather than by `dose_mg`."""
    return dose.basis in ("per_kg", "auc") or (dose.basis == "per_m2" and dose.cap_mg is not None)


def derive(dose: Any, inputs: DoseInputs, day: date) -> dict[str, Any]:
    """How `dose` (a schedule `Dose`) comes to mg for a dose given on `day`, as JSON-ready
    data: the basis, the inputs used, `base_mg` (the capped protocol dose before any
    reduction and rounding) or None with `missing` naming what is needed."""
    out: dict[str, Any] = {"basis": dose.basis, "amount": dose.amount, "missing": []}
    missing: list[str] = out["missing"]
    raw: Decimal | None = None
    if dose.basis == "per_m2":
        out["bsa_m2"] = inputs.bsa_m2
        if inputs.bsa_m2 is None:
            missing.append(MISSING_BSA)
        else:
            raw = Decimal(str(dose.amount)) * Decimal(str(inputs.bsa_m2))
    elif dose.basis == "per_kg":
        weight = inputs.weight_kg  # the plan checked its range
        out["weight_kg"] = weight
        mg = per_kg_mg(dose.amount, weight)  # the cap is applied below, for every basis
        if mg is None:
            missing.append(MISSING_WEIGHT)
        else:
            raw = Decimal(str(mg))
    elif dose.basis == "auc":
        raw = _auc(dose, inputs, day, out)
    if raw is not None and dose.cap_mg is not None:
        out["capped"] = raw > Decimal(str(dose.cap_mg))
        raw = min(raw, Decimal(str(dose.cap_mg)))
    out["cap_mg"] = dose.cap_mg
    out["base_mg"] = float(raw) if raw is not None else None
    return out


def _auc(dose: Any, inputs: DoseInputs, day: date, out: dict[str, Any]) -> Decimal | None:
    creatinine = inputs.creatinine_on(day)
    weight = inputs.weight_kg
    out.update(
        formula="calvert",
        clearance="cockcroft_gault",
        weight_kg=weight,
        age=inputs.age,
        sex=inputs.sex,
        creatinine_umol_l=creatinine.umol_l if creatinine else None,
        creatinine_on=creatinine.on.isoformat() if creatinine else None,
        creatinine_entry=creatinine.entry if creatinine else None,
        dose_on=day.isoformat(),
        gfr_cap_ml_min=dose.gfr_cap_ml_min,
    )
    for name, value in (
        (MISSING_CREATININE, creatinine),
        (MISSING_WEIGHT, weight),
        (MISSING_AGE, inputs.age),
        (MISSING_SEX, inputs.sex),
    ):
        if value is None:
            out["missing"].append(name)
    if out["missing"]:
        return None
    crcl = cockcroft_gault_ml_min(
        inputs.age, weight, creatinine.umol_l, female=inputs.sex == "female"
    )
    out["crcl_ml_min"] = crcl
    cap = dose.gfr_cap_ml_min
    out["gfr_capped"] = cap is not None and crcl > cap
    out["gfr_ml_min"] = min(crcl, cap) if cap is not None else crcl
    return Decimal(str(calvert_mg(dose.amount, crcl, cap)))


def mg_of(
    derivation: dict[str, Any], percent: int | float, step: float, mode: RoundingMode
) -> float | None:
    """The dose in mg at `percent` of the (capped) protocol dose, rounded; None when an
    input is missing."""
    base = derivation.get("base_mg")
    if base is None:
        return None
    return round_to_step(Decimal(str(base)) * Decimal(str(percent)) / 100, step, mode)
