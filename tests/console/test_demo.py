"""`trialbot demo`: the newcomer's first command."""

from __future__ import annotations

import time

from bot.cli import main


def test_the_demo_walks_a_patient_through_the_protocol(workdir, capsys, monkeypatch):
    monkeypatch.setenv("TRIALBOT_DATABASE_URL", f"sqlite:///{workdir / 'real-trial.db'}")
    monkeypatch.setenv("TRIALBOT_ADMINS", "U0SOMEONE1")
    started = time.perf_counter()
    assert main(["demo"]) == 0
    elapsed = time.perf_counter() - started
    out = capsys.readouterr().out
    for expected in (
        "role U0NURSE01 coordinator",
        "LACC-001 enrolled",
        "Week +0",
        "Neutrophil count decreased grade 4",
        "cisplatin — REDUCE at 80% of the protocol dose",
        "D1 cisplatin REDUCE at 80% — confirmed",
        "needs the investigator role",  # the coordinator may not confirm
        "chemotherapy suspended",
        "cisplatin — RESUME at 80%",
        "Is E",  # the attribution question
        "toripalimab — HOLD",
        "toripalimab — RESUME at 100%",
        "→ DM @U0DOC0001:",
        "→ #trial-main:",
        "Due today",
        "active, reduced to 80%",
        "no open decision",
    ):
        assert expected in out, expected
    assert "Traceback" not in out
    assert (workdir / "trialbot-demo.db").exists()
    assert not (workdir / "trialbot.db").exists()
    assert not (workdir / "real-trial.db").exists()  # never the configured database
    assert elapsed < 20  # "a few seconds" on a developer machine; generous for CI


def test_the_demo_starts_afresh_each_run(workdir, capsys):
    assert main(["demo"]) == 0
    first = capsys.readouterr().out
    assert main(["demo"]) == 0
    assert capsys.readouterr().out == first
