"""The typed reading of a command's tokens: study IDs, entry and decision ids, dates,
yes/no answers and numbers — each refusal naming the key, what was wrong and what is
accepted.

Handlers take what they need (`study_id()`, `date("date", today)`, `number("mg")` …) and
finish with `done()`, which refuses any free word nobody read, so a typo never vanishes
silently. Unknown option keys are refused up front by `only(...)`.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import date, timedelta

from bot import inputs
from bot.calendar.dates import parse_iso_date
from bot.commands.tokens import Tokens
from bot.entry_rules import read_yes_no
from bot.errors import UserError, closest
from bot.inputs import STUDY_ID_EXAMPLE, STUDY_ID_PATTERN
from bot.labels import normalise_study_id, parse_label

UNKNOWN = ("unknown",)  # the command language's word for "not known yet"
DATE_WORDS = ("today", "yesterday")
# Plain decimals only: float() would also take "nan", "inf", "1_000" and "1e400".
_DECIMAL = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$")
_WHOLE = re.compile(r"^[0-9]+$")
# Clinical dates a command may name: anything outside is a typo (or a birth date).
EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2100, 12, 31)
DATE_RANGE = f"{EARLIEST_DATE.isoformat()} to {LATEST_DATE.isoformat()}"

Today = Callable[[], date]


class Args:
    """The words and `key=value` options after the subcommand, read one by one."""

    def __init__(
        self,
        tokens: Tokens,
        *,
        study_id_example: str = STUDY_ID_EXAMPLE,
        names: dict[str, str] | None = None,
    ) -> None:
        # the loaded trial's example study ID, for what a refusal says is allowed (a usage
        # line names it `{study_id}`)
        self.study_id_example = study_id_example
        # the loaded trial's other names a usage line shows as `{key}` (registry.trial_names)
        self.names = {**(names or {}), "study_id": study_id_example}
        self.words: list[str] = list(tokens.words)
        self.options: dict[str, str] = dict(tokens.options)
        self.order: list[tuple[str, str]] = list(tokens.order)

    # --- options ---------------------------------------------------------------------
    def only(self, allowed: Iterable[str], *, also: Callable[[str], bool] | None = None) -> None:
        """Refuse an option key that is not in `allowed` (nor accepted by `also`)."""
        names = list(allowed)
        for key in self.options:
            if key in names or (also is not None and also(key)):
                continue
            if names:
                raise UserError(
                    f"unknown option '{key}='",
                    field=key,
                    allowed=", ".join(f"{name}=" for name in names),
                    suggestion=_quoted(closest(key, names)),
                )
            raise UserError(f"unknown option '{key}=' (this command takes no options)", field=key)

    def has(self, key: str) -> bool:
        return key in self.options

    def text(
        self, key: str, *, allowed: str = "some text", limit: int = inputs.FREE_TEXT_LIMIT
    ) -> str | None:
        """A free-text option, within `limit` characters (see `bot.inputs`)."""
        if key not in self.options:
            return None
        value = self.options[key].strip()
        if not value:
            raise UserError(f"{key}= is empty", field=key, allowed=allowed)
        return inputs.check_free_text(value, key, limit)

    def yes_no(self, key: str, *, unknown: bool = False) -> bool | None:
        """yes/no/y/n/true/false (and `unknown` when allowed, read as None); None when the
        key is absent."""
        if key not in self.options:
            return None
        return read_yes_no(self.options[key], key, unknown=unknown, unknown_words=UNKNOWN)

    def number(
        self, key: str, *, low: float | None = None, high: float | None = None, unit: str = ""
    ) -> float | None:
        if key not in self.options:
            return None
        allowed = _bounds(low, high, unit) or "a number such as 52 or 1.62"
        raw = inputs.ascii_value(self.options[key].strip(), key, allowed)
        if not _DECIMAL.match(raw):
            raise UserError(f"'{raw}' is not a number", field=key, allowed=allowed)
        value = float(raw)
        if low is not None and value < low:
            raise UserError(f"{raw} is too small", field=key, allowed=allowed)
        if not math.isfinite(value) or (high is not None and value > high):
            raise UserError(f"{raw} is too large", field=key, allowed=allowed)
        return value

    def whole(self, key: str, *, low: int | None = None, high: int | None = None) -> int | None:
        if key not in self.options:
            return None
        allowed = _bounds(low, high, "") or "a whole number"
        raw = inputs.ascii_value(self.options[key].strip(), key, allowed)
        if not _WHOLE.match(raw):
            raise UserError(f"'{raw}' is not a whole number", field=key, allowed=allowed)
        value = int(raw)
        if (low is not None and value < low) or (high is not None and value > high):
            raise UserError(f"{value} is out of range", field=key, allowed=allowed)
        return value

    def date(self, key: str, today: Today) -> date | None:
        """An ISO date, `today` or `yesterday` (at the site); None when absent. `today` is
        asked only when a relative word needs it."""
        if key not in self.options:
            return None
        allowed = "YYYY-MM-DD, today or yesterday"
        raw = inputs.ascii_value(self.options[key].strip(), key, allowed)
        word = raw.lower()
        if word == "today":
            return today()
        if word == "yesterday":
            return today() - timedelta(days=1)
        parsed = parse_iso_date(raw)
        if parsed is None:
            raise UserError(f"'{raw}' is not a date", field=key, allowed=allowed)
        if not EARLIEST_DATE <= parsed <= LATEST_DATE:
            raise UserError(
                f"{raw} is out of range", field=key, allowed=f"a date from {DATE_RANGE}"
            )
        return parsed

    # --- words -----------------------------------------------------------------------
    def study_id(self) -> str:
        """The first free word that is a study ID (upper-cased), taken out of the words."""
        for index, word in enumerate(self.words):
            if STUDY_ID_PATTERN.fullmatch(word.strip().upper()):
                return normalise_study_id(self.words.pop(index), self.study_id_example)
        if self.words:
            normalise_study_id(
                self.words[0], self.study_id_example
            )  # names the word that should have been one
        raise UserError(
            "no study ID given",
            field="study_id",
            allowed=f"a study ID such as {self.study_id_example}",
        )

    def label(self, prefix: str, field: str, what: str) -> str:
        """The first word as an id with `prefix` ("E45", "D12"; a bare 45 is accepted)."""
        if not self.words:
            raise UserError(f"say which {what}", field=field, allowed=f"e.g. {prefix}12")
        return f"{prefix}{parse_label(self.words.pop(0), prefix, field=field)}"

    def word(self, field: str, what: str, allowed: str, *, ascii: bool = True) -> str:
        """The next free word (required), width-folded and checked ASCII: the words read
        this way are names of things (a user id, a role, a drug), never free text."""
        if not self.words:
            raise UserError(f"say {what}", field=field, allowed=allowed)
        word = self.words.pop(0)
        return inputs.ascii_value(word, field, allowed) if ascii else word

    def take(self, choices: Mapping[str, str]) -> str | None:
        """Take the first word (any case) that is a key of `choices`; its value, or None."""
        for index, word in enumerate(self.words):
            value = choices.get(word.strip().lower())
            if value is not None:
                del self.words[index]
                return value
        return None

    def rest(self) -> list[str]:
        words, self.words = self.words, []
        return words

    def rest_in_order(
        self,
        options: Callable[[str], bool],
        write: Callable[[str, str], str] = lambda key, value: f"{key} {value}",
    ) -> list[str]:
        """The words nobody read and the options `options` accepts (as `write(key,
        value)`), in the order typed; all of them are taken."""
        remaining = Counter(self.words)
        parts: list[str] = []
        for kind, value in self.order:
            if kind == "word" and remaining[value] > 0:
                remaining[value] -= 1
                parts.append(value)
            elif kind == "option" and options(value):
                parts.append(write(value, self.options[value]))
        self.words = []
        return parts

    def filled(self, text: str) -> str:
        """`text` (a usage line) with the loaded trial's names in its `{key}`s."""
        for key, value in self.names.items():
            text = text.replace("{" + key + "}", value)
        return text

    def done(self, usage_hint: str = "") -> None:
        """Refuse words nobody read."""
        if self.words:
            extra = inputs.shown(" ".join(self.words), 80)
            raise UserError(
                f"did not understand {extra}",
                field="words",
                allowed=self.filled(usage_hint) or None,
            )


def _bounds(low: float | None, high: float | None, unit: str) -> str:
    def shown(value: float) -> str:
        return f"{value:g}"

    suffix = f" {unit}" if unit else ""
    if low is not None and high is not None:
        return f"{shown(low)}–{shown(high)}{suffix}"
    if low is not None:
        return f"{shown(low)} or more{suffix}"
    if high is not None:
        return f"up to {shown(high)}{suffix}"
    return ""


def _quoted(word: str | None) -> str | None:
    return f"'{word}'" if word else None
