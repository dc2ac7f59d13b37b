"""A patient's treatment plan as the calendar needs it: day 1, fractions, boost, body size.

Study IDs only: the plan holds no name, record number or birth date.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bot.calendar.dosing import (
    BSA_M2_RANGE,
    HEIGHT_CM_RANGE,
    WEIGHT_KG_RANGE,
    BsaFormula,
    bsa_m2,
    check_range,
)
from bot.errors import UserError


class PatientPlan(BaseModel):
    """Day 1 (= the first EBRT fraction), the number of EBRT fractions, the nodal boost,
    and either the BSA or height and weight (or neither: doses per m² then have no mg);
    the age at enrolment (mg/kg doses read the weight, AUC doses weight and age too)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    day1: date
    fractions: int = Field(default=25, ge=1, le=60)  # the schedule says what is allowed
    boost: bool = False
    bsa_m2: float | None = None
    height_cm: float | None = None
    weight_kg: float | None = None
    site: str | None = None
    # age at enrolment: what Cockcroft–Gault reads for an AUC dose (None: that dose has no mg)
    age: int | None = Field(default=None, ge=0, le=130)
    # other planned counts the schedule lets the plan set, by the schedule's `patient` key
    counts: dict[str, int] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _body_size(self) -> PatientPlan:
        if self.bsa_m2 is not None:
            if self.height_cm is not None or self.weight_kg is not None:
                raise ValueError("give either bsa_m2 or height_cm and weight_kg, not both")
            check_range("bsa_m2", self.bsa_m2, BSA_M2_RANGE, "m²")
        elif (self.height_cm is None) != (self.weight_kg is None):
            missing = "weight_kg" if self.weight_kg is None else "height_cm"
            raise ValueError(f"height_cm and weight_kg go together; {missing} is missing")
        else:
            if self.height_cm is not None:
                check_range("height_cm", self.height_cm, HEIGHT_CM_RANGE, "cm")
            if self.weight_kg is not None:
                check_range("weight_kg", self.weight_kg, WEIGHT_KG_RANGE, "kg")
        return self

    @classmethod
    def build(cls, **values) -> PatientPlan:
        """Like the constructor, but bad input is a one-line `UserError` naming the field."""
        try:
            return cls(**values)
        except ValidationError as exc:
            error = exc.errors()[0]
            field = ".".join(str(p) for p in error["loc"]) or None
            message = error["msg"].removeprefix("Value error, ")
            cause = error.get("ctx", {}).get("error")
            if isinstance(cause, UserError):
                raise cause from None
            raise UserError(message, field=field) from None

    def body_surface_area(self, formula: BsaFormula = "mosteller") -> float | None:
        """The BSA in m² (given, or from height and weight), unrounded; None if unknown."""
        if self.bsa_m2 is not None:
            return self.bsa_m2
        if self.height_cm is not None and self.weight_kg is not None:
            return bsa_m2(self.height_cm, self.weight_kg, formula)
        return None
