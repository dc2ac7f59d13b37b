"""`trialbot chat --request-id KEY`: the same key and the same command is recorded once and
answers as the first time; the same key with a different command is refused and records
nothing; a key that is no key is refused (on SQLite and PostgreSQL)."""

from __future__ import annotations

import json

from bot.cli import main


def _chat(chat, text: str, *extra: str, user: str | None = None) -> tuple[int, dict]:
    chat.monkeypatch.setenv("TRIALBOT_NOW", "2027-03-05T09:00+08:00")
    chat.capsys.readouterr()
    code = main(["chat", "--json", "--as", user or chat.nurse, *extra, text])
    out = chat.capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1, out
    return code, json.loads(out[0])


def test_same_key_same_command_is_recorded_once(enrolled):
    code, first = _chat(enrolled, "lab LACC-007 ANC 0.4 PLT 62", "--request-id", "k-1")
    assert code == 0 and first["ok"], first
    after_first = enrolled.counts()
    code, again = _chat(enrolled, "lab LACC-007 ANC 0.4 PLT 62", "--request-id", "k-1")
    assert code == 0 and again["ok"]
    assert again["decisions"] == first["decisions"]
    assert enrolled.counts() == after_first


def test_same_key_different_content_is_refused_and_records_nothing(enrolled):
    code, first = _chat(enrolled, "lab LACC-007 ANC 0.4 PLT 62", "--request-id", "k-2")
    assert code == 0 and first["ok"]
    before = enrolled.counts()
    code, second = _chat(enrolled, "lab LACC-007 ANC 1.9 PLT 162", "--request-id", "k-2")
    assert code == 2 and not second["ok"]
    assert second["error"].startswith("request-id:")
    assert "different lab command" in second["error"]
    assert enrolled.counts() == before
    # another user repeating the key is different content too
    code, third = _chat(
        enrolled, "lab LACC-007 ANC 0.4 PLT 62", "--request-id", "k-2", user=enrolled.doctor
    )
    assert code == 2 and "request-id" in third["error"]


def test_a_key_that_is_no_key_is_refused(enrolled):
    before = enrolled.counts()
    for key in ("x" * 129, "k\x00", "ключ", " "):
        code, reply = _chat(enrolled, "lab LACC-007 ANC 0.4", "--request-id", key)
        assert code == 2, (key, reply)
        assert "request-id" in reply["error"]
    assert enrolled.counts() == before
