"""Exports and the swimmer plot, as a coordinator would use them after a month of entries:
the CSV read back matches the log, the .ics parses with stable UIDs, the picture renders."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from icalendar import Calendar
from sqlmodel import select

from bot.cli import main
from bot.storage.models import DecisionRecord, EventRecord


@pytest.fixture
def month(enrolled):
    """LACC-007 through a month: cisplatin and toripalimab given, grade 4 neutropenia
    (reduction confirmed), a grade 3 immune-related pneumonitis, a partial response."""
    chat = enrolled
    assert chat("dose LACC-007 cisplatin mg=62", on=0).ok
    assert chat("dose LACC-007 toripalimab", on=0).ok
    lab = chat("lab LACC-007 ANC 0.4 PLT 62 Hb 9.1", on=5)
    reduce = lab.decision("cisplatin", "reduce")
    assert chat(f"confirm {reduce['id']}", user=chat.doctor, on=5).ok
    assert chat("ae LACC-007 pneumonitis grade=3 irae=yes", on=12).ok
    assert chat("ae LACC-007 pneumonitis grade=0", on=26).ok
    assert chat("response LACC-007 PR", on=28).ok
    return chat


def _export(capsys, *args: str) -> str:
    capsys.readouterr()
    assert main(["export", *args]) == 0
    return capsys.readouterr().out


def _table(capsys, name: str, *extra: str) -> list[dict[str, str]]:
    text = _export(capsys, name, "--format", "csv", *extra).lstrip("\ufeff")
    return list(csv.DictReader(io.StringIO(text)))


def test_labs_csv_has_every_value_with_its_range_and_grade(month, capsys) -> None:
    rows = _table(capsys, "labs")
    with month.database.transaction(readonly=True) as session:
        panels = session.exec(select(EventRecord).where(EventRecord.kind == "lab")).all()
    assert len(rows) == sum(len(p.payload["results"]) for p in panels) == 3
    anc = next(r for r in rows if r["analyte"] == "anc")
    assert (anc["study_id"], anc["value"], anc["grade"], anc["ctcae_version"]) == (
        "LACC-007",
        "0.4",
        "4",
        "5.0",
    )
    assert anc["ctcae_term"] == "Neutrophil count decreased" and anc["lln"]
    assert anc["date"] == month.date(5).isoformat()


def test_aes_csv_has_term_code_attribution_onset_and_resolution(month, capsys) -> None:
    (row,) = _table(capsys, "aes")  # the grade 0 entry records the resolution, not an AE
    assert row["ctcae_term"] == "Pneumonitis" and row["meddra_code"] == "10035742"
    assert (row["grade"], row["immune_related"]) == ("3", "yes")
    assert row["onset"] == month.date(12).isoformat()
    assert row["resolved_on"] == month.date(26).isoformat()


def test_decisions_csv_names_rule_and_who_confirmed(month, capsys) -> None:
    rows = _table(capsys, "decisions")
    with month.database.transaction(readonly=True) as session:
        stored = session.exec(select(DecisionRecord).order_by(DecisionRecord.id)).all()
    assert [r["decision"] for r in rows] == [d.label for d in stored]
    confirmed = next(r for r in rows if r["action"] == "reduce")
    assert confirmed["status"] == "confirmed" and confirmed["decided_by"] == month.doctor
    assert "Toxicity & dose modifications" in confirmed["rule"]
    assert confirmed["dose_percent"] == "80"


def test_events_and_doses_csv_round_trip(month, capsys) -> None:
    events = _table(capsys, "events")
    with month.database.transaction(readonly=True) as session:
        stored = session.exec(select(EventRecord).order_by(EventRecord.id)).all()
    assert [(r["entry"], r["kind"]) for r in events] == [(e.label, e.kind) for e in stored]
    doses = _table(capsys, "doses")
    assert [(d["drug"], d["status"]) for d in doses] == [
        ("cisplatin", "given"),
        ("toripalimab", "given"),
    ]


def test_csv_cells_never_run_as_spreadsheet_formulas(month, capsys) -> None:
    assert month("dose LACC-007 cisplatin status=held reason=\"=HYPERLINK('x')\"", on=7).ok
    held = next(d for d in _table(capsys, "doses") if d["status"] == "held")
    assert held["reason"].startswith("'=")


def test_export_to_a_file_and_unknown_site_refused(month, capsys, tmp_path: Path) -> None:
    out = tmp_path / "aes.csv"
    assert main(["export", "aes", "--format", "csv", "--out", str(out)]) == 0
    assert out.read_bytes().startswith(b"\xef\xbb\xbfstudy_id,")
    capsys.readouterr()
    assert main(["export", "aes", "--site", "nowhere"]) == 2
    assert "site" in capsys.readouterr().err


def _ics(capsys, *args: str) -> Calendar:
    return Calendar.from_ical(_export(capsys, "ics", *args))


def test_ics_has_grouped_fractions_infusions_and_windows(month, capsys) -> None:
    feed = _ics(capsys, "--patient", "LACC-007")
    events = list(feed.walk("VEVENT"))
    summaries = [str(e["SUMMARY"]) for e in events]
    assert all(s.startswith("LACC-007 · ") for s in summaries)
    week1 = next(e for e in events if "EBRT fractions 1–5" in str(e["SUMMARY"]))
    assert week1.decoded("DTSTART") == month.date(0) and week1.decoded("DTEND") == month.date(5)
    infusion = next(e for e in events if "Cisplatin weekly dose 2" in str(e["SUMMARY"]))
    assert "window:" in str(infusion["DESCRIPTION"])
    assert len({str(e["UID"]) for e in events}) == len(events)


def test_ics_uids_are_stable_so_a_reimport_updates(month, capsys) -> None:
    before = {str(e["UID"]): e.decoded("DTSTART") for e in _ics(capsys).walk("VEVENT")}
    # a held cisplatin dose moves the next weekly doses: same UIDs, new dates
    assert month('dose LACC-007 cisplatin status=held reason="counts"', on=7).ok
    after = {str(e["UID"]): e.decoded("DTSTART") for e in _ics(capsys).walk("VEVENT")}
    uid = "LACC-007/ccrt_cisplatin#2@trialbot"
    assert uid in before and uid in after and after[uid] > before[uid]
    assert set(before) - set(after) <= {u for u in before if "cisplatin" in u or "labs" in u}


def test_ics_refuses_an_unknown_patient(month, capsys) -> None:
    capsys.readouterr()
    assert main(["export", "ics", "--patient", "LACC-999"]) == 2
    assert "patient" in capsys.readouterr().err


def test_swimmer_lane_reflects_the_log(month) -> None:
    from bot.services import build_context
    from bot.services.reports import swimmer_lanes
    from bot.settings import load_settings
    from bot.transports.console import console_clock

    settings = load_settings()
    ctx = build_context(settings, clock=console_clock(settings))
    try:
        (lane,), _today = swimmer_lanes(ctx)
    finally:
        ctx.db.dispose()
    kinds = {(m.kind, m.label, m.day) for m in lane.markers}
    assert ("reduce", "cisplatin", 5) in kinds
    assert ("grade3", "Pneumonitis G3", 12) in kinds
    assert ("grade3", "Neutrophil count decreased G4", 5) in kinds
    assert ("response", "PR", 28) in kinds
    assert lane.segments[0][0] == "ccrt" and lane.segments[0][1] == 0
    assert lane.ongoing and lane.length == 28


def test_swimmer_png_renders(month, tmp_path: Path, capsys) -> None:
    out = tmp_path / "trial.png"
    assert main(["report", "swimmer", "--out", str(out)]) == 0
    data = out.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000
    assert "1 patients" in capsys.readouterr().err
