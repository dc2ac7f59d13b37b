"""`trialbot audit verify` finds every kind of edit made behind the application's back:
each audited row kind (event, decision, patient, member) edited, deleted or inserted, the
audit trail emptied, and the projections (`decision`, `calendar_row`) out of step with
the log — on SQLite and PostgreSQL, through a trial's real commands."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import text

from bot.cli import main
from bot.services import build_context
from bot.services.integrity import verify_projections
from bot.settings import Settings


def _behind_the_back(db, *statements: str) -> None:
    """What someone with database access could do: lift the append-only triggers, change
    rows, put the triggers back (PostgreSQL; on SQLite they stay dropped)."""
    with db.engine.begin() as connection:
        if db.dialect == "postgresql":
            for table in ("event", "audit"):
                connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only"))
            for statement in statements:
                connection.execute(text(statement))
            for table in ("event", "audit"):
                connection.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER {table}_append_only"))
        else:
            for table in ("event", "audit"):
                for op in ("update", "delete"):
                    connection.execute(text(f"DROP TRIGGER IF EXISTS {table}_refuse_{op}"))
            for statement in statements:
                connection.execute(text(statement))


def _verify(chat) -> tuple[int, dict]:
    chat.capsys.readouterr()
    code = main(["audit", "verify", "--json"])
    return code, json.loads(chat.capsys.readouterr().out)


@pytest.fixture
def trial(enrolled):
    """LACC-007 with a lab panel (proposal D1, confirmed), a dose, and the team's roles."""
    assert enrolled("lab LACC-007 ANC 0.4 PLT 62", on=4).ok
    assert enrolled("confirm D1", user=enrolled.doctor).ok
    assert enrolled("dose LACC-007 toripalimab given").ok
    code, report = _verify(enrolled)
    assert code == 0 and report["intact"], report
    return enrolled


def _last_event(chat) -> int:
    with chat.database.engine.connect() as connection:
        return connection.execute(text("SELECT max(id) FROM event")).scalar_one()


CASES = {
    "an event's payload edited": (
        ["UPDATE event SET payload = '{\"kind\": \"lab\"}' WHERE id = 2"],
        ("event", "E2", "changed after it was written"),
    ),
    "an event's clinical date edited": (
        ["UPDATE event SET clinical_date = '2027-03-04' WHERE id = 2"],
        ("event", "E2", "changed after it was written"),
    ),
    "a decision set to confirmed": (
        ["UPDATE decision SET status = 'overridden', override_reason = 'x' WHERE id = 1"],
        ("decision", "D1", "changed after it was written"),
    ),
    "a decision deleted": (
        ["DELETE FROM decision WHERE id = 1"],
        ("decision", "D1", "deleted"),
    ),
    "a member raised to admin": (
        ["UPDATE member SET role = 'admin' WHERE user_id = 'U0NURSE01'"],
        ("member", "U0NURSE01", "changed after it was written"),
    ),
    "a member added behind the back": (
        [
            "INSERT INTO member (user_id, role, on_call, created_at, updated_at) VALUES "
            "('U0EVIL001', 'admin', false, '2027-03-01 00:00:00', '2027-03-01 00:00:00')"
        ],
        ("member", "U0EVIL001", "no audit row records it"),
    ),
    "a patient's day 1 moved": (
        ["UPDATE patient SET day1 = '2027-03-08' WHERE study_id = 'LACC-007'"],
        ("patient", "LACC-007", "changed after it was written"),
    ),
    "the audit trail emptied": (
        ["DELETE FROM audit"],
        ("event", "E1", "audit trail is empty"),
    ),
    "a calendar row edited": (
        ["UPDATE calendar_row SET payload = '{\"date\": \"2027-03-02\"}' WHERE id = "
         "(SELECT min(id) FROM calendar_row)"],
        ("calendar_row", "LACC-007", "differs from the calendar rebuilt from the log"),
    ),
    "a calendar row deleted": (
        ["DELETE FROM calendar_row WHERE id = (SELECT max(id) FROM calendar_row)"],
        ("calendar_row", "LACC-007", "the log gives"),
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_verify_names_what_was_changed(trial, case):
    statements, (table, row, words) = CASES[case]
    _behind_the_back(trial.database, *statements)
    code, report = _verify(trial)
    assert code == 1, report
    assert (report["table"], report["row"]) == (table, row), report
    assert words in report["problem"], report


def test_an_event_deleted_or_inserted_is_named(trial):
    last = _last_event(trial)
    _behind_the_back(trial.database, f"DELETE FROM event WHERE id = {last}")
    code, report = _verify(trial)
    assert code == 1 and (report["table"], report["row"]) == ("event", f"E{last}")
    assert "deleted" in report["problem"]
    _behind_the_back(
        trial.database,
        "INSERT INTO event (id, patient_id, kind, clinical_date, recorded_at, recorded_by, "
        "source, payload) SELECT id, patient_id, kind, clinical_date, recorded_at, "
        "recorded_by, source, payload FROM event WHERE id = 2".replace(
            "SELECT id", f"SELECT {last}"
        ),
    )
    code, report = _verify(trial)
    assert code == 1 and report["table"] == "event", report


def test_the_text_report_names_the_row(trial):
    _behind_the_back(trial.database, "UPDATE member SET role = 'admin' WHERE user_id = 'U0VIEW001'")
    trial.capsys.readouterr()
    assert main(["audit", "verify"]) == 1
    out = trial.capsys.readouterr().out
    assert out.startswith("audit trail BROKEN at member U0VIEW001 (content):")


def test_the_decision_projection_is_checked_against_the_log(trial):
    """Even where a row's own hash is not the question, the decision table must say what
    the proposal and verdict entries of the log say."""
    _behind_the_back(trial.database, "UPDATE decision SET status = 'proposed' WHERE id = 1")
    ctx = build_context(Settings(database_url=trial.database.url.render_as_string(False)))
    try:
        with ctx.db.transaction(readonly=True) as session:
            problem = verify_projections(ctx, session)
    finally:
        ctx.db.dispose()
    assert (problem.table, problem.row, problem.field) == ("decision", "D1", "status")
    assert "the log says confirmed" in problem.problem


def test_every_kind_of_write_leaves_a_trail_that_verifies(trial):
    """Each command that writes records the hashes of what it wrote: after all of them
    the chain, the rows and the projections hold."""
    chat = trial
    assert chat("ae LACC-007 pneumonitis grade=2", on=5).ok
    dose = chat('dose LACC-007 cisplatin held reason="patient unwell"')
    assert dose.ok
    held = re.search(r"dose (E[0-9]+)", dose.text).group(1)
    assert chat("response LACC-007 PR").ok
    lab = chat("lab LACC-007 ALT 130 U/L (7-40)")
    assert lab.ok
    open_ids = [d["id"] for d in lab.reply["decisions"] if d["status"] == "proposed"]
    if open_ids:
        assert chat(f'override {open_ids[0]} reason="clinical judgement"', user=chat.doctor).ok
    assert chat('correct E2 ANC 0.6 reason="typo"').ok
    assert chat('correct E1 fractions=28 reason="plan changed"').ok
    assert chat(f"role {chat.viewer} coordinator site=main", user=chat.admin).ok
    assert chat(f'void {held} reason="entered twice"').ok
    code, report = _verify(chat)
    assert code == 0 and report["intact"], report
