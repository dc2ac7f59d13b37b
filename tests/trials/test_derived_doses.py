"""Dose bases beyond per m² and flat, written in a rules directory with no Python change:
carboplatin AUC 5 by Calvert (the GFR a Cockcroft–Gault clearance, capped at 125 mL/min)
and pembrolizumab 2 mg/kg capped at 200 mg — on a copy of the shipped KEYNOTE-A18 folder
with cisplatin's weekly dose turned into carboplatin's, as a trial team would edit it.

Worked numbers (checked by hand; Cockcroft–Gault = (140 − age) × weight / (72 × Cr mg/dL),
× 0.85 for a woman; Cr mg/dL = µmol/L ÷ 88.42; Calvert mg = AUC × (GFR + 25)):
- age 52, 60 kg, creatinine 62 µmol/L = 0.70120 mg/dL: 88 × 60 / (72 × 0.70120) = 104.58,
  × 0.85 = 88.90 mL/min → 5 × (88.90 + 25) = 569.5 → 569 mg (569.48 before rounding);
- the same with creatinine 0.8 mg/dL (70.736 µmol/L): 88 × 60 / 57.6 × 0.85 = 77.92 mL/min
  → 5 × 102.92 = 514.6 → 515 mg;
- age 30, 110 kg, creatinine 40 µmol/L = 0.45238 mg/dL: 110 × 110 / (72 × 0.45238) × 0.85
  = 315.8 mL/min, capped at 125 → 5 × 150 = 750 mg;
- pembrolizumab 2 mg/kg: 60 kg → 120 mg; 110 kg → 220 mg, capped at 200 mg.
"""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime
from pathlib import Path

import pytest

from bot.calendar.derived_dose import Creatinine, DoseInputs, derive, mg_of
from bot.calendar.schema import Dose
from bot.cli import main
from bot.clock import FixedClock
from bot.commands import run as run_command
from bot.paths import rules_root
from bot.protocol.loader import RULE_FILES
from bot.services import Request, build_context
from bot.settings import Settings
from tests.trials.conftest import _edit

TRIAL = "dosed_trial"
ADMIN, NURSE, DOCTOR = "U0ADMIN01", "U0NURSE01", "U0DOC0001"
AUC = {"amount": 5, "basis": "auc", "weight": "actual", "gfr_cap_ml_min": 125}
PER_KG = {"amount": 2, "basis": "per_kg", "weight": "actual", "cap_mg": 200}


def _schedule(data: dict) -> None:
    data["trial"] = "DOSED-1"
    data["population"] = {"sex": "female", "source": "cervical cancer: women only"}
    for drug in data["drugs"]:
        if drug["id"] == "carboplatin":
            drug["dose"] = dict(AUC)
        if drug["id"] == "pembrolizumab":
            drug["dose"] = dict(PER_KG)


