"""Errors a user can cause. Each names the field, what was wrong and what is allowed.

Every interface turns a `UserError` into a one-line message (exit code 2 on the command
line, a polite reply in chat) and never into a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


class UserError(Exception):
    """Bad input: `field` is what the user typed wrong, `allowed` what would be accepted."""

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        allowed: str | None = None,
        suggestion: str | None = None,
    ) -> None:
        self.field = field
        self.allowed = allowed
        self.suggestion = suggestion
        super().__init__(message)

    @property
    def message(self) -> str:
        text = str(self)
        if self.field and not text.startswith(self.field):
            text = f"{self.field}: {text}"
        if self.suggestion:
            text += f" — did you mean {self.suggestion}?"
        if self.allowed:
            text += f" (allowed: {self.allowed})"
        return text


class RulesProblem:
    """One problem in a rules file: which file, which field (dotted path), and why."""

    def __init__(self, file: str, field: str, reason: str) -> None:
        self.file = file
        self.field = field
        self.reason = reason

    def __str__(self) -> str:
        where = f"{self.file}: {self.field}" if self.field else self.file
        return f"{where}: {self.reason}"

    def __repr__(self) -> str:
        return f"RulesProblem({self.file!r}, {self.field!r}, {self.reason!r})"


class RulesError(Exception):
    """A rules directory that does not validate. Nothing of it is loaded."""

    def __init__(self, problems: Sequence[RulesProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice most like `word` (for 'did you mean …?'), or None when nothing is close."""
    import difflib

    options = list(choices)
    lowered = {c.lower(): c for c in options}
    hit = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[hit[0]] if hit else None


class AccessRefused(UserError):
    """The user's role does not allow the action (`audit`: what and the details to audit).
    Raised by `bot.services.access`; here so the dispatcher can catch it without loading
    the database layer."""

    audit: tuple[str, dict] = ("?", {})
    in_transaction: bool = False  # raised inside a write's transaction, not yet audited
