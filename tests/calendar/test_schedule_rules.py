"""The schedule and sites files: the shipped ones are complete and cited, and a typo in
either is reported by `trialbot rules check` with file, field and the allowed values."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from bot.calendar.schema import CyclesSeries
from bot.cli import main

REPO = Path(__file__).resolve().parents[2]
SCHEDULE = REPO / "rules" / "nct05084677" / "schedule.yaml"
SITES = REPO / "rules" / "nct05084677" / "sites.yaml"


def test_every_series_drug_and_visit_cites_the_protocol(schedule):
    for entry in [
        *schedule.series,
        *schedule.drugs,
        *schedule.radiotherapy,
        *schedule.visits,
        *schedule.phases,
    ]:
        assert re.search(r"Protocol|Table \d|Abstract", entry.source), entry.id
    for entry in schedule.series:
        if isinstance(entry, CyclesSeries):
            assert all(a.source for a in entry.administrations)


def test_table2_reconstruction_reproduces_the_printed_tick_counts(schedule):
    # ticks per row in the protocol's Table 2 (the text extraction kept the counts)
    printed = {
        "written_informed_consent": 1,
        "demographic_information": 1,
        "medical_history": 3,
        "physical_examination": 4,
        "staging_imaging": 4,
        "pathological_results": 1,
        "hpv_testing": 2,
        "blood_samples": 5,
        "planning_ct": 1,
        "image_guidance": 1,
        "toxicity_assessment": 4,
    }
    ticks: Counter[str] = Counter()
    for visit in schedule.visits:
        for item in visit.items:
            ticks[item] += len(visit.assessment_columns)  # follow-up counts for months 3 and 6
    assert dict(ticks) == printed
    columns = [c for v in schedule.visits for c in v.assessment_columns]
    assert len(columns) == 7  # Eligibility … Follow-up 2 (month 6)


def test_every_reading_in_the_schedule_is_listed_in_the_docs():
    text = SCHEDULE.read_text(encoding="utf-8") + SITES.read_text(encoding="utf-8")
    readings = set(re.findall(r"READING \(([^)]+)\)", text))
    assert len(readings) >= 15
    docs = (REPO / "docs" / "protocol-readings.md").read_text(encoding="utf-8")
    section = docs.split("## Calendar", 1)[1].split("\n## ", 1)[0]
    for name in readings:
        assert name in section, name


def test_the_protocol_settings_are_in_the_file_not_the_code(schedule):
    series = {s.id: s for s in schedule.series}
    assert series["consolidation"].start.offset_days == 7
    assert series["ccrt_cisplatin"].min_interval_days == 5
    assert series["maintenance_toripalimab"].until.months == 12
    assert series["maintenance_toripalimab"].until.inclusive is False
    assert series["ebrt"].count.model_dump() == {
        "default": 25,
        "min": 25,
        "max": 28,
        "patient": "fractions",
    }
    doses = [
        (a.dose or schedule.drug(a.drug).dose).amount
        for a in series["consolidation"].administrations
    ]
    assert doses == [135, 240, 25, 25, 25]  # 75 mg/m² of cisplatin split over days 2–4
    assert schedule.drug("toripalimab").dose.model_dump() == {"amount": 240, "basis": "flat"}


# --- broken files through `trialbot rules check` ---------------------------------------
def _break(rules_root: Path, name: str, old: str, new: str) -> Path:
    path = rules_root / "nct05084677" / name
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path.parent


@pytest.mark.parametrize(
    ("name", "old", "new", "expected"),
    [
        ("schedule.yaml", "    kind: radiotherapy\n    phase: ccrt",
         "    kind: radiotherpy\n    phase: ccrt",
         ["schedule.yaml: series[3].fractions.kind:",
          "'radiotherapy', 'brachytherapy', 'infusion', 'assessment' or 'labs'",
          "(got 'radiotherpy')"]),
        ("schedule.yaml", "start: {of: brachytherapy, at: last, offset_days: 7}",
         "start: {of: brachy, at: last, offset_days: 7}",
         ["series[8].start.of: unknown series 'brachy' — did you mean 'brachytherapy'?",
          "(allowed: day1, eligibility_visit,"]),
        ("schedule.yaml", "    every_days: 42\n", "    every_dayz: 42\n",
         ["series[9].interval.every_dayz: unknown key — did you mean 'every_days'?",
          "series[9].interval.every_days: Field required"]),
        ("schedule.yaml", "type: weekly_cover", "type: weekly_covers",
         ["series[11]:", "'once', 'fractions', 'weekly', 'interval', 'cycles', 'months', "
          "'labs', 'weekly_cover'"]),
        ("schedule.yaml", "phase: maintenance\n", "phase: maintainance\n",
         ["series[9].phase: unknown phase 'maintainance' — did you mean 'maintenance'?",
          "(allowed: screening, ccrt, consolidation, maintenance, follow_up)"]),
        ("schedule.yaml", "    start: {of: day1, offset_days: -14}",
         "    start: {of: eligibility_visit, offset_days: -14}",
         ["series: the series depend on each other in a circle: "
          "eligibility_visit → planning_ct → eligibility_visit"]),
        ("schedule.yaml", "cycle_day1_from: [paclitaxel, toripalimab]",
         "cycle_day1_from: [cisplatin]",
         ["series[8].cycle_day1_from[0]: unknown day-1 drug 'cisplatin' "
          "(allowed: paclitaxel, toripalimab)"]),
        ("schedule.yaml", "drug: toripalimab\n    start: {of: day1}",
         "drug: toripalimb\n    start: {of: day1}",
         ["series[5].drug: unknown drug 'toripalimb' — did you mean 'toripalimab'? "
          "(allowed: cisplatin, paclitaxel, toripalimab)"]),
        ("schedule.yaml", "dose: {amount: 40, basis: per_m2}", "dose: {amount: 40, basis: per_mm2}",
         ["series[4].weekly.dose.basis: unknown dose basis 'per_mm2' — did you mean 'per_m2'? "
          "(allowed: per_m2, flat, per_kg, auc)"]),
        ("schedule.yaml", "dose: {amount: 40, basis: per_m2}", "dose: {amount: 40, basis: per_kg}",
         ["series[4].weekly.dose.weight: basis per_kg reads the weight: say which (allowed: actual)"]),
        ("schedule.yaml",
         "    dose: {amount: 240, basis: flat}  # every toripalimab series uses it",
         "    # no dose",
         ["series[5].dose: no dose: give `dose` here or on drug 'toripalimab'",
          "series[8].administrations[1].dose: no dose"]),
        ("schedule.yaml", "bsa_formula: mosteller", "bsa_formula: mostellar",
         ["dosing.bsa_formula: Input should be 'mosteller' or 'dubois' (got 'mostellar')"]),
        ("schedule.yaml", "count: {default: 25, min: 25, max: 28, patient: fractions}",
         "count: {default: 24, min: 25, max: 28, patient: fractions}",
         ["series[3].fractions.count: Value error, need min ≤ default ≤ max, got 25, 24, 28"]),
        ("schedule.yaml", "  - {id: hpv_testing,", "  - {id: hpv_test,",
         ["visits[0].items[5]: unknown visit item 'hpv_testing' — did you mean 'hpv_test'?"]),
        ("schedule.yaml", "ott_series: ebrt", "ott_series: brachy",
         ["summary.ott_series: unknown series 'brachy'"]),
        ("schedule.yaml", "  - id: ebrt\n    label: EBRT fraction",
         "  - id: ebrt\n    label: [EBRT fraction",
         ["schedule.yaml: line ", "is not valid YAML"]),
        ("sites.yaml", "timezone: Asia/Shanghai", "timezone: Asia/Shangai",
         ["sites.yaml: sites[0].timezone:", "did you mean 'Asia/Shanghai'?"]),
        ("sites.yaml", "country: CN", "country: XX", ["sites[0].country: unknown country 'XX'"]),
        ("sites.yaml", "closures: []", "closures: [2026-13-01]",
         ["sites.yaml: holds an impossible value: month must be in 1..12"]),
        ("sites.yaml", "brachytherapy_fractions_per_week: 2",
         "brachytherapy_fractions_per_wk: 2",
         ["sites[0].brachytherapy_fractions_per_wk: unknown key — did you mean "
          "'brachytherapy_fractions_per_week'?"]),
        ("sites.yaml", "brachytherapy_fractions_per_week: 2", "brachytherapy_fractions_per_week: 9",
         ["sites[0].brachytherapy_fractions_per_week: Input should be less than or equal to 5"]),
        ("sites.yaml", "default_site: main", "default_site: mian",
         ["default_site: unknown site 'mian' — did you mean 'main'? (allowed: main)"]),
    ],
)  # fmt: skip
def test_a_broken_rules_file_is_reported_with_file_field_and_allowed_values(
    rules_root, capsys, name, old, new, expected
):
    directory = _break(rules_root, name, old, new)
    code = main(["rules", "check", str(directory)])
    _, err = capsys.readouterr()
    assert code == 2
    assert "the rules do not validate" in err
    for text in expected:
        assert text in err, err
    assert "Traceback" not in err


def test_a_missing_schedule_file_is_reported(rules_root, capsys):
    (rules_root / "nct05084677" / "schedule.yaml").unlink()
    assert main(["rules", "check", str(rules_root / "nct05084677")]) == 2
    assert "schedule.yaml: is missing" in capsys.readouterr().err


def test_the_copied_shipped_rules_validate(rules_root, capsys):
    from bot.protocol.loader import load_trial

    trial = load_trial(rules_root / "nct05084677")
    assert {"schedule.yaml", "sites.yaml"} <= set(trial.files)