@pytest.fixture
def dosed_rules(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "rules"
    shipped = rules_root() / "keynote_a18"
    for trial in ("nct05084677", TRIAL):
        (root / trial).mkdir(parents=True)
        source = rules_root() / trial if trial != TRIAL else shipped
        for name in RULE_FILES:
            text = (source / name).read_text(encoding="utf-8")
            if trial == TRIAL and name in ("schedule.yaml", "dose_modifications.yaml"):
                text = text.replace("cisplatin", "carboplatin").replace("Cisplatin", "Carboplatin")
            (root / trial / name).write_text(text, encoding="utf-8")
    shutil.copytree(rules_root() / "ctcae", root / "ctcae")
    _edit(root / TRIAL / "schedule.yaml", _schedule)
    monkeypatch.setenv("TRIALBOT_RULES_DIR", str(root))
    monkeypatch.setenv("TRIALBOT_TRIAL", TRIAL)
    monkeypatch.delenv("TRIALBOT_DEFAULT_SITE", raising=False)
    return root


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def history(tmp_path, plan: str, *events: str) -> Path:
    path = tmp_path / "history.yaml"
    lines = ["study_id: KN-0007", f"plan: {{start: 2027-03-01, {plan}}}", "events:"]
    lines += [f"  - {event}" for event in events] or ["  []"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


CREATININE_62 = '{date: 2027-02-26, lab: "creatinine 62 umol/L"}'


# --- the calendar -------------------------------------------------------------------------
def test_the_calendar_doses_carboplatin_by_auc_and_pembrolizumab_per_kg(
    dosed_rules, tmp_path, capsys
):
    path = history(tmp_path, "height: 160, weight: 60, age: 52", CREATININE_62)
    code, out, err = cli(capsys, "calendar", "--history", str(path))
    assert code == 0, err
    assert "AUC 5 = 569 mg" in out  # 5 × (88.90 + 25)
    assert "2 mg/kg = 120 mg" in out  # 2 × 60 kg
    code, out, err = cli(capsys, "calendar", "--history", str(path), "--json")
    doses = [e["dose"] for e in json.loads(out) if e["item"] == "carboplatin"]
    assert doses[0]["mg"] == 569 and doses[0]["basis"] == "auc"
    derivation = doses[0]["derivation"]
    assert derivation["crcl_ml_min"] == pytest.approx(88.896, abs=1e-3)
    assert derivation["creatinine_on"] == "2027-02-26" and derivation["sex"] == "female"
    assert derivation["base_mg"] == pytest.approx(569.48, abs=1e-2)


def test_the_caps_the_rules_give(dosed_rules, tmp_path, capsys):
    path = history(
        tmp_path,
        "height: 175, weight: 110, age: 30",
        '{date: 2027-02-26, lab: "creatinine 40 umol/L"}',
    )
    code, out, err = cli(capsys, "calendar", "--history", str(path), "--json")
    assert code == 0, err
    events = json.loads(out)
    carboplatin = next(e["dose"] for e in events if e["item"] == "carboplatin")
    pembrolizumab = next(e["dose"] for e in events if e["item"] == "pembrolizumab")
    # age 30, 110 kg: 315.8 mL/min → GFR capped at 125 → 5 × 150 = 750 mg
    assert carboplatin["mg"] == 750 and carboplatin["derivation"]["gfr_capped"] is True
    assert pembrolizumab["mg"] == 200 and pembrolizumab["derivation"]["capped"] is True  # 220


def test_without_creatinine_or_age_the_calendar_gives_no_mg_and_says_what_is_missing(
    dosed_rules, tmp_path, capsys
):
    path = history(tmp_path, "height: 160, weight: 60")
    code, out, err = cli(capsys, "calendar", "--history", str(path))
    assert code == 0, err
    assert "AUC 5: refer" in out
    assert "No mg for carboplatin from 2027-03-01 (refer): needs creatinine, age" in out
    assert "2 mg/kg = 120 mg" in out  # mg/kg needs only the weight


# --- the decision engine (trialbot decide) ------------------------------------------------
def test_decide_shows_the_basis_and_its_inputs(dosed_rules, tmp_path, capsys):
    path = history(tmp_path, "height: 160, weight: 60, age: 52", CREATININE_62)
    code, out, err = cli(capsys, "decide", str(path), "lab ANC 1.2 creatinine 0.8 mg/dL")
    assert code == 0, err
    # the creatinine of the new entry (0.8 mg/dL = 70.736 µmol/L) is the latest: 515 mg
    assert (
        "carboplatin AUC 5 → 515 mg (Calvert, CrCl 78 mL/min by Cockcroft–Gault from "
        "creatinine 70.736 µmol/L on Sat 27 Feb 2027 (E2), weight 60 kg, age 52, female)"
    ) in out
    assert "pembrolizumab 2 mg/kg → 120 mg (2 mg/kg × 60 kg actual weight)" in out


def test_decide_without_creatinine_refers_naming_it(dosed_rules, tmp_path, capsys):
    path = history(tmp_path, "height: 160, weight: 60, age: 52")
    code, out, err = cli(capsys, "decide", str(path), "lab ANC 1.2", "--date", "2027-03-05")
    assert code == 0, err
    assert (
        "carboplatin AUC 5 (mg not computed — REFER to investigator: no serum creatinine "
        "recorded on or before Mon 08 Mar 2027"
    ) in out
    code, out, err = cli(
        capsys, "decide", str(path), "lab ANC 1.2", "--date", "2027-03-05", "--json"
    )
    carbo = next(d for d in json.loads(out)["decisions"] if d["drug"] == "carboplatin")
    assert carbo["next_dose"]["mg"] is None
    assert carbo["next_dose"]["derivation"]["missing"] == ["creatinine"]


# --- the services, through the commands (record a lab, the calendar reply) ------------------
@pytest.fixture
def chat(dosed_rules, tmp_path):
    clock = FixedClock(datetime.fromisoformat("2027-02-26T09:00+00:00"))
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'dosed.db'}",
        rules_dir=dosed_rules,
        trial=TRIAL,
        admins=(ADMIN,),
    )
    ctx = build_context(settings, clock=clock)

    def say(text: str, user: str = NURSE, on: date | None = None):
        if on is not None:
            clock.set(datetime.fromisoformat(f"{on.isoformat()}T09:00+00:00"))
        reply = run_command(ctx, Request(user=user, source="test"), text)
        assert reply.ok, reply.text
        return reply

    say(f"role {NURSE} coordinator site=london", user=ADMIN)
    say(f"role {DOCTOR} investigator site=london oncall=yes", user=ADMIN)
    yield say
    ctx.db.dispose()


