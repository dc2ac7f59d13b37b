"""The rules as `trialbot chat "/trial help …"` needs them, without unpickling them all.

`help` shows the command language with the trial's own names in it (its drugs, table,
example study ID and default site: `registry.trial_names`). Reading those from the whole
validated rules costs a one-shot `help` most of its start-up (every schema module is
imported to unpickle them), so they are kept as a small entry of their own in the
validated-rules cache (`bot.protocol.cache`, kind `help-names`: keyed, like the rules, by
the content of every file they come from). Anything else `help` asks of the rules (a
topic's details, such as `help lab`'s analytes) loads the whole rules on first use, as
before. The configured default site is checked against the trial's sites as
`services.load_rules` does, so a wrong TRIALBOT_DEFAULT_SITE is refused the same way.
"""

from __future__ import annotations

from functools import cached_property
from types import SimpleNamespace
from typing import Any

from bot.services import check_default_site
from bot.settings import Settings


def _summary(directory) -> dict[str, Any]:
    from bot.commands.registry import names_of
    from bot.services.rules import TrialRules

    rules = TrialRules.load(directory)
    return {
        "names": names_of(rules),
        "name": rules.name,
        "trial": rules.schedule.trial,
        "study_id_example": rules.study_id_example,
        "sites": [site.id for site in rules.sites.sites],
        "default_site": rules.sites.default_site,
    }


class HelpRules:
    """Stands in for `TrialRules` in `help`'s service context."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._full: Any = None

    @cached_property
    def _summary(self) -> dict[str, Any]:
        from bot.protocol.cache import load_cached

        summary = load_cached(
            self._settings.trial_dir(), self._settings.cache_dir, _summary, kind="help-names"
        )
        check_default_site(
            self._settings, summary["name"], summary["sites"], summary["default_site"]
        )
        return summary

    @cached_property
    def help_names(self) -> dict[str, str]:
        return dict(self._summary["names"])

    @property
    def study_id_example(self) -> str:
        return self._summary["study_id_example"]

    @property
    def schedule(self) -> Any:
        """What `help` reads of the schedule: the trial's title (`help`'s first line)."""
        return SimpleNamespace(trial=self._summary["trial"])

    def __getattr__(self, name: str) -> Any:
        # only what is not defined here: the whole rules, loaded once (through the cache)
        if name.startswith("__"):
            raise AttributeError(name)
        if self._full is None:
            from bot.services import load_rules

            self._full = load_rules(self._settings)
        return getattr(self._full, name)
