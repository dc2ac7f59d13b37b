"""Something unexpected: a polite reply, the transaction rolled back, and a log line on
stderr with the study ID but no other patient data."""

from __future__ import annotations

import logging
import re

from bot.render import Renderer
from bot.services.unit import PatientUnit


def _boom(*args, **kwargs):
    raise RuntimeError("ANC 0.4 for the patient in bed 12")


def test_an_unexpected_error_records_nothing_and_says_so(say, monkeypatch, caplog):
    before = say.counts()
    monkeypatch.setattr(PatientUnit, "refresh_calendar", _boom)  # after the entry is appended
    with caplog.at_level(logging.ERROR, logger="trialbot.commands"):
        reply = say(f"lab {say.sid} ANC 0.4 PLT 62")
    assert not reply.ok and reply.failed and reply.exit_code == 1
    assert reply.error == "something went wrong — nothing was recorded"
    assert "nothing was recorded" in reply.text and "Traceback" not in reply.text
    assert say.counts() == before
    logged = caplog.records[-1].getMessage()
    assert "internal error in 'lab'" in logged and say.sid in logged
    assert "RuntimeError" in logged and "bot/services/entries.py" in logged
    # The frames name source lines ("entries.py:162 in record_lab"); a line number is not a
    # patient value, so the check for values reads the message without them.
    values_part = re.sub(r"\.py:\d+ in ", ".py in ", logged)
    assert "0.4" not in values_part and "bed 12" not in values_part and "62" not in values_part


def test_a_reply_that_cannot_be_shown_does_not_claim_nothing_was_recorded(say, monkeypatch, caplog):
    real = Renderer.render

    def broken(self, name, **data):
        if name == "replies/dose.j2":
            raise KeyError("mg")
        return real(self, name, **data)

    monkeypatch.setattr(Renderer, "render", broken)
    with caplog.at_level(logging.ERROR, logger="trialbot.commands"):
        reply = say(f"dose {say.sid} cisplatin")
    assert reply.failed and "ran" in reply.error
    assert "cisplatin given" in say(f"patient {say.sid}").text  # it was recorded
    assert "internal error in 'dose'" in caplog.records[-1].getMessage()