def test_recording_a_creatinine_gives_the_auc_dose_in_the_reply(chat):
    chat("enroll KN-0007 start=2027-03-01 height=160 weight=60 age=52")
    missing = chat("lab KN-0007 ANC 2.1", on=date(2027, 2, 26))
    assert "no serum creatinine recorded on or before" in missing.text, missing.text
    reply = chat("lab KN-0007 creatinine 62 umol/L", on=date(2027, 2, 26))
    assert (
        "carboplatin AUC 5 → 569 mg (Calvert, CrCl 89 mL/min by Cockcroft–Gault from "
        "creatinine 62 µmol/L on Fri 26 Feb 2027"
    ) in reply.text, reply.text
    assert "pembrolizumab 2 mg/kg → 120 mg" in reply.text
    calendar = chat("calendar KN-0007")
    assert "AUC 5 = 569 mg" in calendar.text and "2 mg/kg = 120 mg" in calendar.text


def test_grade_reads_creatinine_in_mg_per_dl_as_the_dose_does(dosed_rules, capsys):
    code, out, _ = cli(capsys, "grade", "creatinine 0.8 mg/dL", "--json")
    assert code == 0
    assert json.loads(out)["results"][0]["value"] == pytest.approx(70.736)


# --- a reduction is a percentage of the capped protocol dose --------------------------------
def test_a_reduction_is_of_the_capped_dose():
    inputs = DoseInputs(weight_kg=110, age=30, sex="female")
    capped = derive(Dose(**PER_KG), inputs, date(2027, 3, 1))
    assert mg_of(capped, 100, 1, "half_up") == 200
    assert mg_of(capped, 80, 1, "half_up") == 160  # 80 % of 200, not of 220
    creatinine = (Creatinine(on=date(2027, 2, 26), umol_l=62, entry="E1"),)
    auc = derive(
        Dose(**AUC),
        DoseInputs(weight_kg=60, age=52, sex="female", creatinine=creatinine),
        date(2027, 3, 1),
    )
    assert mg_of(auc, 80, 1, "half_up") == 456  # 0.8 × 569.48 = 455.6
    before = derive(
        Dose(**AUC),
        DoseInputs(weight_kg=60, age=52, sex="female", creatinine=creatinine),
        date(2027, 2, 25),
    )
    assert before["missing"] == ["creatinine"] and mg_of(before, 100, 1, "half_up") is None


# --- rules check --------------------------------------------------------------------------
def _check(capsys, root: Path, change) -> list[str]:
    _edit(root / TRIAL / "schedule.yaml", change)
    code = main(["rules", "check", str(root / TRIAL)])
    err = capsys.readouterr().err
    assert code == 2, err
    return [line.strip() for line in err.splitlines()[1:]]


def _drug_dose(drug: str, **dose):
    def change(data):
        for entry in data["drugs"]:
            if entry["id"] == drug:
                entry["dose"] = dose

    return change


def test_the_dosed_copy_passes(dosed_rules, capsys):
    assert main(["rules", "check", str(dosed_rules / TRIAL)]) == 0


def test_a_misspelt_basis_names_file_field_and_the_closest_basis(dosed_rules, capsys):
    problems = _check(capsys, dosed_rules, _drug_dose("carboplatin", **{**AUC, "basis": "acu"}))
    assert problems == [
        f"{TRIAL}/schedule.yaml: drugs[0].dose.basis: unknown dose basis 'acu' — did you mean "
        "'auc'? (allowed: per_m2, flat, per_kg, auc) (got 'acu')"
    ]


def test_a_misspelt_dose_key_names_the_closest_key(dosed_rules, capsys):
    dose = {k: v for k, v in PER_KG.items() if k != "cap_mg"} | {"cap_mgg": 200}
    (problem,) = _check(capsys, dosed_rules, _drug_dose("pembrolizumab", **dose))
    assert problem.startswith(
        f"{TRIAL}/schedule.yaml: drugs[1].dose.cap_mgg: unknown key — did you mean 'cap_mg'?"
    )


