"""Fixtures for the grading tests: the shipped CTCAE v5.0 data and the trial's site ranges."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.grading import NO_RANGES, load_ctcae, load_reference_ranges, parse_panel

REPO = Path(__file__).resolve().parents[2]
CTCAE_DIR = REPO / "rules" / "ctcae" / "v5.0"
RANGES_FILE = REPO / "rules" / "nct05084677" / "reference_ranges.yaml"


@pytest.fixture(scope="session")
def ctcae():
    return load_ctcae("5.0", CTCAE_DIR)


@pytest.fixture(scope="session")
def site_ranges():
    return load_reference_ranges(RANGES_FILE).for_site(None)


@pytest.fixture(scope="session")
def lab(ctcae):
    """Parse one entry (no site ranges unless given) and grade it: lab('ANC 0.5').grade."""
    from bot.grading import grade_value

    def grade(text, baseline=None, symptomatic=None, ranges=NO_RANGES):
        (value,) = parse_panel(text, ranges)
        base = parse_panel(baseline, ranges)[0] if baseline else None
        return grade_value(ctcae, value, base, symptomatic)

    return grade
