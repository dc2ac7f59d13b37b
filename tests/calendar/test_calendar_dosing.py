"""BSA and doses in mg: the numbers a pharmacist would check."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.calendar.dosing import bsa_m2, dose_mg, round_bsa, round_to_step
from bot.calendar.plan import PatientPlan
from bot.errors import UserError


@pytest.mark.parametrize(
    ("height", "weight", "formula", "expected"),
    [
        (170, 70, "mosteller", 1.82),  # √(170 × 70 / 3600) = 1.8181…
        (170, 70, "dubois", 1.81),  # 0.007184 × 70^0.425 × 170^0.725 = 1.8097…
        (180, 80, "mosteller", 2.00),  # exactly 2
        (160, 55, "mosteller", 1.56),
        (160, 55, "dubois", 1.56),
    ],
)
def test_bsa_formulas_match_published_values(height, weight, formula, expected):
    assert round_bsa(bsa_m2(height, weight, formula)) == expected


def test_mosteller_is_the_default():
    assert bsa_m2(170, 70) == bsa_m2(170, 70, "mosteller") != bsa_m2(170, 70, "dubois")


def test_bsa_rounding_is_half_up_on_the_decimal_value():
    assert round_bsa(1.565) == 1.57  # the float 1.565 is 1.56499…; we round what was written
    assert round_bsa(1.564) == 1.56
    assert round_bsa(1.5634719, decimals=None) == 1.5634719


def test_no_bsa_cap_unless_the_rules_give_one():
    assert round_bsa(2.6) == 2.6
    assert round_bsa(2.6, cap_m2=2.0) == 2.0


@pytest.mark.parametrize(
    ("amount", "bsa", "percent", "expected"),
    [
        (40, 1.62, 100, 65),  # 64.8 → 65
        (135, 1.62, 100, 219),  # 218.7 → 219
        (25, 1.62, 100, 41),  # 40.5 → 41 (half up)
        (135, 1.7, 100, 230),  # 229.5 exactly: no float drift to 229
        (40, 1.62, 80, 52),  # 51.84 → 52: dose level from the treatment state
        (75, 2.0, 100, 150),
    ],
)
def test_dose_per_m2_times_bsa_times_percent_rounded(amount, bsa, percent, expected):
    assert dose_mg(amount, "per_m2", bsa, percent) == expected


def test_flat_doses_ignore_the_bsa_and_scale_by_percent():
    assert dose_mg(240, "flat", None) == 240
    assert dose_mg(240, "flat", 2.5) == 240
    assert dose_mg(240, "flat", 1.6, percent=50) == 120


def test_a_dose_per_m2_without_a_bsa_has_no_mg():
    assert dose_mg(40, "per_m2", None) is None


@pytest.mark.parametrize(
    ("value", "step", "mode", "expected"),
    [
        (40.5, 1, "half_up", 41),
        (40.5, 1, "half_even", 40),
        (40.9, 1, "down", 40),
        (40.1, 1, "up", 41),
        (64.8, 5, "half_up", 65),
        (62.4, 5, "half_up", 60),
        (64.84, 0.1, "half_up", 64.8),
    ],
)
def test_rounding_modes_and_steps(value, step, mode, expected):
    assert round_to_step(value, step, mode) == pytest.approx(expected)


@given(
    amount=st.sampled_from([25, 40, 75, 135]),
    bsa=st.decimals(min_value=Decimal("0.80"), max_value=Decimal("3.00"), places=2),
    percent=st.integers(min_value=1, max_value=100),
)
def test_rounded_dose_is_within_half_a_milligram_of_the_exact_dose(amount, bsa, percent):
    exact = Decimal(amount) * bsa * percent / 100
    mg = dose_mg(amount, "per_m2", float(bsa), percent)
    assert abs(Decimal(str(mg)) - exact) <= Decimal("0.5")
    assert mg == int(mg)


@given(
    height=st.floats(min_value=100, max_value=230),
    weight=st.floats(min_value=25, max_value=250),
)
def test_bsa_grows_with_height_and_weight(height, weight):
    base = bsa_m2(height, weight)
    assert bsa_m2(min(height + 1, 230), weight) >= base
    assert bsa_m2(height, min(weight + 1, 250)) >= base


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"height_cm": 1.6, "weight_kg": 55}, "height_cm"),  # metres, not centimetres
        ({"height_cm": 160, "weight_kg": 550}, "weight_kg"),
        ({"bsa_m2": 16.2}, "bsa_m2"),
        ({"bsa_m2": 0}, "bsa_m2"),
    ],
)
def test_implausible_body_sizes_are_refused_naming_the_field(values, field):
    with pytest.raises(UserError) as caught:
        PatientPlan.build(day1="2026-09-21", **values)
    assert caught.value.field == field
    assert "allowed" in caught.value.message


def test_bsa_and_height_weight_together_are_refused():
    with pytest.raises(UserError, match="either bsa_m2 or height_cm and weight_kg"):
        PatientPlan.build(day1="2026-09-21", bsa_m2=1.6, height_cm=160, weight_kg=55)
    with pytest.raises(UserError, match="weight_kg is missing"):
        PatientPlan.build(day1="2026-09-21", height_cm=160)


def test_plan_bsa_comes_from_height_and_weight():
    plan = PatientPlan(day1="2026-09-21", height_cm=170, weight_kg=70)
    assert round_bsa(plan.body_surface_area()) == 1.82
    assert round_bsa(plan.body_surface_area("dubois")) == 1.81
    assert PatientPlan(day1="2026-09-21").body_surface_area() is None
