"""No trial's own words in the code: a trial's drugs, table names and citations live in its
rules directory, so a second trial's replies never say the first trial's names.

The words are read from every shipped rules directory (rules/*/ with a schedule.yaml):
the trial's folder name and registry id, its drug ids, the name its immune-related rules go by, and the
citation its dose rules give when no rule of their own applies. bot/ and templates/ are
searched for each, as a whole word, case-insensitively.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SEARCHED = [ROOT / "bot", ROOT / "templates"]


def _trial_words() -> dict[str, str]:
    """word -> the rules directory it comes from."""
    words: dict[str, str] = {}
    for directory in sorted((ROOT / "rules").iterdir()):
        schedule_file = directory / "schedule.yaml"
        if not schedule_file.is_file():
            continue
        schedule = yaml.safe_load(schedule_file.read_text(encoding="utf-8"))
        dose = yaml.safe_load((directory / "dose_modifications.yaml").read_text(encoding="utf-8"))
        found = [directory.name, schedule["trial"], *(drug["id"] for drug in schedule["drugs"])]
        found += [dose["immunotherapy"]["table"], dose["source"]]
        for word in found:
            words.setdefault(word, directory.name)
    return words


def test_the_words_are_read_from_the_rules_directories():
    # the check would pass vacuously if it read no rules directory: both shipped trials
    words = _trial_words()
    assert {"nct05084677", "keynote_a18"} <= set(words.values()), words
    assert {"toripalimab", "pembrolizumab", "cisplatin", "Table 3"} <= set(words), words


def test_no_trial_specific_word_in_bot_or_templates():
    words = _trial_words()
    patterns = {
        word: re.compile(rf"(?<![\w]){re.escape(word)}(?![\w])", re.IGNORECASE) for word in words
    }
    hits = []
    for base in SEARCHED:
        for path in sorted(base.rglob("*")):
            if not path.is_file() or path.suffix not in {".py", ".j2", ".jinja", ".txt", ".md"}:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                for word, pattern in patterns.items():
                    if pattern.search(line):
                        where = path.relative_to(ROOT)
                        hits.append(f"{where}:{number}: '{word}' ({words[word]}): {line.strip()}")
    assert not hits, "trial-specific words in code:\n" + "\n".join(hits)
