"""A second rules directory beside the shipped trial: what a new trial team would write.

`other_rules` copies the shipped trial into a fresh rules folder as `other_trial` and
changes what must not leak from one trial into another: its name, its one site (`east`,
Europe/Berlin, the rules' own default site), its study-ID numbering, its laboratory's
ANC range, and no `stage` criterion. TRIALBOT_RULES_DIR points at that folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from bot.paths import rules_root
from bot.protocol.loader import RULE_FILES

SHIPPED = rules_root() / "nct05084677"
OTHER = "other_trial"


def _edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _sites(data: dict) -> None:
    data["default_site"] = "east"
    data["study_ids"] = {"pattern": "OT-[0-9]{4}", "example": "OT-0001", "meaning": "OT-nnnn"}
    site = data["sites"][0]
    data["sites"] = [
        {**site, "id": "east", "label": "East clinic", "country": "DE", "timezone": "Europe/Berlin"}
    ]
    data["sites"][0].pop("makeup_workdays_are_treatment_days", None)
    data["sites"][0].pop("makeup_days_published_through", None)


def _ranges(data: dict) -> None:
    data["default_site"] = "east"
    analytes = data["sites"].pop("main")["analytes"]
    analytes["anc"] = {**analytes["anc"], "lln": 1.5}
    data["sites"] = {"east": {"label": "East clinic laboratory", "analytes": analytes}}


def _eligibility(data: dict) -> None:
    data["criteria"] = [c for c in data["criteria"] if c["key"] != "stage"]


def _schedule(data: dict) -> None:
    data["trial"] = "OTHER-1"
    data["title"] = "A second trial's rules directory"


@pytest.fixture
def other_rules(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "rules"
    for trial in ("nct05084677", OTHER):
        (root / trial).mkdir(parents=True)
        for name in RULE_FILES:
            shutil.copy(SHIPPED / name, root / trial / name)
    shutil.copytree(rules_root() / "ctcae", root / "ctcae")
    _edit(root / OTHER / "sites.yaml", _sites)
    _edit(root / OTHER / "reference_ranges.yaml", _ranges)
    _edit(root / OTHER / "eligibility.yaml", _eligibility)
    _edit(root / OTHER / "schedule.yaml", _schedule)
    monkeypatch.setenv("TRIALBOT_RULES_DIR", str(root))
    monkeypatch.delenv("TRIALBOT_TRIAL", raising=False)
    monkeypatch.delenv("TRIALBOT_DEFAULT_SITE", raising=False)
    return root


# A third trial, as a new team would write it from the second shipped one: other drugs
# (carboplatin; two immunotherapy drugs, durvalumab and tremelimumab, answered by the same
# rules), other phase names, a radiotherapy course of its own, two sites in other countries
# and time zones with a default site that is not the first, its own numbering, no `stage`
# criterion and a conditional one. Built by editing a copy in tmp_path.
THIRD = "third_trial"
SECOND = rules_root() / "keynote_a18"
THIRD_WORDS = {"pembrolizumab": "durvalumab", "KEYTRUDA": "IMFINZI", "cisplatin": "carboplatin"}


def _retext(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for old, new in THIRD_WORDS.items():
        text = text.replace(old, new).replace(old.capitalize(), new.capitalize())
    path.write_text(text, encoding="utf-8")


def _third_schedule(data: dict) -> None:
    data["trial"] = "THIRD-01"
    data["title"] = "A third trial's rules directory"
    renamed = {"ccrt": "chemoradiation", "maintenance": "adjuvant", "ebrt": "pelvic_rt"}
    for phase in data["phases"]:
        phase["id"] = renamed.get(phase["id"], phase["id"])
    for course in data["radiotherapy"]:
        if course["id"] == "ebrt":
            course.update(id="pelvic_rt", label="Pelvic IMRT fraction")
    data["drugs"].append(
        {
            "id": "tremelimumab",
            "label": "Tremelimumab",
            "class": "immunotherapy",
            "unit": "mg",
            "route": "iv",
            "dose": {"amount": 75, "basis": "flat"},
            "rounding": {"step": 1, "mode": "half_up"},
            "source": "Third protocol 5.2",
        }
    )
    series = data["series"]
    for item in series:
        item["phase"] = renamed.get(item["phase"], item["phase"])
        if item["id"] == "ebrt":
            item.update(id="pelvic_rt", course="pelvic_rt", label="Pelvic IMRT fraction")
        if item.get("within") == "ebrt":
            item["within"] = "pelvic_rt"
        if item.get("start", {}).get("of") == "ebrt":
            item["start"]["of"] = "pelvic_rt"
        if item["id"] == "pre_dose_labs":
            item["before"].append("ccrt_tremelimumab")
    series.insert(
        4,
        {
            "id": "ccrt_tremelimumab",
            "type": "interval",
            "kind": "infusion",
            "phase": "chemoradiation",
            "label": "Tremelimumab 75 mg (Q3W)",
            "drug": "tremelimumab",
            "start": {"of": "day1"},
            "every_days": 21,
            "count": 4,
            "window": {"before": 3, "after": 3},
            "first_window": {"before": 0, "after": 3},
            "held_postpone_days": 7,
            "source": "Third protocol 5.2",
        },
    )
    data["summary"]["ott_series"] = "pelvic_rt"


def _third_doses(data: dict) -> None:
    data["immunotherapy"]["drugs"] = ["durvalumab", "tremelimumab"]
    _each_drug(data["immunotherapy"])


def _each_drug(value) -> None:
    """What the rules tell the team to do names each decision's own drug: `{drug}`."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "management" and isinstance(item, str):
                value[key] = item.replace("durvalumab", "{drug}")
            elif key == "options":
                value[key] = [o.replace("durvalumab", "{drug}") for o in item]
            else:
                _each_drug(item)
    elif isinstance(value, list):
        for item in value:
            _each_drug(item)


