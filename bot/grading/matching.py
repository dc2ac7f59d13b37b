"""Match what a clinician typed to a CTCAE term, forgivingly but never by guessing.

Three ways to match, tried in order:

- exact: the same words as the CTCAE term once case, spacing, hyphens, punctuation and
  British spelling are set aside ("anaemia" → Anemia, "RASH MACULO PAPULAR");
- synonym: a text of `synonyms.yaml` ("SJS", "neutropenia", "hepatitis");
- fuzzy: the same words in another order, plural for singular, or "elevated" for
  "increased" ("radiation dermatitis" → Dermatitis radiation). Only deterministic
  rewrites count; one term must match.

Anything else — a typo included — is refused with the closest term as a suggestion, so
a weak match is never recorded silently.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

from bot.errors import UserError
from bot.grading.terms import Ctcae, CtcaeTerm, Synonym

How = Literal["exact", "synonym", "fuzzy"]


class UnknownTerm(UserError):
    """Text that names no CTCAE term (or names several)."""


@dataclass(frozen=True)
class TermMatch:
    term: CtcaeTerm
    how: How
    entered: str
    note: str | None = None
    ctcae: str = "5.0"

    def to_json(self) -> dict:
        return {
            "entered": self.entered,
            "term": self.term.term,
            "meddra_code": self.term.meddra_code,
            "soc": self.term.soc,
            "how": self.how,
            "note": self.note,
            "ctcae": self.ctcae,
        }


def match_term(ctcae: Ctcae, text: str) -> TermMatch:
    """The CTCAE term `text` names, and how it was recognised; UnknownTerm if none."""
    entered = text.strip()
    if not entered:
        raise UnknownTerm(
            "no adverse event term given",
            field="term",
            allowed="a CTCAE v5.0 term such as 'Pneumonitis', or a common synonym",
        )
    key = ctcae.normal(entered)
    term = ctcae.exact(entered)
    if term is not None:
        return TermMatch(term=term, how="exact", entered=entered, ctcae=ctcae.version)
    synonym = ctcae.synonyms.get(key)
    if synonym is not None:
        return _from_synonym(synonym, "synonym", entered, ctcae.version)
    candidates = ctcae.bag(entered)
    targets = {_target(c).term: c for c in candidates}
    if len(targets) == 1:
        found = next(iter(targets.values()))
        if isinstance(found, Synonym):
            return _from_synonym(found, "fuzzy", entered, ctcae.version)
        return TermMatch(term=found, how="fuzzy", entered=entered, ctcae=ctcae.version)
    if len(targets) > 1:
        names = " or ".join(f"'{name}'" for name in sorted(targets))
        raise UnknownTerm(
            f"'{entered}' could mean {names}; name the CTCAE term",
            field="term",
            allowed=", ".join(sorted(targets)),
        )
    broader = _terms_containing(ctcae, entered)
    if len(broader) > 1:
        shown = [t.term for t in broader[:_MAX_LISTED]]
        more = f", … ({len(broader)} terms)" if len(broader) > _MAX_LISTED else ""
        raise UnknownTerm(
            f"'{entered}' is not a CTCAE term on its own: name the term it is part of",
            field="term",
            allowed=", ".join(shown) + more,
        )
    suggestion = f"'{broader[0].term}'" if broader else _suggestion(ctcae, key)
    raise UnknownTerm(
        f"unknown term '{entered}'",
        field="term",
        suggestion=suggestion,
        allowed=None
        if suggestion
        else "a CTCAE v5.0 term such as 'Pneumonitis', or a synonym such as 'SJS'",
    )


_MAX_LISTED = 8


def _terms_containing(ctcae: Ctcae, text: str) -> list[CtcaeTerm]:
    """Terms whose words include all the words typed ("mucositis" → the 7 mucositis terms)."""
    words = set(ctcae.word_bag(text))
    if not words:
        return []
    return [t for t in ctcae.terms if words <= set(ctcae.word_bag(t.term))]


def _target(candidate: CtcaeTerm | Synonym) -> CtcaeTerm:
    return candidate.term if isinstance(candidate, Synonym) else candidate


def _from_synonym(synonym: Synonym, how: How, entered: str, version: str) -> TermMatch:
    return TermMatch(term=synonym.term, how=how, entered=entered, note=synonym.note, ctcae=version)


def _suggestion(ctcae: Ctcae, key: str) -> str | None:
    """The closest term name or synonym text, quoted, for 'did you mean …?'."""
    shown: dict[str, str] = {ctcae.normal(t.term): t.term for t in ctcae.terms}
    for normal, synonym in ctcae.synonyms.items():
        shown.setdefault(normal, synonym.text)
    hits = difflib.get_close_matches(key, list(shown), n=1, cutoff=0.75)
    if not hits:
        return None
    hit = shown[hits[0]]
    synonym = ctcae.synonyms.get(hits[0])
    if synonym is not None:
        return f"'{hit}' ({synonym.term.term})"
    return f"'{hit}'"
