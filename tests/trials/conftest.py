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
