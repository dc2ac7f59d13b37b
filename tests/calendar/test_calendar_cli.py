"""`trialbot calendar`: the what-if plan a study nurse prints, and every way to get it wrong."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date

import pytest

from bot.cli import main


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["calendar", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_human_plan_is_grouped_by_week_with_a_summary(rules_root, capsys):
    code, out, err = run(capsys, "--start", "2026-09-21", "--bsa", "1.62")
    assert code == 0, err
    assert "day 1 = 2026-09-21 (Monday)" in out
    assert "Week -2 — from Monday 2026-09-07" in out  # the planning CT, week −2
    assert "Week +0 — from Monday 2026-09-21" in out
    assert "Sat 2026-10-10" in out  # the Saturday worked in lieu carries a fraction
    assert "Fri 2026-09-25" not in out  # Mid-Autumn Festival: nothing booked
    assert "40 mg/m² = 65 mg" in out
    assert "overall treatment time 40 days (planned 33" in out
    assert "prolongation +7 days" in out
    assert "Mon 2027-01-04*" in out  # 2027: official make-up days not yet published
    assert "provisional" in out
    assert out.index("Week -4") < out.index("Week +0") < out.index("Summary")


def test_json_lists_the_events(rules_root, capsys):
    code, out, _ = run(
        capsys,
        "--start",
        "2027-03-01",
        "--fractions",
        "28",
        "--height",
        "160",
        "--weight",
        "55",
        "--boost",
        "--json",
    )
    assert code == 0
    events = json.loads(out)
    assert isinstance(events, list)
    fractions = [e for e in events if e["item"] == "ebrt"]
    assert len(fractions) == 28
    assert fractions[0]["date"] == "2027-03-01"
    assert fractions[0]["dose"]["boost"] == 2.14
    assert all(e["status"] == "planned" for e in events)
    cisplatin = next(e for e in events if e["item"] == "cisplatin")
    assert cisplatin["dose"] == {
        "amount": 40,
        "unit": "mg/m2",
        "mg": 62,
        "basis": "per_m2",
        "percent": 100,
        "boost": None,
        "recorded_mg": None,
    }
    assert {"date", "kind", "item", "phase", "number", "window", "dose", "status", "source"} <= set(
        events[0]
    )
    assert all(e["provisional"] for e in events if e["date"] >= "2027")


def test_site_none_has_no_holidays(rules_root, capsys):
    code, out, _ = run(capsys, "--start", "2026-09-21", "--site", "none", "--json")
    assert code == 0
    fractions = [e["date"] for e in json.loads(out) if e["item"] == "ebrt"]
    assert "2026-10-01" in fractions and fractions[-1] == "2026-10-23"
    assert not any(e["provisional"] for e in json.loads(out))


def test_today_gives_statuses_and_history_re_flows(rules_root, tmp_path, capsys):
    history = tmp_path / "history.json"
    history.write_text(
        json.dumps(
            [
                {"kind": "dose", "date": "2026-09-22", "drug": "ebrt", "status": "held"},
                {"kind": "dose", "date": "2026-09-21", "drug": "cisplatin", "status": "given"},
            ]
        )
    )
    code, out, _ = run(
        capsys,
        "--start",
        "2026-09-21",
        "--today",
        "2026-09-24",
        "--history",
        str(history),
        "--json",
    )
    assert code == 0
    events = json.loads(out)
    ebrt = [e for e in events if e["item"] == "ebrt"]
    assert [(e["date"], e["status"]) for e in ebrt[:4]] == [
        ("2026-09-21", "presumed_given"),
        ("2026-09-22", "held"),
        ("2026-09-23", "presumed_given"),
        ("2026-09-24", "due"),
    ]
    assert ebrt[-1]["date"] == "2026-11-02"  # the held fraction moved to the end
    assert next(e for e in events if e["item"] == "cisplatin")["status"] == "given"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], "start is required"),
        (["--start", "2026-13-01"], "start: '2026-13-01' is not a date"),
        (["--start", "21/09/2026"], "start: '21/09/2026' is not a date"),
        (
            ["--start", "2026-10-01"],
            "start: 2026-10-01 (Thursday) is not a treatment day at site 'main' (National Day); "
            "the next treatment day is 2026-10-08 (Thursday)",
        ),
        (["--start", "2026-09-26"], "(weekend); the next treatment day is 2026-09-28"),
        (
            ["--start", "2026-09-21", "--fractions", "30"],
            "fractions: 30 is outside the protocol's range (allowed: 25–28)",
        ),
        (["--start", "2026-09-21", "--fractions", "24"], "(allowed: 25–28)"),
        (["--start", "2026-09-21", "--fractions", "twenty"], "fractions: 'twenty' is not a whole"),
        (["--start", "2026-09-21", "--bsa", "16.2"], "bsa: 16.2 m² is outside the plausible"),
        (["--start", "2026-09-21", "--bsa", "big"], "bsa: 'big' is not a number"),
        (["--start", "2026-09-21", "--height", "1.6", "--weight", "55"], "height: 1.6 cm is"),
        (["--start", "2026-09-21", "--height", "160", "--weight", "5"], "weight: 5 kg is"),
        (["--start", "2026-09-21", "--height", "160"], "weight: --weight is missing"),
        (
            ["--start", "2026-09-21", "--bsa", "1.6", "--height", "160", "--weight", "55"],
            "bsa: give --bsa, or --height with --weight, not both",
        ),
        (["--start", "2026-09-21", "--site", "mars"], "site: unknown site 'mars'"),
        (["--start", "2026-09-21", "--site", "mian"], "did you mean main?"),
        (["--start", "2026-09-21", "--today", "yesterday"], "today: 'yesterday' is not a date"),
        (["--start", "2026-09-21", "--count", "ccrt_cisplatin_doses=9"], "(allowed: 4–6)"),
        (["--start", "2026-09-21", "--count", "cisplatin=5"], "count: unknown planned count"),
        (["--start", "2026-09-21", "--history", "/nonexistent/h.json"], "history: cannot read"),
    ],
)
def test_bad_input_is_one_line_naming_the_field(rules_root, capsys, args, expected):
    code, out, err = run(capsys, *args)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert expected in lines[0]
    assert "Traceback" not in err


def test_bad_input_under_json_is_a_json_error(rules_root, capsys):
    code, out, err = run(capsys, "--start", "2026-10-01", "--json")
    assert code == 2 and err == ""
    assert "next treatment day is 2026-10-08" in json.loads(out)["error"]


def test_no_traceback_from_a_real_process(rules_root):
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from bot.cli import main; raise SystemExit(main())",
            "calendar",
            "--start",
            "2026-10-01",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "TRIALBOT_RULES_DIR": str(rules_root)},
        check=False,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "start:" in result.stderr


def test_a_broken_schedule_stops_the_calendar_with_the_rules_problem(rules_root, capsys):
    schedule = rules_root / "nct05084677" / "schedule.yaml"
    schedule.write_text(schedule.read_text().replace("every_days: 42", "every_days: -42"))
    code, _, err = run(capsys, "--start", str(date(2026, 9, 21)))
    assert code == 2
    assert "schedule.yaml: series[" in err and "every_days" in err