def _third_sites(data: dict) -> None:
    site = data["sites"][0]
    data["sites"] = [
        {**site, "id": "lyon", "label": "Lyon", "country": "FR", "subdivision": None,
         "timezone": "Europe/Paris"},
        {**site, "id": "boston", "label": "Boston", "country": "US", "subdivision": "MA",
         "timezone": "America/New_York"},
    ]  # fmt: skip
    data["default_site"] = "boston"
    data["study_ids"] = {"pattern": "TT-[0-9]{3}", "example": "TT-042", "meaning": "TT-nnn"}


def _third_ranges(data: dict) -> None:
    analytes = data["sites"].pop("london")["analytes"]
    lyon = {**analytes, "alt": {**analytes["alt"], "uln": 33}}
    data["sites"] = {
        "boston": {"label": "Boston laboratory", "analytes": analytes},
        "lyon": {"label": "Lyon laboratory", "analytes": lyon},
    }
    data["default_site"] = "boston"


def _third_eligibility(data: dict) -> None:
    criteria = [
        c for c in data["criteria"] if c["key"] not in ("stage", "node_positive_if_ib2_iib")
    ]
    criteria[1:1] = [
        {
            "key": "child_bearing_potential",
            "type": "yes_no",
            "section": "inclusion",
            "label": "Of child-bearing potential, using contraception",
            "question": "Is the patient of child-bearing potential and using contraception?",
            "pass_when": "yes",
            "not_applicable": "not of child-bearing potential",
            "citation": "Third protocol 4.1 (5)",
        },
        {
            "key": "pregnancy_test",
            "type": "yes_no",
            "section": "inclusion",
            "label": "Negative pregnancy test",
            "question": "Is the pregnancy test negative?",
            "pass_when": "yes",
            "when": {"field": "child_bearing_potential", "equals": "yes"},
            "citation": "Third protocol 4.1 (6)",
        },
    ]
    criteria.append(
        {
            "key": "anc",
            "type": "lab_threshold",
            "section": "inclusion",
            "label": "ANC at least 1.5",
            "analyte": "anc",
            "op": ">=",
            "threshold": 1.5,
            "unit": "10^9/L",
            "citation": "Third protocol 4.1 (8)",
        }
    )
    data["criteria"] = criteria


def build_third_trial(root: Path) -> Path:
    """The third trial's folder under `root` (a rules folder with ctcae/ beside it)."""
    folder = root / THIRD
    folder.mkdir(parents=True)
    for name in RULE_FILES:
        shutil.copy(SECOND / name, folder / name)
        _retext(folder / name)
    _edit(folder / "schedule.yaml", _third_schedule)
    _edit(folder / "dose_modifications.yaml", _third_doses)
    _edit(folder / "sites.yaml", _third_sites)
    _edit(folder / "reference_ranges.yaml", _third_ranges)
    _edit(folder / "eligibility.yaml", _third_eligibility)
    return folder


@pytest.fixture
def third_rules(tmp_path, monkeypatch) -> Path:
    """A rules folder holding the third trial (and CTCAE); TRIALBOT_TRIAL names it."""
    root = tmp_path / "rules3"
    shutil.copytree(rules_root() / "ctcae", root / "ctcae")
    build_third_trial(root)
    monkeypatch.setenv("TRIALBOT_RULES_DIR", str(root))
    monkeypatch.setenv("TRIALBOT_TRIAL", THIRD)
    monkeypatch.setenv("TRIALBOT_CACHE_DIR", "off")
    monkeypatch.delenv("TRIALBOT_DEFAULT_SITE", raising=False)
    return root
