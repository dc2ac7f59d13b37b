"""The validated-rules cache (`bot.protocol.cache`): a hit gives the same rules as the
files, any change to any rules file (CTCAE data included) is a miss, a corrupt or foreign
entry is ignored and rebuilt, and `trialbot rules check` never reads it."""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import pytest

from bot.cli import main
from bot.errors import RulesError
from bot.paths import rules_root
from bot.protocol import cache
from bot.protocol.loader import load_trial
from bot.services.rules import TrialRules
from bot.settings import Settings


@pytest.fixture
def root(tmp_path: Path) -> Path:
    copy = tmp_path / "rules"
    shutil.copytree(rules_root(), copy)
    return copy


@pytest.fixture
def counted(monkeypatch):
    """load_trial, counting the times the files are really read and validated."""
    calls: list[Path] = []

    def load(directory: Path):
        calls.append(directory)
        return load_trial(directory)

    return calls, load


def _entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("rules-*.pickle"))


def test_a_second_load_is_a_hit_with_the_same_rules(root, tmp_path, counted):
    calls, load = counted
    folder = tmp_path / "cache"
    first = cache.load_cached(root / "nct05084677", folder, load)
    second = cache.load_cached(root / "nct05084677", folder, load)
    assert len(calls) == 1 and len(_entries(folder)) == 1
    assert second.files == first.files and second.name == first.name == "nct05084677"
    assert second.ctcae.terms == first.ctcae.terms
    assert TrialRules.of(second).schedule == TrialRules.load(root / "nct05084677").schedule
    # private to the user: the folder 0700, the entry 0600
    assert folder.stat().st_mode & 0o777 == 0o700
    assert _entries(folder)[0].stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    "change",
    [
        ("nct05084677/sites.yaml", lambda text: text + "\n# a comment is a change too\n"),
        ("nct05084677/schedule.yaml", lambda text: text.replace("source:", "source:  ", 1)),
        ("ctcae/v5.0/synonyms.yaml", lambda text: text + "\n"),
        ("ctcae/v5.0/NOTICE", lambda text: text + "."),
    ],
    ids=["sites", "schedule", "ctcae-synonyms", "ctcae-notice"],
)
def test_any_change_to_any_rules_file_is_a_miss(root, tmp_path, counted, change):
    calls, load = counted
    folder = tmp_path / "cache"
    cache.load_cached(root / "nct05084677", folder, load)
    name, edit = change
    path = root / name
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    cache.load_cached(root / "nct05084677", folder, load)
    assert len(calls) == 2
    cache.load_cached(root / "nct05084677", folder, load)
    assert len(calls) == 2  # the rewritten entry is a hit again


def test_a_change_to_the_ctcae_data_reaches_the_checks_through_the_cache(root, tmp_path):
    folder = tmp_path / "cache"
    assert cache.load_cached(root / "nct05084677", folder, load_trial).ctcae is not None
    terms = root / "ctcae" / "v5.0" / "terms.json"
    data = json.loads(terms.read_text(encoding="utf-8"))
    for term in data["terms"]:
        if term["term"] == "Hypopituitarism":
            term["term"] = "Hypopituitarism of this copy"
    terms.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(RulesError, match=r"'Hypopituitarism' is not a CTCAE v5\.0 term"):
        cache.load_cached(root / "nct05084677", folder, load_trial)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not a pickle at all",
        pickle.dumps(("trialbot-rules-cache", cache.FORMAT))[:-7],  # torn
        pickle.dumps(("trialbot-rules-cache", cache.FORMAT + 1, "key", {})),  # other format
        pickle.dumps(("something else", 1, 2, 3)),
    ],
    ids=["empty", "garbage", "torn", "other-version", "foreign"],
)
def test_a_corrupt_or_foreign_entry_is_ignored_and_rebuilt(root, tmp_path, counted, content):
    calls, load = counted
    folder = tmp_path / "cache"
    cache.load_cached(root / "nct05084677", folder, load)
    (entry,) = _entries(folder)
    entry.write_bytes(content)
    trial = cache.load_cached(root / "nct05084677", folder, load)
    assert len(calls) == 2 and trial.name == "nct05084677"
    cache.load_cached(root / "nct05084677", folder, load)
    assert len(calls) == 2  # rebuilt: a hit again


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX owners and modes")
def test_an_entry_others_can_write_is_never_unpickled(root, tmp_path, counted):
    calls, load = counted
    folder = tmp_path / "cache"
    cache.load_cached(root / "nct05084677", folder, load)
    (entry,) = _entries(folder)
    entry.chmod(0o666)
    cache.load_cached(root / "nct05084677", folder, load)
    assert len(calls) == 2


def test_rules_that_do_not_validate_are_never_cached(root, tmp_path, counted):
    calls, load = counted
    folder = tmp_path / "cache"
    (root / "nct05084677" / "sites.yaml").write_text("sites: [", encoding="utf-8")
    for _ in range(2):
        with pytest.raises(RulesError, match="is not valid YAML"):
            cache.load_cached(root / "nct05084677", folder, load)
    assert len(calls) == 2 and _entries(folder) == []


def test_no_cache_dir_means_no_cache(root, counted):
    calls, load = counted
    cache.load_cached(root / "nct05084677", None, load)
    cache.load_cached(root / "nct05084677", None, load)
    assert len(calls) == 2
    assert Settings(cache_dir="off").cache_dir is None


def test_rules_check_reads_the_files_never_the_cache(root, tmp_path, monkeypatch, capsys):
    folder = tmp_path / "cache"
    monkeypatch.setenv("TRIALBOT_RULES_DIR", str(root))
    monkeypatch.setenv("TRIALBOT_CACHE_DIR", str(folder))
    assert main(["calendar", "--start", "2027-03-01", "--json"]) == 0
    assert len(_entries(folder)) == 1
    # a poisoned entry that a cached read would return as is
    (entry,) = _entries(folder)
    stored = pickle.loads(entry.read_bytes())
    entry.write_bytes(pickle.dumps((*stored[:3], "not a trial")))
    capsys.readouterr()
    assert main(["rules", "check"]) == 0
    assert "OK (5 of 5 rules files" in capsys.readouterr().out
    (root / "nct05084677" / "sites.yaml").write_text("sites: [", encoding="utf-8")
    assert main(["rules", "check"]) == 2
