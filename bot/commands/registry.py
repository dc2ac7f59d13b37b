"""The subcommands of `/trial`: name, usage line, one-line summary, help text, the role
it needs, and its handler.

Each module of `bot.commands.handlers` lists its commands in `COMMANDS`; `build_registry()`
collects them in the order `help` shows them. A handler takes `(ctx, request, args)` and
returns a `Reply` (data, rendered by a template): it never prints.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from bot.commands.args import Args
from bot.commands.reply import Reply
from bot.errors import closest

if TYPE_CHECKING:
    from bot.services.context import Request, ServiceContext
    from bot.services.rules import TrialRules

Handler = Callable[["ServiceContext", "Request", Args], Reply]


def trial_names(rules: TrialRules) -> dict[str, str]:
    """The trial's names a help text, usage line or example may use, each as `{key}`."""
    preset = getattr(rules, "help_names", None)  # `help` on its own: bot.services.help_rules
    if isinstance(preset, dict):
        return dict(preset)
    return names_of(rules)


def names_of(rules: TrialRules) -> dict[str, str]:
    """`trial_names`, read from the validated rules."""
    dose = rules.dose_modifications
    return {
        "immunotherapy": dose.immunotherapy.drugs[0],
        "chemotherapy": dose.chemotherapy.drugs[0],
        "radiotherapy": rules.schedule.radiotherapy[0].id if rules.schedule.radiotherapy else "…",
        "table": dose.immunotherapy.table,
        "study_id": rules.study_id_example,
        "stage": rules.stage_example,
        "site": rules.sites.default_site,
        **_fraction_names(rules),
        "enrol_criteria": " ".join(f"[{a}]" for a in _enrol_answers(rules)),
        "enrol_answers": " ".join(_enrol_answers(rules)),
        "screen_answers": " ".join(_screen_answers(rules)) + _more(rules),
        "screen_example": " ".join(_screen_answers(rules)),
    }


def _fraction_names(rules: TrialRules) -> dict[str, str]:
    """`{fraction}` ("EBRT fraction") and `{fractions}` ("EBRT fractions (25–28, default
    25)"): the schedule's fraction series (the summary's `ott_series`) and its count."""
    schedule = rules.schedule
    series = schedule.series_by_id(schedule.summary.ott_series)
    count = getattr(series, "count", None)
    low, high, default = (
        (count.min, count.max, count.default) if hasattr(count, "min") else (count,) * 3
    )
    span = f"{low}–{high}, default {default}" if low != high else f"{default}"
    boosted = any(c.boost_dose_per_fraction for c in schedule.radiotherapy)
    return {
        "fraction": series.label,
        "fractions": f"{series.label}s ({span})",
        "fractions_default": str(default),
        "fractions_max": str(high),
        # offered only when a radiotherapy course gives a boost dose (enrolment refuses it)
        "boost_option": "[boost=yes|no] " if boosted else "",
        "boost_example": "boost=yes " if boosted else "",
    }


# What enrolment reads of the eligibility criteria, with the value usage lines show; a
# trial without one of them has no such option (enrolment refuses it by name).
_ENROL_CRITERIA = (("stage", None), ("ecog", "1"), ("age", "52"))


def _enrol_answers(rules: TrialRules) -> list[str]:
    keys = {c.key for c in rules.eligibility.criteria}
    return [
        f"{key}={rules.stage_example if value is None else value}"
        for key, value in _ENROL_CRITERIA
        if key in keys
    ]


SCREEN_SHOWN = 4  # criteria a usage line answers


def _more(rules: TrialRules) -> str:
    return " …" if len(rules.eligibility.criteria) > SCREEN_SHOWN else ""


def _screen_answers(rules: TrialRules, most: int = SCREEN_SHOWN) -> list[str]:
    """A passing answer to the trial's first criteria, for `screen`'s usage line: the
    lowest passing value of a range, the example stage, a lab at its threshold, a yes/no
    question's passing word (the yes/no questions last) — never another trial's keys."""
    shown = []
    criteria = sorted(rules.eligibility.criteria, key=lambda c: c.type == "yes_no")
    for c in criteria[:most]:
        if c.type == "integer_range":
            shown.append(f"{c.key}={c.min}")
        elif c.type == "figo_stage":
            shown.append(f"{c.key}={c.shown_example}")
        elif c.type == "lab_threshold":
            shown.append(f"{c.key}={float(c.threshold):g}")
        elif c.type == "lab_uln_multiple":
            shown.append(f"{c.key}=1xULN")
        else:
            shown.append(f"{c.key}={c.pass_when}")
    return shown


