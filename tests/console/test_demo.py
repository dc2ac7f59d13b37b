"""`trialbot demo`: the newcomer's first command — a simulated trial through the real
services and scheduler. One kept run (`--db`) is checked against what its database's event
log holds: the summary's figures, and every scripted clinical feature."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlmodel import select

from bot.calendar import SiteCalendar
from bot.calendar.dosing import bsa_m2
from bot.cli import main
from bot.clock import FixedClock
from bot.demo.cohort import build_cohort
from bot.demo.runner import BACKUP, OFF_TREATMENT
from bot.services import build_context
from bot.services.exports import export_table
from bot.settings import Settings
from bot.storage.models import CalendarRow, OutboxMessage, Patient

SEED, PATIENTS, DAYS = "3", "4", "110"  # four patients carry every scripted feature
FULL_DOSE = {"cisplatin": (40, 25), "paclitaxel": (135,), "toripalimab": None}


@pytest.fixture(scope="module")
def kept(tmp_path_factory):
    """One demo run that keeps its database; its output and a context on that database."""
    folder = tmp_path_factory.mktemp("demo")
    path = folder / "kept.db"
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        mp.setenv("TRIALBOT_DATABASE_URL", f"sqlite:///{folder / 'real-trial.db'}")
        mp.setenv("TRIALBOT_ADMINS", "U0SOMEONE1")
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(
                ["demo", "--seed", SEED, "--patients", PATIENTS, "--days", DAYS, "--db", str(path)]
            )
    assert code == 0, err.getvalue()
    assert not (folder / "real-trial.db").exists()  # never the configured database
    assert not (folder / "trialbot.db").exists()
    ctx = build_context(
        Settings(database_url=f"sqlite:///{path}", admins=()),
        clock=FixedClock(datetime(2027, 1, 1, tzinfo=UTC)),
    )
    yield {"out": out.getvalue(), "path": path, "ctx": ctx, "folder": folder}
    ctx.db.dispose()


def _summary_rows(out: str) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    text = out[out.index("Summary · from the event log") :]
    drugs, patients = {}, {}
    for line in text.splitlines():
        cells = line.split()
        if cells and cells[0] in FULL_DOSE and len(cells) >= 5:
            drugs[cells[0]] = cells
        if cells and re.fullmatch(r"LACC-[0-9]{3}", cells[0]):
            patients[cells[0]] = cells
    return drugs, patients


def _is_reduced(drug: str, mg: float, bsa: float) -> bool:
    amounts = FULL_DOSE[drug]
    if amounts is None:  # flat dose, never reduced by the chemotherapy rules
        return False
    return all(abs(mg - amount * bsa) > 2 for amount in amounts)


def test_the_summary_is_what_the_event_log_holds(kept):
    ctx = kept["ctx"]
    drugs, patients = _summary_rows(kept["out"])
    doses = export_table(ctx, "doses").rows
    decisions = export_table(ctx, "decisions").rows
    with ctx.db.transaction(readonly=True) as session:
        bsa = {
            p.study_id: p.bsa_m2 or bsa_m2(p.height_cm, p.weight_kg)
            for p in session.exec(select(Patient))
        }
        rows = session.exec(select(CalendarRow)).all()
    given = Counter(d["drug"] for d in doses if d["status"] == "given")
    reduced = Counter(
        d["drug"]
        for d in doses
        if d["status"] == "given" and _is_reduced(d["drug"], float(d["mg"]), bsa[d["study_id"]])
    )
    held = Counter(
        d["drug"] for d in decisions if d["action"] == "hold" and d["status"] == "confirmed"
    )
    stopped = Counter(
        d["drug"] for d in decisions if d["action"] == "discontinue" and d["status"] == "confirmed"
    )
    for drug in FULL_DOSE:
        cells = drugs[drug]
        assert int(cells[1]) == given[drug], drug
        assert int(cells[2]) == held[drug], drug
        assert int(cells[3]) == reduced[drug], drug
        assert int(cells[4]) == stopped[drug], drug
    assert sum(given.values()) > 20 and reduced["cisplatin"] >= 1 and held["cisplatin"] >= 1
    # radiotherapy overall treatment time: first to last EBRT fraction of the calendar the
    # log gives, once the last fraction is past
    end = build_cohort(days=int(DAYS)).end
    events = export_table(ctx, "events").rows
    for sid, cells in patients.items():
        fractions = sorted(r.date for r in rows if r.study_id == sid and r.kind == "radiotherapy")
        if fractions and fractions[-1] <= end:
            assert cells[3:5] == [str((fractions[-1] - fractions[0]).days + 1), "days"], sid
        else:
            assert cells[3] == "ongoing", sid
        responses = [
            e["payload"]["category"]
            for e in events
            if e["study_id"] == sid and e["kind"] == "response"
        ]
        assert (" → ".join(responses) or "—") in " ".join(cells), sid


def test_every_scripted_clinical_feature_happens(kept):
    ctx = kept["ctx"]
    labs = export_table(ctx, "labs").rows
    decisions = export_table(ctx, "decisions").rows
    events = export_table(ctx, "events").rows
    confirmed = [d for d in decisions if d["status"] == "confirmed"]

    # a grade >= 3 cytopenia that the investigator decided on
    cytopenias = {
        r["entry"]
        for r in labs
        if r["ctcae_term"] in ("Neutrophil count decreased", "Platelet count decreased")
        and r["grade"] != ""
        and int(r["grade"]) >= 3
    }
    assert any(d["trigger"] in cytopenias for d in confirmed)
    # cisplatin reduced, then held (suspended) and resumed
    cisplatin = {d["action"] for d in confirmed if d["drug"] == "cisplatin"}
    assert {"reduce", "hold", "resume"} <= cisplatin
    # immune-related pneumonitis: Table 3 interrupts toripalimab, and resumes it
    pneumonitis = [d for d in confirmed if d["rule"].startswith("Table 3, Pneumonitis")]
    assert {d["action"] for d in pneumonitis} >= {"hold"}
    assert any(d["drug"] == "toripalimab" and d["action"] == "resume" for d in confirmed)
    # immune-related hepatitis: Table 3 discontinues toripalimab
    assert any(
        d["rule"].startswith("Table 3, Hepatitis") and d["action"] == "discontinue"
        for d in confirmed
    )
    # progression, and the patient taken off study treatment
    progressed = {
        e["study_id"]
        for e in events
        if e["kind"] == "response" and e["payload"]["category"] == "PD"
    }
    assert progressed
    assert any(e["study_id"] in progressed and OFF_TREATMENT in str(e["payload"]) for e in events)
    # consolidation moved by the National Day holiday of the site calendar
    site = SiteCalendar(ctx.rules.sites.config("main"))
    with ctx.db.transaction(readonly=True) as session:
        starts = [
            r
            for r in session.exec(select(CalendarRow).where(CalendarRow.item == "paclitaxel"))
            if r.payload.get("key") == "consolidation:paclitaxel#c1d1"
        ]
    moved = [
        r
        for r in starts
        if r.payload.get("nominal_date")
        and date.fromisoformat(r.payload["nominal_date"]) != r.date
        and not site.is_treatment_day(date.fromisoformat(r.payload["nominal_date"]))
    ]
    assert moved, [(r.date, r.payload.get("nominal_date")) for r in starts]
    # an alert escalated to the backup, who confirmed; another reached the channel (@here)
    with ctx.db.transaction(readonly=True) as session:
        keys = session.exec(select(OutboxMessage.dedupe_key)).all()
    assert any(k.startswith("alert:") and k.endswith(":backup") for k in keys)
    assert any(k.startswith("alert:") and k.endswith(":channel") for k in keys)
    assert any(d["decided_by"] == BACKUP for d in confirmed)


def test_the_demo_shows_the_trial_as_the_team_sees_it(kept):
    out = kept["out"]
    for expected in (
        "role U0NURSE01 coordinator",
        "oncall U0DOC0001 backup=U0DOC0002",
        "Daily digest · site main",
        "Due today",
        "LACC-001 enrolled at site main",
        "Neutrophil count decreased grade 4",
        "cisplatin — REDUCE at 80% of the protocol dose",
        "cisplatin REDUCE — confirmed by @U0DOC0001",
        "needs the investigator role",  # the research nurse may not confirm
        "chemotherapy suspended",
        "cisplatin — RESUME at 80%",
        "toripalimab — HOLD",
        "toripalimab — RESUME at 100%",
        "toripalimab — DISCONTINUE",
        "you are the backup",
        "@here",
        "Is E",  # the attribution question
        "attribute E",
        "→ DM @U0DOC0001:",
        "→ #trial-main:",
        "Summary · from the event log",
    ):
        assert expected in out, expected
    assert "Traceback" not in out


def test_the_printed_chat_command_explores_the_kept_database(kept, capsys, monkeypatch):
    line = next(line for line in kept["out"].splitlines() if line.strip().endswith("trialbot chat"))
    words = shlex.split(line)
    assignments = dict(word.split("=", 1) for word in words[:-2])
    assert set(assignments) == {"TRIALBOT_DATABASE_URL", "TRIALBOT_NOW"}
    assert assignments["TRIALBOT_DATABASE_URL"] == f"sqlite:///{kept['path']}"
    monkeypatch.chdir(kept["folder"])
    monkeypatch.delenv("TRIALBOT_ADMINS", raising=False)
    for name, value in assignments.items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()
    assert main(["chat", "patient LACC-001"]) == 0
    assert "LACC-001" in capsys.readouterr().out


def test_the_demo_is_deterministic_for_a_seed_and_leaves_nothing_behind(workdir, capsys):
    argv = ["demo", "--seed", "5", "--patients", "2", "--days", "12"]
    assert main(argv) == 0
    first = capsys.readouterr().out
    assert main(argv) == 0
    assert capsys.readouterr().out == first
    assert "Summary · from the event log" in first
    assert list(workdir.iterdir()) == [workdir / "home"]  # the temporary database is gone


def test_quiet_prints_only_the_summary(workdir, capsys):
    assert main(["demo", "--quiet", "--patients", "1", "--days", "5"]) == 0
    out = capsys.readouterr().out
    assert "Summary · from the event log" in out
    assert "Daily digest" not in out and "→ #trial-main" not in out


@pytest.mark.parametrize(
    ("argv", "field"),
    [
        (["--days", "0"], "--days"),
        (["--days", "many"], "--days"),
        (["--patients", "1000"], "--patients"),
        (["--seed", "-1"], "--seed"),
    ],
)
def test_bad_options_are_refused_naming_the_field(workdir, capsys, argv, field):
    assert main(["demo", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {field}:"), err


def test_an_existing_database_is_never_overwritten(workdir, capsys):
    existing = workdir / "trial.db"
    existing.write_bytes(b"not a demo")
    assert main(["demo", "--db", str(existing)]) == 2
    assert "--db" in capsys.readouterr().err
    assert existing.read_bytes() == b"not a demo"


def test_the_cohort_is_pure_data_from_its_seed():
    first, again, other = build_cohort(11), build_cohort(11), build_cohort(12)
    assert first == again and first.patients[0].labs == again.patients[0].labs
    assert [p.labs for p in first.patients] != [p.labs for p in other.patients]
    pattern = re.compile(r"LACC-[0-9]{3}")
    assert all(pattern.fullmatch(p.study_id) for p in first.patients)
    enrolments = sorted(p.enrol_on for p in first.patients)
    assert len(set(enrolments)) == len(enrolments)  # staggered
    assert len(first.patients) == 12 and first.days == 183


def test_study_ids_follow_the_sites_file(kept):
    pattern = kept["ctx"].rules.sites.study_ids.pattern
    assert all(re.fullmatch(pattern, p.study_id) for p in build_cohort().patients)


def test_the_readme_shows_what_this_demo_prints(kept):
    """The README's digest, alert and escalation are pasted from this very run
    (`--seed 3 --patients 4 --days 110`): each block's lines appear, in order, in its output."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert f"trialbot demo --seed {SEED} --patients {PATIENTS} --days {DAYS}" in readme
    blocks = re.findall(r"```text\n(.*?)```", readme, flags=re.S)
    assert len(blocks) >= 3
    out = [line.rstrip() for line in kept["out"].splitlines()]
    command = f"trialbot demo --seed {SEED} --patients {PATIENTS} --days {DAYS}"
    for block in blocks:
        position = 0
        for line in (line.rstrip() for line in block.splitlines()):
            assert line in out[position:], (
                f"README.md shows {line!r}, which `{command}` no longer prints (in that "
                "order): paste the block again from its output"
            )
            position = out.index(line, position) + 1


def test_the_demo_runs_the_second_trial_with_its_own_site_numbering_and_drugs(tmp_path):
    """`--trial keynote_a18`: the same scripted cohort at KEYNOTE-A18's own default site,
    numbered as its sites are (KN-nnnn), enrolled at its own stages, its drugs given."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)
        mp.setenv("TRIALBOT_ADMINS", "U0SOMEONE1")
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["--trial", "keynote_a18", "demo", "--patients", "2", "--days", "40"])
    assert code == 0, err.getvalue()
    text = out.getvalue()
    assert "patients of NCT04221945" in text and "KN-0001" in text and "KN-0002" in text
    summary = text[text.index("Summary · from the event log") :].splitlines()
    given = {
        c[0]: int(c[1])
        for c in (line.split() for line in summary)
        if c[:1] in (["cisplatin"], ["pembrolizumab"])
    }
    assert given.keys() == {"cisplatin", "pembrolizumab"}, summary
    assert given["pembrolizumab"] >= 2 and given["cisplatin"] >= 4, given
    assert "toripalimab" not in text and "LACC-" not in text
