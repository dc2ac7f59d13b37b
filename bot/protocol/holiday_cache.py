"""What the holidays package said of a country's years, kept between processes beside the
rules cache (`Settings.cache_dir`): a one-shot `trialbot calendar` then neither imports
the package (it loads every country's module as soon as one is used) nor computes ten
years of days again — about a third of that command's start-up (docs/benchmarks.md).

One JSON file per country and subdivision, keyed by the holidays package's version and
the source of `bot/calendar/sites.py` (which reads the package): any change is a miss,
and the facts are computed from the package as without a cache. A year the file does not
hold is computed and the file rewritten with it. Written atomically; a file that is not
private to the user, does not parse or carries another key is ignored (and replaced).
JSON, not pickle: nothing in it is run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path

from bot.calendar.sites import HolidayFacts, SiteCalendar
from bot.protocol.cache import _PACKAGE, _private, _version

FORMAT = 1
_log = logging.getLogger("trialbot.rules_cache")


def _key(country: str, subdivision: str | None) -> str:
    digest = hashlib.sha256()
    for part in (
        str(FORMAT),
        _version("holidays"),
        country,
        subdivision or "",
        (_PACKAGE / "calendar" / "sites.py").read_text(encoding="utf-8"),
    ):
        digest.update(part.encode("utf-8") + b"\0")
    return digest.hexdigest()


def _path(cache_dir: Path, country: str, subdivision: str | None) -> Path:
    name = hashlib.sha256(f"{country}\0{subdivision or ''}".encode()).hexdigest()[:16]
    return cache_dir / f"holidays-{name}.json"


def load_facts(cache_dir: Path | None, country: str | None, subdivision: str | None):
    """The facts kept for `country`, or None (no cache, no country, a miss)."""
    if cache_dir is None or country is None:
        return None
    path = _path(cache_dir, country, subdivision)
    try:
        if not _private(path.parent, folder=True) or not _private(path, folder=False):
            return None
        stored = json.loads(path.read_text(encoding="utf-8"))
        if stored.get("key") != _key(country, subdivision):
            return None
        return HolidayFacts.from_json(stored["facts"])
    except FileNotFoundError:
        return None
    except Exception as exc:  # torn, corrupt, foreign: compute again
        _log.info("holiday cache %s ignored: %s", path, type(exc).__name__)
        return None


def keep_facts(cache_dir: Path | None, site: SiteCalendar, given: HolidayFacts | None) -> None:
    """Write what `site` learnt of the package, if it computed a year `given` lacked."""
    country = site.config.country
    if cache_dir is None or country is None:
        return
    if given is not None and all(given.holds(year) for year in site.computed_years()):
        return
    facts = site.holiday_facts()
    if facts is None:
        return
    path = _path(cache_dir, country, site.config.subdivision)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _private(path.parent, folder=True):
            return
        data = json.dumps({"key": _key(country, site.config.subdivision), "facts": facts.to_json()})
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".holidays-", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:  # a read-only home, a full disk: run without it
        _log.info("holiday cache %s not written: %s", path, exc)
