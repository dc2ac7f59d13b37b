"""`trialbot chat … | head`: when the reader goes away the command ends quietly, with the
shell's SIGPIPE status and no traceback."""

from __future__ import annotations

import pytest

from bot.cli import EXIT_BROKEN_PIPE, main


def test_a_reader_that_goes_away_gets_no_traceback(monkeypatch, tmp_path, capfd):
    import bot.transports.console as console

    def reader_gone(*args, **kwargs):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setenv("TRIALBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'trial.db'}")
    monkeypatch.setattr(console.TextPrinter, "_print", reader_gone)
    with pytest.MonkeyPatch.context() as restore:
        restore.setattr("os.dup2", lambda *args: None)  # keep the test's own stdout
        assert main(["chat", "/trial help"]) == EXIT_BROKEN_PIPE
    assert "Traceback" not in capfd.readouterr().err
