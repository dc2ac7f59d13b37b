"""`trialbot chat` as a REPL: driven by stdin (a transcript), and interactively (prompt,
history, Ctrl-C, Ctrl-D)."""

from __future__ import annotations

import builtins
import io

import pytest

from bot.cli import main
from bot.transports.console import PROMPT

SCRIPT = """\
# a replay script: comments and blank lines are skipped
help

enroll LACC-007 start=2027-03-01 height=160 weight=55
/trial calendar LACC-007 weeks=1 from=2027-03-01
lba LACC-007 ANC 0.4
whoami
"""


def test_stdin_is_a_transcript(workdir, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(SCRIPT))
    assert main(["chat"]) == 0  # refusals inside a session are part of the conversation
    out = capsys.readouterr().out
    assert f"{PROMPT}help\n" in out and "`help <subcommand>`" in out
    assert f"{PROMPT}enroll LACC-007" in out and "→ #trial-main:" in out
    assert "Week +0 — from Mon 01 Mar 2027" in out
    assert "did you mean 'lab'?" in out
    assert "you are console" in out
    assert "a replay script" not in out


def test_exit_leaves_early(workdir, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("whoami\nexit\nhelp\n"))
    assert main(["chat"]) == 0
    out = capsys.readouterr().out
    assert "you are console" in out and "`help <subcommand>`" not in out


def test_json_lines_from_stdin(workdir, capsys, monkeypatch):
    import json

    monkeypatch.setattr("sys.stdin", io.StringIO("whoami\nlba\n"))
    assert main(["chat", "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["ok"] for line in lines] == [True, False]


def test_interactive_prompt_history_ctrl_c_and_ctrl_d(workdir, capsys, monkeypatch):
    pytest.importorskip("readline")
    from bot.services import build_context
    from bot.settings import load_settings
    from bot.transports.console import Console, TextPrinter, console_clock, history_path, repl

    typed = iter(["whoami", KeyboardInterrupt, "help lab", EOFError])
    prompts = []

    def fake_input(prompt: str = "") -> str:
        prompts.append(prompt)
        item = next(typed)
        if isinstance(item, type) and issubclass(item, BaseException):
            raise item
        return item

    monkeypatch.setattr(builtins, "input", fake_input)
    settings = load_settings()
    ctx = build_context(settings, clock=console_clock(settings))
    try:
        console = Console(ctx, user="console", printer=TextPrinter(styled=False))
        assert repl(console, stdin=io.StringIO(), interactive=True) == 0
    finally:
        ctx.db.dispose()
    out = capsys.readouterr().out
    assert prompts == [PROMPT] * 4
    assert "Ctrl-D to leave" in out and "you are console" in out and "^C" in out
    assert "neut" in out  # help lab ran after the Ctrl-C
    assert history_path() == workdir / "home" / ".trialbot_history"
    assert history_path().exists()


def test_styled_output_on_a_terminal_keeps_the_words(workdir):
    from bot.commands.reply import Reply
    from bot.transports.console import TextPrinter

    stream = io.StringIO()
    printer = TextPrinter(stream, styled=True)
    printer.reply(Reply(text="*D1* · *cisplatin — REDUCE* `confirm D1` [not markup]"))
    printer.post("U0DOC0001", ":rotating_light: <@U0DOC0001> on call")
    text = stream.getvalue()
    assert "D1 · cisplatin — REDUCE" in text and "confirm D1" in text
    assert "[not markup]" in text  # rich markup is off: brackets are text
    assert "→ DM @U0DOC0001:" in text and "!! @U0DOC0001 on call" in text
