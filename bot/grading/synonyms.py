"""Schema of `rules/ctcae/v5.0/synonyms.yaml` and the text normalisation term matching uses.

Clinicians write "anaemia", "SJS", "infusion reaction", "rash"; CTCAE says "Anemia",
"Stevens-Johnson syndrome", "Infusion related reaction", "Rash maculo-papular". The file
holds British-to-American spellings (applied to any text before comparing) and synonym
groups: texts that name a CTCAE term, with a note where the mapping is a reading
(e.g. "encephalitis" → Encephalopathy, since v5.0 has no non-infectious encephalitis).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

_PUNCTUATION = re.compile(r"[^\w\s]")
_SPACE = re.compile(r"\s+")
_SEPARATORS = re.compile(r"[-_/,;:+]")
# Words that carry no meaning for matching ("count of neutrophils decreased").
STOP_WORDS = frozenset({"of", "the", "a", "an", "in", "and", "with"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Spelling(_Strict):
    british: str = Field(min_length=2, pattern=r"^[a-z ]+$")
    american: str = Field(pattern=r"^[a-z ]*$")
    word_start: bool = False  # only where a word begins ("oesophagitis", not "gastroesophageal")

    def apply(self, text: str) -> str:
        if not self.word_start:
            return text.replace(self.british, self.american)
        return re.sub(rf"(?<![a-z]){self.british}", self.american, text)


class SynonymGroup(_Strict):
    term: str
    texts: list[str] = Field(min_length=1)
    note: str | None = None


class SynonymsFile(_Strict):
    ctcae_version: Literal["5.0"]
    spellings: list[Spelling] = Field(default_factory=list)
    # word-level equivalents applied before the order-insensitive comparison
    words: dict[str, str] = Field(default_factory=dict)
    synonyms: list[SynonymGroup] = Field(default_factory=list)


def normalise(text: str, spellings: Sequence[Spelling] = ()) -> str:
    """Lower case, hyphens/slashes as spaces, no punctuation, one space, American spelling."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _SEPARATORS.sub(" ", text)
    text = _PUNCTUATION.sub("", text)
    text = _SPACE.sub(" ", text).strip()
    for spelling in spellings:
        text = spelling.apply(text)
    return text


def _singular(word: str) -> str:
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "is", "us")):
        return word[:-1]
    return word


def word_bag(normalised: str, words: dict[str, str]) -> tuple[str, ...]:
    """The words of a normalised text, order-free: equal bags name the same thing."""
    out = []
    for word in normalised.split():
        word = words.get(word, word)
        if word in STOP_WORDS:
            continue
        out.append(_singular(word))
    return tuple(sorted(out))