# Usage lines and examples name the study ID `{study_id}` and are written with one site;
# `for_trial` puts the loaded trial's own example study ID and default site in their place
# (docs/commands.md shows them filled for the shipped trial).
USAGE_SITE = "site=main"


def _fill(text: str, names: dict[str, str]) -> str:
    # only the known `{key}`s: a help text may hold other braces
    for key, value in names.items():
        text = text.replace("{" + key + "}", value)
    return text.replace(USAGE_SITE, f"site={names['site']}")


# Who may run a command, as `help` shows it (the services enforce it).
ROLE_NEEDED = ("anyone", "viewer", "coordinator", "investigator", "admin")
GROUPS = {
    "enter": "Enter data (coordinator or above)",
    "read": "Read (any role)",
    "decide": "Decide (investigator or above)",
    "amend": "Amend an entry (coordinator or above)",
    "files": "Files: exports and the swimmer plot (coordinator or above)",
    "admin": "Team",
    "help": "Help",
}


@dataclass(frozen=True)
class Command:
    name: str
    usage: str  # the usage line, without the leading "/trial "
    summary: str  # one line for the overview
    help: str  # a paragraph or two for `help <name>`
    role: str  # one of ROLE_NEEDED
    group: str  # a key of GROUPS
    handler: Handler
    examples: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    # extra data for `help <name>` (e.g. the analytes and units of `lab`), from the rules
    details: Callable[[ServiceContext], dict[str, Any]] | None = None
    details_template: str | None = None

    def for_trial(self, ctx: ServiceContext) -> Command:
        """The command with the loaded trial's names in its help and examples: the help
        and examples name `{immunotherapy}`, `{chemotherapy}`, `{radiotherapy}`, `{table}`
        and `{study_id}`, never one trial's drugs."""
        return self.for_rules(ctx.rules)

    def for_rules(self, rules: TrialRules) -> Command:
        """The command as `for_trial` shows it for the trial `rules`."""
        names = trial_names(rules)
        return replace(
            self,
            usage=_fill(self.usage, names),
            help=_fill(self.help, names),
            examples=tuple(_fill(e, names) for e in self.examples),
        )

    def __post_init__(self) -> None:
        if self.role not in ROLE_NEEDED:
            raise ValueError(f"{self.name}: role {self.role!r} is not one of {ROLE_NEEDED}")
        if self.group not in GROUPS:
            raise ValueError(f"{self.name}: group {self.group!r} is not one of {list(GROUPS)}")


def decision_command(
    name: str,
    *,
    usage: str,
    summary: str,
    help: str,
    handler: Handler,
    examples: tuple[str, ...],
) -> Command:
    """A subcommand of the investigator's part (`help`'s "decide" group, the investigator
    role): confirm, override, attribute, ack, hold, resume."""
    return Command(
        name=name,
        usage=usage,
        summary=summary,
        help=help,
        role="investigator",
        group="decide",
        handler=handler,
        examples=examples,
    )


@dataclass
class Registry:
    commands: list[Command] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._by_name: dict[str, Command] = {}
        for command in self.commands:
            for name in (command.name, *command.aliases):
                if name in self._by_name:
                    raise ValueError(f"two commands are called {name!r}")
                self._by_name[name] = command

    def __iter__(self) -> Iterator[Command]:
        return iter(self.commands)

    def find(self, name: str) -> Command | None:
        """The command called `name` (any case, aliases too), or None."""
        return self._by_name.get(name.strip().lower())

    def names(self) -> list[str]:
        return [command.name for command in self.commands]

    def suggest(self, name: str) -> Command | None:
        """The command a typo most likely meant, or None."""
        hit = closest(name, self._by_name)
        return self._by_name[hit] if hit else None


# The handler modules, in the order `help` lists their commands.
HANDLER_MODULES = (
    "help",
    "enroll",
    "lab",
    "ae",
    "dose",
    "response",
    "calendar",
    "patient",
    "decisions",
    "screen",
    "verdicts",
    "course",
    "amend",
    "files",
    "role",
    "site",
    "oncall",
)


def build_registry() -> Registry:
    commands: list[Command] = []
    for name in HANDLER_MODULES:
        module = importlib.import_module(f"bot.commands.handlers.{name}")
        commands.extend(module.COMMANDS)
    return Registry(commands)
