"""Roles through the command language: a refusal is polite, names the role needed, is
written to the audit trail, and records nothing else."""

from __future__ import annotations

from sqlmodel import select

from bot.storage.models import AuditEntry


def _refusals(chat) -> list[AuditEntry]:
    with chat.database.transaction(readonly=True) as session:
        return list(session.exec(select(AuditEntry).where(AuditEntry.action == "refused")))


def _refused_politely(answer, needed: str, user: str) -> None:
    assert not answer.ok and answer.code == 2
    assert answer.reply["error"].startswith("sorry — ")
    assert f"needs the {needed} role or above" in answer.reply["error"]
    assert f"role {user} {needed}" in answer.reply["error"]  # how to get it
    assert "Traceback" not in answer.text


def test_coordinator_cannot_confirm(enrolled):
    chat = enrolled
    decision = chat(f"lab {chat.sid} ANC 0.4", on=4).decision("cisplatin", "reduce")
    before = chat.counts()
    answer = chat(f"confirm {decision['id']}", user=chat.nurse)
    _refused_politely(answer, "investigator", chat.nurse)
    assert "your role is coordinator" in answer.reply["error"]
    after = chat.counts()
    assert after.pop("audit") == before.pop("audit") + 1
    assert after == before
    refusal = _refusals(chat)[-1]
    assert refusal.actor == chat.nurse and refusal.subject == "confirming a decision"
    assert refusal.details["needed"] == "investigator"
    # the decision is still open for the investigator
    assert [d["id"] for d in chat("decisions", user=chat.doctor).reply["decisions"]] == [
        decision["id"]
    ]


def test_viewer_cannot_enter_data(enrolled):
    chat = enrolled
    before = chat.counts()
    for text in (
        f"lab {chat.sid} ANC 0.4",
        f"ae {chat.sid} diarrhoea grade=2",
        f"dose {chat.sid} cisplatin",
        f"response {chat.sid} PR",
        "enroll LACC-008 start=2027-03-08",
    ):
        _refused_politely(chat(text, user=chat.viewer, on=4), "coordinator", chat.viewer)
    after = chat.counts()
    assert after.pop("audit") == before.pop("audit") + 5
    assert after == before
    assert {r.actor for r in _refusals(chat)} == {chat.viewer}


def test_viewer_can_read(enrolled):
    chat = enrolled
    for text in (f"patient {chat.sid}", f"calendar {chat.sid}", "today", "week", "decisions"):
        assert chat(text, user=chat.viewer).ok, text


def test_only_an_admin_sets_roles(team):
    chat = team
    answer = chat(f"role {chat.nurse} investigator", user=chat.doctor)
    _refused_politely(answer, "admin", chat.doctor)
    assert "your role is investigator" in answer.reply["error"]
    assert "coordinator" in chat("whoami", user=chat.nurse).text
    assert _refusals(chat)[-1].subject == "setting roles"


def test_a_stranger_has_no_role_until_given_one(team):
    chat = team
    stranger = "U0STRANGE1"
    assert "no role in this trial yet" in chat("whoami", user=stranger).text
    answer = chat(f"patient {chat.sid}", user=stranger)
    assert "you have no role in this trial yet" in answer.reply["error"]
    assert chat(f"role {stranger} viewer", user=chat.admin).ok
    assert "*viewer*" in chat("whoami", user=stranger).text


def test_the_console_user_is_an_admin_only_without_configured_admins(chat, monkeypatch):
    # TRIALBOT_ADMINS is set in these tests: the console user is nobody special
    assert "no role in this trial yet" in chat("whoami", user="console").text
    monkeypatch.delenv("TRIALBOT_ADMINS")
    answer = chat("whoami", user="console")
    assert "*admin*" in answer.text and "TRIALBOT_ADMINS" in answer.text


def test_a_role_that_would_not_take_effect_is_refused_and_changes_nothing(chat):
    """TRIALBOT_ADMINS keeps ADMIN an admin: "is now viewer" would be untrue."""
    before = chat.counts()
    answer = chat(f"role {chat.admin} viewer", user=chat.admin)
    assert not answer.ok and answer.code == 2
    assert "TRIALBOT_ADMINS" in answer.reply["error"]
    assert chat.counts() == before
    assert chat("whoami", user=chat.admin).text.count("admin")
    # setting their site and on-call flag as admin does take effect
    answer = chat(f"role {chat.admin} admin site=main oncall=yes", user=chat.admin)
    assert answer.ok, answer.reply
    assert "on call" in answer.text


def test_the_services_check_the_role_before_reading_anything(enrolled):
    """`correct`, `screen` and `site` check the role in the service layer: a viewer asking
    to correct learns neither an entry's kind nor whether it exists, a stranger is told no
    screening and no site list; each refusal is audited and nothing else is written."""
    chat = enrolled
    stranger = "U0STRANGE1"
    before = chat.counts()
    for text, user, needed in (
        ('correct E2 grade=1 reason="re-graded"', chat.viewer, "coordinator"),
        ('correct E999 grade=1 reason="re-graded"', chat.viewer, "coordinator"),
        ("screen age=52 stage=IIIC1 site=main", stranger, "viewer"),
        ("site", stranger, "viewer"),
    ):
        answer = chat(text, user=user)
        _refused_politely(answer, needed, user)
        assert "E2" not in answer.reply["error"] and "E999" not in answer.reply["error"]
    after = chat.counts()
    assert after.pop("audit") == before.pop("audit") + 4
    assert after == before
    subjects = [r.subject for r in sorted(_refusals(chat), key=lambda r: r.id)[-4:]]
    assert subjects == [
        "correcting an entry",
        "correcting an entry",
        "screening a candidate",
        "listing the sites",
    ]