@pytest.mark.parametrize(
    ("drug", "dose", "expected"),
    [
        (
            "pembrolizumab",
            {**PER_KG, "cap_mg": 0},
            "drugs[1].dose.cap_mg: Input should be greater than 0",
        ),
        (
            "carboplatin",
            {**AUC, "gfr_cap_ml_min": -5},
            "drugs[0].dose.gfr_cap_ml_min: Input should be greater than 0",
        ),
        (
            "carboplatin",
            {k: v for k, v in AUC.items() if k != "weight"},
            "drugs[0].dose.weight: basis auc reads the weight: say which (allowed: actual)",
        ),
        (
            "pembrolizumab",
            {**PER_KG, "gfr_cap_ml_min": 125},
            "drugs[1].dose.gfr_cap_ml_min: gfr_cap_ml_min applies only to basis auc",
        ),
        (
            "pembrolizumab",
            {"amount": 200, "basis": "flat", "cap_mg": 200},
            "drugs[1].dose.cap_mg: a flat dose has no cap",
        ),
    ],
    ids=["cap zero", "gfr cap negative", "auc without weight", "gfr cap on per_kg", "flat cap"],
)
def test_a_dose_without_what_its_basis_needs(dosed_rules, capsys, drug, dose, expected):
    problems = _check(capsys, dosed_rules, _drug_dose(drug, **dose))
    assert any(p.startswith(f"{TRIAL}/schedule.yaml: {expected}") for p in problems), problems


def test_an_auc_dose_needs_the_populations_sex(dosed_rules, capsys):
    problems = _check(capsys, dosed_rules, lambda data: data.pop("population"))
    assert problems == [
        f"{TRIAL}/schedule.yaml: drugs[0].dose.basis: an auc dose reads the sex "
        "(Cockcroft–Gault), and the enrolment records none: give it as `population: (sex: "
        "female|male, source: …)` in this file (got 'auc')"
    ]


def test_the_digest_and_the_ics_say_what_a_dose_without_mg_needs(
    chat, tmp_path, monkeypatch, capsys
):
    enrolled = chat("enroll KN-0007 start=2027-03-01 height=160 weight=60")  # no age, no Cr
    assert (
        ":warning: from Mon 01 Mar 2027: carboplatin AUC 5 (mg not computed — REFER to "
        "investigator: no serum creatinine recorded on or before Mon 01 Mar 2027"
    ) in enrolled.text, enrolled.text
    assert "no age at enrolment (age=)" in enrolled.text
    assert "pembrolizumab" not in enrolled.text.split(":warning:", 1)[1]  # it has its mg
    monkeypatch.setenv("TRIALBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'dosed.db'}")
    assert main(["digest", "--date", "2027-03-01", "--site", "london"]) == 0
    out = capsys.readouterr().out
    assert "carboplatin AUC 5 (1): KN-0007 (no mg: refer, needs creatinine, age)" in out, out
    assert "pembrolizumab 2 mg/kg (1): KN-0007 120 mg" in out, out
    out_file = tmp_path / "KN-0007.ics"
    assert main(["export", "ics", "--patient", "KN-0007", "--out", str(out_file)]) == 0
    feed = out_file.read_bytes().decode("utf-8").replace("\r\n ", "")  # unfolded
    assert "AUC 5 (no mg: refer\\, needs creatinine\\, age)" in feed, feed[:3000]
    assert "2 mg/kg = 120 mg" in feed


def test_a_reduced_auc_dose_with_the_gfr_cap_in_the_decision_text():
    from bot.render import Renderer

    # age 30, 80 kg, creatinine 40 µmol/L: 110 × 80 / (72 × 0.45238) × 0.85 = 229.6 mL/min,
    # capped at 125: 5 × 150 = 750 mg; reduced to 80 %: 600 mg
    creatinine = (Creatinine(on=date(2027, 3, 1), umol_l=40, entry="E1"),)
    inputs = DoseInputs(weight_kg=80, age=30, sex="female", creatinine=creatinine)
    derivation = derive(Dose(**AUC), inputs, date(2027, 3, 8))
    assert derivation["crcl_ml_min"] == pytest.approx(229.6, abs=0.1)
    mg = mg_of(derivation, 80, 1, "half_up")
    assert mg == 600
    decision = {
        "id": "D1",
        "drug": "carboplatin",
        "action": "reduce",
        "dose_percent": 80,
        "reason": "why",
        "rule": "rule",
        "criterion": None,
        "ctcae": "5.0",
        "if_immune_related": None,
        "status": "proposed",
        "ask": None,
        "questions": [],
        "trigger": "E2",
        "next_dose": {"date": "2027-03-08", "mg": mg, "label": "", "derivation": derivation},
    }
    text = Renderer().render("replies/_decisions.j2", decisions=[decision], study_id="KN-0007")
    assert (
        "next dose: Mon 08 Mar 2027 · carboplatin AUC 5 at 80% → 600 mg (Calvert, CrCl 230 "
        "mL/min by Cockcroft–Gault from creatinine 40 µmol/L on Mon 01 Mar 2027 (E1), weight "
        "80 kg, age 30, female; GFR capped at 125 mL/min)"
    ) in text, text
