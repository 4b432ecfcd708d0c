"""Text analysis for the lexical index: lower-cased ``\\w+`` words (identifiers also split at
``_``), English stop words dropped, Snowball (Porter 2) stems. Queries and memories go
through the same function."""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from typing import Any

__all__ = ["STOP_WORDS", "analyze"]

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_WORD_CHARS = 40

# A classic English stop list (function words only: no content words, nothing fitted).
STOP_WORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "s",
        "t",
        "d",
        "ll",
        "m",
        "re",
        "ve",
        "don",
        "didn",
        "doesn",
        "isn",
        "wasn",
        "aren",
        "weren",
        "won",
    ]
)

_stemmer: Any = None
_load_lock = threading.Lock()
_use_lock = threading.Lock()


def _stemmer_instance() -> Any:
    global _stemmer
    if _stemmer is None:
        with _load_lock:
            if _stemmer is None:
                import Stemmer

                _stemmer = Stemmer.Stemmer("english")
    return _stemmer


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    with _use_lock:  # a PyStemmer object is not safe to share across threads
        return str(_stemmer_instance().stemWord(word))


def analyze(text: str) -> list[str]:
    """The index terms of ``text``, in order, repeats kept (they are term frequencies)."""
    _stemmer_instance()
    out: list[str] = []
    for word in _WORD.findall(text.lower()):
        core = word.strip("_")
        # identifiers count whole and by their parts: `user_id` also matches "user id"
        parts = [p for p in core.split("_") if p] if "_" in core else []
        for term in (core, *parts):
            if term and term not in STOP_WORDS:
                out.append(_stem(term[:MAX_WORD_CHARS]))
    return out
