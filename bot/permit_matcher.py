"""Find the permit type in a message from the spellings annotated in the training data.

DIET misses permit types in compounds and misspellings it has not seen ("tatueringsstudion",
"rivningslof"). :class:`PermitKeywords` learns every annotated spelling of ``permit_type`` and
matches them at word starts (so compounds match) and with one or two wrong letters at the end of
long words. The Rasa component :mod:`bot.nlu_components` wraps it.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Iterable, Mapping

from bot.knowledge import PERMIT_TYPES, fold

MIN_KEYWORD_LENGTH = 4
FUZZY_MIN_LENGTH = 8
_WORD = re.compile(r"\w+")


def fold_keep_length(text: str) -> str:
    """Lower-case and strip diacritics character by character, keeping every offset.

    Args:
        text: Any text.

    Returns:
        Text of the same length, e.g. ``Tillstånd`` -> ``tillstand``.
    """
    return "".join(unicodedata.normalize("NFKD", ch)[:1].lower() or ch for ch in text)


def canonical(value: str | None) -> str | None:
    """Map a ``permit_type`` value to the contract's canonical name.

    The NLU's synonym mapper does most of this; this also accepts spellings such as
    ``Serveringstillstånd``, ``brandfarlig vara`` or ``brandfarlig-vara``.

    Args:
        value: The entity value, or None.

    Returns:
        One of :data:`bot.knowledge.PERMIT_TYPES`, or None when it matches none.
    """
    if not value:
        return None
    key = fold(value).replace(" ", "_")
    return key if key in PERMIT_TYPES else None


@dataclasses.dataclass(frozen=True)
class Match:
    """A permit type found in a message, with the character span that gave it away."""

    value: str
    start: int
    end: int


@dataclasses.dataclass(frozen=True)
class PermitKeywords:
    """Folded spellings of each permit type (keyword -> canonical value)."""

    keywords: Mapping[str, str]

    @classmethod
    def learn(
        cls, spellings: Iterable[tuple[str, str]], synonyms: Mapping[str, str]
    ) -> PermitKeywords:
        """Collect unambiguous spellings.

        Args:
            spellings: (surface text, annotated value) pairs of ``permit_type`` annotations.
            synonyms: Rasa's entity synonyms (spelling -> value).

        Returns:
            The keyword table; spellings that point to two permit types are dropped.
        """
        table: dict[str, set[str]] = {}
        pairs = [*spellings, *synonyms.items(), *((p, p) for p in PERMIT_TYPES)]
        for surface, value in pairs:
            target = canonical(synonyms.get(value, value)) or canonical(value)
            keyword = " ".join(fold_keep_length(surface).replace("_", " ").split())
            if target and len(keyword) >= MIN_KEYWORD_LENGTH:
                table.setdefault(keyword, set()).add(target)
        return cls({k: next(iter(v)) for k, v in sorted(table.items()) if len(v) == 1})

    def match(self, text: str) -> Match | None:
        """Find the best permit type in a message.

        An exact keyword at a word start wins (the longest one); otherwise a long word that
        differs from a keyword only in its last letters (a misspelling) matches.

        Args:
            text: The user's message.

        Returns:
            The best match, or None.
        """
        folded = fold_keep_length(text)
        best: Match | None = None
        for keyword, value in self.keywords.items():
            found = re.search(r"(?<!\w)" + re.escape(keyword), folded)
            if found and (best is None or len(keyword) > best.end - best.start):
                end = _word_end(folded, found.end())
                best = Match(value, found.start(), end)
        if best is not None:
            return best
        for word in _WORD.finditer(folded):
            for keyword, value in self.keywords.items():
                if len(keyword) >= FUZZY_MIN_LENGTH and " " not in keyword:
                    prefix = _common_prefix(word.group(0), keyword)
                    if prefix >= len(keyword) - 2 and len(word.group(0)) >= len(keyword) - 2:
                        return Match(value, word.start(), word.end())
        return None


def _word_end(text: str, index: int) -> int:
    while index < len(text) and text[index].isalnum():
        index += 1
    return index


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n
