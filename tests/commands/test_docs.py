"""docs/commands.md documents every subcommand, with its usage line and real output."""

from __future__ import annotations

from pathlib import Path

from bot.commands import build_registry
from bot.paths import trial_rules_dir
from bot.services.rules import TrialRules

ROOT = Path(__file__).resolve().parents[2]


def _shipped_trial():
    # docs/commands.md shows the commands as the shipped trial's team sees them
    return TrialRules.load(trial_rules_dir())


def test_every_subcommand_has_a_section_with_its_usage_and_output():
    text = (ROOT / "docs" / "commands.md").read_text(encoding="utf-8")
    sections = text.split("\n### ")
    rules = _shipped_trial()
    for command in build_registry():
        command = command.for_rules(rules)
        section = next((s for s in sections if s.startswith(f"`{command.name}`")), None)
        assert section is not None, f"no section for {command.name}"
        assert f"`/trial {command.usage}`" in section
        assert "```console\n$ trialbot chat" in section
        assert "```json" in section  # the --json example


def test_the_readme_points_to_the_language():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "## Using trialbot" in readme and "docs/commands.md" in readme


def test_the_entry_fields_the_docs_list_are_the_declared_ones():
    """bot/entry_rules.py declares each entry's fields once; the usage lines (and so
    docs/commands.md, above), the forms and the field table of docs/decide.md follow it."""
    from bot.entry_rules import ENTRY_RULES

    commands = {command.name: command for command in build_registry()}
    decide = (ROOT / "docs" / "decide.md").read_text(encoding="utf-8")
    rows = [line for line in decide.splitlines() if line.startswith("| `{date, ")]
    for rule in ENTRY_RULES.values():
        assert f"\n{rule.form}\n" in decide, rule.form
        row = next(r for r in rows if r.startswith(f"| `{{date, {rule.word}: "))
        fields = row.rsplit("|", 2)[1]
        shown = {name.strip("`") for name in fields.split() if name.startswith("`")}
        assert {o.name for o in rule.options} <= shown, row
        for option in rule.options:
            assert (f"`{option.name}` (required" in fields) == option.required, option.name
        usage = commands[rule.word].usage
        for name in rule.command_options:
            option = next((o for o in rule.options if o.name == name), None)
            written = option.syntax if option is not None and option.positional else f"{name}="
            assert written in usage, (rule.word, name)
            if option is not None and not option.required:
                assert f"[{written}" in usage, (rule.word, name)
