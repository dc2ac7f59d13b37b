"""docs/commands.md documents every subcommand, with its usage line and real output."""

from __future__ import annotations

from pathlib import Path

from bot.commands import build_registry

ROOT = Path(__file__).resolve().parents[2]


def test_every_subcommand_has_a_section_with_its_usage_and_output():
    text = (ROOT / "docs" / "commands.md").read_text(encoding="utf-8")
    sections = text.split("\n### ")
    for command in build_registry():
        section = next((s for s in sections if s.startswith(f"`{command.name}`")), None)
        assert section is not None, f"no section for {command.name}"
        assert f"`/trial {command.usage}`" in section
        assert "```console\n$ trialbot chat" in section
        assert "```json" in section  # the --json example


def test_the_readme_points_to_the_language():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "## Using trialbot" in readme and "docs/commands.md" in readme
