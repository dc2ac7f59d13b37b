"""No trial's own words in the code: a trial's drugs, table names and citations live in its
rules directory, so a second trial's replies never say the first trial's names.

The words are read from every shipped rules directory (rules/*/ with a schedule.yaml):
the trial's folder name and registry id, its drug ids, the name its immune-related rules go by, the
citation its dose rules give when no rule of their own applies, its example study ID and
that ID's prefix, its sites' time zones (and their cities), and its staging system. To
these come the words of the first trial's setting that no rules field holds (`OTHER_WORDS`).
bot/ and templates/ are searched for each, as a whole word, case-insensitively, in code,
strings, docstrings and comments alike; `ALLOWED` lists the few lines that must keep one,
each with its reason.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SEARCHED = [ROOT / "bot", ROOT / "templates"]

# The first trial's setting, in words no rules field holds: its staging system's name, its
# site's country and holiday, its study-ID prefix.
OTHER_WORDS = (
    *("FIGO", "China", "Chinese", "National Day", "LACC", "Shanghai", "IIIC1", "IIIC2"),
    *("Table 1", "Table 2"),  # its protocol's eligibility and schedule tables
    # both shipped trials' disease, and the first trial's brachytherapy and holiday names:
    # a trial of another cancer, or without image-guided brachytherapy, must not read them
    *("cervical", "cervix", "IGABT", "Golden Week"),
)

# (file, word, the text of the line it is on) -> why that line keeps the word. Each entry
# must still match a line (a stale entry fails), so the list cannot grow quietly.
ALLOWED = {
    # Detecting PHI typed by mistake: China's resident identity number is one of the
    # national ID formats refused anywhere (a format, not a trial's word).
    ("bot/phi.py", "China", "a national identity number"): "a PHI format",
    ("bot/phi.py", "Chinese", "a phone number"): "a PHI format",
    ("bot/phi.py", "Chinese", "a well-formed Chinese resident identity"): "a PHI format",
    ("bot/phi.py", "Chinese", 'Finding("a Chinese resident identity'): "a PHI format",
    # Full-width forms are what Chinese and Japanese input methods type: the reason the
    # width folding exists, whatever the trial.
    ("bot/inputs.py", "Chinese", "Full-width forms read as ASCII"): "an input method",
    # The built-in holiday calendar any sites.yaml may rely on (and its make-up workdays):
    # a holidays feature, like the holidays package's countries.
    ("bot/calendar/sites.py", "China", "China's official make-up workdays"): "built-in calendar",
    ("bot/calendar/sites.py", "China", "Sites every installation knows"): "built-in calendar",
    ("bot/calendar/sites.py", "China", 'label="China (official holidays'): "built-in calendar",
    # The model's defaults, which no rules file reaches (sites.yaml must state each site's
    # time zone and country: `SitesFile._said_not_defaulted`), and the check naming them.
    ("bot/calendar/sites.py", "Shanghai", 'timezone: str = "Asia/Shanghai"'): "unreachable",
    ("bot/calendar/sites.py", "Asia/Shanghai", 'timezone: str = "Asia/Shanghai"'): "unreachable",
    ("bot/calendar/sites.py", "Shanghai", "(allowed: IANA names such as"): "an IANA example",
    ("bot/calendar/sites.py", "Asia/Shanghai", "(allowed: IANA names such as"): "an IANA example",
    ("bot/calendar/sites.py", "Shanghai", "defaults (Asia/Shanghai, CN"): "names the defaults",
    ("bot/calendar/sites.py", "Asia/Shanghai", "defaults (Asia/Shanghai, CN"): "names the defaults",
    # The stored site row's column defaults (the schema the migrations created); every
    # site row is written from its sites.yaml entry.
    ("bot/storage/models.py", "Shanghai", 'timezone: str = "Asia/Shanghai"'): "stored schema",
    ("bot/storage/models.py", "Asia/Shanghai", 'timezone: str = "Asia/Shanghai"'): "stored schema",
}


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
        sites = yaml.safe_load((directory / "sites.yaml").read_text(encoding="utf-8"))
        example = sites["study_ids"]["example"]
        found += [example, example.split("-")[0] + "-"]
        for site in sites["sites"]:
            found += [site["timezone"], site["timezone"].rsplit("/", 1)[-1]]
        eligibility = yaml.safe_load((directory / "eligibility.yaml").read_text(encoding="utf-8"))
        found += [c["system"] for c in eligibility["criteria"] if c.get("type") == "figo_stage"]
        for word in found:
            words.setdefault(word, directory.name)
    for word in OTHER_WORDS:
        words.setdefault(word, "the first trial's setting")
    return words


def test_the_words_are_read_from_the_rules_directories():
    # the check would pass vacuously if it read no rules directory: both shipped trials
    words = _trial_words()
    assert {"nct05084677", "keynote_a18"} <= set(words.values()), words
    assert {"toripalimab", "pembrolizumab", "cisplatin", "Table 3"} <= set(words), words
    assert {"LACC-007", "LACC-", "KN-0001", "Asia/Shanghai", "FIGO 2018"} <= set(words), words


def test_no_trial_specific_word_in_bot_or_templates():
    words = _trial_words()
    patterns = {
        # a word that ends in "-" (a study-ID prefix) is followed by the number, not a boundary
        word: re.compile(
            rf"(?<![\w]){re.escape(word)}" + ("" if word.endswith("-") else r"(?![\w])"),
            re.IGNORECASE,
        )
        for word in words
    }
    hits = []
    used = set()
    for base in SEARCHED:
        for path in sorted(base.rglob("*")):
            if not path.is_file() or path.suffix not in {".py", ".j2", ".jinja", ".txt", ".md"}:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                for word, pattern in patterns.items():
                    if not pattern.search(line):
                        continue
                    where = path.relative_to(ROOT).as_posix()
                    allowed = [
                        key
                        for key in ALLOWED
                        if key[0] == where and key[1] == word and key[2] in line
                    ]
                    if allowed:
                        used.update(allowed)
                        continue
                    hits.append(f"{where}:{number}: '{word}' ({words[word]}): {line.strip()}")
    assert not hits, "trial-specific words in code:\n" + "\n".join(hits)
    assert not set(ALLOWED) - used, (
        f"allowed lines that no longer say the word: {set(ALLOWED) - used}"
    )


def test_no_shipped_trials_phase_name_in_templates():
    """Templates say a phase by the schedule's name for it (a summary field such as
    `consolidation_phase`), never by one trial's phase id — a third trial's enrolment reply
    said "consolidation from" of a phase it does not have. The ids every trial may share
    (screening, follow-up) are not one trial's words."""
    generic = {"screening", "follow_up"}
    phases = set()
    for directory in sorted((ROOT / "rules").iterdir()):
        schedule_file = directory / "schedule.yaml"
        if schedule_file.is_file():
            schedule = yaml.safe_load(schedule_file.read_text(encoding="utf-8"))
            phases |= {phase["id"] for phase in schedule["phases"]} - generic
    assert {"consolidation", "ccrt", "maintenance"} <= phases, phases
    hits = []
    for path in sorted((ROOT / "templates").rglob("*.j2")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for phase in phases:
                # a word in the text, not a field name such as consolidation_start
                if re.search(rf"(?<![\w.]){re.escape(phase)}(?![\w])", line, re.IGNORECASE):
                    hits.append(f"{path.relative_to(ROOT)}:{number}: '{phase}': {line.strip()}")
    assert not hits, "a phase name in templates:\n" + "\n".join(hits)


def test_the_rules_language_names_no_trial_s_table():
    """The schedule language's keys once carried the first protocol's table number
    (`table2_row`, `table2_columns`): a key is a word every trial's team writes, and
    `\\b` would not catch it inside one (`table2_row`)."""
    hits = [
        f"{path.relative_to(ROOT)}:{number}"
        for base in SEARCHED
        for path in sorted(base.rglob("*"))
        if path.is_file() and path.suffix in {".py", ".j2"}
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"table_?[0-9]", line, re.IGNORECASE)
    ]
    assert hits == []
