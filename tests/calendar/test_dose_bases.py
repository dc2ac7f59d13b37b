"""mg/kg, Cockcroft–Gault and Calvert arithmetic: worked values and no guessed input."""

from __future__ import annotations

import pytest

from bot.calendar.dosing import calvert_mg, cockcroft_gault_ml_min, per_kg_mg
from bot.errors import UserError


def test_cockcroft_gault_for_a_woman_with_creatinine_in_umol_per_l():
    # age 52, 60 kg, creatinine 70.7 µmol/L (0.8 mg/dL): (88 × 60) / (72 × 0.8) × 0.85
    crcl = cockcroft_gault_ml_min(52, 60, 70.736, female=True)
    assert crcl == pytest.approx(88 * 60 / (72 * 0.8) * 0.85, rel=1e-9)
    assert cockcroft_gault_ml_min(52, 60, 70.736, female=False) == pytest.approx(91.6667, 1e-4)


@pytest.mark.parametrize("missing", ["age", "weight", "creatinine", "sex"])
def test_cockcroft_gault_is_not_guessed_without_an_input(missing):
    values = {"age": 52, "weight": 60, "creatinine": 70.7, "sex": True}
    values[missing] = None
    assert cockcroft_gault_ml_min(*values.values()) is None


def test_calvert_with_the_clearance_cap():
    assert calvert_mg(5, 65) == 450  # AUC 5 × (65 + 25)
    assert calvert_mg(5, 160, crcl_cap_ml_min=125) == 750  # capped: 150 × AUC
    assert calvert_mg(5, None) is None


def test_mg_per_kg_with_a_flat_cap():
    assert per_kg_mg(2, 60) == 120
    assert per_kg_mg(2, 110, max_mg=200) == 200
    assert per_kg_mg(2, None) is None
    with pytest.raises(UserError, match="outside the plausible range"):
        per_kg_mg(2, 600)
