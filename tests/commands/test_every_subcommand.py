"""Every subcommand of /trial, end to end through `trialbot chat --json`, on SQLite and
PostgreSQL: what a script replaying a trial sees."""

from __future__ import annotations

from pathlib import Path

from bot.cli import load_configured_trial
from bot.commands import build_registry
from bot.services.rules import TrialRules


def test_every_subcommand_end_to_end(team):
    chat = team
    sid, nurse, doctor, viewer, admin = chat.sid, chat.nurse, chat.doctor, chat.viewer, chat.admin
    seen: set[str] = set()

    def run(text: str, **kwargs):
        seen.add(text.split()[0])
        return chat(text, **kwargs)

    # help: the overview lists every subcommand with its usage line
    overview = run("help", user=viewer)
    rules = TrialRules.of(load_configured_trial())  # the trial the chat ran with
    for command in build_registry():
        assert command.for_rules(rules).usage in overview.text
    lab_help = run("help lab", user=viewer)
    assert "neut" in lab_help.text and "U/L" in lab_help.text and "`/trial lab" in lab_help.text

    # whoami
    assert "coordinator" in run("whoami").text

    # screen: judged against Table 1, nothing recorded
    before = chat.counts()
    screened = run("screen age=52 stage=IIIC1 ecog=1", user=viewer)
    assert screened.ok and "NOT ELIGIBLE (yet)" in screened.text
    assert "passed: age, stage, ecog" in screened.text
    failed = run("screen age=17 stage=IIIC1", user=viewer)
    assert "✗ age" in failed.text
    assert chat.counts() == before

    # enroll: the calendar comes back as events
    enrolled = run(
        f"enroll {sid} start={chat.day1.isoformat()} height=160 weight=55 stage=IIIC1", on=-3
    )
    assert enrolled.ok
    assert "enrolled at site main" in enrolled.text
    assert enrolled.reply["events"][0]["key"]  # the calendar's JSON shape
    assert [p["channel"] for p in enrolled.reply["posts"]] == ["#trial-main"]
    assert set(enrolled.reply["posts"][0]) == {"channel", "text", "blocks"}

    # calendar: every event in the calendar's JSON shape, text grouped by week
    calendar = run(f"calendar {sid}", user=viewer)
    events = calendar.reply["events"]
    assert {"key", "date", "kind", "item", "label", "window", "dose", "status"} <= set(events[0])
    assert "Week +0 — from Mon 01 Mar 2027" in calendar.text
    assert "EBRT fractions 2–5/25" in calendar.text  # a run of fractions folds into one line
    part = run(f"calendar {sid} from={chat.day1.isoformat()} weeks=1", user=viewer)
    week0 = {chat.date(n).isoformat() for n in range(7)}
    assert part.reply["events"] and {e["date"] for e in part.reply["events"]} <= week0

    # dose
    dose = run(f"dose {sid} cisplatin mg=62", on=0)
    assert dose.ok and dose.reply["decisions"] == []
    assert "cisplatin *given*" in dose.text
    dose_id = dose.text.split()[3]
    assert dose_id.startswith("E")

    # lab: grades as `trialbot grade --json`, decisions with id and status
    lab = run(f"lab {sid} ANC 0.4 PLT 62 Hb 9.1", on=4)
    grades = {g["analyte"]: g for g in lab.reply["grades"]}
    assert grades["anc"]["term"] == "Neutrophil count decreased" and grades["anc"]["grade"] == 4
    assert grades["anc"]["criterion"].startswith("Grade 4")
    reduce = lab.decision("cisplatin", "reduce")
    assert reduce["id"].startswith("D") and reduce["status"] == "proposed"
    assert reduce["dose_percent"] == 80
    assert {p["channel"] for p in lab.reply["posts"]} == {doctor, "#trial-main"}

    # ack: the on-call investigator stops the alert escalating (the decision stays open)
    acked = run(f"ack {reduce['id']}", user=doctor)
    assert acked.ok and "acknowledged" in acked.text
    assert not run(f"ack {reduce['id']}", user=nurse).ok  # investigators only

    # oncall: who is on call now (the role flag is a rota entry), and setting the rota
    rota_now = run("oncall", user=viewer)
    assert f"On call now at site main: <@{doctor}>" in rota_now.text
    cover = run(f"oncall {doctor} from=2027-03-13 to=2027-03-15", user=doctor)
    assert cover.ok and "Rota set for site main" in cover.text

    # decisions: what awaits the investigator at the site
    waiting = run("decisions", user=doctor)
    assert [d["id"] for d in waiting.reply["decisions"]] == [reduce["id"]]

    # confirm
    confirmed = run(f"confirm {reduce['id']}", user=doctor)
    assert confirmed.reply["decisions"][0]["status"] == "confirmed"
    assert "confirmed" in confirmed.text

    # ae, attribute, override
    ae = run(f"ae {sid} pneumonitis grade=2", on=5)
    assert "Pneumonitis grade 2" in ae.text
    assert "Symptomatic; medical intervention indicated" in ae.text
    refer = ae.decision("toripalimab", "refer")
    trigger = refer["trigger"]
    attributed = run(f"attribute {trigger} irae=yes", user=doctor)
    hold = attributed.decision("toripalimab", "hold")
    assert f"answers the question of {refer['id']}" in attributed.text  # the referral closed
    closed = run(f"confirm {refer['id']}", user=doctor)
    assert not closed.ok and "already withdrawn" in closed.reply["error"]
    overridden = run(
        f'override {hold["id"]} reason="steroids started; investigator keeps dosing"', user=doctor
    )
    assert overridden.reply["decisions"][0]["status"] == "overridden"

    # hold, holds, resume: the investigator's own interruption, listed, then ended
    held = run(f'hold {sid} toripalimab reason="investigator interrupts"', user=doctor)
    assert held.ok and held.reply["decisions"][0]["action"] == "hold"
    assert f"*{sid}* toripalimab" in run("holds days=0", user=viewer).text
    resumed = run(f'resume {sid} toripalimab reason="recovered"', user=doctor)
    assert resumed.ok and resumed.reply["decisions"][0]["action"] == "resume"

    # response
    response = run(f"response {sid} PR", on=6)
    assert response.ok and "RECIST 1.1 *PR*" in response.text

    # correct and void
    corrected = run(f'correct {trigger} grade=1 reason="re-graded by the investigator"')
    assert corrected.ok and f"{trigger} corrected" in corrected.text
    voided = run(f'void {dose_id} reason="entered twice"')
    assert voided.ok and f"{dose_id} voided" in voided.text

    # patient: plan, state per drug, recent entries with their ids
    patient = run(f"patient {sid}", user=viewer)
    assert "reduced to 80%" in patient.text
    assert trigger in patient.text and f"VOIDS {dose_id}" in patient.text

    # today and week: what is due at the user's site, in the calendar's JSON shape
    today = run("today", user=viewer, on=7)
    assert today.reply["events"] and all(e["study_id"] == sid for e in today.reply["events"])
    in_range = {e["date"] for e in today.reply["events"] if e["status"] != "overdue"}
    assert in_range == {chat.date(7).isoformat()}
    week = run("week", user=viewer)
    assert max(e["date"] for e in week.reply["events"]) <= chat.date(13).isoformat()
    assert "Week Mon 08 Mar 2027 – Sun 14 Mar 2027" in week.text

    # export: the file goes to the one who asked (`--json` writes it where it runs)
    exported = run("export aes")
    assert exported.ok and [p["channel"] for p in exported.reply["posts"]] == [nurse]
    assert "it is sent to you as a file" in exported.text
    [written] = Path.cwd().glob("trialbot-aes-*.csv")
    assert b"Pneumonitis" in written.read_bytes()
    refused = run("export aes", user=viewer)
    assert not refused.ok and "needs the coordinator role" in refused.text

    # swimmer: the picture goes to the site's channel
    plot = run("swimmer")
    assert plot.ok and [p["channel"] for p in plot.reply["posts"]] == ["#trial-main"]
    [png] = Path.cwd().glob("trialbot-swimmer-main-*.png")
    assert png.read_bytes().startswith(b"\x89PNG")

    # role (the admin's reply)
    assert "is now *viewer*" in run(f"role {nurse} viewer", user=admin).text

    # site: the study channel of a site (admin); a channel typed in Slack arrives as a link
    assert (
        "study channel is now <#C0STUDY01>"
        in run("site main channel=<#C0STUDY01|lacc-study>", user=admin).text
    )
    assert "main — <#C0STUDY01>" in run("site", user=viewer).text
    refused = run("site main channel=C0OTHER01", user=nurse)
    assert not refused.ok and "needs the admin role" in refused.text

    assert seen == set(build_registry().names())
